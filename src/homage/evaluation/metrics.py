"""Retrieval metrics of version identification, from a distance matrix and work labels.

Every recording queries all the others. Ties in distance are broken pessimistically (non-versions
first), so a constant model scores at its worst, never by luck of ordering.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RetrievalScores:
    map: float  # mean average precision
    mr1: float  # mean rank of the first correct answer (1 = best)
    p_at_10: float  # mean precision among the 10 nearest
    top1: float  # share of queries whose nearest answer is a version
    n_queries: int


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


def retrieval_scores(D: np.ndarray, labels: np.ndarray, k: int = 10) -> RetrievalScores:
    """MAP, MR1, P@k and top-1 over the queries that have at least one version among the others."""
    rel = ranked_relevance(D, labels)
    rel = rel[rel.any(axis=1)]
    if len(rel) == 0:
        raise ValueError("no query has a version among the other recordings")
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
    )
