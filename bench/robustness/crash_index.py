"""Crashes, measured: `homage index` (and `remove`, `index --prune`) killed with SIGKILL at random moments,
then the catalog checked each time.

    .venv/bin/python -m bench.robustness.crash_index [--kills 55] [--files 40] [--seed 0] [--work DIR]

Before each index run a third of the files get new content, so every run has analyses to do and
replacements to commit. After each kill: SQLite's integrity check, the catalog opens and answers a search
(its FAISS index rebuilt when stale), no path twice, and nothing committed before the run lost (except what
that run was asked to remove). At the end an uninterrupted `homage index` must leave every good file in the
catalog once.
Bounded: a fixed number of runs, each killed or finished within its timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from bench.common import HOMAGE, arguments, show

SR = 16000


def make_library(folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` short tonal pieces (distinct seeds) as WAV, and a few bad files beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"sub{i % 4}" / f"piece{i:03d}.wav" for i in range(n)]
    for i, path in enumerate(paths):
        write_piece(path, seed * 1000 + i)
    (folder / "bad.mp3").write_bytes(b"not audio" * 100)
    (folder / "empty.wav").touch()
    return paths


def write_piece(path: Path, seed: int) -> None:
    """An 8-second tonal piece drawn from ``seed`` (new content for the same path when the seed changes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(8 * SR)) / SR
    notes = 220 * 2 ** (rng.integers(0, 24, size=32) / 12)
    y = sum(0.2 * np.sin(2 * np.pi * f * t) * ((t >= k * 0.25) & (t < (k + 1) * 0.25)) for k, f in enumerate(notes))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (y / np.abs(y).max() * 0.8).astype(np.float32), SR)


def catalog_state(catalog: Path, *, as_it_is: bool = False) -> dict:
    """What the catalog holds, read directly from SQLite (and whether it is sound); ``as_it_is``: the file
    alone, without SQLite's write-ahead log and shared-memory file (which a full disk may leave no room for)."""
    db_path = catalog / "catalog.sqlite"
    if not db_path.exists():
        return {"ok": True, "paths": [], "integrity": "ok"}
    connect = (
        sqlite3.connect(f"{db_path.absolute().as_uri()}?immutable=1", uri=True)
        if as_it_is
        else sqlite3.connect(db_path)
    )
    with contextlib.closing(connect) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        paths = [row[0] for row in db.execute("SELECT path FROM recordings")]
    return {"ok": integrity == "ok", "paths": paths, "integrity": integrity}


def opens_and_answers(catalog: Path) -> bool:
    """The catalog opens through homage and its index answers as many recordings as SQLite holds."""
    from homage.catalog import Catalog

    if not (catalog / "catalog.sqlite").exists():
        return True
    with Catalog(catalog) as cat:
        if len(cat) == 0:
            return True
        ids, X = cat.vectors()
        S, I = cat.search(X[0], k=len(cat))
        return int((I[0] >= 0).sum()) == len(cat) and set(I[0]) == set(ids)


def run_and_kill(args: list[str], after: float, env: dict) -> bool:
    """Start a command in its own process group and SIGKILL the group after ``after`` seconds; True when
    it was killed before finishing."""
    process = subprocess.Popen(
        [*HOMAGE, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        process.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return True


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--kills", type=int, default=55)  # a few runs finish before their kill
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="homage-crash-"))
    library, catalog = work / "library", work / "catalog"
    env = {**os.environ, "HOMAGE_CACHE": str(work / "cache")}
    rng = random.Random(args.seed)
    good = make_library(library, args.files, args.seed)
    started = time.perf_counter()
    subprocess.run(
        [*HOMAGE, "index", str(library), "--catalog", str(work / "timing"), "--no-cache"],
        env=env,
        check=True,
        capture_output=True,
    )
    full_run = time.perf_counter() - started
    print(f"{len(good)} files; an uninterrupted index takes {full_run:.1f} s; killing {args.kills} runs …", flush=True)
    rows = []
    for k in range(args.kills):
        before = set(catalog_state(catalog)["paths"])
        action = rng.choices(["index", "prune", "remove"], weights=[7, 2, 1])[0]
        asked_gone: set[str] = set()
        if action == "remove" and before:
            asked_gone = set(rng.sample(sorted(before), min(len(before), rng.randint(1, 5))))
            command = ["remove", *asked_gone, "--catalog", str(catalog)]
        elif action == "prune":
            victim = rng.choice(good)
            if victim.exists():
                victim.rename(victim.with_suffix(".wav.away"))  # gone from the library for this run
                asked_gone = {str(victim)}
            command = ["index", str(library), "--catalog", str(catalog), "--prune", "-j", "2"]
        else:
            action = "index"
            for path in rng.sample(good, max(1, len(good) // 3)):  # new content: work to do, replacements to commit
                write_piece(path, rng.randrange(10**9))
            command = [
                "index",
                str(library),
                "--catalog",
                str(catalog),
                "-j",
                "2",
                "--no-cache" if rng.random() < 0.5 else "--json",
            ]
        killed = run_and_kill(command, rng.uniform(0.2, full_run * 0.8), env)
        for away in library.rglob("*.wav.away"):
            away.rename(away.with_suffix(""))
        state = catalog_state(catalog)
        after = state["paths"]
        rows.append(
            {
                "run": k + 1,
                "action": action,
                "killed": killed,
                "integrity": state["ok"],
                "duplicates": len(after) - len(set(after)),
                "lost": len(before - asked_gone - set(after)),
                "answers": state["ok"] and opens_and_answers(catalog),
            }
        )
    final = subprocess.run(
        [*HOMAGE, "index", str(library), "--catalog", str(catalog), "--prune", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    state = catalog_state(catalog)
    complete = final.returncode == 0 and sorted(state["paths"]) == sorted(map(str, good))
    report = json.loads(final.stdout) if final.returncode == 0 else {}
    from rich.table import Table

    killed = [r for r in rows if r["killed"]]
    consistent = [r for r in rows if r["integrity"] and not r["duplicates"] and not r["lost"] and r["answers"]]
    table = Table(title=f"homage under SIGKILL ({work})", title_justify="left")
    for col in (
        "runs",
        "killed mid-way",
        "index / prune / remove",
        "consistent after",
        "integrity failures",
        "duplicates",
        "committed files lost",
        "catalog did not answer",
        "final re-run complete",
    ):
        table.add_column(col, justify="right")
    counts = {a: sum(r["action"] == a for r in killed) for a in ("index", "prune", "remove")}
    table.add_row(
        str(len(rows)),
        str(len(killed)),
        f"{counts['index']} / {counts['prune']} / {counts['remove']}",
        f"{len(consistent)}/{len(rows)}",
        str(sum(not r["integrity"] for r in rows)),
        str(sum(r["duplicates"] for r in rows)),
        str(sum(r["lost"] for r in rows)),
        str(sum(not r["answers"] for r in rows)),
        f"{'yes' if complete else 'NO'} ({len(state['paths'])} of {len(good)} files once; "
        f"{len(report.get('failed', []))} bad files reported)",
    )
    show(table, args.markdown, width=160)


if __name__ == "__main__":
    main()
