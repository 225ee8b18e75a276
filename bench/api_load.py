"""`homage serve` under load: concurrent clients mixing query, compare and health against one server on
loopback, for a bounded time and number of requests.

    .venv/bin/python bench/api_load.py [--clients 50] [--seconds 60] [--workers 1] [--max-requests 20000]

The catalog holds 30 recordings of 30 s (six music21 pieces in five FluidSynth versions each); queries and
comparisons upload recordings of those pieces (features cached after their first request, as a catalog
team's repeated checks would be), and one query in twenty uploads a text file on purpose (a 4xx expected).
Prints requests served, p50/p95 latency per endpoint, unexpected errors (must be 0) and the server's
resident memory at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

HOMAGE = [sys.executable, "-c", "from homage.cli.app import main; main()"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_music(folder: Path, n_pieces: int = 8, versions: int = 5) -> list[Path]:
    from homage.data.render import VersionParams, excerpt, make_version, render
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="homage-load-"))
    env = {**os.environ, "HOMAGE_CACHE": str(work / "cache")}
    music = make_music(work / "music")
    subprocess.run([*HOMAGE, "index", str(work / "music"), "--catalog", str(work / "catalog")], env=env, check=True,
                   capture_output=True)  # fmt: skip
    (work / "not-audio.mp3").write_text("this is not audio " * 100)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([*HOMAGE, "serve", "--catalog", str(work / "catalog"), "--host", "127.0.0.1",
                               "--port", str(port), "--workers", str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        memory_start = rss_mb(server.pid)
        latencies, errors, deliberate = defaultdict(list), defaultdict(int), defaultdict(int)
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
                            path = work / "not-audio.mp3" if bad else rng.choice(music)
                            response = http.post("/api/query", files={"file": (path.name, path.read_bytes())})
                        else:
                            a, b = rng.sample(music, 2)
                            response = http.post("/api/compare", files={"a": (a.name, a.read_bytes()), "b": (b.name, b.read_bytes())})
                        status = response.status_code
                    except httpx.HTTPError:
                        status = 0
                    elapsed = time.monotonic() - started
                    with lock:
                        if bad and 400 <= status < 500:
                            deliberate[kind] += 1
                        elif status == 200:
                            latencies[kind].append(elapsed)
                        else:
                            errors[kind] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.seconds + 180)
        memory_end = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    table = Table(title=f"{args.clients} clients for {args.seconds:g} s against one server ({args.workers} worker process"
                        f"{'es' if args.workers > 1 else ''}), catalog of {len(music)} recordings", title_justify="left")  # fmt: skip
    for col in ("endpoint", "served", "p50 (s)", "p95 (s)", "errors", "deliberate bad uploads (4xx)"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    for kind in ("health", "query", "compare"):
        values = sorted(latencies[kind])
        p = (lambda q: values[min(len(values) - 1, int(q * len(values)))]) if values else (lambda q: float("nan"))
        table.add_row(kind, str(len(values)), f"{p(0.5):.3f}", f"{p(0.95):.3f}", str(errors[kind]), str(deliberate[kind]))
    total = sum(map(len, latencies.values()))
    table.add_row("all", str(total), f"{statistics.median([v for vs in latencies.values() for v in vs]):.3f}" if total else "",
                  "", str(sum(errors.values())), str(sum(deliberate.values())), style="bold")  # fmt: skip
    Console(width=140).print(table)
    print(f"server memory (resident): {memory_start:.0f} MB at the start, {memory_end:.0f} MB at the end")


if __name__ == "__main__":
    main()
