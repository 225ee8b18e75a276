"""The facade the shells (CLI, later the API) call: embed a file, index a folder, query, compare.

Each function takes paths and options and returns plain dataclasses; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from homage import audio
from homage.align import Alignment, align_cqt
from homage.align.verdict import fuse, load_calibration
from homage.catalog import Catalog, Hit, NewRecording
from homage.embed import Embedder, get_embedder
from homage.errors import AudioError, CatalogError, HomageError
from homage.features.cache import FeatureCache
from homage.features.cqt import CQTSpec

COMMIT_EVERY = 32  # files per catalog transaction while indexing


@dataclass(frozen=True)
class EmbeddedFile:
    path: str
    content_hash: str
    duration: float
    vector: np.ndarray
    tags: dict = field(default_factory=dict)


@dataclass
class IndexReport:
    found: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class QueryResult:
    query: str
    embedder: str
    hits: list[Hit]
    alignments: dict[str, Alignment] = field(default_factory=dict)  # re-ranked hits, by path


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    embedder: str
    similarity: float
    alignment: Alignment  # where and how the two match (pitch-class alignment)
    probability: float  # that the two are versions, from the alignment score (calibrated)
    verdict: str  # "version", "maybe" or "unrelated"


def find_audio(root: str | Path) -> list[Path]:
    """Audio files under ``root`` (recursive, hidden entries skipped), sorted; ``root`` may be a file."""
    root = Path(root)
    if root.is_file():
        return [root.resolve()]
    if not root.is_dir():
        raise HomageError(f"{root}: no such folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath, f).resolve() for f in filenames if not f.startswith(".") and audio.is_audio_path(f)]
    return sorted(found)


def embed_file(
    path: str | Path,
    embedder: Embedder,
    cache: FeatureCache,
    *,
    content_hash: str | None = None,
    max_duration: float = audio.MAX_DURATION_S,
) -> EmbeddedFile:
    """Decode, extract features and embed one file, reusing what the cache holds. Raises AudioError on bad input.

    The cached entry holds the vector followed by the duration in seconds.
    """
    path = Path(path).resolve()
    content_hash = content_hash or audio.file_hash(path)

    def compute() -> np.ndarray:
        X = cache.features(path, embedder.feature, content_hash=content_hash, max_duration=max_duration)
        return np.append(embedder.embed(X), X.shape[-1] / embedder.feature.frame_rate).astype(np.float32)

    entry = cache.get_or_compute("embedding", embedder.identity, content_hash, compute)
    return EmbeddedFile(str(path), content_hash, float(entry[-1]), entry[:-1], audio.read_tags(path))


def embedder_for(catalog: Catalog) -> Embedder:
    """The embedder whose vectors ``catalog`` holds; an error if this installation has another version."""
    if catalog.embedder is None:
        return get_embedder()
    embedder = get_embedder(catalog.embedder.split("@")[0])
    if embedder.identity != catalog.embedder:
        raise CatalogError(
            f"{catalog.root}: built with embedder {catalog.embedder}, this homage has {embedder.identity}; "
            "re-index the catalog"
        )
    return embedder


def index_dir(
    root: str | Path,
    catalog_path: str | Path,
    *,
    embedder: Embedder | None = None,
    cache: FeatureCache | None = None,
    workers: int = 1,
    prune: bool = False,
    index_kind: str = "flat",
    max_duration: float = audio.MAX_DURATION_S,
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[str, str | None], None] | None = None,
) -> IndexReport:
    """Add every audio file under ``root`` to the catalog, skipping files whose content is unchanged.

    Bad files are reported in ``IndexReport.failed`` (path, reason) and skipped; the rest goes on.
    Work is committed every few files, so an interrupted run keeps what it finished. ``prune`` removes
    catalogued files under ``root`` that no longer exist. ``on_start(n_files_to_report)`` and
    ``on_file(path, error_or_None)`` report progress.
    """
    started = time.perf_counter()
    cache = cache or FeatureCache(None)
    report = IndexReport()
    files = find_audio(root)
    report.found = len(files)
    with Catalog(catalog_path, create=True, index_kind=index_kind) as catalog:
        embedder = embedder or embedder_for(catalog)
        if catalog.embedder not in (None, embedder.identity):
            raise CatalogError(f"{catalog.root}: catalog holds vectors of {catalog.embedder}, not {embedder.identity}")
        todo = []
        for path in files:
            try:
                content_hash = audio.file_hash(path)
            except AudioError as exc:
                report.failed.append((str(path), exc.reason))
                if on_file:
                    on_file(str(path), exc.reason)
                continue
            known = catalog.get(path)
            if known is not None and known.content_hash == content_hash:
                report.unchanged += 1
            else:
                todo.append((str(path), content_hash))
        if on_start:
            on_start(len(todo) + len(report.failed))
        batch: list[NewRecording] = []
        for path, result in embed_many(todo, embedder, cache, workers, max_duration):
            if isinstance(result, EmbeddedFile):
                batch.append(_as_record(result))
            else:
                report.failed.append((path, result))
            if on_file:
                on_file(path, None if isinstance(result, EmbeddedFile) else result)
            if len(batch) >= COMMIT_EVERY:
                _commit(catalog, batch, embedder, report)
        _commit(catalog, batch, embedder, report)
        if prune:
            present = {str(p) for p in files}
            gone = [r.path for r in catalog.recordings(under=Path(root).resolve()) if r.path not in present]
            report.removed = catalog.remove(gone)
    report.seconds = time.perf_counter() - started
    return report


def query(
    path: str | Path,
    catalog_path: str | Path,
    *,
    k: int = 10,
    rerank: int = 0,
    cache: FeatureCache | None = None,
    max_duration: float = audio.MAX_DURATION_S,
) -> QueryResult:
    """The ``k`` catalogued recordings most similar to ``path`` (the file itself excluded).

    With ``rerank`` > 0 the embedding's top ``rerank`` candidates are aligned with the query and
    re-ordered by the fused embedding + alignment score (``homage.align.verdict.fuse``).
    """
    cache = cache or FeatureCache(None)
    with Catalog(catalog_path) as catalog:
        embedder = embedder_for(catalog)
        item = embed_file(path, embedder, cache, max_duration=max_duration)
        hits = catalog.search(item.vector, max(k, rerank), exclude=[item.path])[0]
    alignments = {}
    if rerank:
        query_cqt = cache.features(item.path, CQTSpec(), content_hash=item.content_hash, max_duration=max_duration)
        top, alignments = rerank_hits(query_cqt, hits[:rerank], cache, max_duration)
        hits = top + [dataclasses.replace(h, rank=len(top) + n) for n, h in enumerate(hits[rerank:], start=1)]
    return QueryResult(item.path, embedder.identity, hits[:k], alignments)


def rerank_hits(query_cqt: np.ndarray, hits: list[Hit], cache: FeatureCache, max_duration: float = audio.MAX_DURATION_S):
    """Align each hit with the query and re-order by the fused score; hits whose file cannot be read
    any more keep their embedding order after the aligned ones."""
    aligned, unreadable, alignments = [], [], {}
    for hit in hits:
        try:
            C = cache.features(hit.recording.path, CQTSpec(), content_hash=hit.recording.content_hash, max_duration=max_duration)
        except AudioError:
            unreadable.append(hit)
            continue
        alignments[hit.recording.path] = align_cqt(query_cqt, C)
        aligned.append(hit)
    if aligned:
        fused = fuse([h.score for h in aligned], [alignments[h.recording.path].score for h in aligned])
        aligned = [aligned[i] for i in np.argsort(-fused, kind="stable")]
    ordered = aligned + unreadable
    return [dataclasses.replace(h, rank=n) for n, h in enumerate(ordered, start=1)], alignments


def compare(
    a: str | Path,
    b: str | Path,
    *,
    embedder: Embedder | None = None,
    cache: FeatureCache | None = None,
    max_duration: float = audio.MAX_DURATION_S,
) -> Comparison:
    """Cosine similarity of two recordings' embeddings (1 = identical, about 0 = unrelated), and their alignment."""
    embedder = embedder or get_embedder()
    cache = cache or FeatureCache(None)
    ea, eb = (embed_file(p, embedder, cache, max_duration=max_duration) for p in (a, b))
    Ca, Cb = (cache.features(e.path, CQTSpec(), content_hash=e.content_hash, max_duration=max_duration) for e in (ea, eb))
    alignment = align_cqt(Ca, Cb)
    calibration = load_calibration()
    return Comparison(
        ea.path, eb.path, embedder.identity, float(np.dot(ea.vector, eb.vector)), alignment,
        calibration.probability(alignment.score), calibration.verdict(alignment.score),
    )  # fmt: skip


# ---- parallel embedding --------------------------------------------------------------------------
_worker_state: dict = {}  # what each worker process embeds with, set by _init_worker


def embed_many(
    todo: list[tuple[str, str | None]],
    embedder: Embedder,
    cache: FeatureCache,
    workers: int = 1,
    max_duration: float = audio.MAX_DURATION_S,
) -> Iterator[tuple[str, EmbeddedFile | str]]:
    """Embed ``(path, content hash or None)`` pairs; yield ``(path, EmbeddedFile or error reason)`` in order.

    Runs in ``workers`` spawned processes when more than one (not forked: a parent that has run a
    PyTorch network hangs its forked children); a file that fails never stops the others.
    """
    _init_worker(embedder, cache, max_duration)
    if workers <= 1 or len(todo) <= 1:
        for path, content_hash in todo:
            yield path, _embed_one(path, content_hash)
        return
    _warm_up(embedder)  # compile (and cache) numba code once, so workers never compile concurrently
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_pool_worker, initargs=(embedder, cache, max_duration)
    ) as pool:
        futures = [pool.submit(_embed_one, path, content_hash) for path, content_hash in todo]
        for (path, _), future in zip(todo, futures):
            try:
                yield path, future.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker must not stop the batch
                yield path, f"internal error ({type(exc).__name__}: {exc})"


def _init_worker(embedder: Embedder, cache: FeatureCache, max_duration: float) -> None:
    _worker_state.update(embedder=embedder, cache=cache, max_duration=max_duration)


def _init_pool_worker(embedder: Embedder, cache: FeatureCache, max_duration: float) -> None:
    """A pool worker computes on one thread: the workers already share the cores between them."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    _init_worker(embedder, cache, max_duration)


def _embed_one(path: str, content_hash: str | None) -> EmbeddedFile | str:
    state = _worker_state
    try:
        return embed_file(
            path, state["embedder"], state["cache"], content_hash=content_hash, max_duration=state["max_duration"]
        )
    except AudioError as exc:
        return exc.reason
    except (MemoryError, ValueError, RuntimeError) as exc:
        return f"could not be processed ({type(exc).__name__}: {exc})"


def _warm_up(embedder: Embedder) -> None:
    t = np.arange(3 * embedder.feature.sr) / embedder.feature.sr
    embedder.embed_audio((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))


def _as_record(item: EmbeddedFile) -> NewRecording:
    return NewRecording(
        path=item.path,
        content_hash=item.content_hash,
        vector=item.vector,
        duration=item.duration,
        title=item.tags.get("title"),
        artist=item.tags.get("artist"),
        album=item.tags.get("album"),
    )


def _commit(catalog: Catalog, batch: list[NewRecording], embedder: Embedder, report: IndexReport) -> None:
    added, replaced = catalog.add(batch, embedder=embedder.identity)
    report.added += added
    report.replaced += replaced
    batch.clear()
