"""What the catalog keeps about how recordings relate: each one's cohort (the summary of its alignments
with its nearest candidates, which re-ranking S-normalises by) and the version groups of ``homage groups``.

Functions over an open connection, called by :class:`homage.catalog.store.Catalog` inside its
transactions and under its lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from homage.catalog.schema import rows_of

Group = tuple[int, int | None, float]  # group id, the strongest link's recording id, its probability


def cohorts_of(db: sqlite3.Connection, ids: Iterable[int]) -> dict[int, tuple[int, np.ndarray]]:
    try:
        rows = rows_of(db, "SELECT recording_id, size, summary FROM cohorts WHERE recording_id IN ({marks})", ids)
    except sqlite3.OperationalError:  # a read-only catalog of an earlier format has no cohorts table
        return {}
    return {r: (size, np.frombuffer(blob, dtype=np.float32)) for r, size, blob in rows}


def without_cohort(db: sqlite3.Connection, size: int) -> list[int]:
    sql = (
        "SELECT id FROM recordings WHERE sequence IS NOT NULL AND id NOT IN"
        " (SELECT recording_id FROM cohorts WHERE size >= ?) ORDER BY id"
    )
    return [r[0] for r in db.execute(sql, (size,))]


def store_cohorts(db: sqlite3.Connection, cohorts: dict[int, tuple[int, np.ndarray]]) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO cohorts SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM recordings WHERE id = ?)",
        [(r, int(size), np.asarray(v, dtype=np.float32).tobytes(), r) for r, (size, v) in cohorts.items()],
    )


def groups_of(db: sqlite3.Connection, ids: Iterable[int] | None) -> dict[int, Group]:
    sql = "SELECT recording_id, group_id, strongest_id, probability FROM groups"
    try:
        rows = db.execute(sql) if ids is None else rows_of(db, sql + " WHERE recording_id IN ({marks})", ids)
    except sqlite3.OperationalError:  # a read-only catalog of an earlier format has no groups table
        return {}
    return {r: (g, s, p or 0.0) for r, g, s, p in rows}


def store_groups(db: sqlite3.Connection, groups: dict[int, Group]) -> None:
    db.execute("DELETE FROM groups")
    db.executemany("INSERT INTO groups VALUES (?, ?, ?, ?)", [(r, *v) for r, v in groups.items()])


def drop(db: sqlite3.Connection, rid: int) -> None:
    """Forget a removed recording's cohort and group."""
    db.execute("DELETE FROM cohorts WHERE recording_id = ?", (rid,))
    db.execute("DELETE FROM groups WHERE recording_id = ?", (rid,))
