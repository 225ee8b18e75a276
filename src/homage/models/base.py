"""The interface every model implements: which feature it reads, how it prepares and embeds it, and how
two embeddings compare. Search, evaluation and training rank with the model's own :meth:`similarity`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from homage.config import stable_hash
from homage.features.cache import FeatureSpec


class Embedder(ABC):
    """Maps a recording's features to a unit vector; versions of one work should land close together.

    Subclasses set ``name``/``version``, the ``feature`` they read (so it can be cached), the output
    ``dim``, and implement :meth:`prepare` (features → model input) and :meth:`embed_prepared`.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    feature: FeatureSpec
    dim: int

    @abstractmethod
    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Features as ``feature.compute`` returns them → the model's input."""

    @abstractmethod
    def embed_prepared(self, x: np.ndarray) -> np.ndarray:
        """A prepared input → unit vector, shape (dim,), float32."""

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Features of one recording → unit vector, shape (dim,)."""
        return self.embed_prepared(self.prepare(X))

    def embed_audio(self, y: np.ndarray) -> np.ndarray:
        """Mono audio at ``feature.sr`` → unit vector."""
        return self.embed(self.feature.compute(y))

    @staticmethod
    def similarity(xq: np.ndarray, xb: np.ndarray) -> np.ndarray:
        """Cosine similarity of unit vectors, (nq, dim) × (nb, dim) → (nq, nb): 1 the same, ≈ 0 unrelated.
        The catalog's index searches by this inner product; evaluation and training rank by it."""
        return np.atleast_2d(xq) @ np.atleast_2d(xb).T

    def settings(self) -> dict[str, Any]:
        """What, besides name and version, changes this embedder's output (config, weights)."""
        return {}

    @property
    def identity(self) -> str:
        """``name@version#hash``: vectors of two embedders are comparable only when identities match."""
        return f"{self.name}@{self.version}#{stable_hash([stable_hash(self.feature), self.settings()], 8)}"


def l2_normalize(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Scale the last axis to unit Euclidean length (zero vectors stay zero)."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.maximum(norm, eps)).astype(np.float32)
