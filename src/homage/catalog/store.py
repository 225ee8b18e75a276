"""Catalog store: SQLite holds metadata *and* vectors (the source of truth); FAISS is a derived index.

Layout of a catalog folder::

    catalog.sqlite          recordings (path, content hash, duration, tags, vector, alignment sequence) + meta
    vectors.<n>.faiss       the main FAISS index (flat, HNSW or IVF-PQ: see homage.catalog.index)

Each recording keeps its alignment sequence (float16 pitch classes at a few frames per second, ≈ 14 kB per
4-minute song), so re-ranking a query's candidates reads it here instead of decoding their audio.

Every write is one SQLite transaction that also bumps the catalog's generation, so a crash leaves the
last committed state. Recordings added since the main index was written sit in a small exact *delta*
index (built from the rows not yet in the main one), and removed ones are filtered out until the next
merge: adding to a catalog of a million recordings neither rebuilds nor rewrites its index. A merge
(:meth:`Catalog.optimize`, ``homage optimize``, or on closing once the delta is a tenth of the main index,
or the catalog small) writes a new main file atomically, then records it in SQLite. A missing, damaged or
inconsistent main file is rebuilt from the vectors.
"""

from __future__ import annotations

import contextlib
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
from homage.catalog import index as vector_index
from homage.catalog import words as stored_words
from homage.catalog.words import Words
from homage.errors import CatalogError

DB_NAME = "catalog.sqlite"
LOCK_NAME = "writer.lock"
FORMAT_VERSION = "3"  # 2: alignment sequences; 3: the main index and its delta
MERGE_SMALL = 20_000  # a catalog up to this size merges its delta whenever it closes
MERGE_SHARE = 0.1  # a larger one when the delta reaches this share of the main index

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

    def __init__(self, root: str | Path, *, create: bool = False, index_kind: str = "auto"):
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
            _create_database(db)
        elif db.stat().st_size == 0:
            raise CatalogError(f"{db}: empty file (0 bytes), not a catalog; remove it or use another folder")
        # a catalog others may read but not write (a shared or read-only folder) opens read-only
        self.read_only = db.exists() and not (os.access(db, os.W_OK) and os.access(self.root, os.W_OK))
        try:
            if self.read_only:
                self._db = sqlite3.connect(
                    f"{db.absolute().as_uri()}?mode=ro&immutable=1",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                self._db = sqlite3.connect(db, isolation_level=None, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._migrate(index_kind)
            version = self._meta("format_version")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{db}: not a readable catalog ({exc})") from exc
        if version not in ({FORMAT_VERSION, "2", "1"} if self.read_only else {FORMAT_VERSION}):  # read as they are
            raise CatalogError(f"{db}: catalog format {version} is not supported")
        self._has_sequences = version != "1"
        # the words' tables (created by _migrate; a read-only catalog of an earlier format has none)
        self._has_words = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'lyrics'").fetchone() is not None
        self._has_index_state = version == FORMAT_VERSION
        self._main: faiss.Index | None = None  # the main index, as the file self._main_file holds it
        self._main_file: str | None = None
        self._kind: str | None = None  # the main index's concrete kind
        self._delta: faiss.Index | None = None  # rows not in the main index
        self._removed: set[int] = set()  # ids still in the main index, no longer in the catalog
        self._synced = -1  # the generation main, delta and removed reflect
        self._counted = (-1, 0)  # (generation, recordings then)

    def _migrate(self, index_kind: str) -> None:
        """Create the tables, or bring an older catalog up to this format (nothing is lost: the index is derived)."""
        self._db.executescript(
            _SCHEMA + stored_words.SCHEMA
        )  # new tables; an existing recordings table is left as it is
        version = self._meta("format_version")
        if not version:
            self._write_meta(format_version=FORMAT_VERSION, index_kind=index_kind, generation="0")
        else:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(recordings)")}
            with self._transaction():
                if "sequence" not in columns:  # format 1: no alignment sequences; old rows have none
                    self._db.execute("ALTER TABLE recordings ADD COLUMN sequence BLOB")
                if "in_index" not in columns:  # format 2: one index file per generation; rebuilt on first use
                    self._db.execute("ALTER TABLE recordings ADD COLUMN in_index INTEGER NOT NULL DEFAULT 0")
                if version != FORMAT_VERSION:
                    self._write_meta(format_version=FORMAT_VERSION)
        self._db.execute("CREATE INDEX IF NOT EXISTS recordings_in_index ON recordings (in_index)")

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
        try:
            rows = self._rows_of("SELECT recording_id, size, summary FROM cohorts WHERE recording_id IN ({marks})", ids)
        except sqlite3.OperationalError:  # a read-only catalog of an earlier format has no cohorts table
            return {}
        return {r: (size, np.frombuffer(blob, dtype=np.float32)) for r, size, blob in rows}

    @_locked
    def without_cohort(self, size: int) -> list[int]:
        """Recordings with an alignment sequence and no cohort of at least ``size`` candidates, by id."""
        sql = (
            "SELECT id FROM recordings WHERE sequence IS NOT NULL AND id NOT IN"
            " (SELECT recording_id FROM cohorts WHERE size >= ?) ORDER BY id"
        )
        return [r[0] for r in self._db.execute(sql, (size,))]

    @_locked
    def set_cohorts(self, cohorts: dict[int, tuple[int, np.ndarray]]) -> None:
        """Store cohort summaries (id → (size, values)), in one transaction; ids no longer catalogued are skipped."""
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO cohorts SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM recordings WHERE id = ?)",
                [(r, int(size), np.asarray(v, dtype=np.float32).tobytes(), r) for r, (size, v) in cohorts.items()],
            )

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
            self._bump_generation(_now())  # what queries answer changed

    @_locked
    def groups(self, ids: Iterable[int] | None = None) -> dict[int, tuple[int, int | None, float]]:
        """The stored version groups (``homage groups``) of all recordings or of ``ids``: recording id →
        (group id, strongest link, its probability)."""
        sql = "SELECT recording_id, group_id, strongest_id, probability FROM groups"
        try:
            rows = (
                self._db.execute(sql) if ids is None else self._rows_of(sql + " WHERE recording_id IN ({marks})", ids)
            )
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
        if len(self) == 0 or k <= 0:
            return S, I
        if xq.shape[1] != self.dim:
            raise CatalogError(f"query vectors have {xq.shape[1]} dimensions, the catalog {self.dim}")
        self._sync()
        drop = {int(i) for i in exclude} | self._removed
        want = k + len({int(i) for i in exclude})
        width = min(self._main.ntotal, vector_index.search_width(self._main, want) + len(self._removed))
        with vector_index.threads_for(len(xq)):
            main_S, main_I = (
                self._main.search(xq, width) if width else (np.zeros((len(xq), 0)), np.zeros((len(xq), 0), int))
            )
        if vector_index.is_approximate(self._main):  # re-score the candidates with the exact vectors
            candidates = np.unique(main_I[main_I >= 0])
            found, X = self.vectors(candidates)
            exact = dict(zip(found.tolist(), X))
            main_S = np.array(
                [[float(q @ exact[i]) if i in exact else -np.inf for i in row] for q, row in zip(xq, main_I)]
            )
        delta_n = min(self._delta.ntotal, want)
        delta_S, delta_I = (
            self._delta.search(xq, delta_n) if delta_n else (np.zeros((len(xq), 0)), np.zeros((len(xq), 0), int))
        )
        for row in range(len(xq)):
            best = {}
            for scores, ids in ((main_S[row], main_I[row]), (delta_S[row], delta_I[row])):
                for score, i in zip(scores, ids):
                    if i >= 0 and int(i) not in drop:
                        best[int(i)] = max(float(score), best.get(int(i), -np.inf))
            top = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
            S[row, : len(top)] = [score for _, score in top]
            I[row, : len(top)] = [i for i, _ in top]
        return S, I

    @_locked
    def optimize(self) -> dict:
        """Merge the delta (recordings added since) and the removals into a new main index, of the kind the
        catalog's size calls for, written atomically; returns what the index holds now."""
        if self.read_only:
            raise CatalogError(f"{self.root}: read-only catalog (no permission to write it)")
        if len(self):
            self._sync()
            if self._delta.ntotal or self._removed or self._kind != vector_index.concrete(self.index_kind, len(self)):
                self._merge()
        return self.index_stats()

    @_locked
    def index_stats(self) -> dict:
        """What the derived index holds: its kind, the main part, the delta, removals not merged yet."""
        self._sync() if len(self) else None
        main = self._main.ntotal if self._main is not None else 0
        return {
            "index_built": self._kind,
            "index_main": main - len(self._removed),
            "index_delta": self._delta.ntotal if self._delta is not None else 0,
            "index_removed": len(self._removed),
            "index_file_bytes": (self.root / self._main_file).stat().st_size
            if self._main_file and (self.root / self._main_file).exists()
            else 0,
        }

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
        now = _now()
        added = replaced = 0
        old_ids, new_ids = [], []
        with self._transaction():
            if self.embedder is None:
                self._write_meta(embedder=embedder, dim=str(dim), created_at=now)
            if sequence_kind and self._meta("sequence_kind") != sequence_kind:
                self._db.execute("UPDATE recordings SET sequence = NULL")
                self._db.execute("DELETE FROM cohorts")
                self._write_meta(sequence_kind=sequence_kind)
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
                        now,
                        np.asarray(entry.vector, dtype=np.float32).tobytes(),
                        None if entry.sequence is None else np.asarray(entry.sequence, dtype=np.float16).tobytes(),
                    ),
                )
                new_ids.append(cur.lastrowid)
                if entry.words is not None:
                    stored_words.store(self._db, cur.lastrowid, entry.words)
            self._bump_generation(now)
        vectors = np.stack([np.asarray(e.vector, dtype=np.float32) for e in entries])
        self._after_write(dropped=old_ids, added_ids=new_ids, added=vectors)
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
                    self._db.execute("DELETE FROM groups WHERE recording_id = ?", (row[0],))
                    ids.append(row)
            if ids:
                self._bump_generation(_now())
        if ids:
            self._after_write(dropped=ids)
        return len(ids)

    @_locked
    def flush(self) -> None:
        """Merge the delta into the main index when the catalog is small or the delta has grown to a tenth of
        the main index (a rebuilt index is saved at once)."""
        if self.read_only or not len(self):
            return
        self._sync()  # a catalog written but not searched in this session gets its index here
        main = self._main.ntotal - len(self._removed)
        pending = self._delta.ntotal + len(self._removed)
        if pending and (len(self) <= MERGE_SMALL or pending >= MERGE_SHARE * max(main, 1)):
            self._merge()

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

    def _rows_of(self, sql: str, ids: Iterable[int]) -> list[tuple]:
        """The rows of ``sql`` (with ``{marks}`` for the ids) for ``ids``, queried in parts: SQLite caps the
        parameters of one statement, and numpy integers would be bound as blobs, matching nothing."""
        ids = sorted({int(i) for i in ids})
        rows = []
        for start in range(0, len(ids), 30_000):
            part = ids[start : start + 30_000]
            rows += self._db.execute(sql.format(marks=",".join("?" * len(part))), part).fetchall()
        return rows

    def _drop(self, rid: int, in_main: int) -> None:
        """Delete a recording's row; one the main index holds is remembered until the next merge."""
        self._db.execute("DELETE FROM recordings WHERE id = ?", (rid,))
        self._db.execute("DELETE FROM cohorts WHERE recording_id = ?", (rid,))
        stored_words.drop(self._db, rid)
        if in_main:
            self._db.execute("INSERT OR IGNORE INTO removed_from_index (id) VALUES (?)", (rid,))

    def _sync(self) -> None:
        """Bring the in-memory index to the committed state: the main file, the delta, the removals."""
        generation = self.generation
        if self._main is not None and self._synced == generation:
            return
        name = self._meta("index_file") if self._has_index_state else None
        if self._main is None or name != self._main_file:
            self._main, self._main_file = self._read_main(name), name
            self._kind = self._meta("index_built")
        if self._main is None:
            self._rebuild()
        else:
            self._removed = {r for (r,) in self._db.execute("SELECT id FROM removed_from_index")}
            rows = self._db.execute("SELECT id, vector FROM recordings WHERE in_index = 0").fetchall()
            self._delta = vector_index.empty(self.dim)
            if rows:
                X = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
                self._delta.add_with_ids(X, np.array([r[0] for r in rows], dtype=np.int64))
        self._synced = self.generation

    def _read_main(self, name: str | None) -> faiss.Index | None:
        """The main index file, when it is there, readable and agrees with SQLite (else None: rebuild)."""
        if not name or not (self.root / name).exists():
            return None
        try:
            index = faiss.read_index(str(self.root / name))
        except RuntimeError:
            return None  # damaged: rebuilt
        held = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM recordings WHERE in_index = 1) + (SELECT COUNT(*) FROM removed_from_index)"
        ).fetchone()[0]
        return index if index.ntotal == held and index.d == self.dim else None

    def _rebuild(self) -> None:
        """A main index of every recording, from the vectors SQLite holds, saved at once when writable."""
        ids, X = self.vectors()
        self._kind = vector_index.concrete(self.index_kind, len(ids))
        self._main, self._main_file = vector_index.build(self._kind, X, ids), None
        self._delta, self._removed = vector_index.empty(self.dim), set()
        if not self.read_only:
            self._save_main(covers_up_to=int(ids.max()) if len(ids) else 0)

    def _merge(self) -> None:
        """Fold the delta and the removals into the main index — rebuilt instead when the catalog's size calls
        for another kind, or the kind cannot delete — and save it."""
        if self._kind != vector_index.concrete(self.index_kind, len(self)) or (
            self._removed and not vector_index.can_remove(self._main)
        ):
            self._rebuild()
            return
        if self._removed:
            self._main.remove_ids(np.array(sorted(self._removed), dtype=np.int64))
        if self._delta.ntotal:
            ids, X = self.vectors(faiss.vector_to_array(self._delta.id_map).astype(np.int64))
            self._main.add_with_ids(X, ids)
        self._delta, self._removed = vector_index.empty(self.dim), set()
        self._save_main()

    def _save_main(self, covers_up_to: int | None = None) -> None:
        """Write the main index under a new name, then record in one transaction which rows it holds (all of
        them up to id ``covers_up_to`` after a rebuild, else those that were in the delta too)."""
        number = int(self._meta("index_number") or 0) + 1
        name = f"vectors.{number}.faiss"
        atomic_write(self.root / name, lambda fh: fh.write(faiss.serialize_index(self._main).tobytes()))
        with self._transaction():
            if covers_up_to is None:
                self._db.execute("UPDATE recordings SET in_index = 1 WHERE in_index = 0")
            else:
                self._db.execute("UPDATE recordings SET in_index = (id <= ?)", (covers_up_to,))
            self._db.execute("DELETE FROM removed_from_index")
            self._write_meta(index_file=name, index_number=str(number), index_built=self._kind)
            self._bump_generation(_now())
        self._main_file, self._synced = name, self.generation
        for stale in self.root.glob("vectors.*.faiss"):
            if stale.name != name:
                stale.unlink(missing_ok=True)

    def _after_write(self, dropped=(), added_ids=(), added: np.ndarray | None = None) -> None:
        """Apply one committed change to the in-memory index when nothing else changed the catalog since."""
        if self._main is None or self._synced != self.generation - 1:
            return  # the next search syncs from SQLite
        for rid, in_main in dropped:
            if in_main:
                self._removed.add(int(rid))
            else:
                self._delta.remove_ids(np.array([rid], dtype=np.int64))
        if added is not None and len(added_ids):
            self._delta.add_with_ids(
                np.ascontiguousarray(added, dtype=np.float32), np.asarray(added_ids, dtype=np.int64)
            )
        self._synced = self.generation


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


def _create_database(db: Path) -> None:
    """An empty catalog database with its tables, put in place whole: a crash while creating it leaves no
    catalog rather than one without tables; one that another process created meanwhile is kept."""
    partial = db.with_name(f".{db.name}.{os.getpid()}.partial")
    try:
        with contextlib.closing(sqlite3.connect(partial, isolation_level=None)) as new:
            new.execute("PRAGMA journal_mode=WAL")
            new.executescript(_SCHEMA + stored_words.SCHEMA)
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
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
