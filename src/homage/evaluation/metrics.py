"""Retrieval metrics of version identification, from a distance matrix and work labels.

Every recording queries all the others. Ties in distance are broken pessimistically (non-versions
first), so a constant model scores at its worst, never by luck of ordering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from homage.errors import ParameterError


@dataclass(frozen=True)
class RetrievalScores:
    map: float  # mean average precision
    mr1: float  # mean rank of the first correct answer (1 = best)
    p_at_10: float  # mean precision among the 10 nearest
    top1: float  # share of queries whose nearest answer is a version
    n_queries: int
    recall_at_100: float = 1.0  # mean share of a query's versions among its 100 nearest (what a re-ranker sees)


def ranked_relevance(D: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each query (row), the relevance (bool) of the other recordings in rank order.

    Returns
    -------
    rel : np.ndarray, shape (n, n - 1), bool
    """
    D = np.asarray(D, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(labels)
    same = labels[:, None] == labels[None, :]
    off_diag = ~np.eye(n, dtype=bool)
    d = D[off_diag].reshape(n, n - 1)
    rel = same[off_diag].reshape(n, n - 1)
    order = np.lexsort((rel, d), axis=1)  # by distance, then non-versions (False) before versions
    return np.take_along_axis(rel, order, axis=1)


def retrieval_scores(D: np.ndarray, labels: np.ndarray, k: int = 10, depth: int = 100) -> RetrievalScores:
    """MAP, MR1, P@k, top-1 and recall at ``depth`` over the queries that have at least one version among
    the others."""
    rel = ranked_relevance(D, labels)
    rel = rel[rel.any(axis=1)]
    if len(rel) == 0:
        raise ParameterError("no query has a version among the other recordings")
    ranks = np.arange(1, rel.shape[1] + 1)
    hits = np.cumsum(rel, axis=1)
    ap = (hits / ranks * rel).sum(axis=1) / rel.sum(axis=1)
    first = rel.argmax(axis=1) + 1
    return RetrievalScores(
        map=float(ap.mean()),
        mr1=float(first.mean()),
        p_at_10=float(rel[:, :k].sum(axis=1).mean() / k),
        top1=float(rel[:, 0].mean()),
        n_queries=len(rel),
        recall_at_100=float((rel[:, :depth].sum(axis=1) / rel.sum(axis=1)).mean()),
    )


def map_by_kind(D: np.ndarray, labels: np.ndarray, kinds: np.ndarray) -> dict[str, tuple[float, int]]:
    """MAP per kind of version pair (``"melody–original"`` → (MAP, queries)), kinds in sorted order.

    For kinds a and b, each recording of kind a queries every recording of the other works and its own
    work's recordings of kind b (and those of kind b query for kind a): the other versions of its work
    are left out, so each figure says how well that kind of version is found from the other.
    """
    D = np.asarray(D, dtype=np.float64)
    labels, kinds = np.asarray(labels), np.asarray(kinds)
    out = {}
    names = sorted(set(kinds.tolist()))
    for x, a in enumerate(names):
        for b in names[x:]:
            aps = []
            for q in np.flatnonzero((kinds == a) | (kinds == b)):
                target = b if kinds[q] == a else a
                keep = (labels != labels[q]) | (kinds == target)
                keep[q] = False
                rel = labels[keep] == labels[q]
                if rel.any():
                    rel = rel[np.lexsort((rel, D[q, keep]))]
                    hits = np.cumsum(rel)
                    aps.append(float((hits / np.arange(1, len(rel) + 1))[rel].mean()))
            if aps:
                out[f"{a}–{b}"] = (float(np.mean(aps)), len(aps))
    return out


@dataclass(frozen=True)
class PairScores:
    """The original project's protocol on a 50 % versions / 50 % non-versions pair set."""

    n_pairs: int
    mean_distance_versions: float
    mean_distance_non_versions: float
    threshold: float  # pairs closer than the mean distance of the set are called versions
    accuracy: float
    precision: float
    recall: float
    f1: float
    random_baseline_accuracy: float  # coin flips on the same pairs (seeded)
    roc_auc: float
    best_threshold_accuracy: float


def pair_set(labels: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, is_version)``: every version pair (i < j) and as many random non-version pairs (seeded)."""
    labels = np.asarray(labels)
    iu, ju = np.triu_indices(len(labels), k=1)
    same = labels[iu] == labels[ju]
    pos = np.flatnonzero(same)
    neg = np.flatnonzero(~same)
    if len(pos) == 0 or len(neg) == 0:
        raise ParameterError("the pair protocol needs both version and non-version pairs")
    rng = np.random.default_rng(seed)
    neg = rng.choice(neg, size=min(len(pos), len(neg)), replace=False)
    chosen = np.concatenate([pos, np.sort(neg)])
    return iu[chosen], ju[chosen], same[chosen]


def pair_scores(D: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> PairScores:
    """Mean distances, thresholded classification at the mean distance, ROC-AUC, random baseline."""
    i, j, y = pair_set(labels, seed=seed)
    d = np.asarray(D, dtype=np.float64)[i, j]
    threshold = float(d.mean())
    pred = d < threshold
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    guesses = np.random.default_rng(seed + 1).random(len(y)) < 0.5
    return PairScores(
        n_pairs=len(y),
        mean_distance_versions=float(d[y].mean()),
        mean_distance_non_versions=float(d[~y].mean()),
        threshold=threshold,
        accuracy=float((pred == y).mean()),
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        random_baseline_accuracy=float((guesses == y).mean()),
        roc_auc=roc_auc(-d, y),
        best_threshold_accuracy=best_threshold_accuracy(d, y),
    )


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count one half)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_threshold_accuracy(d: np.ndarray, y: np.ndarray) -> float:
    """The highest accuracy of "version when distance ≤ t" over all thresholds t (an oracle bound)."""
    order = np.argsort(d, kind="stable")
    d, y = d[order], y[order]
    # calling the first k pairs versions: correct = versions among them + non-versions after them
    correct = np.concatenate([[0], np.cumsum(y)]) + np.concatenate([[(~y).sum()], (~y).sum() - np.cumsum(~y)])
    valid = np.concatenate([[True], d[1:] != d[:-1], [True]])  # cut only between distinct distances
    return float(correct[valid].max() / len(y))


def nn_accuracy(D: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> float:
    """Share of triplets (anchor, one of its versions, a random other work) where the version is nearer."""
    D = np.asarray(D, dtype=np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    wins = []
    for a in range(len(labels)):
        others = np.flatnonzero(labels != labels[a])
        for p in np.flatnonzero(labels == labels[a]):
            if p != a and len(others):
                wins.append(D[a, p] < D[a, rng.choice(others)])
    if not wins:
        raise ParameterError("no anchor has a version")
    return float(np.mean(wins))


def cosine_to_euclidean(S: np.ndarray) -> np.ndarray:
    """Euclidean distances between unit vectors from their cosine similarities."""
    return np.sqrt(np.clip(2.0 - 2.0 * S, 0.0, None))
