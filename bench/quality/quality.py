"""Quality of every pipeline on real covers (covers80-dev), on the corpus validation splits and on rendered
ASAP piano performances: the one quality table of the README.

    .venv/bin/python -m bench.quality.quality [--ranking R ...] [--align] [--asap-works 40] [--versions 3] [--cache DIR]

covers80-dev: 40 works × 2–3 commercial recordings (validation only, never training or choosing).
corpus/val, corpus-long/val, corpus-kinds/val: the rendered validation works in 30-s versions, whole-song
versions, and whole-arrangement / melody-alone / earlier-draft versions (built as the README's corpus
section says; skipped when absent). These choose every setting.
ASAP: the first --asap-works works (sorted by folder) that have ≥ 2 performances, up to --versions of
them each (score rendition included), each rendered from its first minute with FluidSynth (piano).
Prints one table of `homage evaluate`'s figures (the pair protocol read off each pipeline's final score),
then MAP per kind of version pair where a data set names its kinds.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from rich.table import Table

from bench.common import arguments, show
from homage.data.manifest import read_asap
from homage.features.cache import FeatureCache, default_cache_dir
from homage.models import available_embedders
from homage.pipeline import DEFAULT_RANKING, evaluate
from homage.reports.evaluation import kind_pairs, kind_rows

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
CORPUS_SPLITS = {
    "corpus/val (rendered, 30 s)": ROOT / "corpus" / "val",
    "corpus-long/val (rendered, whole songs)": ROOT / "corpus-long" / "val",
    "corpus-kinds/val (arrangement, melody alone, draft)": ROOT / "corpus-kinds" / "val",
}


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
    parser = arguments(__doc__)
    parser.add_argument(
        "-p", "--ranking", action="append", help="rankings to score [default: every embedder alone and the default]"
    )
    parser.add_argument("--align", action="store_true", help="also alignment alone, every pair (slow on large sets)")
    parser.add_argument("--asap-works", type=int, default=40)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=default_cache_dir())
    args = parser.parse_args()
    cache = FeatureCache(args.cache)
    rankings = (args.ranking or available_embedders() + [DEFAULT_RANKING]) + (["align"] if args.align else [])
    table = Table(title="homage quality (homage evaluate)", title_justify="left")
    columns = (
        "data set",
        "ranking",
        "works",
        "recordings",
        "MAP",
        "MR1",
        "top-1",
        "P@10",
        "recall@100",
        "ROC-AUC",
        "pair acc.",
        "NN acc.",
        "s/rec",
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("data set", "ranking") else "right")
    kinds = Table(title="MAP by kind of version pair (each kind queries for the other)", title_justify="left")
    for col in ("data set", "pair (queries)", *rankings):
        kinds.add_column(col, justify="left" if col in ("data set", "pair (queries)") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"covers80-dev (real covers)": SHARED / "covers80-dev", **CORPUS_SPLITS}
        if (SHARED / "asap").exists():
            sets["ASAP rendered (piano performances)"] = asap_subset(
                args.asap_works, args.versions, Path(tmp, "asap.csv")
            )
        for name, source in sets.items():
            if not Path(source).exists():
                print(f"skipping {name}: {source} not found")
                continue
            results = evaluate(source, rankings, cache=cache, workers=args.workers)
            for r in results:
                table.add_row(
                    name,
                    r.ranking,
                    str(r.n_works),
                    str(r.n_recordings),
                    f"{r.map:.3f}",
                    f"{r.mr1:.1f}",
                    f"{r.top1:.3f}",
                    f"{r.p_at_10:.3f}",
                    f"{r.recall_at_100:.3f}",
                    f"{r.roc_auc:.3f}",
                    f"{r.pair_accuracy:.3f}",
                    f"{r.nn_accuracy:.1%}",
                    f"{r.seconds_per_recording:.3f}",
                )
            for row in kind_rows(results, kind_pairs(results)):
                kinds.add_row(name, *row)
    show(table, args.markdown, width=160)
    if kinds.row_count:
        show(kinds, args.markdown, width=160)


if __name__ == "__main__":
    main()
