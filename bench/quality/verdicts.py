"""The verdicts `homage compare` gives, counted: on every version pair of a data set and on seeded random
other pairs, whole recordings and 20-second excerpts.

    .venv/bin/python -m bench.quality.verdicts ../shared/data/covers80-dev [--others 600] [--clip 20] [--seed 0]

Prints, per kind of pair, how many get "version", "maybe" and "unrelated". An excerpt is a clip of one
recording (at a seeded place) compared with the whole other one — in either order, as a scan compares a
borrowed passage with a catalogued song, or a song with a catalogued clip.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
from rich.table import Table

from bench.common import arguments, show
from homage.align.verdict import CALIBRATION_FILE, load_calibration
from homage.data.manifest import load_dataset
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.analysis import Recorded, pair_evidence, recorded


def seeded_pairs(works: list, others: int, rng: np.random.Generator) -> tuple[list, list]:
    """Every version pair (i < j) of recordings labelled ``works``, and ``others`` distinct random pairs of
    different works, sorted."""
    versions = [(a, b) for a, b in combinations(range(len(works)), 2) if works[a] == works[b]]
    drawn = set()
    while len(drawn) < others:
        a, b = sorted(int(x) for x in rng.choice(len(works), size=2, replace=False))
        if works[a] != works[b]:
            drawn.add((a, b))
    return versions, sorted(drawn)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data")
    parser.add_argument("--others", type=int, default=600)
    parser.add_argument("--clip", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--calibration", default=str(CALIBRATION_FILE), help="a calibration file (default: the shipped one)"
    )
    args = parser.parse_args()
    entries = load_dataset(args.data)
    embedder = get_embedder(DEFAULT_EMBEDDER)
    items, works = recorded([str(e.path) for e in entries], [e.work for e in entries], embedder, args.workers)
    rng = np.random.default_rng(args.seed)
    versions, others = seeded_pairs(works, args.others, rng)
    calibration = load_calibration(args.calibration)

    def clip(r: Recorded) -> Recorded:
        return r.clip(rng.uniform(0, max(r.seconds - args.clip, 0)), args.clip, embedder)

    table = Table(
        title=f"Verdicts on {args.data} ({len(items)} recordings; {calibration.fitted_on[:80]}…)", title_justify="left"
    )
    for col in ("pairs", "n", "version", "maybe", "unrelated", "share called version"):
        table.add_column(col, justify="left" if col == "pairs" else "right")
    excerpt = f"{args.clip:g}-s excerpt"
    for label, pairs, cut in (
        ("version pairs, whole", versions, None),
        ("other pairs, whole", others, None),
        (f"version pairs, {excerpt} vs whole", versions, 0),
        (f"other pairs, {excerpt} vs whole", others, 0),
        (f"version pairs, whole vs {excerpt}", versions, 1),
        (f"other pairs, whole vs {excerpt}", others, 1),
    ):
        counts = Counter()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)) if cut is not None else ((a, b),):
                pair = [items[x], items[y]]
                if cut is not None:
                    pair[cut] = clip(pair[cut])
                counts[calibration.verdict(*pair_evidence(*pair))] += 1
        n = sum(counts.values())
        table.add_row(
            label,
            str(n),
            str(counts["version"]),
            str(counts["maybe"]),
            str(counts["unrelated"]),
            f"{counts['version'] / n:.1%}",
        )
    show(table, args.markdown, width=160)


if __name__ == "__main__":
    main()
