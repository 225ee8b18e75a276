"""Batch samplers over labelled recordings, as index arrays into the split's item list.

- ``original_triplets``: the original project's (anchor, negative); the positive is the anchor augmented;
- ``version_triplets``: (anchor, another version of its work, a random or the hardest negative);
- ``pk_batches``: P works × K versions per batch, for the batch-hard and classification losses.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from homage.errors import ParameterError


def _others(labels: np.ndarray) -> dict[int, np.ndarray]:
    return {int(w): np.flatnonzero(labels == w) for w in np.unique(labels)}


def original_triplets(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(anchor, negative) index pairs; the positive is the anchor itself, augmented (the original project)."""
    anchors = rng.integers(len(labels), size=n)
    negatives = np.array([_draw_other(labels, a, rng) for a in anchors])
    return np.stack([anchors, negatives], axis=1)


def version_triplets(
    labels: np.ndarray, n: int, rng: np.random.Generator, distances: np.ndarray | None = None
) -> np.ndarray:
    """(anchor, positive, negative): the positive another version of the anchor's work; the negative
    random, or with ``distances`` (n_items × n_items) the nearest recording of another work."""
    groups = _others(labels)
    candidates = np.flatnonzero([len(groups[int(w)]) > 1 for w in labels])
    if len(candidates) == 0:
        raise ParameterError("no work has two versions: version triplets need at least one")
    anchors = rng.choice(candidates, size=n)
    triplets = []
    for a in anchors:
        same = groups[int(labels[a])]
        positive = rng.choice(same[same != a])
        if distances is None:
            negative = _draw_other(labels, a, rng)
        else:
            d = np.where(labels == labels[a], np.inf, distances[a])
            negative = int(np.argmin(d))
        triplets.append((a, positive, negative))
    return np.array(triplets, dtype=np.int64)


def _draw_other(labels: np.ndarray, anchor: int, rng: np.random.Generator) -> int:
    while True:
        j = int(rng.integers(len(labels)))
        if labels[j] != labels[anchor]:
            return j


def pk_batches(labels: np.ndarray, p: int, k: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """One epoch of batches of ``p`` works × ``k`` versions (drawn with replacement when a work has fewer);
    only works with at least two versions take part (all of them in one batch when there are fewer than ``p``)."""
    groups = {w: idx for w, idx in _others(labels).items() if len(idx) > 1}
    works = rng.permutation(list(groups))
    for start in range(0, max(len(works) - p + 1, 1 if len(works) > 1 else 0), p):
        batch = []
        for w in works[start : start + p]:
            idx = groups[int(w)]
            batch.append(rng.choice(idx, size=k, replace=len(idx) < k))
        yield np.concatenate(batch)
