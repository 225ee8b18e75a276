"""`groups` and the cohorts `index` measures, in a large catalog: throughput and peak memory, on 1 and 2
workers.

    .venv/bin/python -m bench.speed.groups_scale [--size 100000] [--new 256] [--workers 1 --workers 2] [--markdown]

A catalog of ``size`` synthetic recordings is written once (and kept in ``--work``): works of 2–3
versions, each version its work's vector plus noise (L2-normalised) and its work's pitch-class sequence (4
minutes at the alignment's 2.5 frames/s, float16, with the top line) transposed, played at another tempo
and noised. All but the last ``new`` recordings are stored as grouped and with cohorts, as after earlier
runs; each measurement then places the ``new`` ones — ``homage groups`` — or measures their cohorts — the
last stage of ``homage index`` — in a fresh process, and reports recordings per second and the peak
resident memory of that process and of its workers (the largest worker's), sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import arguments, children, resident_mb
from homage.align import SEQUENCE_COLUMNS
from homage.catalog import Catalog, NewRecording
from homage.models import get_embedder
from homage.pipeline.analysis import SEQUENCE_KIND

FRAMES = 600  # 4 minutes at 2.5 frames/s
BATCH = 2000


def build(root: Path, size: int, new: int, seed: int) -> None:
    """The synthetic catalog (skipped when ``root`` holds one of this size)."""
    if (root / "built.json").exists() and json.loads((root / "built.json").read_text()) == [size, new, seed]:
        return
    rng = np.random.default_rng(seed)
    embedder = get_embedder("csi")
    dim = 512
    with Catalog(root, create=True) as catalog:
        made, work = 0, 0
        while made < size:
            batch = []
            while len(batch) < BATCH and made < size:
                centre = rng.standard_normal(dim)
                sequence = rng.random((FRAMES, SEQUENCE_COLUMNS)) ** 3
                for _ in range(min(int(rng.integers(2, 4)), size - made)):
                    vector = centre + 0.8 * rng.standard_normal(dim)
                    shift, tempo = int(rng.integers(12)), rng.uniform(0.85, 1.15)
                    frames = np.clip(np.round(np.arange(int(FRAMES / tempo)) * tempo).astype(int), 0, FRAMES - 1)
                    played = np.roll(sequence[frames], shift, axis=1) + 0.1 * rng.random(
                        (len(frames), SEQUENCE_COLUMNS)
                    )
                    batch.append(
                        NewRecording(
                            f"/synthetic/work{work}/v{made}.mp3",
                            f"{made:040x}",
                            (vector / np.linalg.norm(vector)).astype(np.float32),
                            duration=len(frames) / 2.5,
                            sequence=played.astype(np.float16),
                        )
                    )
                    made += 1
                work += 1
            catalog.add(batch, embedder=embedder.identity, sequence_kind=SEQUENCE_KIND)
            print(f"\r{made:,} recordings written", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        ids = catalog.ids()
        old = ids[:-new]
        catalog.set_groups({rid: (rid, None, 0.0) for rid in old})  # earlier runs' groups (singletons will do)
        summary = np.zeros(4, dtype=np.float32)
        for start in range(0, len(old), 50_000):
            catalog.set_cohorts({rid: (100, summary) for rid in old[start : start + 50_000]})
        catalog.optimize()
    (root / "built.json").write_text(json.dumps([size, new, seed]))


def measure(root: Path, what: str, workers: int) -> dict:
    """One stage on the new recordings, in this process; what it took. Memory is sampled from /proc (resident
    memory of this process, and of each of its worker processes), as a peak a spawned process inherits from
    its parent (``ru_maxrss``) would mislead."""
    from homage import pipeline
    from homage.pipeline.indexing import refresh_cohorts

    peaks = {"main": 0.0, "worker": 0.0}
    done_sampling = threading.Event()

    def sample() -> None:
        while not done_sampling.wait(0.2):
            peaks["main"] = max(peaks["main"], resident_mb(os.getpid()))
            for child in children(os.getpid()):
                peaks["worker"] = max(peaks["worker"], resident_mb(child))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    if what == "groups":
        done = pipeline.groups(root, workers=workers).grouped
    else:
        with Catalog(root) as catalog:
            done = refresh_cohorts(catalog, workers=workers)
    seconds = time.perf_counter() - started
    done_sampling.set()
    sampler.join()
    return {
        "stage": what,
        "workers": workers,
        "recordings": done,
        "seconds": seconds,
        "peak_mb": peaks["main"],
        "worker_peak_mb": peaks["worker"],
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=256)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--work", type=Path, default=None, help="where the catalog is kept between runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)  # ROOT STAGE WORKERS, in a fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), args.measure[1], int(args.measure[2]))))
        return
    root = (args.work or Path(tempfile.gettempdir()) / "homage-groups-scale") / f"catalog-{args.size}"
    started = time.perf_counter()
    build(root, args.size, args.new, args.seed)
    print(f"catalog of {args.size:,} recordings ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = []
    for workers in args.workers or [1, 2]:
        for stage in ("groups", "cohorts"):
            reset(root, stage, args.new)
            out = subprocess.run(
                [sys.executable, "-m", "bench.speed.groups_scale", "--measure", str(root), stage, str(workers)],
                cwd=Path(__file__).resolve().parents[2],
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], file=sys.stderr)
    print(f"### `groups` and cohorts of {args.new} new recordings in a catalog of {args.size:,}\n")
    print("| stage | workers | recordings/s | peak memory, main process (MB) | peak memory, largest worker (MB) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['stage']} | {r['workers']} | {r['recordings'] / r['seconds']:.2f} | {r['peak_mb']:.0f} "
            f"| {r['worker_peak_mb']:.0f} |"
        )


def reset(root: Path, stage: str, new: int) -> None:
    """Undo a measurement: the new recordings ungrouped again, or without cohorts again."""
    import sqlite3

    table = "groups" if stage == "groups" else "cohorts"
    with sqlite3.connect(root / "catalog.sqlite") as db:
        db.execute(f"DELETE FROM {table} WHERE recording_id > (SELECT MAX(id) FROM recordings) - ?", (new,))


if __name__ == "__main__":
    main()
