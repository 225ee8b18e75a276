"""`homage scan`, measured: new releases scanned against a catalog that holds one version of each of their
works among distractors.

    .venv/bin/python -m bench.quality.scan_quality ../shared/data/covers80-dev [--distractors corpus/test] [--originals]

The catalog holds the first recording (by file name) of each work of the data set, plus every recording of
``--distractors`` (rendered versions of other works); the scan folder holds the data set's other
recordings (covers). With ``--originals`` the works are split in two halves: the catalog holds the first
recordings of one half, the folder the covers of that half and every recording of the other half
(originals: releases that borrow from nothing catalogued, so each of their flags is false); then the halves
swap. Per threshold: the share of covers whose true version is flagged, false flags per 100 covers and per
100 originals, and seconds per scanned file.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.table import Table

from bench.common import arguments, show
from homage import pipeline
from homage.data.manifest import load_dataset

THRESHOLDS = ("maybe", "version")


def link(target: Path, at: Path) -> str:
    at.parent.mkdir(parents=True, exist_ok=True)
    at.symlink_to(target.absolute())
    return str(at)


def scan_once(by_work: dict, catalogued: list, distractors: list, tmp: Path, workers: int) -> dict:
    """Index the first recording of each ``catalogued`` work (and the distractors), scan the rest of the data
    set: per threshold, [covers, covers flagged, false flags on covers, originals, false flags on originals,
    seconds]."""
    work_of, original, covers = {}, set(), []
    for n, (work, paths) in enumerate(sorted(by_work.items())):
        first, *others = sorted(paths)
        if work in catalogued:
            work_of[link(first, tmp / "catalog-files" / f"{n:04d}-{first.name}")] = work
        for m, other in enumerate(paths if work not in catalogued else others):
            path = link(other, tmp / "releases" / f"{n:04d}-{m}-{other.name}")
            work_of[path] = work
            (covers.append if work in catalogued else original.add)(path)
    for n, path in enumerate(distractors):
        link(path, tmp / "catalog-files" / "distractors" / f"{n:05d}{path.suffix}")
    pipeline.index_dir(tmp / "catalog-files", tmp / "catalog", workers=workers)
    counts = {}
    for threshold in THRESHOLDS:
        started = time.perf_counter()
        report = pipeline.scan(
            tmp / "releases", tmp / "catalog", threshold=threshold, workers=workers, state=tmp / f"{threshold}.jsonl"
        )
        seconds = time.perf_counter() - started
        found = {f.path for f in report.flags if work_of.get(f.recording["path"]) == work_of[f.path]}
        wrong = [f.path for f in report.flags if work_of.get(f.recording["path"]) != work_of[f.path]]
        counts[threshold] = [
            len(covers),
            len(found),
            sum(p not in original for p in wrong),
            len(original),
            sum(p in original for p in wrong),
            seconds,
        ]
    return counts


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--distractors", type=Path, default=None)
    parser.add_argument("--originals", action="store_true", help="also scan originals: works split in swapped halves")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    by_work = defaultdict(list)
    for entry in load_dataset(args.data):
        by_work[entry.work].append(entry.path)
    works = sorted(by_work)
    distractors = [entry.path for entry in load_dataset(args.distractors)] if args.distractors else []
    halves = [works[::2], works[1::2]] if args.originals else [works]
    total = {threshold: [0.0] * 6 for threshold in THRESHOLDS}
    for catalogued in halves:
        with tempfile.TemporaryDirectory() as tmp:
            for threshold, counts in scan_once(by_work, catalogued, distractors, Path(tmp), args.workers).items():
                total[threshold] = [a + b for a, b in zip(total[threshold], counts)]
    catalog = "half its works' first versions (halves swapped)" if args.originals else "its first versions"
    table = Table(
        title=f"homage scan: {args.data} against {catalog} + {len(distractors)} distractors", title_justify="left"
    )
    columns = ("threshold", "covers", "covers flagged", "false flags / 100 covers", "originals")
    for col in (*columns, "false flags / 100 originals", "s per file"):
        table.add_column(col, justify="right")
    for threshold, (covers, found, false, originals, false_originals, seconds) in total.items():
        table.add_row(
            threshold,
            f"{covers:.0f}",
            f"{found / covers:.1%}",
            f"{100 * false / covers:.1f}",
            f"{originals:.0f}",
            f"{100 * false_originals / originals:.1f}" if originals else "–",
            f"{seconds / (covers + originals):.2f}",
        )
    show(table, args.markdown, width=140)


if __name__ == "__main__":
    main()
