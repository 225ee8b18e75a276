"""Which evidence the verdict's calibration should read: alternative logistic fits on the same rendered pairs
as `scripts/calibrate_alignment.py`, each scored on them and, for information only, on a real data set.

    .venv/bin/python -m bench.quality.calibration_fits corpus/val corpus-long/val --report ../shared/data/covers80-dev

The real set's pairs: every version pair and ``--others`` seeded random other pairs, whole against whole,
then a ``--clip``-second excerpt of one (embedded on its own) against the whole other, in both orders, as
`bench/quality/verdicts.py` draws them. The fits: the one shipped before (score, both log lengths, similarity), fits
in which the lengths enter only through the null, the non-version pairs' score at those lengths (a linear
fit on their log lengths): the excess over the null's mean, or the same in units of the null's spread,
each alone or with its twin on the top-line (melody) alignment, and the shipped one (both scores in units of
their nulls, both log lengths, similarity). Prints one table.
"""

from __future__ import annotations

import numpy as np
from rich.table import Table

from bench.common import arguments, show
from bench.quality.verdicts import seeded_pairs  # the verdict bench's real pairs
from homage.align.verdict import MAYBE_AT, VERSION_AT, Null, evidence_of, fit_calibration
from homage.data.manifest import load_dataset
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.analysis import pair_evidence, recorded
from scripts.calibrate_alignment import calibration_pairs  # the calibration's own pairs


def evidence(a, b) -> tuple:
    """(the calibration's score_min, its top-line twin, log_min, log_max and similarity) of one pair."""
    found = evidence_of(*pair_evidence(a, b))
    return tuple(found[f] for f in ("score_min", "melody_min", "log_min", "log_max", "similarity"))


def rendered_pairs(sources: list[str], total: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The calibration script's pairs (same draws for the same seed): evidence rows and truth."""
    pairs = [(evidence(first, second), same) for _, first, second, same, _ in calibration_pairs(sources, total, seed)]
    return np.array([row for row, _ in pairs]), np.array([same for _, same in pairs])


def real_pairs(data: str, others: int, clip: float, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Evidence rows and truth per kind of pair ("whole", "excerpt vs whole", "whole vs excerpt")."""
    embedder = get_embedder(DEFAULT_EMBEDDER)
    entries = load_dataset(data)
    items, works = recorded([str(e.path) for e in entries], [e.work for e in entries], embedder, 2)
    rng = np.random.default_rng(seed)
    versions, drawn = seeded_pairs(works, others, rng)
    pairs = versions + drawn

    def excerpt(r):
        return r.clip(rng.uniform(0, max(r.seconds - clip, 0)), clip, embedder)

    kinds = {"whole": [], "excerpt vs whole": [], "whole vs excerpt": []}
    for a, b in pairs:
        kinds["whole"].append(evidence(items[a], items[b]))
        for x, y in ((a, b), (b, a)):
            kinds["excerpt vs whole"].append(evidence(excerpt(items[x]), items[y]))
            kinds["whole vs excerpt"].append(evidence(items[x], excerpt(items[y])))
    same = np.array([works[a] == works[b] for a, b in pairs])
    return {kind: (np.array(rows), same if kind == "whole" else np.repeat(same, 2)) for kind, rows in kinds.items()}


def null_relative(R: np.ndarray, null_rows: np.ndarray, column: int, spread: bool) -> np.ndarray:
    """Column ``column`` of ``R`` less the mean of its :class:`Null` (fitted on ``null_rows``) at each row's
    lengths, in units of the null's spread there when ``spread``."""
    null = Null.fit(null_rows[:, column], null_rows[:, 2], null_rows[:, 3])
    return (null.z if spread else null.excess)(R[:, column], R[:, 2], R[:, 3])


FITS = {
    "score, both log lengths, similarity (the fit shipped before)": lambda R, N: np.column_stack(
        [R[:, 0], R[:, 2], R[:, 3], R[:, 4]]
    ),
    "score above the null, similarity": lambda R, N: np.column_stack([null_relative(R, N, 0, False), R[:, 4]]),
    "the same in units of the null's spread": lambda R, N: np.column_stack([null_relative(R, N, 0, True), R[:, 4]]),
    "score and melody score above their nulls, similarity": lambda R, N: np.column_stack(
        [null_relative(R, N, 0, False), R[:, 4], null_relative(R, N, 1, False)]
    ),
    "the same in units of the nulls' spread": lambda R, N: np.column_stack(
        [null_relative(R, N, 0, True), R[:, 4], null_relative(R, N, 1, True)]
    ),
    "the same and both log lengths (the shipped fit's features)": lambda R, N: np.column_stack(
        [null_relative(R, N, 0, True), null_relative(R, N, 1, True), R[:, 2], R[:, 3], R[:, 4]]
    ),
}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data", nargs="+", help="built corpus splits (rendered versions): the calibration's pairs")
    parser.add_argument("--report", required=True, help="a real data set, only shown")
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--others", type=int, default=600)
    parser.add_argument("--clip", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = rendered_pairs(args.data, args.pairs, args.seed)
    real = real_pairs(args.report, args.others, args.clip, args.seed)
    null_rows = X[~y]
    table = Table(
        title=f"calibration fits on {len(y)} rendered pairs of {', '.join(args.data)}; "
        f"verdicts on {args.report} (version / maybe / unrelated)",
        title_justify="left",
    )
    for col in (
        "the fit reads",
        "accuracy (rendered)",
        *(f"{k}: versions" for k in real),
        *(f"{k}: others" for k in real),
    ):
        table.add_column(col, justify="left" if col == "the fit reads" else "right")
    for label, features in FITS.items():
        F = features(X, null_rows)
        fit = fit_calibration(F, y, "bench", tuple(f"x{i}" for i in range(F.shape[1])))

        def probability(F):
            return 1 / (1 + np.exp(-(F @ np.array(fit.weights) + fit.intercept)))

        cells = {}
        for kind, (R, same) in real.items():
            p = probability(features(R, null_rows))
            for name, sel in (("versions", same), ("others", ~same)):
                v, m = int((p[sel] >= VERSION_AT).sum()), int(((p[sel] >= MAYBE_AT) & (p[sel] < VERSION_AT)).sum())
                cells[f"{kind}: {name}"] = f"{v} / {m} / {int(sel.sum()) - v - m}"
        table.add_row(
            label,
            f"{np.mean((probability(F) >= 0.5) == y):.3f}",
            *(cells[c] for c in cells if "versions" in c),
            *(cells[c] for c in cells if "others" in c),
        )
    show(table, args.markdown, width=220)


if __name__ == "__main__":
    main()
