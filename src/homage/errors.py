"""One exception tree for the whole package (callers catch :class:`HomageError`), and the one shape of a
per-item failure (:class:`Failure`) that batch work reports instead of stopping."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class HomageError(Exception):
    """Base class of every error homage raises on purpose; its message is one line a user can act on."""


class AudioError(HomageError):
    """A file could not be used as audio; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ConfigError(HomageError):
    """A configuration value or a requested component does not exist or is invalid."""


class ParameterError(ConfigError):
    """A function or command was called with a value it cannot work with."""


class CatalogError(HomageError):
    """A catalog cannot be opened or would become inconsistent."""


@dataclass(frozen=True)
class Failure:
    """One item of a batch that could not be processed: which (a path, or a work id) and why, in words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def to_json(self) -> dict:
        return {"path": self.path, "reason": self.reason}

    @classmethod
    def of(cls, item: object, exc: BaseException) -> Failure:
        """The failure of ``item`` raised as ``exc`` (an AudioError keeps its own path and reason)."""
        if isinstance(exc, AudioError):
            return cls(exc.path, exc.reason)
        if isinstance(exc, HomageError):
            return cls(str(item), str(exc))
        return cls(str(item), f"could not be processed ({type(exc).__name__}: {exc})")
