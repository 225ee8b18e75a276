"""Re-ranking: a query's embedding candidates aligned with it and re-ordered by a fused score.

The one ranking path of homage: ``homage query`` (over catalog hits) and ``homage evaluate`` (over rows
of a similarity matrix) both align with :func:`align_candidates` and order with :func:`rank`, so evaluation
measures what a query does. The query's alignment work is done once (:class:`homage.align.Prepared`), and
candidates are aligned on two threads (the alignment kernels release the GIL). Each recording's own
re-ranked candidates, summarised as its :class:`Cohort`, S-normalise the scores of the pairs it is in.
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
# bench/quality/fusion.py): 0.658 for the earlier 0.3 / 0.7 / none, 0.685 for these. Without melody evidence (older
# sequences) the first two are used, in the same proportion (≈ 0.3 / 0.7).
FUSION_WEIGHTS = (0.2, 0.5, 0.3)
# Fewest aligned candidates whose evidence makes a cohort (a recording's own mean and spread).
MIN_COHORT = 10
# Weight of the words' similarity (z-scored among the candidates that have words) added to the fused pitch
# score: fitted on real covers (covers80-dev), where no rendered recording can say anything, by
# leave-one-work-out cross-validation (scripts/fit_real_covers.py; the figures in the README).
LYRICS_WEIGHT = 0.5


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


@dataclass(frozen=True)
class Cohort:
    """A recording's own re-ranked candidates in summary: the mean and spread of their embedding similarity,
    alignment score and melody score. S-norm measures a pair against it from the candidate's side."""

    mean: np.ndarray  # (3,): similarity, alignment score, melody score
    std: np.ndarray  # (3,)
    size: int  # candidates it summarises

    def to_array(self) -> np.ndarray:
        return np.concatenate([self.mean, self.std]).astype(np.float32)

    @classmethod
    def from_array(cls, size: int, values: np.ndarray) -> Cohort:
        values = np.asarray(values, dtype=float)
        return cls(values[:3], values[3:], int(size))


def rerank(
    query: np.ndarray | Prepared,
    candidates: Sequence[np.ndarray | None],
    similarity: np.ndarray,
    *,
    config: AlignConfig = AlignConfig(),
    weights: tuple[float, float, float] = FUSION_WEIGHTS,
    cohorts: Sequence[Cohort | None] | None = None,
    words: np.ndarray | None = None,
) -> Reranked:
    """Align ``query`` (an alignment sequence) with each candidate sequence and re-order them: :func:`rank`
    of :func:`align_candidates`. Candidates given as None (beyond the re-ranking depth, or unreadable) are
    not aligned."""
    return rank(align_candidates(query, candidates, config), similarity, weights=weights, cohorts=cohorts, words=words)


def align_candidates(
    query: np.ndarray | Prepared, candidates: Sequence[np.ndarray | None], config: AlignConfig = AlignConfig()
) -> list[Alignment | None]:
    """The alignment (with its melody score) of ``query`` with each candidate sequence; None where a
    candidate is None. The query's work is done once; candidates are aligned on two threads."""
    query = query if isinstance(query, Prepared) else Prepared(query, config)
    todo = [i for i, c in enumerate(candidates) if c is not None]
    alignments: list[Alignment | None] = [None] * len(candidates)
    with ThreadPoolExecutor(min(2, os.cpu_count() or 1)) as threads, _one_blas_thread():
        for i, alignment in zip(todo, threads.map(partial(query.align, melody=True), [candidates[i] for i in todo])):
            alignments[i] = alignment
    return alignments


def rank(
    alignments: Sequence[Alignment | None],
    similarity: np.ndarray,
    *,
    weights: tuple[float, float, float] = FUSION_WEIGHTS,
    cohorts: Sequence[Cohort | None] | None = None,
    words: np.ndarray | None = None,
    words_weight: float = LYRICS_WEIGHT,
) -> Reranked:
    """Order one query's candidates by :func:`fuse` of their similarity and alignment (None: not aligned),
    plus their words' similarity to the query's (``words``: NaN where the query or the candidate has no
    lyric evidence).

    With the candidates' ``cohorts`` the fused score is S-normalised: the mean of the pair's z-fusion
    among the query's candidates and among the candidate's own (its :class:`Cohort`), so a candidate that
    aligns well with everything gains less (on the six validation sets mean MAP 0.733 → 0.741, better or
    level on each; ``bench/quality/fusion.py``). A candidate without a cohort is measured from the query's side
    only. Unaligned candidates follow the aligned ones in embedding order; their final scores lie below
    every aligned one's, so one score orders the whole list. Ties keep the embedding order. The melody
    scores count when every aligned candidate has one. The words add ``words_weight`` × their z-score among
    the aligned candidates that have words; a candidate without words gets nothing from them either way
    (an instrumental recording is neither helped nor hurt).
    """
    similarity = np.asarray(similarity, dtype=float)
    todo = [i for i, a in enumerate(alignments) if a is not None]
    scores = similarity.copy()
    rest = np.array([i for i, a in enumerate(alignments) if a is None], dtype=np.int64)
    if todo:
        aligned = [alignments[i] for i in todo]
        melody = [a.melody_score for a in aligned]
        melody = None if any(m is None for m in melody) else melody
        fused = fuse(similarity[todo], [a.score for a in aligned], melody, weights)
        if melody is not None and cohorts is not None:
            fused = (
                fused + _from_candidates(aligned, similarity[todo], [cohorts[i] for i in todo], fused, weights)
            ) / 2
        if words is not None and words_weight:
            fused = fused + words_weight * words_evidence(np.asarray(words, dtype=float)[todo])
        scores[todo] = fused
        if len(rest):  # below every aligned candidate, in embedding order
            scores[rest] = fused.min() - 1.0 + (similarity[rest] - similarity[rest].max())
    by_embedding = np.argsort(-similarity, kind="stable")
    order = by_embedding[np.argsort(-scores[by_embedding], kind="stable")]
    return Reranked(order, scores, list(alignments))


def words_evidence(words: np.ndarray) -> np.ndarray:
    """The words' similarities of one query's candidates z-scored among those that have words (NaN: no
    lyric evidence, which reads 0)."""
    out = np.zeros(len(words))
    has = ~np.isnan(words)
    if has.sum() >= 2:
        out[has] = (words[has] - words[has].mean()) / (words[has].std() + 1e-9)
    return out


def cohort_of(alignments: Sequence[Alignment | None], similarity: np.ndarray) -> Cohort | None:
    """A recording's cohort from its own re-ranked candidates (None: not aligned): the mean and spread of
    their similarity, alignment score and melody score. None with fewer than ``MIN_COHORT`` aligned, a
    candidate without a melody score, or a kind of evidence without spread (it would divide by nothing)."""
    todo = [i for i, a in enumerate(alignments) if a is not None]
    if len(todo) < MIN_COHORT or any(alignments[i].melody_score is None for i in todo):
        return None
    evidence = np.array([(similarity[i], alignments[i].score, alignments[i].melody_score) for i in todo], dtype=float)
    spread = evidence.std(axis=0)
    return Cohort(evidence.mean(axis=0), spread, len(todo)) if np.all(spread > 1e-6) else None


def _from_candidates(
    aligned: list[Alignment],
    similarity: np.ndarray,
    cohorts: list[Cohort | None],
    fused: np.ndarray,
    weights: tuple[float, float, float],
) -> np.ndarray:
    """Each pair's fused score as its candidate would rank the query: the evidence with the query as the
    candidate (scores over √ of the query's frames), z-scored by the candidate's cohort; the query's own
    fused score where a candidate has none."""
    out = np.array(fused, dtype=float)
    for n, (a, cohort) in enumerate(zip(aligned, cohorts)):
        if cohort is not None:
            frames_a, frames_b = max(a.frames_a, 1), max(a.frames_b, 1)
            evidence = np.array(
                [similarity[n], a.qmax / np.sqrt(frames_a), a.melody_score * np.sqrt(frames_b / frames_a)]
            )
            out[n] = float(np.dot(weights, (evidence - cohort.mean) / (cohort.std + 1e-9)))
    return out


def _one_blas_thread():
    """BLAS on one thread while two threads align: two layers of threads on two cores slow both."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
