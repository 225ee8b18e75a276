"""Models: one interface (:class:`Embedder`: feature → prepare → embed → similarity) and a registry.

- ``csi`` (the default): the trained network shipped in the package, an ``ftmnet`` run in NumPy
  (``assets/csi.npz``, model card ``assets/csi.md``);
- ``ftm2d``: the training-free baseline (2D Fourier transform magnitude of beat-synchronous CRP chroma);
- any checkpoint written by ``homage train`` (a ``*.pt`` path).

Importing this package loads no PyTorch; only a ``.pt`` checkpoint of a network other than ``ftmnet`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from homage.errors import ConfigError
from homage.models.base import Embedder, l2_normalize

DEFAULT_EMBEDDER = "csi"  # the trained network shipped in the package; ftm2d is the training-free baseline
ASSETS = Path(__file__).with_name("assets")
SHIPPED_CSI = ASSETS / "csi.npz"


def _ftm2d() -> Embedder:
    from homage.models.ftm2d import FTM2D

    return FTM2D()


def _csi() -> Embedder:
    from homage.models.network_embedder import load_network

    return load_network(str(SHIPPED_CSI), "csi")


_REGISTRY: dict[str, Callable[[], Embedder]] = {"ftm2d": _ftm2d, "csi": _csi}


def available_embedders() -> list[str]:
    """Names accepted by :func:`get_embedder` (a checkpoint path written by `homage train` also is)."""
    return sorted(_REGISTRY)


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder registered as ``name`` (the default one when None), or a trained checkpoint ``*.pt``/``*.npz``.
    Each is built once per process."""
    return _cached(name or DEFAULT_EMBEDDER, _REGISTRY.get(name or DEFAULT_EMBEDDER))


@functools.lru_cache(maxsize=16)
def _cached(name: str, factory: Callable[[], Embedder] | None) -> Embedder:
    if name.endswith((".pt", ".npz")):
        from homage.models.network_embedder import load_network

        return load_network(name, name)
    if factory is None:
        raise ConfigError(f"unknown embedder {name!r}; available: {', '.join(available_embedders())}")
    return factory()


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "available_embedders", "get_embedder", "l2_normalize"]
