"""The words as a second first stage at catalog scale: how many real versions the candidates hold, with and
without the words' full-text search, among 100k or 1M recordings.

    .venv/bin/python -m bench.speed.words_scale ../shared/data/covers80-dev [--size 100000 --size 1000000] [--depth 100]

The real recordings (their `csi` vectors and transcripts, from the feature cache) are hidden among
synthetic distractors: vectors drawn from a Gaussian with the real vectors' mean and per-dimension spread
(L2-normalised), and transcripts of lines drawn from wordfreq's 20,000 most frequent English words by a
Zipf law, with stock lines ("i love you", "oh oh oh") and a repeated chorus. The words are stored and
searched by the catalog's own code (`homage.catalog.words`: terms, document frequencies, FTS5) in a SQLite
file; the embedding's top ``depth`` is exact search over the vectors. Per size: the build time, the words'
search time per query, and the share of each real recording's other versions among its candidates — the
embedding's top ``depth`` alone, the words' top ``depth`` alone, and both (what `homage query` re-ranks).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.common import arguments
from homage import lyrics
from homage.catalog import words as stored_words
from homage.data.manifest import load_dataset
from homage.features.cache import FeatureCache
from homage.lyrics.text import Lyrics, TimedWord
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.analysis import transcript_of
from homage.pipeline.indexing import analyze_many

STOCK = ("i love you", "oh oh oh", "yeah yeah yeah", "baby baby", "hold me tight", "all night long")


def synthetic_terms(rng: np.random.Generator, vocabulary: np.ndarray, cdf: np.ndarray) -> tuple[Counter, str]:
    """One distractor's terms and text: 60–220 Zipf-drawn words (12–24 lines of 5–9; a repeated chorus is
    kept once by the cleaning, as here) and two stock lines."""
    words = vocabulary[np.searchsorted(cdf, rng.random(int(rng.integers(60, 220))))].tolist()
    words += " ".join(rng.choice(STOCK, size=2, replace=False)).split()
    found = Lyrics(tuple(TimedWord(w, 0.0, 0.0) for w in words))
    return found.terms(), " ".join(words)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("data")
    parser.add_argument("--size", type=int, action="append")
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from wordfreq import top_n_list

    entries = load_dataset(args.data)
    cache = FeatureCache.default()
    analysed = [
        r
        for _, r in analyze_many(
            [(str(e.path), None) for e in entries], get_embedder(DEFAULT_EMBEDDER), cache, args.workers
        )
    ]
    real_vectors = np.array([r.vector for r in analysed], dtype=np.float32)
    real_terms = [lyrics.clean(transcript_of(str(e.path), cache)) for e in entries]
    works = np.array([e.work for e in entries])
    vocabulary = np.array(top_n_list("en", 20_000))
    cdf = np.cumsum(1.0 / np.arange(1, len(vocabulary) + 1))
    cdf /= cdf[-1]
    rows = [
        f"| recordings | build (s) | words search per query (ms) | versions in the embedding's top {args.depth} "
        f"| in the words' top {args.depth} | in both together |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size in args.size or [100_000]:
        rng = np.random.default_rng(args.seed)
        n_fake = size - len(entries)
        mean, spread = real_vectors.mean(axis=0), real_vectors.std(axis=0)
        fake = (mean + spread * rng.standard_normal((n_fake, real_vectors.shape[1]))).astype(np.float32)
        fake /= np.linalg.norm(fake, axis=1, keepdims=True)
        vectors = np.vstack([real_vectors, fake])  # ids 1..len(entries) are the real ones
        with tempfile.TemporaryDirectory() as work:
            db = sqlite3.connect(Path(work) / "words.sqlite", isolation_level=None)
            db.executescript("CREATE TABLE recordings (id INTEGER PRIMARY KEY);" + stored_words.SCHEMA)
            started = time.perf_counter()
            db.execute("BEGIN")
            for rid in range(1, size + 1):
                if rid <= len(entries):
                    found = real_terms[rid - 1]
                    terms, text = found.terms(), found.text
                else:
                    terms, text = synthetic_terms(rng, vocabulary, cdf)
                db.execute("INSERT INTO recordings VALUES (?)", (rid,))
                stored_words.store(db, rid, stored_words.Words("bench", "{}", dict(terms), text))
                if rid % 20_000 == 0:
                    db.execute("COMMIT")
                    db.execute("BEGIN")
            db.execute("COMMIT")
            build = time.perf_counter() - started
            shares = {"embedding": [], "words": [], "both": []}
            search_s = []
            for q in range(len(entries)):
                others = np.flatnonzero(works == works[q])
                others = set((others[others != q] + 1).tolist())
                if not others:
                    continue
                S = vectors @ vectors[q]
                S[q] = -np.inf
                by_embedding = set((np.argpartition(-S, args.depth)[: args.depth] + 1).tolist())
                terms = real_terms[q].terms()
                began = time.perf_counter()
                df, documents = stored_words.frequencies(db, terms)
                by_words = (
                    set(stored_words.search(db, lyrics.tfidf(terms, df, documents), args.depth, exclude=[q + 1]))
                    if terms
                    else set()
                )
                search_s.append(time.perf_counter() - began)
                for name, found in (
                    ("embedding", by_embedding),
                    ("words", by_words),
                    ("both", by_embedding | by_words),
                ):
                    shares[name].append(len(found & others) / len(others))
            db.close()
        row = (
            f"| {size:,} | {build:.0f} | {1000 * float(np.median(search_s)):.0f} | {np.mean(shares['embedding']):.3f} "
            f"| {np.mean(shares['words']):.3f} | {np.mean(shares['both']):.3f} |"
        )
        rows.append(row)
        print(row, flush=True)
    print(
        f"\n### The words as a second first stage ({args.data}: {len(entries)} real recordings among synthetic ones)\n"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
