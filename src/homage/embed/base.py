"""The embedder interface every model implements: features → one L2-normalised vector per recording."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from homage.config import stable_hash
from homage.features.cache import FeatureSpec


class Embedder(ABC):
    """Maps a recording's features to a unit vector; versions of one work should land close together.

    Subclasses set ``name``/``version``, the ``feature`` they read (so it can be cached), the output
    ``dim``, and implement :meth:`embed`. Similarity is the inner product (cosine) of two outputs.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    feature: FeatureSpec
    dim: int

    @abstractmethod
    def embed(self, X: np.ndarray) -> np.ndarray:
        """Features of one recording (as ``feature.compute`` returns them) → unit vector, shape (dim,)."""

    def embed_audio(self, y: np.ndarray) -> np.ndarray:
        """Mono audio at ``feature.sr`` → unit vector."""
        return self.embed(self.feature.compute(y))

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
