"""On-disk cache of what is computed from a file: features, and embeddings made from them.

One ``.npy`` per (file content, parameters, excerpt), written atomically. Keys use the file's content
hash, so a renamed or copied file hits the cache and an edited one misses.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np

from homage import audio
from homage.config import stable_hash


class FeatureSpec(Protocol):
    """What the cache needs of a feature: a name, the sample rate it reads, and how to compute it."""

    name: str
    sr: int

    def compute(self, y: np.ndarray) -> np.ndarray: ...


def default_cache_dir() -> Path:
    """``$HOMAGE_CACHE``, else ``$XDG_CACHE_HOME/homage``, else ``~/.cache/homage``."""
    if env := os.environ.get("HOMAGE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "homage"


class FeatureCache:
    """Compute features once per file content; ``root=None`` disables caching."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0

    def features(
        self,
        path: str | Path,
        spec: FeatureSpec,
        *,
        content_hash: str | None = None,
        offset: float = 0.0,
        duration: float | None = None,
        max_duration: float = audio.MAX_DURATION_S,
    ) -> np.ndarray:
        """The features of ``path`` under ``spec``, from the cache or freshly computed (then stored)."""

        def compute() -> np.ndarray:
            y = audio.load(path, sr=spec.sr, offset=offset, duration=duration, max_duration=max_duration)
            return spec.compute(y)

        if self.root is None:
            return self._count_miss(compute)
        content_hash = content_hash or audio.file_hash(path)
        key = {"spec": stable_hash(spec), "offset": offset, "duration": duration}
        return self.get_or_compute(spec.name, key, content_hash, compute)

    def get_or_compute(self, kind: str, params: object, content_hash: str, compute) -> np.ndarray:
        """The array stored for (``kind``, ``params``, ``content_hash``), else ``compute()`` stored there."""
        if self.root is None:
            return self._count_miss(compute)
        entry = self.root / f"{kind}-{stable_hash(params)}" / content_hash[:2] / f"{content_hash}.npy"
        if entry.exists():
            try:
                X = np.load(entry, allow_pickle=False)
                self.hits += 1
                return X
            except (OSError, ValueError):
                entry.unlink(missing_ok=True)  # a damaged entry is recomputed
        X = self._count_miss(compute)
        _atomic_save(entry, X)
        return X

    def _count_miss(self, compute) -> np.ndarray:
        self.misses += 1
        return compute()


def _atomic_save(path: Path, X: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, X, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
