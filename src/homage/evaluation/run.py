"""`homage evaluate`: embed a grouped data set with each pipeline and score it as the field does.

A pipeline is an embedder name, or ``align`` (pitch-class alignment of every pair, no embedding).
With ``rerank=K`` each embedder pipeline gets a twin, ``<name>+rerank``: its top K candidates per query
re-ordered by the fused embedding + alignment score, as ``homage query --rerank K`` does.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from homage import audio
from homage.align import AlignConfig, align_sequences
from homage.align.sequences import fixed_rate_chroma
from homage.align.verdict import fuse
from homage.embed import DEFAULT_EMBEDDER, get_embedder
from homage.errors import AudioError
from homage.evaluation.datasets import MIDI_EXTENSIONS, Item, load_dataset
from homage.evaluation.metrics import (
    cosine_to_euclidean,
    nn_accuracy,
    pair_scores,
    retrieval_scores,
)
from homage.features.cache import FeatureCache
from homage.features.cqt import CQTSpec
from homage.pipeline import EmbeddedFile, embed_many

MIDI_SECONDS = 60.0  # MIDI recordings are rendered from their first minute
ALIGN_PIPELINE = "align"


@dataclass
class PipelineResult:
    pipeline: str
    embedder: str
    n_works: int
    n_recordings: int
    map: float
    mr1: float
    p_at_10: float
    top1: float
    roc_auc: float
    best_threshold_accuracy: float
    pair_accuracy: float
    pair_precision: float
    pair_recall: float
    pair_f1: float
    nn_accuracy: float
    random_baseline_accuracy: float
    mean_distance_versions: float
    mean_distance_non_versions: float
    pair_threshold: float
    n_pairs: int
    seconds_per_recording: float
    seconds_total: float
    failed: list[dict] = field(default_factory=list)
    # for plots, left out of JSON
    distances: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("distances")
        data.pop("labels")
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in data.items()}


def evaluate(
    source: str | Path,
    pipelines: list[str] | None = None,
    *,
    cache: FeatureCache | None = None,
    workers: int = 1,
    seed: int = 0,
    midi_seconds: float = MIDI_SECONDS,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
    rerank: int = 0,
) -> list[PipelineResult]:
    """Evaluate each pipeline (default: the one `homage query` uses) on the works of ``source``.

    Recordings that fail to decode are reported in each result's ``failed`` and left out.
    ``on_stage(description, total)`` and ``on_item(path, error_or_None)`` report progress.
    """
    cache = cache or FeatureCache(None)
    items = load_dataset(source)
    items, failed = _render_midi(items, cache, midi_seconds, on_stage, on_item)
    results, sequences = [], {}
    for name in pipelines or [DEFAULT_EMBEDDER]:
        if name == ALIGN_PIPELINE:
            results.append(_evaluate_alignment(items, failed, cache, sequences, seed, on_stage, on_item))
            continue
        embedder = get_embedder(name)
        if on_stage:
            on_stage(f"embedding with {name}", len(items))
        started = time.perf_counter()
        vectors, kept, errors = [], [], list(failed)
        todo = [(str(item.path), None) for item in items]
        for (path, result), item in zip(embed_many(todo, embedder, cache, workers), items):
            if isinstance(result, EmbeddedFile):
                vectors.append(result.vector)
                kept.append(item)
            else:
                errors.append({"path": path, "reason": result})
            if on_item:
                on_item(path, None if isinstance(result, EmbeddedFile) else result)
        seconds = time.perf_counter() - started
        V, labels = np.array(vectors), np.array([i.work for i in kept])
        D = cosine_to_euclidean(V @ V.T)
        results.append(_score(name, embedder.identity, D, labels, errors, seconds, seed))
        if rerank:
            seqs = _sequences(kept, cache, sequences, on_stage, on_item)
            if on_stage:
                on_stage(f"re-ranking the top {rerank} of {name}", len(kept))
            started = time.perf_counter()
            report = (lambda i: on_item(str(kept[i].path), None)) if on_item else None
            D_rerank = rerank_distances(D, seqs, rerank, on_query=report)
            per_query = (time.perf_counter() - started) / len(kept)
            result = _score(f"{name}+rerank", embedder.identity, D_rerank, labels, errors, seconds, seed)
            result.seconds_per_recording += per_query
            result.seconds_total += per_query * len(kept)
            results.append(result)
    return results


def rerank_distances(D: np.ndarray, sequences: list[np.ndarray], k: int, on_query=None) -> np.ndarray:
    """Distances after re-ranking each query's ``k`` nearest by the fused embedding + alignment score.

    The ``k`` distances of a query are kept as a set and handed out in the new order, so pair-wise
    metrics still read embedding distances while rankings follow the re-ranking.
    """
    D_new = D.copy()
    for i in range(len(D)):
        d = D[i].copy()
        d[i] = np.inf
        top = np.argsort(d, kind="stable")[:k]
        scores = [align_sequences(sequences[i], sequences[j]).score for j in top]
        order = top[np.argsort(-fuse(-D[i, top], scores), kind="stable")]
        D_new[i, order] = np.sort(D[i, top])
        if on_query:
            on_query(i)
    return D_new


def _sequences(items: list[Item], cache: FeatureCache, known: dict, on_stage, on_item) -> list[np.ndarray]:
    """Fixed-rate chroma of each item (from the cached CQT), computed once per evaluation."""
    todo = [i for i in items if i.path not in known]
    if todo and on_stage:
        on_stage("chroma for alignment", len(todo))
    config = AlignConfig()
    for item in todo:
        C = cache.features(item.path, CQTSpec())
        known[item.path] = fixed_rate_chroma(C, CQTSpec(), config.frame_rate)
        if on_item:
            on_item(str(item.path), None)
    return [known[i.path] for i in items]


def _evaluate_alignment(items, failed, cache, known, seed, on_stage, on_item) -> PipelineResult:
    """Alignment alone: every pair aligned, ranked by alignment score."""
    errors, kept = list(failed), []
    for item in items:
        try:
            _sequences([item], cache, known, None, None)
            kept.append(item)
        except AudioError as exc:
            errors.append({"path": str(item.path), "reason": exc.reason})
    seqs = [known[i.path] for i in kept]
    if on_stage:
        on_stage("aligning every pair", len(kept))
    started = time.perf_counter()
    S = np.zeros((len(kept), len(kept)))
    for i in range(len(kept)):
        for j in range(len(kept)):
            if i != j:
                S[i, j] = align_sequences(seqs[i], seqs[j]).score
        if on_item:
            on_item(str(kept[i].path), None)
    seconds = time.perf_counter() - started
    D = S.max() - S  # a distance: 0 for the best-aligned pair
    np.fill_diagonal(D, 0.0)
    return _score(ALIGN_PIPELINE, f"qmax@{AlignConfig().frame_rate:g}fps", D, np.array([i.work for i in kept]), errors, seconds, seed)


def _score(name, identity, D, labels, failed, seconds, seed) -> PipelineResult:
    if len(D) < 3 or len(set(labels)) < 2:
        raise ValueError(f"{name}: too few recordings decoded to evaluate ({len(D)})")
    ranked = retrieval_scores(D, labels)
    pairs = pair_scores(D, labels, seed=seed)
    return PipelineResult(
        pipeline=name,
        embedder=identity,
        n_works=len(set(labels)),
        n_recordings=len(labels),
        map=ranked.map,
        mr1=ranked.mr1,
        p_at_10=ranked.p_at_10,
        top1=ranked.top1,
        roc_auc=pairs.roc_auc,
        best_threshold_accuracy=pairs.best_threshold_accuracy,
        pair_accuracy=pairs.accuracy,
        pair_precision=pairs.precision,
        pair_recall=pairs.recall,
        pair_f1=pairs.f1,
        nn_accuracy=nn_accuracy(D, labels, seed=seed),
        random_baseline_accuracy=pairs.random_baseline_accuracy,
        mean_distance_versions=pairs.mean_distance_versions,
        mean_distance_non_versions=pairs.mean_distance_non_versions,
        pair_threshold=pairs.threshold,
        n_pairs=pairs.n_pairs,
        seconds_per_recording=seconds / max(1, len(labels) + len(failed)),
        seconds_total=seconds,
        failed=failed,
        distances=D,
        labels=labels,
    )


def _render_midi(items: list[Item], cache: FeatureCache, seconds: float, on_stage, on_item):
    """Replace MIDI items by renders of their first ``seconds`` (cached by content); report failures."""
    midi = [item for item in items if item.path.suffix.lower() in MIDI_EXTENSIONS]
    if not midi:
        return items, []
    import tempfile

    import pretty_midi

    from homage.data.render import excerpt, render

    root = cache.root / "midi-renders" if cache.root else Path(tempfile.mkdtemp(prefix="homage-renders-"))
    if on_stage:
        on_stage("rendering MIDI", len(midi))
    rendered, failed = {}, []
    for item in midi:
        error = None
        try:
            target = root / f"{audio.file_hash(item.path)}-{seconds:g}s.flac"
            if not target.exists():
                partial = target.with_suffix(".part.flac")
                with warnings.catch_warnings():  # pretty_midi warns about tempo events on other tracks
                    warnings.simplefilter("ignore", RuntimeWarning)
                    midi = pretty_midi.PrettyMIDI(str(item.path))
                render(excerpt(midi, seconds), partial)
                partial.replace(target)
            rendered[item.path] = target
        except Exception as exc:  # noqa: BLE001 - a broken MIDI file is reported, the rest goes on
            error = f"cannot render MIDI ({type(exc).__name__}: {exc})"
            failed.append({"path": str(item.path), "reason": error})
        if on_item:
            on_item(str(item.path), error)
    kept = [Item(rendered.get(i.path, i.path), i.work) for i in items if i.path not in {Path(f["path"]) for f in failed}]
    return kept, failed
