"""Quality of every pipeline on real covers (covers80-dev) and on rendered ASAP piano performances.

    .venv/bin/python bench/quality.py [--asap-works 40] [--versions 3] [--cache DIR]

covers80-dev: 40 works × 2–3 commercial recordings (validation only, never training).
ASAP: the first --asap-works works (sorted by folder) that have ≥ 2 performances, up to --versions of
them each (score rendition included), each rendered from its first minute with FluidSynth (piano).
Prints one table; figures are `homage evaluate`'s.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from homage.models import available_embedders
from homage.pipeline import DEFAULT_PIPELINE, evaluate
from homage.data.manifest import read_asap
from homage.features.cache import FeatureCache, default_cache_dir

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def asap_subset(n_works: int, n_versions: int, out_csv: Path) -> Path:
    """A ``path,work_id`` CSV of an ASAP subset."""
    rows = []
    for piece in read_asap(SHARED / "asap" / "metadata.csv"):
        if len(piece.performances) < 2:
            continue
        chosen = ([piece.score] if (SHARED / "asap" / piece.score).exists() else []) + list(piece.performances)
        rows += [(str(SHARED / "asap" / p), piece.folder) for p in chosen[:n_versions]]
        if len({w for _, w in rows}) >= n_works:
            break
    with open(out_csv, "w", newline="") as fh:
        csv.writer(fh).writerows([("path", "work_id"), *rows])
    return out_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asap-works", type=int, default=40)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=default_cache_dir())
    args = parser.parse_args()
    cache = FeatureCache(args.cache)
    pipelines = available_embedders() + [DEFAULT_PIPELINE]
    table = Table(title="homage quality (homage evaluate)", title_justify="left")
    for col in ("data set", "pipeline", "works", "recordings", "MAP", "MR1", "top-1", "P@10", "ROC-AUC", "s/rec"):
        table.add_column(col, justify="left" if col in ("data set", "pipeline") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"covers80-dev (real covers)": SHARED / "covers80-dev"}
        if (SHARED / "asap").exists():
            sets["ASAP rendered (piano performances)"] = asap_subset(args.asap_works, args.versions, Path(tmp, "asap.csv"))
        for name, source in sets.items():
            if not Path(source).exists():
                print(f"skipping {name}: {source} not found")
                continue
            for r in evaluate(source, pipelines, cache=cache, workers=args.workers):
                table.add_row(name, r.pipeline, str(r.n_works), str(r.n_recordings), f"{r.map:.3f}", f"{r.mr1:.1f}",
                              f"{r.top1:.3f}", f"{r.p_at_10:.3f}", f"{r.roc_auc:.3f}", f"{r.seconds_per_recording:.3f}")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
