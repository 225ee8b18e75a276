"""Catalog store: SQLite holds metadata *and* vectors (the source of truth); FAISS is a derived index.

Layout of a catalog folder::

    catalog.sqlite          recordings (path, content hash, duration, tags, vector, alignment sequence) + meta
    vectors.<gen>.faiss     the FAISS index of generation <gen>

Each recording keeps its alignment sequence (float16 pitch classes at a few frames per second, ≈ 14 kB per
4-minute song), so re-ranking a query's candidates reads it here instead of decoding their audio.

Every write is one SQLite transaction that also bumps the catalog's generation, so a crash leaves the
last committed state. The FAISS file is written atomically (temp file + rename) under the generation it
reflects; one whose generation is not the database's is ignored and rebuilt from the vectors.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from homage.atomic import atomic_write
from homage.errors import CatalogError

DB_NAME = "catalog.sqlite"
LOCK_NAME = "writer.lock"
FORMAT_VERSION = "2"  # 2: alignment sequences
INDEX_KINDS = ("flat", "hnsw")
HNSW_NEIGHBOURS = 32

_SCHEMA = """
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
    sequence BLOB
);
CREATE INDEX IF NOT EXISTS recordings_content_hash ON recordings (content_hash);
CREATE TABLE IF NOT EXISTS groups (
    recording_id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    strongest_id INTEGER,
    probability REAL
);
"""
_COLUMNS = "id, path, content_hash, duration, title, artist, album, added_at"


@dataclass(frozen=True)
class Recording:
    """One catalogued recording (without its vector)."""

    id: int
    path: str
    content_hash: str
    duration: float | None
    title: str | None
    artist: str | None
    album: str | None
    added_at: str

    def to_json(self) -> dict:
        return {"id": self.id, "path": self.path, "title": self.title, "artist": self.artist, "album": self.album,
                "duration": self.duration, "added_at": self.added_at, "label": self.label}  # fmt: skip

    @property
    def label(self) -> str:
        """``artist – title`` when tagged, else the file name."""
        if self.title:
            return f"{self.artist} – {self.title}" if self.artist else self.title
        return Path(self.path).name


@dataclass(frozen=True)
class NewRecording:
    """What :meth:`Catalog.add` stores for one file: what the analysis of a file yields."""

    path: str
    content_hash: str
    vector: np.ndarray
    duration: float | None = None
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    sequence: np.ndarray | None = field(default=None, repr=False)  # alignment sequence (frames, 12), float16
    warnings: tuple[str, ...] = ()  # problems worked around while decoding it (not stored)


def _locked(method):
    """Run under the catalog's lock: one Catalog may serve several threads (the API's request workers)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return run


class Catalog:
    """A catalog folder. Use as a context manager, or call :meth:`close`, so the index is saved.
    Safe to share between threads."""

    def __init__(self, root: str | Path, *, create: bool = False, index_kind: str = "flat"):
        self.root = Path(root)
        self._lock = threading.RLock()
        db = self.root / DB_NAME
        try:
            if self.root.exists() and not self.root.is_dir():
                raise CatalogError(f"{self.root}: is a file, not a catalog folder")
            db.exists()
        except PermissionError:
            raise CatalogError(f"{self.root}: cannot read the catalog folder (permission denied)") from None
        if not db.exists():
            if not create:
                raise CatalogError(f"{self.root}: no catalog here (create one with `homage index`)")
            if index_kind not in INDEX_KINDS:
                raise CatalogError(f"unknown index kind {index_kind!r}; choose from {', '.join(INDEX_KINDS)}")
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"{self.root}: cannot create the catalog folder ({exc.strerror})") from exc
        elif db.stat().st_size == 0:
            raise CatalogError(f"{db}: empty file (0 bytes), not a catalog; remove it or use another folder")
        # a catalog others may read but not write (a shared or read-only folder) opens read-only
        self.read_only = db.exists() and not (os.access(db, os.W_OK) and os.access(self.root, os.W_OK))
        try:
            if self.read_only:
                self._db = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None,
                                           check_same_thread=False)  # fmt: skip
            else:
                self._db = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                if not self._meta("format_version"):
                    self._write_meta(format_version=FORMAT_VERSION, index_kind=index_kind, generation="0")
                elif self._meta("format_version") == "1":  # add the alignment sequences; old rows have none
                    with self._transaction():
                        self._db.execute("ALTER TABLE recordings ADD COLUMN sequence BLOB")
                        self._write_meta(format_version=FORMAT_VERSION)
            version = self._meta("format_version")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{db}: not a readable catalog ({exc})") from exc
        if version not in ({FORMAT_VERSION, "1"} if self.read_only else {FORMAT_VERSION}):  # 1: read as it is
            raise CatalogError(f"{db}: catalog format {version} is not supported")
        self._has_sequences = version == FORMAT_VERSION
        self._index: faiss.Index | None = None
        self._index_generation = -1
        self._index_unsaved = False
        self._wrote = False

    # ---- context -------------------------------------------------------------------------------
    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @_locked
    def close(self) -> None:
        """Save the FAISS index if it changed, then close the database."""
        if self._db is None:
            return
        self.flush()
        self._db.close()
        self._db = None

    # ---- reading -------------------------------------------------------------------------------
    @_locked
    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0]

    @property
    def embedder(self) -> str | None:
        """Identity of the embedder whose vectors this catalog holds (None while empty and unbound)."""
        return self._meta("embedder")

    @property
    def dim(self) -> int | None:
        value = self._meta("dim")
        return int(value) if value else None

    @property
    def index_kind(self) -> str:
        return self._meta("index_kind")

    @property
    def generation(self) -> int:
        return int(self._meta("generation"))

    @_locked
    def get(self, path: str | Path) -> Recording | None:
        """The recording indexed under ``path`` (None when there is none, or the name cannot be text)."""
        try:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM recordings WHERE path = ?", (str(path),)).fetchone()
        except UnicodeEncodeError:
            return None
        return Recording(*row) if row else None

    @_locked
    def recordings(self, under: str | Path | None = None) -> list[Recording]:
        """All recordings, or those whose path lies under folder ``under``."""
        if under is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM recordings ORDER BY path")
        else:
            prefix = str(under).rstrip(os.sep) + os.sep
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM recordings WHERE substr(path, 1, ?) = ? ORDER BY path",
                (len(prefix), prefix),
            )
        return [Recording(*row) for row in rows]

    @_locked
    def page(self, *, offset: int = 0, limit: int = 50, text: str | None = None) -> tuple[int, list[Recording]]:
        """``(total, recordings)``: one page of the recordings whose title, artist, album or path holds
        ``text`` (case-insensitive; all when None), ordered by artist, title and path."""
        where, args = "", []
        if text:
            where = "WHERE title LIKE ? OR artist LIKE ? OR album LIKE ? OR path LIKE ?"
            args = [f"%{text}%"] * 4
        total = self._db.execute(f"SELECT COUNT(*) FROM recordings {where}", args).fetchone()[0]
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM recordings {where} ORDER BY COALESCE(artist, ''), COALESCE(title, ''), path "
            "LIMIT ? OFFSET ?", [*args, max(0, int(limit)), max(0, int(offset))],
        )  # fmt: skip
        return total, [Recording(*row) for row in rows]

    @_locked
    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, X)``: the stored vectors, all of them or those of ``ids``; X has shape (n, dim)."""
        if ids is None:
            rows = self._db.execute("SELECT id, vector FROM recordings ORDER BY id").fetchall()
        else:
            marks = ",".join("?" * len(ids))
            rows = self._db.execute(f"SELECT id, vector FROM recordings WHERE id IN ({marks})", list(ids)).fetchall()
        dim = self.dim or 0
        X = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return np.array([r[0] for r in rows], dtype=np.int64), X

    @_locked
    def by_ids(self, ids: Iterable[int]) -> dict[int, Recording]:
        """The recordings of ``ids`` (unknown ids are left out), by id."""
        ids = sorted({int(i) for i in ids if i >= 0})
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM recordings WHERE id IN ({marks})", ids)
        return {row[0]: Recording(*row) for row in rows}

    @_locked
    def sequences(self, ids: Iterable[int], kind: str) -> dict[int, np.ndarray]:
        """The stored alignment sequences of ``ids`` that were computed as ``kind`` describes (see :meth:`add`)."""
        ids = sorted({int(i) for i in ids if i >= 0})
        if not ids or not self._has_sequences or self._meta("sequence_kind") != kind:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(f"SELECT id, sequence FROM recordings WHERE id IN ({marks}) AND sequence IS NOT NULL", ids)
        return {i: np.frombuffer(blob, dtype=np.float16).reshape(-1, 12) for i, blob in rows}

    @_locked
    def groups(self, ids: Iterable[int] | None = None) -> dict[int, tuple[int, int | None, float]]:
        """The stored version groups (``homage groups``) of all recordings or of ``ids``: recording id →
        (group id, strongest link, its probability)."""
        where, args = "", []
        if ids is not None:
            args = sorted({int(i) for i in ids})
            where = f"WHERE recording_id IN ({','.join('?' * len(args))})"
        try:
            rows = self._db.execute(f"SELECT recording_id, group_id, strongest_id, probability FROM groups {where}", args)
        except sqlite3.OperationalError:  # a read-only catalog of an earlier format has no groups table
            return {}
        return {r: (g, s, p or 0.0) for r, g, s, p in rows}

    @_locked
    def set_groups(self, groups: dict[int, tuple[int, int | None, float]]) -> None:
        """Replace the stored groups, in one transaction."""
        with self._transaction():
            self._db.execute("DELETE FROM groups")
            self._db.executemany("INSERT INTO groups VALUES (?, ?, ?, ?)", [(r, *v) for r, v in groups.items()])
            self._write_meta(updated_at=_now())  # the vectors did not change: the index stays valid

    @_locked
    def search(self, xq: np.ndarray, k: int = 10, *, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """``(S, I)``: for each query vector (rows of ``xq``) the ids of the ``k`` most similar recordings and
        their similarities (inner product of unit vectors: cosine), best first; rows shorter than ``k`` are
        padded with id −1. ``exclude`` names ids never to return (the query's own recording)."""
        xq = np.ascontiguousarray(np.atleast_2d(xq), dtype=np.float32)
        S = np.full((len(xq), k), -np.inf, dtype=np.float32)
        I = np.full((len(xq), k), -1, dtype=np.int64)
        if len(self) == 0:
            return S, I
        if xq.shape[1] != self.dim:
            raise CatalogError(f"query vectors have {xq.shape[1]} dimensions, the catalog {self.dim}")
        excluded = {int(i) for i in exclude}
        found_S, found_I = self._ensure_index().search(xq, min(k + len(excluded), len(self)))
        for row, (scores, ids) in enumerate(zip(found_S, found_I)):
            keep = [(s, i) for s, i in zip(scores, ids) if i >= 0 and int(i) not in excluded][:k]
            S[row, : len(keep)] = [s for s, _ in keep]
            I[row, : len(keep)] = [i for _, i in keep]
        return S, I

    @_locked
    def info(self) -> dict:
        size = sum(f.stat().st_size for f in self.root.iterdir() if f.is_file())
        total = self._db.execute("SELECT COALESCE(SUM(duration), 0) FROM recordings").fetchone()[0]
        return {
            "path": str(self.root),
            "recordings": len(self),
            "hours_of_audio": round(total / 3600, 3),
            "embedder": self.embedder,
            "dim": self.dim,
            "index_kind": self.index_kind,
            "groups": len({g for g, _, _ in self.groups().values()}) or None,
            "generation": self.generation,
            "size_bytes": size,
            "created_at": self._meta("created_at"),
            "updated_at": self._meta("updated_at"),
        }

    # ---- writing -------------------------------------------------------------------------------
    @_locked
    def add(self, entries: Sequence[NewRecording], *, embedder: str, sequence_kind: str | None = None) -> tuple[int, int]:
        """Store ``entries`` in one transaction; a path already present is replaced.

        Returns ``(added, replaced)``. Refuses vectors of another embedder or dimension than the
        catalog's: nothing of the batch is written then. ``sequence_kind`` names how the entries'
        alignment sequences were computed; when it changes, the sequences stored before are set aside.
        """
        if not entries:
            return 0, 0
        dim = int(np.asarray(entries[0].vector).shape[-1])
        self._check_embedder(embedder, dim)
        for entry in entries:
            if np.asarray(entry.vector).shape != (dim,):
                raise CatalogError(f"{entry.path}: vector of shape {np.shape(entry.vector)}, expected ({dim},)")
        now = _now()
        added = replaced = 0
        old_ids, new_ids = [], []
        with self._transaction():
            if self.embedder is None:
                self._write_meta(embedder=embedder, dim=str(dim), created_at=now)
            if sequence_kind and self._meta("sequence_kind") != sequence_kind:
                self._db.execute("UPDATE recordings SET sequence = NULL")
                self._write_meta(sequence_kind=sequence_kind)
            for entry in entries:
                old = self._db.execute("SELECT id FROM recordings WHERE path = ?", (entry.path,)).fetchone()
                if old:
                    self._db.execute("DELETE FROM recordings WHERE id = ?", old)
                    old_ids.append(old[0])
                    replaced += 1
                else:
                    added += 1
                cur = self._db.execute(
                    "INSERT INTO recordings (path, content_hash, duration, title, artist, album, added_at, vector,"
                    " sequence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        entry.path,
                        entry.content_hash,
                        entry.duration,
                        entry.title,
                        entry.artist,
                        entry.album,
                        now,
                        np.asarray(entry.vector, dtype=np.float32).tobytes(),
                        None if entry.sequence is None else np.asarray(entry.sequence, dtype=np.float16).tobytes(),
                    ),
                )
                new_ids.append(cur.lastrowid)
            self._bump_generation(now)
        vectors = np.stack([np.asarray(e.vector, dtype=np.float32) for e in entries])
        self._update_index(removed=old_ids, added_ids=new_ids, added=vectors)
        return added, replaced

    @_locked
    def remove(self, paths: Iterable[str | Path]) -> int:
        """Remove recordings by path (unknown paths are ignored); returns how many were removed."""
        ids = []
        with self._transaction():
            for path in paths:
                row = self._db.execute("SELECT id FROM recordings WHERE path = ?", (str(path),)).fetchone()
                if row:
                    self._db.execute("DELETE FROM recordings WHERE id = ?", row)
                    self._db.execute("DELETE FROM groups WHERE recording_id = ?", row)
                    ids.append(row[0])
            if ids:
                self._bump_generation(_now())
        if ids:
            self._update_index(removed=ids)
        return len(ids)

    @_locked
    def flush(self) -> None:
        """Bring the FAISS file up to date (atomically) after this session's writes or a rebuild."""
        if self.read_only:
            return
        if self._wrote and len(self):
            self._ensure_index()
        if not self._index_unsaved or self._index is None:
            return
        target = self._index_file(self._index_generation)
        atomic_write(target, lambda fh: fh.write(faiss.serialize_index(self._index).tobytes()))
        for stale in self.root.glob("vectors.*.faiss"):
            if stale != target:
                stale.unlink(missing_ok=True)
        self._index_unsaved = False
        self._wrote = False

    # ---- internals -----------------------------------------------------------------------------
    def _check_embedder(self, embedder: str, dim: int) -> None:
        if self.embedder is not None and self.embedder != embedder:
            raise CatalogError(
                f"{self.root}: catalog holds vectors of embedder {self.embedder}, not {embedder}; "
                "use another catalog or rebuild this one"
            )
        if self.dim is not None and self.dim != dim:
            raise CatalogError(f"{self.root}: catalog vectors have {self.dim} dimensions, not {dim}")

    def _transaction(self):
        if self.read_only:
            raise CatalogError(f"{self.root}: read-only catalog (no permission to write it)")
        return _Transaction(self._db)

    def writer(self, *, wait: float = 0.0) -> _WriterLock:
        """An exclusive lock for a long write (indexing): a second writer waits up to ``wait`` seconds,
        then is refused with a message saying who holds it. Readers are never blocked."""
        if self.read_only:
            raise CatalogError(f"{self.root}: read-only catalog (no permission to write it)")
        return _WriterLock(self.root / LOCK_NAME, wait)

    @_locked
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _write_meta(self, **values: str) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items())

    def _bump_generation(self, now: str) -> None:
        self._write_meta(generation=str(self.generation + 1), updated_at=now)
        self._wrote = True

    def _index_file(self, generation: int) -> Path:
        return self.root / f"vectors.{generation}.faiss"

    def _new_index(self) -> faiss.Index:
        if self.index_kind == "hnsw":
            base = faiss.IndexHNSWFlat(self.dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        else:
            base = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(base)

    def _ensure_index(self) -> faiss.Index:
        """The index of the current generation: in memory, else from its file, else rebuilt."""
        generation = self.generation
        if self._index is not None and self._index_generation == generation:
            return self._index
        self._index, self._index_generation = None, generation
        path = self._index_file(generation)
        if path.exists():
            try:
                index = faiss.read_index(str(path))
                if index.ntotal == len(self) and index.d == self.dim:
                    self._index = index
            except RuntimeError:
                pass  # damaged file: rebuilt below
        if self._index is None:
            ids, X = self.vectors()
            self._index = self._new_index()
            if len(ids):
                self._index.add_with_ids(X, ids)
            self._index_unsaved = True
        return self._index

    def _update_index(self, removed=(), added_ids=(), added: np.ndarray | None = None) -> None:
        """Apply one committed change to the in-memory index, or drop it to be rebuilt when needed."""
        if self._index is None or self._index_generation != self.generation - 1:
            self._index = None
            return
        if len(removed):
            if self.index_kind == "hnsw":  # HNSW cannot delete: rebuild on next use
                self._index = None
                return
            self._index.remove_ids(np.asarray(removed, dtype=np.int64))
        if added is not None and len(added_ids):
            self._index.add_with_ids(added, np.asarray(added_ids, dtype=np.int64))
        self._index_generation = self.generation
        self._index_unsaved = True


class _WriterLock:
    """``flock`` on a file in the catalog folder, which records the holder's process id."""

    def __init__(self, path: Path, wait: float):
        self.path, self.wait, self._fh = path, wait, None

    def __enter__(self) -> _WriterLock:
        import fcntl
        import time

        self._fh = open(self.path, "a+")
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._fh.seek(0)
                    holder = self._fh.read().strip() or "another process"
                    self._fh.close()
                    raise CatalogError(
                        f"{self.path.parent}: another homage process ({holder}) is writing this catalog; "
                        "wait for it to finish, or use another catalog"
                    ) from None
                time.sleep(0.2)
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        self._fh.truncate(0)
        self._fh.close()  # closing releases the lock


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
