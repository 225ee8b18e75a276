"""How the re-ranker's fused score is best made: S-normalised by the candidates' cohorts or from the query's
side only, the weights of embedding, chroma alignment and top-line (melody) alignment, and (query side only)
length normalisation, query expansion, the melody score for the best few only.

    .venv/bin/python -m bench.quality.fusion corpus/val corpus-long/val corpus-kinds/val \\
        --report ../shared/data/covers80-dev [--embedder csi] [--depth 100]

For each data set every recording queries all others; its top ``--depth`` candidates by embedding are
aligned once (cached under ``bench/out/fusion/``), then each variant re-orders them from the stored Qmax
values and embedding similarities, the rest following in embedding order as `homage query` does. Variants
are compared by the mean MAP over the data sets given first (the corpus validation splits); ``--report`` sets
(real covers) are only shown. Prints one table.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from rich.table import Table

from bench.common import arguments, show
from homage.align import Alignment, Prepared
from homage.align.rerank import FUSION_WEIGHTS, cohort_of, fuse, rank
from homage.data.manifest import load_dataset
from homage.evaluation.metrics import retrieval_scores
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND, recorded

OUT = Path(__file__).resolve().parents[1] / "out" / "fusion"  # bench/out: ignored by git
# (similarity, chroma alignment, melody alignment); melody 0: the earlier two-way fusion
WEIGHT_GRID = [(ws, round(1 - ws - wm, 2), wm) for ws in (0.2, 0.3, 0.4) for wm in (0.0, 0.1, 0.2, 0.3, 0.4)]
WEIGHT_GRID += [(ws, round(1 - ws, 2), 0.0) for ws in (0.1, 0.5)]


def cached_rows_path(folder: Path, data: str, entries: list, embedder_name: str, depth: int) -> Path:
    """Where a bench keeps one data set's aligned rows: named by the set, keyed by its recordings, the
    embedder, the depth and how the alignment sequences are computed (a change of any recomputes them)."""
    key = hashlib.blake2b(
        f"{SEQUENCE_KIND}:{embedder_name}:{depth}:{[str(e.path) for e in entries]}".encode(), digest_size=6
    ).hexdigest()
    return folder / f"{Path(data).as_posix().replace('/', '_').strip('._')}-{key}.npz"


def choosing_sets_parser(doc: str, **defaults) -> argparse.ArgumentParser:
    """The command line of a bench that chooses on some data sets and only shows others."""
    parser = arguments(doc)
    parser.add_argument("data", nargs="+", help="data sets that choose (the corpus validation splits)")
    parser.add_argument("--report", nargs="*", default=[], help="data sets only shown (real covers)")
    parser.add_argument("--depth", type=int, default=defaults.get("depth", 100))
    return parser


def print_variants(
    title: str, first_column: str, sets: dict, report: list[str], variants: list, markdown: bool = False
) -> None:
    """One table: each variant's MAP (top-1) on every data set, and its mean MAP over the choosing sets
    (those not in ``report``). ``variants``: (label, function of a set's cached rows → (MAP, top-1))."""
    table = Table(title=title, title_justify="left")
    table.add_column(first_column)
    for name in sets:
        table.add_column(name + (" (shown only)" if name in report else ""), justify="right")
    table.add_column("mean of choosing sets", justify="right")
    for label, score in variants:
        cells, chosen = [], []
        for name, data in sets.items():
            m, top1 = score(data)
            cells.append(f"{m:.3f} ({top1:.3f})")
            if name not in report:
                chosen.append(m)
        table.add_row(label, *cells, f"{np.mean(chosen):.3f}")
    show(table, markdown, width=200)


def aligned_candidates(data: str, embedder_name: str, depth: int, workers: int) -> dict:
    """Similarities, top-``depth`` candidates and their Qmax / frame counts for every query (cached)."""
    entries = load_dataset(data)
    path = cached_rows_path(OUT, data, entries, embedder_name, depth)
    if path.exists():
        return dict(np.load(path))
    embedder = get_embedder(embedder_name)
    items, works = recorded([str(e.path) for e in entries], [e.work for e in entries], embedder, workers)
    V = np.array([r.vector for r in items])
    S = embedder.similarity(V, V)
    n = len(items)
    top = np.zeros((n, min(depth, n - 1)), dtype=np.int64)
    qmax, melody = np.zeros(top.shape), np.zeros(top.shape)
    frames = np.array([len(r.sequence) - ALIGN_CONFIG.embed_dim + 1 for r in items])  # delay-embedded frames
    for i in range(n):
        order = [j for j in np.argsort(-S[i], kind="stable") if j != i][: top.shape[1]]
        query = Prepared(items[i].sequence, ALIGN_CONFIG)
        top[i] = order
        alignments = [query.align(items[j].sequence, melody=True) for j in order]
        qmax[i], melody[i] = [a.qmax for a in alignments], [a.melody_score for a in alignments]
    OUT.mkdir(parents=True, exist_ok=True)
    data = {"S": S, "top": top, "qmax": qmax, "melody": melody, "frames": frames, "works": np.array(works)}
    np.savez(path, **data)
    return data


def final_scores(
    data: dict, weights: tuple, power: float = 0.5, expand: int = 0, melody_top: int | None = None
) -> np.ndarray:
    """Final score matrix: fused scores of each query's aligned candidates above the rest in embedding
    order. ``power``: Qmax is divided by (candidate frames) ** power (0.5 is `homage query`'s score).
    ``expand`` > 0: the fused row also adds the mean fused row of the query's ``expand`` best hits.
    ``melody_top``: the melody score only for the best that many by similarity and alignment (they are
    re-fused among themselves above the rest), as a cheaper query would align top lines."""
    S, top, qmax, frames, melody = data["S"], data["top"], data["qmax"], data["frames"], data["melody"]
    n = len(S)
    fused = np.full((n, n), np.nan)
    for i in range(n):
        similarity, alignment = S[i, top[i]], qmax[i] / frames[top[i]] ** power
        if melody_top:
            row = fuse(similarity, alignment, None, weights) - 100.0
            best = np.argsort(-row, kind="stable")[:melody_top]
            row[best] = fuse(similarity[best], alignment[best], melody[i][best], weights)
        else:
            row = fuse(similarity, alignment, melody[i] if weights[2] else None, weights)
        fused[i, top[i]] = row
    if expand:
        filled = np.where(np.isnan(fused), np.nanmin(fused, axis=1, keepdims=True), fused)
        expanded = fused.copy()
        for i in range(n):
            best = top[i][np.argsort(-fused[i, top[i]], kind="stable")[:expand]]
            expanded[i, top[i]] = fused[i, top[i]] + filled[best][:, top[i]].mean(axis=0)
        fused = expanded
    return np.where(np.isnan(fused), S - 1e6, fused)


def snormed_scores(data: dict, weights: tuple) -> np.ndarray:
    """Final score matrix as `homage query` ranks in a catalog of these recordings: the fused scores
    S-normalised by each candidate's cohort (its own row, :func:`homage.align.rerank.cohort_of`)."""
    S, top, qmax, frames, melody = data["S"], data["top"], data["qmax"], data["frames"], data["melody"]
    rows = [
        [
            Alignment(
                score=q / np.sqrt(frames[j]),
                qmax=q,
                melody_score=m,
                transposition=0,
                tempo_ratio=1.0,
                frames_a=int(frames[i]),
                frames_b=int(frames[j]),
            )
            for j, q, m in zip(top[i], qmax[i], melody[i])
        ]
        for i in range(len(S))
    ]
    cohorts = [cohort_of(row, S[i, top[i]]) for i, row in enumerate(rows)]
    final = S - 1e6
    for i, row in enumerate(rows):
        final[i, top[i]] = rank(row, S[i, top[i]], weights=weights, cohorts=[cohorts[j] for j in top[i]]).scores
    return final


def mean_ap(data: dict, scores: np.ndarray) -> tuple[float, float]:
    ranked = retrieval_scores(1.0 - scores, data["works"])
    return ranked.map, ranked.top1


def variant_scores(weights: tuple, power: float, expand: int, melody_top: int | None, snorm: bool = False):
    """The scoring of one variant: a set's cached rows → (MAP, top-1)."""
    if snorm:
        return lambda data: mean_ap(data, snormed_scores(data, weights))
    return lambda data: mean_ap(data, final_scores(data, weights, power, expand, melody_top))


def main() -> None:
    parser = choosing_sets_parser(__doc__)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sets = {name: aligned_candidates(name, args.embedder, args.depth, args.workers) for name in args.data + args.report}
    variants = [("shipped (S-normalised by cohorts)", FUSION_WEIGHTS, 0.5, 0, None, True)]
    variants += [(f"S-normalised, weights {w}", w, 0.5, 0, None, True) for w in WEIGHT_GRID if w != FUSION_WEIGHTS]
    variants += [("query side only (before the cohorts)", FUSION_WEIGHTS, 0.5, 0, None)]
    variants += [(f"query side only, weights {w}", w, 0.5, 0, None) for w in WEIGHT_GRID if w != FUSION_WEIGHTS]
    variants += [(f"Qmax / frames^{p}", FUSION_WEIGHTS, p, 0, None) for p in (0.0, 0.25, 0.75, 1.0)]
    variants += [(f"query expansion, top {k}", FUSION_WEIGHTS, 0.5, k, None) for k in (1, 2, 3)]
    variants += [(f"melody score for the top {k} only", FUSION_WEIGHTS, 0.5, 0, k) for k in (10, 20, 30, 50)]
    print_variants(
        f"re-ranking variants ({args.embedder}, top {args.depth}); MAP (top-1)",
        "variant",
        sets,
        args.report,
        [(label, variant_scores(*v)) for label, *v in variants],
        args.markdown,
    )


if __name__ == "__main__":
    main()
