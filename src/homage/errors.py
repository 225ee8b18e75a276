"""One exception tree for the whole package: callers catch :class:`HomageError`."""

from __future__ import annotations

from pathlib import Path


class HomageError(Exception):
    """Base class of every error homage raises on purpose."""


class AudioError(HomageError):
    """A file could not be used as audio; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(HomageError):
    """A configuration value or a requested component does not exist or is invalid."""


class CatalogError(HomageError):
    """A catalog cannot be opened or would become inconsistent."""
