"""The catalog: one folder, one SQLite file the source of truth (recordings, their vectors, alignment
sequences and words), one FAISS index derived from it.

Layout of a catalog folder::

    catalog.sqlite          recordings (path, content hash, duration, tags, vector, alignment sequence), their
                            words, cohorts and groups, meta (see homage.catalog.schema)
    vectors.<n>.faiss       the main FAISS index (flat, HNSW or IVF-PQ: see homage.catalog.index,
                            homage.catalog.vectors)
    writer.lock             held by the one process writing the catalog

Each recording keeps its alignment sequence (float16 pitch classes at a few frames per second, ≈ 14 kB per
4-minute song), so re-ranking a query's candidates reads it here instead of decoding their audio.

Every write is one SQLite transaction that also bumps the catalog's generation, so a crash leaves the
last committed state; the FAISS index follows the generation (:mod:`homage.catalog.vectors`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from homage import locks
from homage.catalog import index as vector_index
from homage.catalog import links
from homage.catalog import words as stored_words
from homage.catalog.schema import (
    DB_NAME,
    FORMAT_VERSION,
    OUT_OF_SPACE,
    Transaction,
    create_database,
    is_out_of_space,
    migrate,
    now,
    read_meta,
    rows_of,
    write_meta,
)
from homage.catalog.vectors import VectorIndex
from homage.catalog.words import Words
from homage.errors import CatalogError

LOCK_NAME = "writer.lock"
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
        return {
            "id": self.id,
            "path": self.path,
            "title": self.title,
            "artist": self.artist,
            "album": self.album,
            "duration": self.duration,
            "added_at": self.added_at,
            "label": self.label,
        }

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
    sequence: np.ndarray | None = field(default=None, repr=False)  # alignment sequence (frames, columns), float16
    words: Words | None = field(default=None, repr=False)  # its transcript and terms (None: not transcribed)
    warnings: tuple[str, ...] = ()  # problems worked around while decoding it (not stored)


def _wal_is_empty(db: Path) -> bool:
    """Whether SQLite's write-ahead log beside ``db`` holds nothing (every commit is in the file itself)."""
    wal = db.with_name(db.name + "-wal")
    return not wal.exists() or wal.stat().st_size == 0


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

    def __init__(self, root: str | Path, *, create: bool = False, index_kind: str = "auto", read_only: bool = False):
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
            if index_kind not in vector_index.KINDS:
                raise CatalogError(f"unknown index kind {index_kind!r}; choose from {', '.join(vector_index.KINDS)}")
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"{self.root}: cannot create the catalog folder ({exc.strerror})") from exc
            create_database(db)
        elif db.stat().st_size == 0:
            raise CatalogError(f"{db}: empty file (0 bytes), not a catalog; remove it or use another folder")
        # a catalog others may read but not write (a shared or read-only folder) opens read-only, as it is; one
        # opened read_only by choice (a worker reading what its parent process writes) sees each commit
        unwritable = db.exists() and not (os.access(db, os.W_OK) and os.access(self.root, os.W_OK))
        self.read_only = read_only or unwritable
        because = "no permission to write it" if unwritable else "opened to read only"
        self._read_only_message = f"{self.root}: read-only catalog ({because})"
        try:
            self._db = self._connect(db, index_kind, immutable=unwritable)
        except sqlite3.DatabaseError as exc:
            if not (is_out_of_space(exc) and _wal_is_empty(db)):
                reason = "no space left on its disk" if is_out_of_space(exc) else str(exc)
                raise CatalogError(f"{db}: not a readable catalog ({reason})") from exc
            # too full a disk for SQLite's shared-memory file: no process can commit, so it is read as it is
            self.read_only = True
            self._read_only_message = (
                f"{self.root}: {OUT_OF_SPACE}; it can be read, not written — free some space and run the command again"
            )
            self._db = self._connect(db, index_kind, immutable=True)
        version = self._meta("format_version")
        if version not in ({FORMAT_VERSION, "2", "1"} if self.read_only else {FORMAT_VERSION}):  # read as they are
            raise CatalogError(f"{db}: catalog format {version} is not supported")
        self._has_sequences = version != "1"
        # the words' tables (created by _migrate; a read-only catalog of an earlier format has none)
        self._has_words = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lyrics'").fetchone() is not None
        self._has_index_state = version == FORMAT_VERSION
        self._index = VectorIndex(self)
        self._counted = (-1, 0)  # (generation, recordings then)

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
        generation = self.generation  # COUNT(*) reads the whole table: counted once per generation
        if self._counted[0] != generation:
            self._counted = (generation, self._db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0])
        return self._counted[1]

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
            "LIMIT ? OFFSET ?",
            [*args, max(0, int(limit)), max(0, int(offset))],
        )
        return total, [Recording(*row) for row in rows]

    @_locked
    def vectors(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, X)``: the stored vectors, all of them or those of ``ids``; X has shape (n, dim)."""
        if ids is None:
            rows = self._db.execute("SELECT id, vector FROM recordings ORDER BY id").fetchall()
        else:
            rows = self._rows_of("SELECT id, vector FROM recordings WHERE id IN ({marks})", ids)
        dim = self.dim or 0
        X = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return np.array([r[0] for r in rows], dtype=np.int64), X

    @_locked
    def ids(self) -> list[int]:
        """Every recording's id, in the order they were added."""
        return [r for (r,) in self._db.execute("SELECT id FROM recordings ORDER BY id")]

    @_locked
    def by_ids(self, ids: Iterable[int]) -> dict[int, Recording]:
        """The recordings of ``ids`` (unknown ids are left out), by id."""
        ids = sorted({int(i) for i in ids if i >= 0})
        if not ids:
            return {}
        rows = self._rows_of(f"SELECT {_COLUMNS} FROM recordings WHERE id IN ({{marks}})", ids)
        return {row[0]: Recording(*row) for row in rows}

    @_locked
    def sequences(self, ids: Iterable[int], kind: str, columns: int = 12) -> dict[int, np.ndarray]:
        """The stored alignment sequences of ``ids`` (``columns`` wide) that were computed as ``kind``
        describes (see :meth:`add`)."""
        ids = sorted({int(i) for i in ids if i >= 0})
        if not ids or not self._has_sequences or self._meta("sequence_kind") != kind:
            return {}
        rows = self._rows_of("SELECT id, sequence FROM recordings WHERE id IN ({marks}) AND sequence IS NOT NULL", ids)
        return {i: np.frombuffer(blob, dtype=np.float16).reshape(-1, columns) for i, blob in rows}

    @_locked
    def cohorts(self, ids: Iterable[int]) -> dict[int, tuple[int, np.ndarray]]:
        """The stored cohort summaries of ``ids`` (what re-ranking S-normalises by): id → (how many
        candidates it summarises, its float32 values)."""
        return links.cohorts_of(self._db, ids)

    @_locked
    def without_cohort(self, size: int) -> list[int]:
        """Recordings with an alignment sequence and no cohort of at least ``size`` candidates, by id."""
        return links.without_cohort(self._db, size)

    @_locked
    def set_cohorts(self, cohorts: dict[int, tuple[int, np.ndarray]]) -> None:
        """Store cohort summaries (id → (size, values)), in one transaction; ids no longer catalogued are skipped."""
        with self._transaction():
            links.store_cohorts(self._db, cohorts)

    @_locked
    def words_search(self, weights: dict[str, float], k: int, *, exclude: Iterable[int] = ()) -> list[int]:
        """The second first stage: ids of up to ``k`` recordings whose words best match a query's terms
        (``weights``: term → TF-IDF weight), best first."""
        if not self._has_words:
            return []
        return stored_words.search(self._db, weights, k, exclude)

    @_locked
    def terms(self, ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """The stored terms (word 1-2-grams and counts) of those of ``ids`` that were transcribed; an empty
        dict: no lyric evidence."""
        return stored_words.terms_of(self._db, sorted({int(i) for i in ids})) if self._has_words else {}

    @_locked
    def document_frequencies(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many catalogued recordings use each of ``terms``, and how many have words."""
        return stored_words.frequencies(self._db, terms) if self._has_words else ({}, 0)

    @_locked
    def transcript(self, rid: int) -> tuple[str, str] | None:
        """``(model, transcript JSON)`` of a recording, or None when it was not transcribed."""
        return stored_words.transcript_of(self._db, int(rid)) if self._has_words else None

    @_locked
    def without_words(self) -> list[int]:
        """Recordings never transcribed, by id."""
        return stored_words.without_words(self._db) if self._has_words else []

    @_locked
    def set_words(self, words: dict[int, Words]) -> None:
        """Store recordings' words (id → Words), in one transaction; ids no longer catalogued are skipped."""
        with self._transaction():
            for rid, w in words.items():
                if self._db.execute("SELECT 1 FROM recordings WHERE id = ?", (rid,)).fetchone():
                    stored_words.store(self._db, rid, w)
            self._bump_generation()  # what queries answer changed

    @_locked
    def groups(self, ids: Iterable[int] | None = None) -> dict[int, links.Group]:
        """The stored version groups (``homage groups``) of all recordings or of ``ids``: recording id →
        (group id, strongest link, its probability)."""
        return links.groups_of(self._db, ids)

    @_locked
    def set_groups(self, groups: dict[int, links.Group]) -> None:
        """Replace the stored groups, in one transaction."""
        with self._transaction():
            links.store_groups(self._db, groups)
            write_meta(self._db, updated_at=now())  # the vectors did not change: the index stays valid

    @_locked
    def search(self, xq: np.ndarray, k: int = 10, *, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """``(S, I)``: for each query vector (rows of ``xq``) the ids of the ``k`` most similar recordings and
        their similarities (inner product of unit vectors: cosine), best first; rows shorter than ``k`` are
        padded with id −1. ``exclude`` names ids never to return (the query's own recording)."""
        xq = np.ascontiguousarray(np.atleast_2d(xq), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            return np.full((len(xq), k), -np.inf, dtype=np.float32), np.full((len(xq), k), -1, dtype=np.int64)
        if xq.shape[1] != self.dim:
            raise CatalogError(f"query vectors have {xq.shape[1]} dimensions, the catalog {self.dim}")
        return self._index.search(xq, k, exclude)

    @_locked
    def optimize(self) -> dict:
        """Merge the delta (recordings added since) and the removals into a new main index, of the kind the
        catalog's size calls for, written atomically; returns what the index holds now."""
        if self.read_only:
            raise CatalogError(self._read_only_message)
        if len(self):
            self._index.optimize()
        return self.index_stats()

    @_locked
    def index_stats(self) -> dict:
        """What the derived index holds: its kind, the main part, the delta, removals not merged yet."""
        if len(self):
            self._index.sync()
        return self._index.stats()

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
            **(self.index_stats() if len(self) else {}),
            "groups": len({g for g, _, _ in self.groups().values()}) or None,
            "generation": self.generation,
            "size_bytes": size,
            "created_at": self._meta("created_at"),
            "updated_at": self._meta("updated_at"),
        }

    # ---- writing -------------------------------------------------------------------------------
    @_locked
    def add(
        self, entries: Sequence[NewRecording], *, embedder: str, sequence_kind: str | None = None
    ) -> tuple[int, int]:
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
        added = replaced = 0
        old_ids, new_ids = [], []
        with self._transaction():
            if self.embedder is None:
                write_meta(self._db, embedder=embedder, dim=str(dim), created_at=now())
            if sequence_kind and self._meta("sequence_kind") != sequence_kind:
                self._db.execute("UPDATE recordings SET sequence = NULL")
                self._db.execute("DELETE FROM cohorts")
                write_meta(self._db, sequence_kind=sequence_kind)
            for entry in entries:
                old = self._db.execute("SELECT id, in_index FROM recordings WHERE path = ?", (entry.path,)).fetchone()
                if old:
                    self._drop(old[0], old[1])
                    old_ids.append(old)
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
                        now(),
                        np.asarray(entry.vector, dtype=np.float32).tobytes(),
                        None if entry.sequence is None else np.asarray(entry.sequence, dtype=np.float16).tobytes(),
                    ),
                )
                new_ids.append(cur.lastrowid)
                if entry.words is not None:
                    stored_words.store(self._db, cur.lastrowid, entry.words)
            self._bump_generation()
        vectors = np.stack([np.asarray(e.vector, dtype=np.float32) for e in entries])
        self._index.after_write(dropped=old_ids, added_ids=new_ids, added=vectors)
        return added, replaced

    @_locked
    def remove(self, paths: Iterable[str | Path]) -> int:
        """Remove recordings by path (unknown paths are ignored); returns how many were removed."""
        ids = []
        with self._transaction():
            for path in paths:
                row = self._db.execute("SELECT id, in_index FROM recordings WHERE path = ?", (str(path),)).fetchone()
                if row:
                    self._drop(*row)
                    ids.append(row)
            if ids:
                self._bump_generation()
        if ids:
            self._index.after_write(dropped=ids)
        return len(ids)

    @_locked
    def flush(self) -> None:
        """Merge the delta into the main index when the catalog is small or the delta has grown to a tenth of
        the main index (a rebuilt index is saved at once)."""
        if not self.read_only and len(self):
            self._index.flush()

    # ---- internals -----------------------------------------------------------------------------
    def _connect(self, db: Path, index_kind: str, *, immutable: bool) -> sqlite3.Connection:
        """A connection to read (``immutable``: the file as it is now, without SQLite's shared-memory file), or to
        write in WAL mode, the tables brought up to this format."""
        if self.read_only:
            connection = sqlite3.connect(
                f"{db.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        else:
            connection = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            if not self.read_only:
                connection.execute("PRAGMA journal_mode=WAL")
                migrate(connection, index_kind, self.root)
            read_meta(connection, "format_version")  # readable at all
        except BaseException:
            connection.close()
            raise
        return connection

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
            raise CatalogError(self._read_only_message)
        return Transaction(self._db, self.root)

    @contextlib.contextmanager
    def writer(self, *, wait: float = 0.0):
        """An exclusive lock for a long write (indexing): a second writer waits up to ``wait`` seconds,
        then is refused with a message saying who holds it. Readers are never blocked."""
        if self.read_only:
            raise CatalogError(self._read_only_message)
        try:
            with locks.exclusive(self.root / LOCK_NAME, wait):
                yield
        except locks.Busy as busy:
            raise CatalogError(
                f"{self.root}: another homage process ({busy.holder}) is writing this catalog; "
                "wait for it to finish, or use another catalog"
            ) from None

    @_locked
    def _meta(self, key: str) -> str | None:
        return read_meta(self._db, key)

    def _bump_generation(self) -> None:
        write_meta(self._db, generation=str(self.generation + 1), updated_at=now())

    def _rows_of(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        return rows_of(self._db, sql, ids)

    def _drop(self, rid: int, in_main: int) -> None:
        """Delete a recording's row; one the main index holds is remembered until the next merge."""
        self._db.execute("DELETE FROM recordings WHERE id = ?", (rid,))
        links.drop(self._db, rid)
        stored_words.drop(self._db, rid)
        if in_main:
            self._db.execute("INSERT OR IGNORE INTO removed_from_index (id) VALUES (?)", (rid,))
