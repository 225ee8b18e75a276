"""The catalog's SQLite file: its tables, its creation (whole or not at all), its migration from earlier
formats, and the small helpers every part of the catalog writes through (meta values, transactions).

Functions over an open connection, called by :class:`homage.catalog.store.Catalog` under its lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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


def migrate(db: sqlite3.Connection, index_kind: str) -> None:
    """Create the tables, or bring an older catalog up to this format (nothing is lost: the index is derived)."""
    db.executescript(SCHEMA)  # new tables; an existing recordings table is left as it is
    version = read_meta(db, "format_version")
    if not version:
        write_meta(db, format_version=FORMAT_VERSION, index_kind=index_kind, generation="0")
    else:
        columns = {row[1] for row in db.execute("PRAGMA table_info(recordings)")}
        with Transaction(db):
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
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
