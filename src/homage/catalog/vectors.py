"""The catalog's FAISS index, derived from the vectors SQLite holds and kept in step with it.

A *main* index file (``vectors.<n>.faiss``) holds the recordings up to its last merge; recordings added since
sit in a small exact *delta* index (built from the rows not yet in the main one), and removed ones are
filtered out until the next merge: adding to a catalog of a million recordings neither rebuilds nor rewrites
its index. A merge writes a new main file atomically, then records in SQLite which rows it holds. A missing,
damaged or inconsistent main file is rebuilt from the vectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import faiss
import numpy as np

from homage.atomic import atomic_write
from homage.catalog import index as vector_index
from homage.catalog.schema import out_of_space, read_meta, write_meta

if TYPE_CHECKING:
    from homage.catalog.store import Catalog

MERGE_SMALL = 20_000  # a catalog up to this size merges its delta whenever it closes
MERGE_SHARE = 0.1  # a larger one when the delta reaches this share of the main index


class VectorIndex:
    """The in-memory index of one open catalog: main, delta, removals, and the generation they reflect.
    Used under the catalog's lock."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._main: faiss.Index | None = None  # the main index, as the file self._main_file holds it
        self._main_file: str | None = None
        self._kind: str | None = None  # the main index's concrete kind
        self._delta: faiss.Index | None = None  # rows not in the main index
        self._removed: set[int] = set()  # ids still in the main index, no longer in the catalog
        self._synced = -1  # the generation main, delta and removed reflect

    @property
    def _db(self):
        return self._catalog._db

    def search(self, xq: np.ndarray, k: int, exclude: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`Catalog.search` (the catalog is not empty; ``xq`` has its dimension)."""
        S = np.full((len(xq), k), -np.inf, dtype=np.float32)
        I = np.full((len(xq), k), -1, dtype=np.int64)
        self.sync()
        drop = {int(i) for i in exclude} | self._removed
        want = k + len({int(i) for i in exclude})
        width = min(self._main.ntotal, vector_index.search_width(self._main, want) + len(self._removed))
        with vector_index.threads_for(len(xq)):
            main_S, main_I = (
                self._main.search(xq, width) if width else (np.zeros((len(xq), 0)), np.zeros((len(xq), 0), int))
            )
        if vector_index.is_approximate(self._main):  # re-score the candidates with the exact vectors
            candidates = np.unique(main_I[main_I >= 0])
            found, X = self._catalog.vectors(candidates)
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

    def optimize(self) -> None:
        """Merge the delta and the removals into a new main index of the kind the catalog's size calls for."""
        self.sync()
        wanted = vector_index.concrete(self._catalog.index_kind, len(self._catalog))
        if self._delta.ntotal or self._removed or self._kind != wanted:
            self._merge()

    def flush(self) -> None:
        """Merge when the catalog is small or the delta has grown to a share of the main index."""
        self.sync()  # a catalog written but not searched in this session gets its index here
        main = self._main.ntotal - len(self._removed)
        pending = self._delta.ntotal + len(self._removed)
        if pending and (len(self._catalog) <= MERGE_SMALL or pending >= MERGE_SHARE * max(main, 1)):
            self._merge()

    def stats(self) -> dict:
        main = self._main.ntotal if self._main is not None else 0
        root = self._catalog.root
        return {
            "index_built": self._kind,
            "index_main": main - len(self._removed),
            "index_delta": self._delta.ntotal if self._delta is not None else 0,
            "index_removed": len(self._removed),
            "index_file_bytes": (root / self._main_file).stat().st_size
            if self._main_file and (root / self._main_file).exists()
            else 0,
        }

    def sync(self) -> None:
        """Bring the in-memory index to the committed state: the main file, the delta, the removals."""
        catalog = self._catalog
        generation = catalog.generation
        if self._main is not None and self._synced == generation:
            return
        name = read_meta(self._db, "index_file") if catalog._has_index_state else None
        if self._main is None or name != self._main_file:
            self._main, self._main_file = self._read_main(name), name
            self._kind = read_meta(self._db, "index_built")
        if self._main is None:
            self._rebuild()
        else:
            self._removed = {r for (r,) in self._db.execute("SELECT id FROM removed_from_index")}
            rows = self._db.execute("SELECT id, vector FROM recordings WHERE in_index = 0").fetchall()
            self._delta = vector_index.empty(catalog.dim)
            if rows:
                X = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), catalog.dim)
                self._delta.add_with_ids(X, np.array([r[0] for r in rows], dtype=np.int64))
        self._synced = catalog.generation

    def after_write(self, dropped=(), added_ids=(), added: np.ndarray | None = None) -> None:
        """Apply one committed change to the in-memory index when nothing else changed the catalog since."""
        if self._main is None or self._synced != self._catalog.generation - 1:
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
        self._synced = self._catalog.generation

    def _read_main(self, name: str | None) -> faiss.Index | None:
        """The main index file, when it is there, readable and agrees with SQLite (else None: rebuild)."""
        root = self._catalog.root
        if not name or not (root / name).exists():
            return None
        try:
            index = faiss.read_index(str(root / name))
        except RuntimeError:
            return None  # damaged: rebuilt
        held = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM recordings WHERE in_index = 1) + (SELECT COUNT(*) FROM removed_from_index)"
        ).fetchone()[0]
        return index if index.ntotal == held and index.d == self._catalog.dim else None

    def _rebuild(self) -> None:
        """A main index of every recording, from the vectors SQLite holds, saved at once when writable."""
        catalog = self._catalog
        ids, X = catalog.vectors()
        self._kind = vector_index.concrete(catalog.index_kind, len(ids))
        self._main, self._main_file = vector_index.build(self._kind, X, ids), None
        self._delta, self._removed = vector_index.empty(catalog.dim), set()
        if not catalog.read_only:
            self._save_main(covers_up_to=int(ids.max()) if len(ids) else 0)

    def _merge(self) -> None:
        """Fold the delta and the removals into the main index — rebuilt instead when the catalog's size calls
        for another kind, or the kind cannot delete — and save it."""
        if self._kind != vector_index.concrete(self._catalog.index_kind, len(self._catalog)) or (
            self._removed and not vector_index.can_remove(self._main)
        ):
            self._rebuild()
            return
        if self._removed:
            self._main.remove_ids(np.array(sorted(self._removed), dtype=np.int64))
        if self._delta.ntotal:
            ids, X = self._catalog.vectors(faiss.vector_to_array(self._delta.id_map).astype(np.int64))
            self._main.add_with_ids(X, ids)
        self._delta, self._removed = vector_index.empty(self._catalog.dim), set()
        self._save_main()

    def _save_main(self, covers_up_to: int | None = None) -> None:
        """Write the main index under a new name, then record in one transaction which rows it holds (all of
        them up to id ``covers_up_to`` after a rebuild, else those that were in the delta too)."""
        catalog = self._catalog
        number = int(read_meta(self._db, "index_number") or 0) + 1
        name = f"vectors.{number}.faiss"
        with out_of_space(catalog.root):
            atomic_write(catalog.root / name, lambda fh: fh.write(faiss.serialize_index(self._main).tobytes()))
        with catalog._transaction():
            if covers_up_to is None:
                self._db.execute("UPDATE recordings SET in_index = 1 WHERE in_index = 0")
            else:
                self._db.execute("UPDATE recordings SET in_index = (id <= ?)", (covers_up_to,))
            self._db.execute("DELETE FROM removed_from_index")
            write_meta(self._db, index_file=name, index_number=str(number), index_built=self._kind)
            catalog._bump_generation()
        self._main_file, self._synced = name, catalog.generation
        for stale in catalog.root.glob("vectors.*.faiss"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
