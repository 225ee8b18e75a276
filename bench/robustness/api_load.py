"""`homage serve` under load: concurrent clients mixing query, compare (then its alignment picture, which
another worker process may serve) and health against one server on loopback, for a bounded time and number
of requests.

    .venv/bin/python -m bench.robustness.api_load [--clients 50] [--seconds 60] [--workers 1] [--kill-worker-at 20]

The catalog holds 30 recordings of 30 s (six music21 pieces in five FluidSynth versions each); queries and
comparisons upload recordings of those pieces (features cached after their first request, as a catalog
team's repeated checks would be), and one query in twenty uploads, on purpose, a text file or a file over
the 2 MB upload limit (a 4xx expected). With ``--kill-worker-at S`` one worker process is killed (SIGKILL)
S seconds in: requests it held fail (counted apart), the others must go on. Prints requests served, p50/p95
latency per endpoint, unexpected errors (must be 0 without a kill), the server's resident memory (all its
processes) at the start and the end, whether the catalog's recordings are unchanged and whether any upload's
temporary folder is left behind.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
from rich.table import Table

from bench.common import HOMAGE, arguments, children, resident_mb, show


def recordings_digest(catalog: Path) -> str:
    with sqlite3.connect(f"{(catalog / 'catalog.sqlite').as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, path, vector FROM recordings ORDER BY id").fetchall()
    return hashlib.sha1(repr(rows).encode()).hexdigest()


def make_music(folder: Path, n_pieces: int = 8, versions: int = 5) -> list[Path]:
    from homage.data.render import VersionParams, make_version, render
    from homage.data.timing import excerpt
    from homage.demo import PIECES, PROGRAMS, score_to_midi

    rng = random.Random(0)
    paths = []
    for work, _, _ in PIECES[: min(n_pieces, len(PIECES))]:
        score = excerpt(score_to_midi(work), 30.0)
        for v in range(versions):
            path = folder / work.split("/")[-1] / f"v{v}.mp3"
            if not path.exists():
                params = VersionParams(rng.choice(PROGRAMS), round(rng.uniform(0.85, 1.2), 2), rng.randint(-4, 4))
                render(make_version(score, params), path, sr=16000, bitrate=32000)
            paths.append(path)
    return paths


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--kill-worker-at", type=float, default=None, help="SIGKILL one worker this many seconds in")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="homage-load-"))
    env = {**os.environ, "HOMAGE_CACHE": str(work / "cache")}
    music = make_music(work / "music")
    subprocess.run(
        [*HOMAGE, "index", str(work / "music"), "--catalog", str(work / "catalog")],
        env=env,
        check=True,
        capture_output=True,
    )
    (work / "not-audio.mp3").write_text("this is not audio " * 100)
    (work / "oversized.wav").write_bytes(os.urandom(3 << 20))
    tmp = work / "tmp"
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)  # where the server's uploads wait: checked for leftovers at the end
    digest_before = recordings_digest(work / "catalog")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            *HOMAGE,
            "serve",
            "--catalog",
            str(work / "catalog"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--max-upload-mb",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        memory_start = resident_mb(server.pid, descendants=True)
        latencies, errors, deliberate, killed = defaultdict(list), defaultdict(int), defaultdict(int), defaultdict(int)
        kill_at = None if args.kill_worker_at is None else time.monotonic() + args.kill_worker_at
        killing = [None]  # the worker killed, and until when its requests count as killed
        lock, served = threading.Lock(), [0]
        stop = time.monotonic() + args.seconds

        def client(seed: int) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=url, timeout=120) as http:
                while time.monotonic() < stop:
                    with lock:
                        if served[0] >= args.max_requests:
                            return
                        served[0] += 1
                    kind = rng.choices(["health", "query", "compare"], weights=[5, 3, 2])[0]
                    bad = kind == "query" and rng.random() < 0.05
                    started = time.monotonic()
                    try:
                        if kind == "health":
                            response = http.get("/api/health")
                        elif kind == "query":
                            path = (
                                rng.choice([work / "not-audio.mp3", work / "oversized.wav"])
                                if bad
                                else rng.choice(music)
                            )
                            response = http.post("/api/query", files={"file": (path.name, path.read_bytes())})
                        else:
                            a, b = rng.sample(music, 2)
                            response = http.post(
                                "/api/compare", files={"a": (a.name, a.read_bytes()), "b": (b.name, b.read_bytes())}
                            )
                            if response.status_code == 200:  # the picture, from whichever process answers
                                record(kind, bad, response.status_code, time.monotonic() - started, started)
                                kind, started = "picture", time.monotonic()
                                response = http.get(response.json()["alignment_image"])
                        status = response.status_code
                    except httpx.HTTPError:
                        status = 0
                    record(kind, bad, status, time.monotonic() - started, started)

        def record(kind: str, bad: bool, status: int, elapsed: float, started: float) -> None:
            with lock:
                if bad and 400 <= status < 500:
                    deliberate[kind] += 1
                elif status == 200:
                    latencies[kind].append(elapsed)
                elif killing[0] is not None and started < killing[0]:  # in flight when a worker was killed
                    killed[kind] += 1
                else:
                    errors[kind] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        if kill_at is not None:
            time.sleep(max(0.0, kill_at - time.monotonic()))
            workers = children(server.pid)
            victim = workers[-1] if workers else server.pid
            os.kill(victim, signal.SIGKILL)
            killing[0] = time.monotonic()
            print(f"killed worker process {victim} at {args.kill_worker_at:g} s", flush=True)
        for thread in threads:
            thread.join(args.seconds + 180)
        memory_end = resident_mb(server.pid, descendants=True)
    finally:
        server.terminate()
        server.wait(30)
    left = sorted(p.name for p in tmp.glob("homage-upload-*"))
    table = Table(
        title=f"{args.clients} clients for {args.seconds:g} s against one server ({args.workers} worker process"
        f"{'es' if args.workers > 1 else ''}), catalog of {len(music)} recordings",
        title_justify="left",
    )
    for col in (
        "endpoint",
        "served",
        "p50 (s)",
        "p95 (s)",
        "errors",
        "deliberate bad uploads (4xx)",
        "lost to the kill",
    ):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    for kind in ("health", "query", "compare", "picture"):
        values = sorted(latencies[kind])
        p = (lambda q: values[min(len(values) - 1, int(q * len(values)))]) if values else (lambda q: float("nan"))
        table.add_row(
            kind,
            str(len(values)),
            f"{p(0.5):.3f}",
            f"{p(0.95):.3f}",
            str(errors[kind]),
            str(deliberate[kind]),
            str(killed[kind]),
        )
    total = sum(map(len, latencies.values()))
    table.add_row(
        "all",
        str(total),
        f"{statistics.median([v for vs in latencies.values() for v in vs]):.3f}" if total else "",
        "",
        str(sum(errors.values())),
        str(sum(deliberate.values())),
        str(sum(killed.values())),
        style="bold",
    )
    show(table, args.markdown, width=160)
    print(
        f"server memory (resident, all its processes): {memory_start:.0f} MB at the start, "
        f"{memory_end:.0f} MB at the end"
    )
    print(
        f"catalog's recordings unchanged: {recordings_digest(work / 'catalog') == digest_before}; "
        f"upload folders left behind: {len(left)} {left[:3] if left else ''}"
    )


if __name__ == "__main__":
    main()
