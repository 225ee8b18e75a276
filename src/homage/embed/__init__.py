"""Embedders: one interface (:class:`Embedder`), a registry of named implementations."""

from __future__ import annotations

from collections.abc import Callable

from homage.embed.base import Embedder, l2_normalize
from homage.errors import ConfigError

DEFAULT_EMBEDDER = "csi"  # the trained network shipped in the package; ftm2d is the training-free baseline


def _ftm2d() -> Embedder:
    from homage.embed.ftm2d import FTM2D

    return FTM2D()


def _csi() -> Embedder:
    from homage.models.embedder import SHIPPED_CSI, NetworkEmbedder

    if not SHIPPED_CSI.exists():
        raise ConfigError("this homage ships no trained csi weights yet; use ftm2d or a checkpoint path")
    return NetworkEmbedder(SHIPPED_CSI, name="csi")


_REGISTRY: dict[str, Callable[[], Embedder]] = {"ftm2d": _ftm2d, "csi": _csi}


def available_embedders() -> list[str]:
    """Names accepted by :func:`get_embedder` (a checkpoint path written by `homage train` also is)."""
    return sorted(_REGISTRY)


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder registered as ``name`` (the default one when None), or a trained checkpoint ``*.pt``."""
    name = name or DEFAULT_EMBEDDER
    if name.endswith(".pt"):
        from homage.models.embedder import NetworkEmbedder

        return NetworkEmbedder(name, name=name)
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown embedder {name!r}; available: {', '.join(available_embedders())}") from None
    return factory()


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "available_embedders", "get_embedder", "l2_normalize"]
