"""The catalog's SQLite file: its tables, its creation (whole or not at all), its migration from earlier
formats, and the small helpers every part of the catalog writes through (meta values, transactions).

Functions over an open connection, called by :class:`homage.catalog.store.Catalog` under its lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from homage.catalog import words as stored_words
from homage.errors import CatalogError

DB_NAME = "catalog.sqlite"
FORMAT_VERSION = "3"  # 2: alignment sequences; 3: the main index and its delta

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    duration REAL,
    title TEXT,
    artist TEXT,
    album TEXT,
    added_at TEXT NOT NULL,
    vector BLOB NOT NULL,
    sequence BLOB,
    in_index INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS removed_from_index (id INTEGER PRIMARY KEY);
CREATE INDEX IF NOT EXISTS recordings_content_hash ON recordings (content_hash);
CREATE TABLE IF NOT EXISTS cohorts (
    recording_id INTEGER PRIMARY KEY,
    size INTEGER NOT NULL,
    summary BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    recording_id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    strongest_id INTEGER,
    probability REAL
);
"""
    + stored_words.SCHEMA
)


def create_database(db: Path) -> None:
    """An empty catalog database with its tables, put in place whole: a crash while creating it leaves no
    catalog rather than one without tables; one that another process created meanwhile is kept."""
    partial = db.with_name(f".{db.name}.{os.getpid()}.partial")
    try:
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as new:
            new.execute("PRAGMA journal_mode=WAL")
            new.executescript(SCHEMA)
        try:
            os.link(partial, db)  # unlike a rename, never replaces a catalog that appeared meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not db.exists():
                os.replace(partial, db)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise CatalogError(f"{db.parent}: cannot create the catalog ({exc})") from exc
    finally:
        partial.unlink(missing_ok=True)


def migrate(db: sqlite3.Connection, index_kind: str, root: Path) -> None:
    """Create the tables, or bring the older catalog at ``root`` up to this format (nothing is lost: the index
    is derived)."""
    db.executescript(SCHEMA)  # new tables; an existing recordings table is left as it is
    version = read_meta(db, "format_version")
    if not version:
        write_meta(db, format_version=FORMAT_VERSION, index_kind=index_kind, generation="0")
    else:
        columns = {row[1] for row in db.execute("PRAGMA table_info(recordings)")}
        with Transaction(db, root):
            if "sequence" not in columns:  # format 1: no alignment sequences; old rows have none
                db.execute("ALTER TABLE recordings ADD COLUMN sequence BLOB")
            if "in_index" not in columns:  # format 2: one index file per generation; rebuilt on first use
                db.execute("ALTER TABLE recordings ADD COLUMN in_index INTEGER NOT NULL DEFAULT 0")
            if version != FORMAT_VERSION:
                write_meta(db, format_version=FORMAT_VERSION)
    db.execute("CREATE INDEX IF NOT EXISTS recordings_in_index ON recordings (in_index)")


def read_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def write_meta(db: sqlite3.Connection, **values: str) -> None:
    db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())


def rows_of(db: sqlite3.Connection, sql: str, ids: Iterable[int]) -> list[tuple]:
    """The rows of ``sql`` (with ``{marks}`` for the ids) for ``ids``, queried in parts: SQLite caps the
    parameters of one statement, and numpy integers would be bound as blobs, matching nothing."""
    ids = sorted({int(i) for i in ids})
    rows = []
    for start in range(0, len(ids), 30_000):
        part = ids[start : start + 30_000]
        rows += db.execute(sql.format(marks=",".join("?" * len(part))), part).fetchall()
    return rows


class Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception (a failed commit included). A full
    disk, in the body or at the commit, is a :class:`CatalogError` naming the catalog ``root``."""

    def __init__(self, db: sqlite3.Connection, root: Path):
        self._db = db
        self._root = root

    def __enter__(self):
        with out_of_space(self._root):
            self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        committing = exc is None
        if committing:
            try:
                self._db.execute("COMMIT")
                return False
            except sqlite3.Error as failed:
                exc = failed
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        if is_out_of_space(exc):
            raise CatalogError(_UNDONE.format(root=self._root)) from exc
        if committing:
            raise exc
        return False


OUT_OF_SPACE = "no space left on the disk holding the catalog"
_UNDONE = (
    "{root}: " + OUT_OF_SPACE + "; the write that ran out was undone and everything committed before it is kept"
    " — free some space and run the command again"
)


def is_out_of_space(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full: SQLite's SQLITE_FULL or its shared-memory
    file that could not grow, or ENOSPC/EDQUOT."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def out_of_space(root: Path):
    """Any write to the catalog ``root`` inside: a full disk becomes one :class:`CatalogError` line."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if is_out_of_space(exc):
            raise CatalogError(_UNDONE.format(root=root)) from exc
        raise


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
