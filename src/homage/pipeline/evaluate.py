"""`homage evaluate`: run rankings over recordings grouped into works and score them as the field does.

A ranking is named as ``homage query --json`` names it: an embedder (``csi``: the embedding alone), an
embedder re-ranked (``csi+rerank100``: its top 100 candidates per query re-ordered by the one re-ranker
``homage query`` uses), or ``align`` (every pair aligned, no embedding). The default is what ``homage
query`` does. Every recording queries all the others; metrics read each ranking's final score.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from homage import audio, lyrics
from homage.align import Prepared
from homage.align.rerank import LYRICS_WEIGHT, align_candidates, cohort_of, rank
from homage.data.manifest import MIDI_EXTENSIONS, Entry, load_dataset
from homage.errors import Failure
from homage.evaluation.results import RankingResult, score_ranking
from homage.features.cache import FeatureCache
from homage.models import get_embedder
from homage.parallel import DEFAULT_WORKERS, Executor, as_executor
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND, SequenceTask, TranscriptTask
from homage.pipeline.indexing import analyze_many
from homage.pipeline.search import DEFAULT_RANKING, WORDS, parse_ranking, ranking_name

ALIGN_RANKING = "align"
MIDI_SECONDS = 60.0  # MIDI recordings are rendered from their first minute

Progress = Callable[[str, str | None], None]


def evaluate(
    source: str | Path,
    rankings: list[str] | None = None,
    *,
    rerank_depth: int = 0,
    cache: FeatureCache | None = None,
    workers: int | Executor = DEFAULT_WORKERS,
    seed: int = 0,
    midi_seconds: float = MIDI_SECONDS,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Progress | None = None,
) -> list[RankingResult]:
    """Evaluate each ranking (default: the one ``homage query`` uses) on the works of ``source``.

    ``rerank_depth`` > 0 adds, after each embedding-alone ranking, its twin re-ranked at that depth.
    Recordings that fail to decode are reported in each result's ``failed`` and left out.
    ``on_stage(description, total)`` and ``on_item(path, error_or_None)`` report progress.
    """
    cache = cache if cache is not None else FeatureCache.default()
    names = []
    for name in rankings or [DEFAULT_RANKING if lyrics.available() else DEFAULT_RANKING.removesuffix(WORDS)]:
        names.append(name)
        if rerank_depth and name != ALIGN_RANKING and parse_ranking(name)[1] == 0:
            names.append(ranking_name(name, rerank_depth))
    entries, failed = _render_midi(load_dataset(source), cache, midi_seconds, on_stage, on_item)
    analysed: dict[str, tuple] = {}
    results = []
    for name in names:
        if name == ALIGN_RANKING:
            results.append(_align_all(entries, failed, cache, workers, seed, on_stage, on_item))
            continue
        embedder_name, depth, with_words = parse_ranking(name)
        if embedder_name not in analysed:
            with_sequences = any(parse_ranking(n)[0] == embedder_name and parse_ranking(n)[1] for n in names)
            analysed[embedder_name] = _analyse(
                entries, failed, embedder_name, cache, workers, with_sequences, on_stage, on_item
            )
        embedder, kept, vectors, sequences, errors, seconds = analysed[embedder_name]
        words = None
        if with_words:
            if ("words", embedder_name) not in analysed:
                analysed[("words", embedder_name)] = words_similarity(
                    [str(e.path) for e in kept], cache, workers, on_stage, on_item
                )
            words, words_seconds = analysed[("words", embedder_name)]
            seconds += words_seconds
        labels = np.array([e.work for e in kept])
        S = embedder.similarity(vectors, vectors)  # the model's own similarity, as the catalog searches
        if depth:
            if on_stage:
                on_stage(f"re-ranking the top {depth} of {embedder_name}", len(kept))
            started = time.perf_counter()
            S = rerank_scores(
                S,
                sequences,
                depth,
                on_query=(lambda i: on_item(str(kept[i].path), None)) if on_item else None,  # noqa: B023 - used in this pass
                words=words,
            )
            seconds += time.perf_counter() - started
        results.append(score_ranking(name, embedder.identity, S, labels, errors, seconds, seed, _kinds(kept)))
    return results


def rerank_scores(
    S: np.ndarray, sequences: list[np.ndarray], depth: int, on_query=None, words: np.ndarray | None = None
) -> np.ndarray:
    """Final scores after each query's candidates (row = query) are re-ranked as ``homage query`` re-ranks
    them in a catalog of these recordings: :func:`aligned_rows`, then :func:`ranked_scores`."""
    rows, cohorts = aligned_rows(S, sequences, depth, words, on_query)
    return ranked_scores(S, rows, cohorts, words)


def aligned_rows(
    S: np.ndarray, sequences: list[np.ndarray], depth: int, words: np.ndarray | None = None, on_query=None
) -> tuple[list, list]:
    """Each query's candidates aligned with it: its top ``depth`` by the similarities ``S`` together with its
    top ``depth`` by the words' similarities ``words`` (NaN: no lyric evidence), as the catalog's two first
    stages find them. Returns, per query, ``(others in embedding order, their alignments or None)``, and
    each recording's cohort (from its own row)."""
    rows, cohorts = [], []
    for i in range(len(S)):  # every row aligned first: each recording's cohort is its own row
        others = np.array([j for j in np.argsort(-S[i], kind="stable") if j != i], dtype=np.int64)
        chosen = np.zeros(len(others), bool)
        chosen[:depth] = True
        if words is not None:
            w = np.nan_to_num(words[i, others], nan=-np.inf)
            chosen[[k for k in np.argsort(-w, kind="stable")[:depth] if np.isfinite(w[k])]] = True
        candidates = [sequences[j] if chosen[n] else None for n, j in enumerate(others)]
        alignments = [
            a and replace(a, cross_recurrence=None, path=None)
            for a in align_candidates(Prepared(sequences[i], ALIGN_CONFIG), candidates, ALIGN_CONFIG)
        ]
        rows.append((others, alignments))
        cohorts.append(cohort_of(alignments[:depth], S[i, others][:depth]))
        if on_query:
            on_query(i)
    return rows, cohorts


def ranked_scores(
    S: np.ndarray, rows: list, cohorts: list, words: np.ndarray | None = None, words_weight: float = LYRICS_WEIGHT
) -> np.ndarray:
    """The final score of every pair from :func:`aligned_rows`: fused scores for the aligned candidates,
    S-normalised by each candidate's cohort, the others below in embedding order."""
    final = np.array(S, dtype=np.float64)
    for i, (others, alignments) in enumerate(rows):
        w = None if words is None else words[i, others]
        final[i, others] = rank(
            alignments, S[i, others], cohorts=[cohorts[j] for j in others], words=w, words_weight=words_weight
        ).scores
    return final


def words_similarity(
    paths: list[str],
    cache: FeatureCache,
    workers: int | Executor = DEFAULT_WORKERS,
    on_stage=None,
    on_item: Progress | None = None,
) -> tuple[np.ndarray, float]:
    """The words' similarity of every two of ``paths`` (NaN where either has no lyric evidence, or could
    not be transcribed), with the inverse document frequencies of these recordings; and the seconds taken."""
    if on_stage:
        on_stage("transcribing the words", len(paths))
    started = time.perf_counter()
    terms = []
    for path, result in as_executor(workers).map(TranscriptTask(cache), paths):
        terms.append(Counter() if isinstance(result, Failure) else lyrics.clean(result).terms())
        if on_item:
            on_item(path, result.reason if isinstance(result, Failure) else None)
    return lyrics.similarity_matrix(terms), time.perf_counter() - started


def _analyse(entries, failed, embedder_name, cache, workers, with_sequences, on_stage, on_item):
    """Embed every entry (and compute its alignment sequence when a ranking re-ranks): what is kept."""
    embedder = get_embedder(embedder_name)
    if on_stage:
        on_stage(f"embedding with {embedder_name}", len(entries))
    started = time.perf_counter()
    kept, vectors, sequences, errors = [], [], [], [failure.to_json() for failure in failed]
    todo = [(str(e.path), None) for e in entries]
    for entry, (path, result) in zip(entries, analyze_many(todo, embedder, cache, workers, sequence=with_sequences)):
        if isinstance(result, Failure):
            errors.append(result.to_json())
        else:
            kept.append(entry)
            vectors.append(result.vector)
            sequences.append(result.sequence)
        if on_item:
            on_item(path, result.reason if isinstance(result, Failure) else None)
    return embedder, kept, np.array(vectors), sequences, errors, time.perf_counter() - started


def _align_all(entries, failed, cache, workers, seed, on_stage, on_item) -> RankingResult:
    """Alignment alone: every pair aligned, ranked by alignment score."""
    if on_stage:
        on_stage("alignment sequences", len(entries))
    kept, sequences, errors = [], [], [failure.to_json() for failure in failed]
    for entry, (path, result) in zip(
        entries, as_executor(workers).map(SequenceTask(cache), [str(e.path) for e in entries])
    ):
        if isinstance(result, Failure):
            errors.append(result.to_json())
        else:
            kept.append(entry)
            sequences.append(result)
        if on_item:
            on_item(path, result.reason if isinstance(result, Failure) else None)
    if on_stage:
        on_stage("aligning every pair", len(kept))
    started = time.perf_counter()
    S = np.zeros((len(kept), len(kept)))
    for i in range(len(kept)):
        query = Prepared(sequences[i], ALIGN_CONFIG)
        for j in range(len(kept)):
            if i != j:
                S[i, j] = query.align(sequences[j]).score
        if on_item:
            on_item(str(kept[i].path), None)
    seconds = time.perf_counter() - started
    labels = np.array([e.work for e in kept])
    return score_ranking(ALIGN_RANKING, SEQUENCE_KIND, S, labels, errors, seconds, seed, _kinds(kept))


def _kinds(entries: list[Entry]) -> np.ndarray | None:
    """Each entry's kind of version, where the data names them all."""
    return np.array([e.kind for e in entries]) if entries and all(e.kind for e in entries) else None


def _render_midi(entries: list[Entry], cache: FeatureCache, seconds: float, on_stage, on_item):
    """MIDI entries replaced by renders of their first ``seconds`` (kept with the cache); failures reported.
    The renderer (the ``data`` extra) is loaded only when there is MIDI to render."""
    midi = [e for e in entries if e.path.suffix.lower() in MIDI_EXTENSIONS]
    if not midi:
        return entries, []
    import tempfile

    from homage.data.render import render_excerpt

    folder = cache.root / "midi-renders" if cache.root else Path(tempfile.mkdtemp(prefix="homage-renders-"))
    if on_stage:
        on_stage("rendering MIDI", len(midi))
    rendered, failed = {}, []
    for entry in midi:
        error = None
        try:
            rendered[entry.path] = render_excerpt(entry.path, seconds, folder)
        except audio.AudioError as exc:
            failed.append(Failure(exc.path, exc.reason))
            error = exc.reason
        if on_item:
            on_item(str(entry.path), error)
    bad = {f.path for f in failed}
    kept = [replace(e, path=rendered.get(e.path, e.path)) for e in entries if str(e.path) not in bad]
    return kept, failed
