"""Ask the catalog what a recording is a version of, and compare two recordings: the ranking, the
verdicts and the JSON every shell (CLI, API) prints are decided here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from homage import audio, lyrics
from homage.align import SEQUENCE_COLUMNS, Alignment, Prepared
from homage.align.rerank import RERANK_DEPTH, Cohort, rerank
from homage.align.verdict import judge, judge_candidates
from homage.catalog import Catalog, Recording, Words
from homage.features.cache import FeatureCache
from homage.lyrics import Transcript
from homage.models import DEFAULT_EMBEDDER, Embedder, get_embedder
from homage.pipeline.analysis import (
    ALIGN_CONFIG,
    SEQUENCE_KIND,
    analyze_file,
    analyze_pair,
    pair_evidence,
    transcription,
)
from homage.pipeline.indexing import CatalogLike, embedder_for, open_catalog

RERANKED = "+rerank"
WORDS = "+lyrics"
# what `homage query` does, and evaluates: csi's top 100 and the words' top 100 re-ranked, words fused
DEFAULT_RANKING = f"{DEFAULT_EMBEDDER}{RERANKED}{RERANK_DEPTH}{WORDS}"


def ranking_name(embedder: str, rerank_depth: int, words: bool = False) -> str:
    """``csi`` (embedding alone), ``csi+rerank100`` (its top 100 re-ranked by alignment) or
    ``csi+rerank100+lyrics`` (the words' top 100 re-ranked too, and the words' similarity fused)."""
    name = f"{embedder}{RERANKED}{rerank_depth}" if rerank_depth else embedder
    return name + WORDS if words and rerank_depth else name


def parse_ranking(name: str) -> tuple[str, int, bool]:
    """``(embedder, rerank depth, words)`` of a ranking's name written by :func:`ranking_name`."""
    base = name.removesuffix(WORDS)
    embedder, sep, depth = base.rpartition(RERANKED)
    if sep and depth.isdigit():
        return embedder, int(depth), base != name
    return name, 0, False


@dataclass(frozen=True)
class Match:
    """A catalogued recording as an answer to a query."""

    rank: int
    recording: Recording
    similarity: float  # cosine similarity of the embeddings
    score: float  # the final score the ranking sorts by (the fused score for re-ranked matches)
    alignment: Alignment | None = None  # for re-ranked matches
    probability: float | None = None  # that the two are versions, as one of the candidates judged (calibrated)
    verdict: str | None = None  # "version", "maybe" or "unrelated"
    group: int | None = None  # the recording's version group in the catalog (``homage groups``)
    words: float | None = None  # similarity of the two recordings' words (None: either has no lyric evidence)
    lines: list = field(default_factory=list)  # the lines both sing (SharedLine), most telling first

    def to_json(self) -> dict:
        r = self.recording
        data = {
            "rank": self.rank,
            "id": r.id,
            "similarity": round(self.similarity, 6),
            "score": round(float(self.score), 6),
            "path": r.path,
            "title": r.title,
            "artist": r.artist,
            "album": r.album,
            "duration": r.duration,
            "group": self.group,
        }
        if self.alignment is not None:
            data.update(verdict=self.verdict, probability=round(self.probability, 4), **alignment_json(self.alignment))
        data.update(
            words_similarity=None if self.words is None else round(self.words, 4),
            shared_lines=[line.to_json() for line in self.lines],
        )
        return data


@dataclass(frozen=True)
class QueryResult:
    query: str
    ranking: str  # e.g. csi+rerank100
    embedder: str  # identity of the embedder
    matches: list[Match]

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "ranking": self.ranking,
            "embedder": self.embedder,
            "results": [m.to_json() for m in self.matches],
        }


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    embedder: str
    similarity: float
    alignment: Alignment  # where and how the two match (pitch-class alignment)
    probability: float  # that the two are versions, from the alignment, the similarity and the words (calibrated)
    verdict: str  # "version", "maybe" or "unrelated"
    words: float | None = None  # similarity of their words (None: either has no lyric evidence, or not transcribed)
    lines: list = field(default_factory=list)  # the lines both sing (SharedLine), most telling first

    @property
    def summary(self) -> str:
        """How B differs from A, in words: "B is 3 semitones higher and 9 % slower"."""
        return in_words(self.alignment)

    def to_json(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "embedder": self.embedder,
            "similarity": round(self.similarity, 6),
            "verdict": self.verdict,
            "probability": round(self.probability, 4),
            "summary": self.summary,
            "alignment": alignment_json(self.alignment, prefix=""),
            "words_similarity": None if self.words is None else round(self.words, 4),
            "shared_lines": [line.to_json() for line in self.lines],
        }


def in_words(al: Alignment) -> str:
    """The transposition and tempo of an alignment as a sentence about B."""
    t = al.transposition
    key = (
        "in the same key"
        if t == 0
        else f"{abs(t)} semitone{'s' if abs(t) > 1 else ''} {'higher' if t > 0 else 'lower'}"
    )
    speed = 1.0 / al.tempo_ratio if al.tempo_ratio > 0 else 1.0
    percent = round(abs(speed - 1.0) * 100)
    tempo = "at the same tempo" if percent == 0 else f"{percent} % {'faster' if speed > 1 else 'slower'}"
    return f"B is {key} and {tempo}"


def alignment_json(al: Alignment, prefix: str = "alignment_") -> dict:
    """What an alignment tells a person: score, transposition, tempo ratio, matched segments (seconds)."""
    return {
        f"{prefix}score": round(al.score, 4),
        "transposition_semitones": al.transposition,
        "tempo_ratio": round(al.tempo_ratio, 3),
        "segments": [
            {
                "a_start": round(g.a_start, 2),
                "a_end": round(g.a_end, 2),
                "b_start": round(g.b_start, 2),
                "b_end": round(g.b_end, 2),
                "strength": g.strength,
            }
            for g in al.segments
        ],
    }


def query(
    path: str | Path,
    catalog_path: CatalogLike,
    *,
    k: int = 10,
    rerank_depth: int = RERANK_DEPTH,
    words: bool | None = None,
    lyrics_model: str | None = None,
    cache: FeatureCache | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> QueryResult:
    """The ``k`` catalogued recordings most likely to be versions of ``path`` (the file itself excluded).

    Two first stages find the candidates: the embedding's top ``rerank_depth``, and (with ``words``) the
    top ``rerank_depth`` of the catalog's full-text index of transcripts, so that a version the embedding
    ranks far down is still found by its lyrics. Every candidate is aligned with the query and the list is
    re-ordered by the fused embedding + alignment + words score (:func:`homage.align.rerank.rerank`), each
    with its verdict (:func:`homage.align.verdict.judge_candidates`: the candidates judged together); ``rerank_depth=0``
    ranks by the embedding alone. ``words`` None: when this installation can transcribe; ``lyrics_model``:
    a faster-whisper model by name or folder (default: the packaged ``tiny.en``).
    """
    cache = cache if cache is not None else FeatureCache.default()
    options = transcription(words, lyrics_model) if rerank_depth else None
    with open_catalog(catalog_path) as catalog:
        embedder = embedder_for(catalog)
        item = analyze_file(path, embedder, cache, sequence=rerank_depth > 0, words=options, max_seconds=max_seconds)
        own = catalog.get(item.path)
        exclude = [own.id] if own else []
        S, I = catalog.search(item.vector, max(k, rerank_depth), exclude=exclude)
        found = I[0] >= 0
        similarity, ids = S[0][found].astype(float), I[0][found]
        aligned = np.arange(len(ids)) < rerank_depth
        word_scores = None
        if options is not None:
            query_terms = Counter(item.words.terms)
            by_embedding = set(ids.tolist())
            by_words = [
                i for i in _words_first_stage(catalog, query_terms, rerank_depth, exclude) if i not in by_embedding
            ]
            if by_words:
                _, X = catalog.vectors(by_words)
                ids = np.concatenate([ids, np.array(by_words, dtype=np.int64)])
                similarity = np.concatenate([similarity, Embedder.similarity(item.vector, X)[0].astype(float)])
                aligned = np.concatenate([aligned, np.ones(len(by_words), bool)])
            word_scores = _words_similarity(catalog, query_terms, ids)
        recordings = catalog.by_ids(ids)
        stored = catalog.sequences(ids[aligned], SEQUENCE_KIND, SEQUENCE_COLUMNS) if rerank_depth else {}
        cohorts = catalog.cohorts(ids[aligned]) if rerank_depth else {}
        groups = {r: g for r, (g, _, _) in catalog.groups(ids).items()}
        name = ranking_name(embedder.name, rerank_depth, options is not None)
        if not rerank_depth:
            matches = [
                Match(n, recordings[i], s, s, group=groups.get(int(i)))
                for n, (i, s) in enumerate(zip(ids[:k], similarity[:k]), start=1)
            ]
            return QueryResult(item.path, name, embedder.identity, matches)
        candidates = [
            _sequence(recordings[i], stored, embedder, cache, max_seconds) if aligned[n] else None
            for n, i in enumerate(ids)
        ]
        ranked = rerank(
            Prepared(item.sequence, ALIGN_CONFIG),
            candidates,
            similarity,
            config=ALIGN_CONFIG,
            cohorts=[Cohort.from_array(*cohorts[i]) if i in cohorts else None for i in ids],
            words=word_scores,
        )
        transcripts = (
            {int(ids[c]): catalog.transcript(int(ids[c])) for c in ranked.order[:k]} if options is not None else {}
        )
    sung = lyrics.clean(Transcript.from_json(item.words.transcript)) if item.words is not None else None
    words_of = [None] * len(ids) if word_scores is None else [None if np.isnan(s) else float(s) for s in word_scores]
    judgements = judge_candidates(ranked.alignments, similarity.tolist(), words_of)
    matches = []
    for n, c in enumerate(ranked.order[:k], start=1):
        al, w = ranked.alignments[c], words_of[c]
        verdict = {} if judgements[c] is None else dict(zip(("probability", "verdict"), judgements[c]))
        lines = _shared(sung, transcripts.get(int(ids[c])))
        matches.append(
            Match(
                n,
                recordings[ids[c]],
                float(similarity[c]),
                float(ranked.scores[c]),
                al,
                **verdict,
                group=groups.get(int(ids[c])),
                words=w,
                lines=lines,
            )
        )
    return QueryResult(item.path, name, embedder.identity, matches)


def _words_first_stage(catalog: Catalog, terms: Counter, depth: int, exclude: list[int]) -> list[int]:
    """The second first stage: the catalog's ``depth`` recordings whose words best match ``terms``."""
    if not terms:
        return []
    df, documents = catalog.document_frequencies(terms)
    return catalog.words_search(lyrics.tfidf(terms, df, documents), depth, exclude=exclude)


def _words_similarity(catalog: Catalog, terms: Counter, ids: np.ndarray) -> np.ndarray:
    """The words' similarity of the query's ``terms`` to each recording of ``ids`` (NaN: no lyric evidence),
    with the catalog's document frequencies."""
    stored = catalog.terms(ids)
    others = [stored.get(int(i)) for i in ids]
    df, documents = catalog.document_frequencies(set(terms) | {t for o in others if o for t in o})
    return lyrics.similarities(terms, others, df, documents)


def _shared(sung: lyrics.Lyrics | None, stored: tuple[str, str] | None) -> list[lyrics.SharedLine]:
    """The lines a query (its cleaned words) and a catalogued recording both sing (none without both)."""
    if sung is None or stored is None:
        return []
    return lyrics.shared_lines(sung, lyrics.clean(Transcript.from_json(stored[1])))


def _words_of_pair(a: Words | None, b: Words | None) -> tuple[float | None, list[lyrics.SharedLine]]:
    """The words' similarity of two recordings on their own (document frequencies: the two and the
    background; None when either has no lyric evidence) and the lines both sing."""
    if a is None or b is None or not a.terms or not b.terms:
        return None, []
    df, documents = lyrics.document_frequencies([Counter(a.terms), Counter(b.terms)])
    score = lyrics.similarities(Counter(a.terms), [b.terms], df, documents)[0]
    la, lb = (lyrics.clean(Transcript.from_json(w.transcript)) for w in (a, b))
    return float(score), lyrics.shared_lines(la, lb, df, documents)


def _sequence(recording: Recording, stored: dict, embedder: Embedder, cache: FeatureCache, max_seconds: float):
    """A candidate's alignment sequence: as the catalog stores it, else from its file (None if unreadable)."""
    if recording.id in stored:
        return stored[recording.id]
    try:
        return analyze_file(
            recording.path, embedder, cache, content_hash=recording.content_hash, max_seconds=max_seconds
        ).sequence
    except audio.AudioError:
        return None


def compare(
    a: str | Path,
    b: str | Path,
    *,
    embedder: Embedder | str | None = None,
    words: bool | None = None,
    lyrics_model: str | None = None,
    cache: FeatureCache | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> Comparison:
    """Whether two recordings are versions of one work: the calibrated verdict from their alignment, their
    embeddings' cosine similarity (1 = identical, about 0 = unrelated) and (with ``words``; None: when
    this installation can transcribe) the similarity of their sung words; where and how they match, and
    the lines both sing with their times."""
    embedder = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
    cache = cache if cache is not None else FeatureCache.default()
    options = transcription(words, lyrics_model)
    ea, eb = analyze_pair(a, b, embedder, cache, words=options, max_seconds=max_seconds)
    alignment, similarity = pair_evidence(ea, eb)
    word_score, lines = _words_of_pair(ea.words, eb.words)
    probability, verdict = judge(alignment, similarity, word_score)
    return Comparison(
        ea.path, eb.path, embedder.identity, similarity, alignment, probability, verdict, word_score, lines
    )
