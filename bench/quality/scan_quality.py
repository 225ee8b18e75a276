"""`homage scan`, measured: new releases scanned against a catalog that holds one version of each of their
works among distractors.

    .venv/bin/python -m bench.quality.scan_quality ../shared/data/covers80-dev --distractors corpus/test

The catalog holds the first recording (by file name) of each work of the data set, plus every recording of
``--distractors`` (rendered versions of other works); the scan folder holds the data set's other
recordings. Per threshold: the share of scanned files whose true version is flagged, false flags per 100
scanned files (pairs flagged that are not versions), and seconds per scanned file.
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


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--distractors", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    by_work = defaultdict(list)
    for entry in load_dataset(args.data):
        by_work[entry.work].append(entry.path)
    with tempfile.TemporaryDirectory() as tmp:
        catalog_dir, releases, catalog = Path(tmp, "catalog-files"), Path(tmp, "releases"), Path(tmp, "catalog")
        work_of = {}
        for n, (work, paths) in enumerate(sorted(by_work.items())):
            first, *others = sorted(paths)
            link = catalog_dir / f"{n:04d}-{first.name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(first.absolute())
            work_of[str(link)] = work
            for m, other in enumerate(others):
                release = releases / f"{n:04d}-{m}-{other.name}"
                release.parent.mkdir(parents=True, exist_ok=True)
                release.symlink_to(other.absolute())
                work_of[str(release)] = work
        distractors = 0
        if args.distractors:
            for n, entry in enumerate(load_dataset(args.distractors)):
                link = catalog_dir / "distractors" / f"{n:05d}{entry.path.suffix}"
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(entry.path.absolute())
                distractors += 1
        pipeline.index_dir(catalog_dir, catalog, workers=args.workers)
        table = Table(
            title=f"homage scan: {args.data} second versions against its first versions + {distractors} distractors",
            title_justify="left",
        )
        for col in ("threshold", "files scanned", "true version flagged", "false flags per 100 files", "s per file"):
            table.add_column(col, justify="right")
        for threshold in ("maybe", "version"):
            started = time.perf_counter()
            report = pipeline.scan(
                releases, catalog, threshold=threshold, workers=args.workers, state=Path(tmp, f"{threshold}.jsonl")
            )
            seconds = time.perf_counter() - started
            scanned = report.scanned + report.resumed
            found = {f.path for f in report.flags if work_of.get(f.recording["path"]) == work_of[f.path]}
            false = sum(work_of.get(f.recording["path"]) != work_of[f.path] for f in report.flags)
            table.add_row(
                threshold,
                str(scanned),
                f"{len(found) / scanned:.1%}",
                f"{100 * false / scanned:.1f}",
                f"{seconds / scanned:.2f}",
            )
    show(table, args.markdown, width=140)


if __name__ == "__main__":
    main()
