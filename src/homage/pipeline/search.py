"""Ask the catalog what a recording is a version of, and compare two recordings: the ranking, the
verdicts and the JSON every shell (CLI, API) prints are decided here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from homage import audio
from homage.align import SEQUENCE_COLUMNS, Alignment, Prepared
from homage.align.rerank import RERANK_DEPTH, Cohort, rerank
from homage.align.verdict import among_candidates, load_calibration, verdict_of
from homage.catalog import Recording
from homage.features.cache import FeatureCache
from homage.models import DEFAULT_EMBEDDER, Embedder, get_embedder
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND, analyze_file, pair_evidence
from homage.pipeline.library import CatalogLike, embedder_for, open_catalog

RERANKED = "+rerank"
DEFAULT_PIPELINE = f"{DEFAULT_EMBEDDER}{RERANKED}{RERANK_DEPTH}"  # what `homage query` does, and evaluates


def pipeline_name(embedder: str, rerank_depth: int) -> str:
    """``csi`` (embedding alone) or ``csi+rerank100`` (its top 100 re-ranked by alignment)."""
    return f"{embedder}{RERANKED}{rerank_depth}" if rerank_depth else embedder


def parse_pipeline(name: str) -> tuple[str, int]:
    """``(embedder, rerank depth)`` of a pipeline name written by :func:`pipeline_name`."""
    embedder, sep, depth = name.rpartition(RERANKED)
    if sep and depth.isdigit():
        return embedder, int(depth)
    return name, 0


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

    def to_json(self) -> dict:
        r = self.recording
        data = {"rank": self.rank, "id": r.id, "similarity": round(self.similarity, 6), "score": round(float(self.score), 6),
                "path": r.path, "title": r.title, "artist": r.artist, "album": r.album, "duration": r.duration,
                "group": self.group}  # fmt: skip
        if self.alignment is not None:
            data.update(verdict=self.verdict, probability=round(self.probability, 4), **alignment_json(self.alignment))
        return data


@dataclass(frozen=True)
class QueryResult:
    query: str
    pipeline: str  # e.g. csi+rerank100
    embedder: str  # identity of the embedder
    matches: list[Match]

    def to_json(self) -> dict:
        return {"query": self.query, "pipeline": self.pipeline, "embedder": self.embedder,
                "results": [m.to_json() for m in self.matches]}  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    embedder: str
    similarity: float
    alignment: Alignment  # where and how the two match (pitch-class alignment)
    probability: float  # that the two are versions, from the alignment and the similarity (calibrated)
    verdict: str  # "version", "maybe" or "unrelated"

    @property
    def summary(self) -> str:
        """How B differs from A, in words: "B is 3 semitones higher and 9 % slower"."""
        return in_words(self.alignment)

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "embedder": self.embedder, "similarity": round(self.similarity, 6),
                "verdict": self.verdict, "probability": round(self.probability, 4), "summary": self.summary,
                "alignment": alignment_json(self.alignment, prefix="")}  # fmt: skip


def in_words(al: Alignment) -> str:
    """The transposition and tempo of an alignment as a sentence about B."""
    t = al.transposition
    key = "in the same key" if t == 0 else f"{abs(t)} semitone{'s' if abs(t) > 1 else ''} {'higher' if t > 0 else 'lower'}"
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
        "segments": [{"a_start": round(g.a_start, 2), "a_end": round(g.a_end, 2), "b_start": round(g.b_start, 2),
                      "b_end": round(g.b_end, 2), "strength": g.strength} for g in al.segments],  # fmt: skip
    }


def query(
    path: str | Path,
    catalog_path: CatalogLike,
    *,
    k: int = 10,
    rerank_depth: int = RERANK_DEPTH,
    cache: FeatureCache | None = None,
    max_duration: float = audio.MAX_DURATION_S,
) -> QueryResult:
    """The ``k`` catalogued recordings most likely to be versions of ``path`` (the file itself excluded).

    The embedding's top ``rerank_depth`` candidates are aligned with the query and re-ordered by the
    fused embedding + alignment score (:func:`homage.align.rerank.rerank`), each with its verdict — the
    calibrated probability weighed by how many candidates were judged
    (:func:`homage.align.verdict.among_candidates`); ``rerank_depth=0`` ranks by the embedding alone.
    """
    cache = cache if cache is not None else FeatureCache.default()
    with open_catalog(catalog_path) as catalog:
        embedder = embedder_for(catalog)
        item = analyze_file(path, embedder, cache, sequence=rerank_depth > 0, max_duration=max_duration)
        own = catalog.get(item.path)
        S, I = catalog.search(item.vector, max(k, rerank_depth), exclude=[own.id] if own else ())
        found = I[0] >= 0
        similarity, ids = S[0][found].astype(float), I[0][found]
        recordings = catalog.by_ids(ids)
        stored = catalog.sequences(ids[:rerank_depth], SEQUENCE_KIND, SEQUENCE_COLUMNS) if rerank_depth else {}
        cohorts = catalog.cohorts(ids[:rerank_depth]) if rerank_depth else {}
        groups = {r: g for r, (g, _, _) in catalog.groups(ids[: max(k, rerank_depth)]).items()}
    name = pipeline_name(embedder.name, rerank_depth)
    if not rerank_depth:
        matches = [Match(n, recordings[i], s, s, group=groups.get(int(i))) for n, (i, s) in enumerate(zip(ids[:k], similarity[:k]), start=1)]
        return QueryResult(item.path, name, embedder.identity, matches)
    candidates = [_sequence(recordings[i], stored, embedder, cache, max_duration) if n < rerank_depth else None
                  for n, i in enumerate(ids)]  # fmt: skip
    ranked = rerank(Prepared(item.sequence, ALIGN_CONFIG), candidates, similarity, config=ALIGN_CONFIG,
                    cohorts=[Cohort.from_array(*cohorts[i]) if i in cohorts else None for i in ids])  # fmt: skip
    calibration = load_calibration()
    aligned = sum(al is not None for al in ranked.alignments)
    matches = []
    for n, c in enumerate(ranked.order[:k], start=1):
        al = ranked.alignments[c]
        verdict = {}
        if al is not None:
            p = among_candidates(calibration.probability(al, float(similarity[c])), aligned)
            verdict = {"probability": p, "verdict": verdict_of(p)}
        matches.append(Match(n, recordings[ids[c]], float(similarity[c]), float(ranked.scores[c]), al, **verdict,
                             group=groups.get(int(ids[c]))))  # fmt: skip
    return QueryResult(item.path, name, embedder.identity, matches)


def _sequence(recording: Recording, stored: dict, embedder: Embedder, cache: FeatureCache, max_duration: float):
    """A candidate's alignment sequence: as the catalog stores it, else from its file (None if unreadable)."""
    if recording.id in stored:
        return stored[recording.id]
    try:
        return analyze_file(recording.path, embedder, cache, content_hash=recording.content_hash,
                            max_duration=max_duration).sequence  # fmt: skip
    except audio.AudioError:
        return None


def compare(
    a: str | Path,
    b: str | Path,
    *,
    embedder: Embedder | str | None = None,
    cache: FeatureCache | None = None,
    max_duration: float = audio.MAX_DURATION_S,
) -> Comparison:
    """Whether two recordings are versions of one work: the calibrated verdict from their alignment, where
    and how they match, and the cosine similarity of their embeddings (1 = identical, about 0 = unrelated)."""
    embedder = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
    cache = cache if cache is not None else FeatureCache.default()
    ea, eb = (analyze_file(p, embedder, cache, max_duration=max_duration) for p in (a, b))
    alignment, similarity = pair_evidence(ea, eb)
    probability = load_calibration().probability(alignment, similarity)
    return Comparison(ea.path, eb.path, embedder.identity, similarity, alignment, probability, verdict_of(probability))


