"""How well `homage groups` recovers works: a data set of recordings grouped into works is indexed into a
fresh catalog, grouped, and the groups are scored against the true works.

    .venv/bin/python -m bench.quality.groups_quality ../shared/data/covers80-dev [corpus/val ...] [--threshold version]

Per data set: pairwise precision, recall and F1 of "same group" (over all pairs of recordings), the
adjusted Rand index, how many works are recovered exactly (one group holding all their recordings and
nothing else), groups found, aligned pairs and seconds (indexing excluded).
"""

from __future__ import annotations

import tempfile
from itertools import combinations
from pathlib import Path

from rich.table import Table

from bench.common import arguments, show
from homage import pipeline
from homage.data.manifest import load_dataset


def scores(truth: dict[str, str], found: dict[str, int]) -> dict:
    """Pairwise precision/recall/F1 of "same group", adjusted Rand index, works recovered exactly."""
    from sklearn.metrics import adjusted_rand_score

    paths = sorted(truth)
    tp = fp = fn = 0
    for a, b in combinations(paths, 2):
        same_work, same_group = truth[a] == truth[b], found[a] == found[b]
        tp += same_work and same_group
        fp += same_group and not same_work
        fn += same_work and not same_group
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    works: dict[str, set[str]] = {}
    groups: dict[int, set[str]] = {}
    for path in paths:
        works.setdefault(truth[path], set()).add(path)
        groups.setdefault(found[path], set()).add(path)
    exact = sum(any(members == group for group in groups.values()) for members in works.values())
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "ari": adjusted_rand_score([truth[p] for p in paths], [found[p] for p in paths]),
        "exact": exact,
        "works": len(works),
        "groups": len(groups),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data", nargs="+", type=Path)
    parser.add_argument("--threshold", default="version")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    table = Table(title=f"homage groups against the true works (threshold {args.threshold})", title_justify="left")
    for col in (
        "data set",
        "recordings",
        "works",
        "groups",
        "pair precision",
        "pair recall",
        "pair F1",
        "ARI",
        "works recovered exactly",
        "pairs aligned",
        "seconds",
    ):
        table.add_column(col, justify="left" if col == "data set" else "right")
    for source in args.data:
        entries = [e for e in load_dataset(source) if e.path.suffix.lower() not in (".mid", ".midi")]
        with tempfile.TemporaryDirectory() as tmp:
            folder, catalog = Path(tmp, "links"), Path(tmp, "catalog")
            truth = {}
            for n, entry in enumerate(entries):  # one folder of links: the catalog sees files, not works
                link = folder / f"{n:05d}{entry.path.suffix}"
                link.parent.mkdir(exist_ok=True)
                link.symlink_to(entry.path.absolute())
                truth[str(link)] = entry.work
            pipeline.index_dir(folder, catalog, workers=args.workers)
            report = pipeline.groups(catalog, threshold=args.threshold)
            found = {row["path"]: row["group"] for row in pipeline.group_table(catalog)}
        truth = {p: w for p, w in truth.items() if p in found}
        s = scores(truth, found)
        table.add_row(
            str(source),
            str(len(truth)),
            str(s["works"]),
            str(s["groups"]),
            f"{s['precision']:.3f}",
            f"{s['recall']:.3f}",
            f"{s['f1']:.3f}",
            f"{s['ari']:.3f}",
            f"{s['exact']} of {s['works']}",
            str(report.aligned_pairs),
            f"{report.seconds:.1f}",
        )
    show(table, args.markdown, width=160)


if __name__ == "__main__":
    main()
