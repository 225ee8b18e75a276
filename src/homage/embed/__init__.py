"""Embedders: one interface (:class:`Embedder`), a registry of named implementations."""

from __future__ import annotations

from collections.abc import Callable

from homage.embed.base import Embedder, l2_normalize
from homage.errors import ConfigError

DEFAULT_EMBEDDER = "ftm2d"


def _ftm2d() -> Embedder:
    from homage.embed.ftm2d import FTM2D

    return FTM2D()


_REGISTRY: dict[str, Callable[[], Embedder]] = {"ftm2d": _ftm2d}


def available_embedders() -> list[str]:
    """Names accepted by :func:`get_embedder`."""
    return sorted(_REGISTRY)


def get_embedder(name: str | None = None) -> Embedder:
    """The embedder registered as ``name`` (the default one when None)."""
    name = name or DEFAULT_EMBEDDER
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown embedder {name!r}; available: {', '.join(available_embedders())}") from None
    return factory()


__all__ = ["DEFAULT_EMBEDDER", "Embedder", "available_embedders", "get_embedder", "l2_normalize"]
