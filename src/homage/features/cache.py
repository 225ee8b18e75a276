"""On-disk cache of what is computed from a file: features, and embeddings made from them.

One ``.npy`` per (file content, parameters, excerpt), written atomically. Keys use the file's content
hash, so a renamed or copied file hits the cache and an edited one misses.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from homage import audio
from homage.atomic import atomic_write
from homage.config import stable_hash
from homage.errors import Failure
from homage.parallel import Executor, as_executor

# numpy parses each .npy header with ast.literal_eval, and building an AST in two threads at once can fail in
# CPython 3.11 ("SystemError: AST constructor recursion depth mismatch", gh-106905; seen in a comparison's two
# threads reading their cached entries): headers are read one at a time.
_NPY_HEADERS = threading.Lock()


class CacheWarning(UserWarning):
    """The feature cache could not be used as asked (it is read on, but not written)."""


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
        self.writable = True  # until a write fails

    @classmethod
    def default(cls) -> FeatureCache:
        """The user's cache (:func:`default_cache_dir`), what every command uses unless told otherwise."""
        return cls(default_cache_dir())

    def features(
        self,
        path: str | Path,
        spec: FeatureSpec,
        *,
        content_hash: str | None = None,
        offset: float = 0.0,
        duration: float | None = None,
        max_seconds: float = audio.MAX_SECONDS,
        on_warning: Callable[[str], None] | None = None,
        decoded: Callable[[], np.ndarray] | None = None,
    ) -> np.ndarray:
        """The features of ``path`` under ``spec``, from the cache or freshly computed (then stored);
        ``on_warning`` hears of a problem the decoder worked around (see :func:`homage.audio.load`);
        ``decoded``, when given, returns the whole file already decoded at ``spec.sr`` (shared with others; an
        excerpt, ``offset`` or ``duration``, is decoded on its own)."""

        def compute() -> np.ndarray:
            if decoded is not None and offset == 0.0 and duration is None:
                return spec.compute(decoded())
            y = audio.load(
                path, sr=spec.sr, offset=offset, duration=duration, max_seconds=max_seconds, on_warning=on_warning
            )
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
        try:
            with _NPY_HEADERS:
                X = np.load(entry, allow_pickle=False)
            self.hits += 1
            return X
        except FileNotFoundError:
            pass
        except (OSError, ValueError):  # a damaged entry is recomputed
            with contextlib.suppress(OSError):
                entry.unlink()
        X = self._count_miss(compute)
        if self.writable:
            try:
                atomic_write(entry, lambda fh: np.save(fh, X, allow_pickle=False))
            except OSError as exc:  # a cache that cannot be written is skipped, with one warning
                self.writable = False
                warnings.warn(
                    CacheWarning(
                        f"feature cache {self.root} cannot be written ({exc.strerror or exc}); "
                        "features are computed without it"
                    ),
                    stacklevel=2,
                )
        return X

    def many(
        self,
        paths: list[str | Path],
        spec: FeatureSpec,
        *,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        workers: int | Executor = 1,
        on_item: Callable[[str, str | None], None] | None = None,
    ) -> list[np.ndarray | Failure]:
        """The features of each of ``paths`` (in order, computed in parallel where missing), passed through
        ``transform`` in the worker when given, or the file's Failure. ``on_item(path, reason_or_None)``
        reports progress."""
        results = []
        for path, result in as_executor(workers).map(_Features(self, spec, transform), [str(p) for p in paths]):
            if on_item:
                on_item(path, result.reason if isinstance(result, Failure) else None)
            results.append(result)
        return results

    def _count_miss(self, compute) -> np.ndarray:
        self.misses += 1
        return compute()


class _Features:
    """``transform(cache.features(path, spec))`` as a picklable task for an executor."""

    def __init__(self, cache: FeatureCache, spec: FeatureSpec, transform=None):
        self.cache, self.spec, self.transform = cache, spec, transform

    def __call__(self, path: str) -> np.ndarray:
        X = self.cache.features(path, self.spec)
        return X if self.transform is None else self.transform(X)
