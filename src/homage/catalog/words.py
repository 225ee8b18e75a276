"""The catalog's words: each recording's transcript, its terms, and a full-text index over them (SQLite
FTS5) — the catalog's second first stage, which finds a version by its lyrics however far the embedding
ranks it. Document frequencies are kept with the terms, so inverse document frequencies come from the
catalog's own transcripts.

Functions over an open connection, called by :class:`homage.catalog.store.Catalog` inside its
transactions and under its lock.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SCHEMA = """
CREATE TABLE IF NOT EXISTS lyrics (
    recording_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    transcript TEXT NOT NULL,
    terms TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lyric_terms (term TEXT PRIMARY KEY, recordings INTEGER NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS lyrics_text USING fts5(words, tokenize = 'unicode61');
"""
FIRST_STAGE_TERMS = 32  # the query's most telling terms the full-text search looks for


@dataclass(frozen=True)
class Words:
    """What the catalog keeps of a recording's words."""

    model: str  # identity of the transcriber and its options
    transcript: str  # the transcript as JSON (segments, words, times)
    terms: Mapping[str, int] = field(default_factory=dict)  # word 1-2-grams and counts; empty: no lyric evidence
    text: str = ""  # the words that count, for the full-text index


def store(db: sqlite3.Connection, rid: int, words: Words) -> None:
    """Keep ``words`` for recording ``rid`` (replacing what it had)."""
    drop(db, rid)
    db.execute(
        "INSERT INTO lyrics VALUES (?, ?, ?, ?)", (rid, words.model, words.transcript, json.dumps(dict(words.terms)))
    )
    if words.terms:
        db.executemany(
            "INSERT INTO lyric_terms VALUES (?, 1) ON CONFLICT (term) DO UPDATE SET recordings = recordings + 1",
            [(t,) for t in words.terms],
        )
        db.execute("INSERT INTO lyrics_text (rowid, words) VALUES (?, ?)", (rid, words.text))


def drop(db: sqlite3.Connection, rid: int) -> None:
    """Forget recording ``rid``'s words, and its share of the document frequencies."""
    row = db.execute("SELECT terms FROM lyrics WHERE recording_id = ?", (rid,)).fetchone()
    if row is None:
        return
    terms = json.loads(row[0])
    if terms:
        db.executemany("UPDATE lyric_terms SET recordings = recordings - 1 WHERE term = ?", [(t,) for t in terms])
        db.execute("DELETE FROM lyric_terms WHERE recordings <= 0")
        db.execute("DELETE FROM lyrics_text WHERE rowid = ?", (rid,))
    db.execute("DELETE FROM lyrics WHERE recording_id = ?", (rid,))


def terms_of(db: sqlite3.Connection, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """The stored terms of ``ids`` that have words (empty dict: transcribed, no lyric evidence)."""
    out = {}
    for start in range(0, len(ids), 30_000):
        part = [int(i) for i in ids[start : start + 30_000]]
        rows = db.execute(
            f"SELECT recording_id, terms FROM lyrics WHERE recording_id IN ({','.join('?' * len(part))})", part
        )
        out.update({r: json.loads(t) for r, t in rows})
    return out


def transcript_of(db: sqlite3.Connection, rid: int) -> tuple[str, str] | None:
    """``(model, transcript JSON)`` of recording ``rid``, or None."""
    return db.execute("SELECT model, transcript FROM lyrics WHERE recording_id = ?", (rid,)).fetchone()


def frequencies(db: sqlite3.Connection, terms: Iterable[str]) -> tuple[dict[str, int], int]:
    """How many recordings use each of ``terms``, and how many recordings have words."""
    terms = list(dict.fromkeys(terms))
    df = {}
    for start in range(0, len(terms), 30_000):
        part = terms[start : start + 30_000]
        rows = db.execute(f"SELECT term, recordings FROM lyric_terms WHERE term IN ({','.join('?' * len(part))})", part)
        df.update(dict(rows))
    documents = db.execute("SELECT COUNT(*) FROM lyrics_text").fetchone()[0]
    return df, documents


def search(db: sqlite3.Connection, weights: Mapping[str, float], k: int, exclude: Iterable[int] = ()) -> list[int]:
    """The ids of up to ``k`` recordings whose words best match a query's, best first (BM25 over its
    :data:`FIRST_STAGE_TERMS` heaviest terms, ``weights``: term → TF-IDF weight; a bigram is a phrase)."""
    chosen = sorted(weights, key=lambda t: -weights[t])[:FIRST_STAGE_TERMS]
    if not chosen or k <= 0:
        return []
    query = " OR ".join('"' + t.replace('"', "") + '"' for t in chosen)
    drop_ids = {int(i) for i in exclude}
    rows = db.execute(
        "SELECT rowid FROM lyrics_text WHERE lyrics_text MATCH ? ORDER BY bm25(lyrics_text) LIMIT ?",
        (query, k + len(drop_ids)),
    )
    return [r for (r,) in rows if r not in drop_ids][:k]


def without_words(db: sqlite3.Connection) -> list[int]:
    """Recordings never transcribed, by id."""
    return [
        r
        for (r,) in db.execute(
            "SELECT id FROM recordings WHERE id NOT IN (SELECT recording_id FROM lyrics) ORDER BY id"
        )
    ]
