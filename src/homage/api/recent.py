"""What every server process of one catalog must see alike: recent comparisons and jobs.

``homage serve --workers N`` runs N processes; a follow-up request (a comparison's picture, a job's progress)
may land on any of them. So these live in one small SQLite file beside the catalog (or, for a catalog this
server may not write, in the temporary folder under a name derived from the catalog's path), each with an
expiry. A job runs in the process that took it; one whose process died is reported failed, not "running"
for ever.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from homage.errors import HomageError

FILE_NAME = "server.sqlite"
COMPARISON_SECONDS = 3600.0  # a comparison's picture can be fetched for an hour
JOB_SECONDS = 24 * 3600.0  # a finished job's result, for a day
KEPT_COMPARISONS = 256
_SCHEMA = """
CREATE TABLE IF NOT EXISTS comparisons (key TEXT PRIMARY KEY, created REAL NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (key TEXT PRIMARY KEY, kind TEXT NOT NULL, pid INTEGER NOT NULL,
    updated REAL NOT NULL, state TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, total INTEGER,
    failed INTEGER NOT NULL DEFAULT 0, result TEXT, error TEXT);
"""


def recent_file(catalog: Path, writable: bool) -> Path:
    """Where the server processes of ``catalog`` keep what they share."""
    if writable:
        return catalog / FILE_NAME
    digest = hashlib.sha1(str(catalog.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"homage-serve-{digest}.sqlite"


class Recent:
    """Recent comparisons and jobs of the server processes of one catalog. Safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        """One connection per use: a transaction that commits on success, and is closed either way."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    # ---- comparisons ----
    def keep_comparison(self, comparison: object) -> str:
        """Store a comparison (pickled: only this server's own processes write this file); its key."""
        key, now = uuid.uuid4().hex, time.time()
        with self._connect() as db:
            db.execute("DELETE FROM comparisons WHERE created < ?", (now - COMPARISON_SECONDS,))
            db.execute(
                "DELETE FROM comparisons WHERE key NOT IN (SELECT key FROM comparisons ORDER BY created DESC LIMIT ?)",
                (KEPT_COMPARISONS - 1,),
            )
            db.execute("INSERT INTO comparisons VALUES (?, ?, ?)", (key, now, pickle.dumps(comparison)))
        return key

    def comparison(self, key: str) -> object | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT data FROM comparisons WHERE key = ? AND created >= ?", (key, time.time() - COMPARISON_SECONDS)
            ).fetchone()
        return None if row is None else pickle.loads(row[0])

    # ---- jobs ----
    def start_job(self, kind: str, work: Callable[[Job], object]) -> str:
        """Run ``work(job)`` in a thread of this process; its progress and result go where every process reads."""
        key, now = uuid.uuid4().hex, time.time()
        with self._connect() as db:
            db.execute("DELETE FROM jobs WHERE updated < ? AND state != 'running'", (now - JOB_SECONDS,))
            db.execute(
                "INSERT INTO jobs (key, kind, pid, updated, state) VALUES (?, ?, ?, ?, 'running')",
                (key, kind, os.getpid(), now),
            )
        job = Job(self, key)
        threading.Thread(target=job.run, args=(work,), daemon=True, name=f"homage-{kind}").start()
        return key

    def job(self, key: str) -> dict | None:
        """A job's state as the API shows it, or None when unknown or expired."""
        with self._connect() as db:
            row = db.execute(
                "SELECT kind, pid, updated, state, done, total, failed, result, error FROM jobs WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        kind, pid, updated, state, done, total, failed, result, error = row
        if state == "running" and not alive(pid):
            state, error = "failed", f"the server process running this job (pid {pid}) stopped before it finished"
        elif state != "running" and updated < time.time() - JOB_SECONDS:
            return None
        data = {"kind": kind, "state": state, "done": done, "total": total, "failed": failed}
        if result is not None:
            data["result"] = json.loads(result)
        if error is not None:
            data["error"] = error
        return data

    def _update(self, key: str, **values) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {columns}, updated = ? WHERE key = ?", (*values.values(), time.time(), key))


class Job:
    """The handle a running job reports through: ``start(total)``, ``item(path, error)`` once per item."""

    def __init__(self, recent: Recent, key: str):
        self._recent, self.key = recent, key
        self._done = self._failed = 0

    def start(self, total: int) -> None:
        self._recent._update(self.key, total=total)

    def item(self, path: str, error: str | None) -> None:
        self._done += 1
        self._failed += error is not None
        self._recent._update(self.key, done=self._done, failed=self._failed)

    def run(self, work: Callable[[Job], object]) -> None:
        try:
            result = work(self)
            result = result.to_json() if hasattr(result, "to_json") else result
            self._recent._update(self.key, state="done", result=json.dumps(result))
        except HomageError as exc:
            self._recent._update(self.key, state="failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a job that breaks says so; the server goes on
            self._recent._update(self.key, state="failed", error=f"the job failed ({type(exc).__name__}: {exc})")


def alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine still runs (every server process of a catalog is on one machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
