"""Re-ranking: a query's embedding candidates aligned with it and re-ordered by a fused score.

The one ranking path of homage: ``homage query`` (over catalog hits) and ``homage evaluate`` (over rows
of a similarity matrix) both call :func:`rerank` with plain arrays, so evaluation measures what a query
does. The query's alignment work is done once (:class:`homage.align.Prepared`), and candidates are aligned
on two threads (the alignment kernels release the GIL).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from homage.align import AlignConfig, Alignment, Prepared

# Candidates re-ranked by default: on the versions corpus validation split the re-ranked MAP grows with the
# depth up to 100 (10/25/50/100: 0.29/0.37/0.44/0.54); ≈ 0.3 s per query of 4-minute songs.
RERANK_DEPTH = 100
# Weights of the embedding similarity, the chroma alignment and the top-line (melody) alignment in the fused
# score, chosen on the mean MAP of the three validation sets (corpus/val, corpus-long/val, corpus-kinds/val;
# bench/fusion.py): 0.658 for the earlier 0.3 / 0.7 / none, 0.685 for these. Without melody evidence (older
# sequences) the first two are used, in the same proportion (≈ 0.3 / 0.7).
FUSION_WEIGHTS = (0.2, 0.5, 0.3)


@dataclass(frozen=True)
class Reranked:
    """The outcome for one query's candidates, indexed as they were given."""

    order: np.ndarray  # candidate indices, best first
    scores: np.ndarray  # the final score of each candidate: what ``order`` sorts by
    alignments: list[Alignment | None]  # None for a candidate that was not aligned


def fuse(
    similarities: np.ndarray,
    alignment_scores: np.ndarray,
    melody_scores: np.ndarray | None = None,
    weights: tuple[float, float, float] = FUSION_WEIGHTS,
) -> np.ndarray:
    """Fused score of one query's candidates: weighted sum of the z-scored embedding similarity, alignment
    score and (when given) melody alignment score (z-scores within the candidate list, so the scales need
    no common unit)."""

    def z(x):
        x = np.asarray(x, dtype=float)
        return (x - x.mean()) / (x.std() + 1e-9)

    if melody_scores is None:
        total = weights[0] + weights[1]
        return (weights[0] * z(similarities) + weights[1] * z(alignment_scores)) / total
    return weights[0] * z(similarities) + weights[1] * z(alignment_scores) + weights[2] * z(melody_scores)


def rerank(
    query: np.ndarray | Prepared,
    candidates: Sequence[np.ndarray | None],
    similarity: np.ndarray,
    *,
    config: AlignConfig = AlignConfig(),
    weights: tuple[float, float, float] = FUSION_WEIGHTS,
) -> Reranked:
    """Align ``query`` (an alignment sequence) with each candidate sequence and re-order by :func:`fuse`.

    ``similarity`` holds the candidates' embedding similarities to the query. Candidates given as None (not
    to be aligned: beyond the re-ranking depth, or unreadable) follow the aligned ones in embedding order;
    their final scores lie below every aligned one's, so one score orders the whole list. Ties keep the
    embedding order. The melody scores count when every aligned candidate has one.
    """
    query = query if isinstance(query, Prepared) else Prepared(query, config)
    similarity = np.asarray(similarity, dtype=float)
    todo = [i for i, c in enumerate(candidates) if c is not None]
    alignments: list[Alignment | None] = [None] * len(candidates)
    with ThreadPoolExecutor(min(2, os.cpu_count() or 1)) as threads, _one_blas_thread():
        for i, alignment in zip(todo, threads.map(partial(query.align, melody=True), [candidates[i] for i in todo])):
            alignments[i] = alignment
    scores = similarity.copy()
    rest = np.array([i for i, a in enumerate(alignments) if a is None], dtype=np.int64)
    if todo:
        melody = [alignments[i].melody_score for i in todo]
        melody = None if any(m is None for m in melody) else melody
        fused = fuse(similarity[todo], [alignments[i].score for i in todo], melody, weights)
        scores[todo] = fused
        if len(rest):  # below every aligned candidate, in embedding order
            scores[rest] = fused.min() - 1.0 + (similarity[rest] - similarity[rest].max())
    by_embedding = np.argsort(-similarity, kind="stable")
    order = by_embedding[np.argsort(-scores[by_embedding], kind="stable")]
    return Reranked(order, scores, alignments)


def _one_blas_thread():
    """BLAS on one thread while two threads align: two layers of threads on two cores slow both."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
