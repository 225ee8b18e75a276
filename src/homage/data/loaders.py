"""Training data from a built corpus: features from the cache, and the samplers the losses need.

- ``Corpus.load(root)`` reads the manifest; ``corpus.split("train")`` its items.
- ``load_features(items, spec, cache)`` computes (once, through the feature cache) or reads each
  version's feature matrix; nothing is ever re-rendered.
- Samplers return index arrays into a labelled item list:
  ``original_triplets`` (the original project's: anchor, its own augmented copy, a random negative),
  ``version_triplets`` (positive = another version of the work; negative random or the hardest),
  ``pk_batches`` (P works × K versions per batch, for batch-hard and classification losses).
- ``augment_original`` is the original project's augmentation (noise, time stretch, pitch shift),
  applied to a feature matrix.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from homage.errors import AudioError, ConfigError
from homage.features.cache import FeatureCache


@dataclass(frozen=True)
class CorpusItem:
    path: str
    work_id: str
    version_id: str
    split: str
    role: str  # "version" or "distractor"


@dataclass
class Corpus:
    root: Path
    items: list[CorpusItem]

    @classmethod
    def load(cls, root: str | Path) -> Corpus:
        root = Path(root)
        manifest = root / "manifest.jsonl"
        if not manifest.exists():
            raise ConfigError(f"{root}: no manifest.jsonl (build one with `homage data build`)")
        from homage.data.build import read_manifest

        rows = sorted(read_manifest(root), key=lambda r: (r["work_id"], r["version_id"]))
        items = [CorpusItem(str(root / r["path"]), r["work_id"], r["version_id"], r["split"], r["role"]) for r in rows]
        return cls(root, items)

    def split(self, name: str) -> list[CorpusItem]:
        return [i for i in self.items if i.split == name]


@dataclass
class FeatureSet:
    """Feature matrices (bins, frames) with integer work labels (one label per work, 0…n_works-1)."""

    features: list[np.ndarray]
    labels: np.ndarray
    works: list[str]
    items: list[CorpusItem]


def labels_of(items: list[CorpusItem]) -> tuple[np.ndarray, list[str]]:
    works = sorted({i.work_id for i in items})
    index = {w: k for k, w in enumerate(works)}
    return np.array([index[i.work_id] for i in items], dtype=np.int64), works


def load_features(
    items: list[CorpusItem],
    spec,
    cache: FeatureCache,
    *,
    workers: int = 1,
    on_item: Callable[[str, str | None], None] | None = None,
) -> FeatureSet:
    """Each item's ``spec`` features as float16 (through ``cache``); unreadable items are reported and left out."""
    jobs = [(i.path, spec, cache) for i in items]
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_features_one, jobs, chunksize=8)
    else:
        results = list(map(_features_one, jobs))
    kept, features = [], []
    for item, result in zip(items, results):
        error = result if isinstance(result, str) else None
        if on_item:
            on_item(item.path, error)
        if error is None:
            kept.append(item)
            features.append(result)
    labels, works = labels_of(kept)
    return FeatureSet(features, labels, works, kept)


def _features_one(job) -> np.ndarray | str:
    path, spec, cache = job
    try:
        return cache.features(path, spec).astype(np.float16)
    except AudioError as exc:
        return exc.reason


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
        raise ValueError("no work has two versions: version triplets need at least one")
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


def shift_bins(X: np.ndarray, shift: int, fill: float) -> np.ndarray:
    """``X`` (bins, frames) moved ``shift`` bins up (down when negative); the bins left empty get ``fill``."""
    X = np.roll(X, shift, axis=0)
    if shift > 0:
        X[:shift] = fill
    elif shift < 0:
        X[shift:] = fill
    return X


def augment_original(X: np.ndarray, rng: np.random.Generator, *, bins_per_octave: int = 12) -> np.ndarray:
    """The original project's positive: the same recording with noise, a time stretch (0.8–1.2×) and a
    pitch shift (±2 semitones), on a (bins, frames) magnitude or dB feature."""
    X = np.asarray(X, dtype=np.float32)
    frames = X.shape[1]
    stretch = rng.uniform(0.8, 1.2)
    positions = np.clip(np.arange(0, frames, stretch), 0, frames - 1)
    X = np.stack([np.interp(positions, np.arange(frames), row) for row in X])
    shift = int(round(rng.uniform(-2, 2) * bins_per_octave / 12))
    X = shift_bins(X, shift, fill=float(X.min()))
    scale = float(np.std(X)) or 1.0
    return X + rng.normal(0, 0.05 * scale, X.shape).astype(np.float32)
