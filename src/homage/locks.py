"""Locks between processes, on lock files (filelock): a catalog's one writer, and machine-wide named locks."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock


class Busy(Exception):
    """The lock is held by another process (``holder``: what it noted, e.g. "pid 1234")."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


@contextlib.contextmanager
def exclusive(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the lock of file ``path``, waiting up to ``wait`` seconds for it (None: as long as it takes), or
    raise :class:`Busy`. The holder's process id is noted beside the lock for the message of one refused."""
    lock = filelock.FileLock(path, timeout=-1 if wait is None else wait)
    note = path.with_name(path.name + ".holder")
    try:
        lock.acquire(poll_interval=0.2)
    except filelock.Timeout:
        try:
            holder = note.read_text().strip()
        except OSError:
            holder = ""
        raise Busy(holder or "another process") from None
    try:
        with contextlib.suppress(OSError):  # a courtesy for the message of one refused (e.g. on a full disk)
            note.write_text(f"pid {os.getpid()}")
        yield
    finally:
        note.unlink(missing_ok=True)
        lock.release()


def machine_lock(name: str) -> contextlib.AbstractContextManager[None]:
    """A lock every process of this machine shares by ``name`` (a file in the temporary folder), waited for."""
    return exclusive(Path(tempfile.gettempdir()) / f"homage-{name}.lock")
