"""Index a folder of audio into a catalog, and the embedder a catalog was built with."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from homage import audio
from homage.align import SEQUENCE_COLUMNS, Prepared
from homage.align.rerank import MIN_COHORT, RERANK_DEPTH, align_candidates, cohort_of
from homage.catalog import Catalog, NewRecording
from homage.catalog.schema import DB_NAME
from homage.errors import AudioError, CatalogError, Failure
from homage.features.cache import FeatureCache
from homage.lyrics import TranscribeOptions
from homage.models import Embedder, get_embedder
from homage.parallel import DEFAULT_WORKERS, Executor, as_executor
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND, Analyze, transcription, warm_up

COMMIT_EVERY = 32  # files per catalog transaction while indexing


@dataclass
class IndexReport:
    found: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    cohorts: int = 0  # recordings given a (new) cohort for S-normalised re-ranking
    transcribed: int = 0  # recordings given their words (new ones, and earlier ones that had none)
    failed: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # indexed, with a problem worked around (a truncated file)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "found": self.found,
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "cohorts": self.cohorts,
            "transcribed": self.transcribed,
            "failed": [f.to_json() for f in self.failed],
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


CatalogLike = str | Path | Catalog  # a catalog folder, or a catalog already open (a server keeps one)


@contextmanager
def open_catalog(catalog: CatalogLike, **options) -> Iterator[Catalog]:
    """``catalog`` itself when it is open, else the catalog at that folder, opened and closed here."""
    if isinstance(catalog, Catalog):
        yield catalog
    else:
        with Catalog(catalog, **options) as opened:
            yield opened


def embedder_for(catalog: Catalog) -> Embedder:
    """The embedder whose vectors ``catalog`` holds (the default one for an empty catalog); an error if
    this installation has another version of it."""
    if catalog.embedder is None:
        return get_embedder()
    embedder = get_embedder(catalog.embedder.split("@")[0])
    if embedder.identity != catalog.embedder:
        raise CatalogError(
            f"{catalog.root}: built with embedder {catalog.embedder}, this homage has {embedder.identity} "
            "(its features or weights changed); re-index: `homage index` its folders into a new catalog"
        )
    return embedder


def analyze_many(
    todo: list[tuple[str, str | None]],
    embedder: Embedder,
    cache: FeatureCache,
    workers: int | Executor = DEFAULT_WORKERS,
    *,
    sequence: bool = True,
    words: TranscribeOptions | None = None,
    max_seconds: float = audio.MAX_SECONDS,
) -> Iterator[tuple[str, NewRecording | Failure]]:
    """Analyse ``(path, content hash or None)`` items; yield ``(path, NewRecording or Failure)`` in order.
    A file that fails never stops the others."""
    executor = as_executor(workers)
    if executor.workers > 1 and len(todo) > 1:
        warm_up(embedder)
    task = Analyze(embedder, cache, sequence=sequence, words=words, max_seconds=max_seconds)
    for (path, _), result in executor.map(task, todo):
        yield path, result


def index_dir(
    root: str | Path,
    catalog_path: CatalogLike,
    *,
    embedder: Embedder | str | None = None,
    cache: FeatureCache | None = None,
    workers: int | Executor = DEFAULT_WORKERS,
    prune: bool = False,
    cohorts: bool = True,
    words: bool | None = None,
    lyrics_model: str | None = None,
    index_kind: str = "auto",
    max_seconds: float = audio.MAX_SECONDS,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_stage: Callable[[str, int], None] | None = None,
    lock_wait: float = 0.0,
) -> IndexReport:
    """Add every audio file under ``root`` to the catalog, skipping files whose content is unchanged.

    Bad files are reported in ``IndexReport.failed`` and skipped; the rest goes on. Work is committed
    every few files (and what is done when the run is interrupted), so an interrupted run keeps what it
    finished. ``prune`` removes catalogued files under ``root`` that no longer exist; ``cohorts`` False
    leaves the recordings' cohorts to a later run (a bulk load). ``words`` (None: when this installation
    can transcribe) transcribes each recording's sung words (with ``lyrics_model``, default the packaged
    ``tiny.en``), and those of recordings under ``root`` indexed earlier without them. ``embedder`` (for a new
    catalog; a name or an Embedder) defaults to the catalog's own, or the shipped one.
    ``on_start(n_files_to_report)``, ``on_item(path, error_or_None)`` and ``on_warning(line)`` (a file
    indexed with a problem worked around, e.g. truncated) report progress; ``on_stage(name, total)`` starts
    the cohort stage (:func:`refresh_cohorts`), whose recordings ``on_item`` reports too. Another process writing the
    catalog is waited for up to ``lock_wait`` seconds, then reported as a CatalogError.
    """
    started = time.perf_counter()
    executor = as_executor(workers)  # a bad value is refused before any work
    cache = cache if cache is not None else FeatureCache.default()
    report = IndexReport()
    options = transcription(words, lyrics_model)
    files = audio.find_audio(root, on_skip=report.failed.append)
    report.found = len(files) + len(report.failed)
    with open_catalog(catalog_path, create=True, index_kind=index_kind) as catalog, catalog.writer(wait=lock_wait):
        embedder = get_embedder(embedder) if isinstance(embedder, str) else embedder or embedder_for(catalog)
        if catalog.embedder not in (None, embedder.identity):
            raise CatalogError(f"{catalog.root}: catalog holds vectors of {catalog.embedder}, not {embedder.identity}")
        todo, untranscribed = [], set(catalog.without_words()) if options else set()
        for path in files:
            try:
                content_hash = audio.file_hash(path)
            except AudioError as exc:
                report.failed.append(Failure(exc.path, exc.reason))
                continue
            known = catalog.get(path)
            if known is not None and known.content_hash == content_hash:
                report.unchanged += 1
                if known.id in untranscribed:
                    todo.append((str(path), content_hash))
            else:
                todo.append((str(path), content_hash))
        if on_start:
            on_start(len(todo) + len(report.failed))
        for failure in report.failed if on_item else ():  # unreadable before any decoding
            on_item(failure.path, failure.reason)
        batch: list[NewRecording] = []
        try:
            for path, result in analyze_many(todo, embedder, cache, executor, words=options, max_seconds=max_seconds):
                if isinstance(result, Failure):
                    report.failed.append(result)
                else:
                    batch.append(result)
                    report.warnings += result.warnings
                if on_item:
                    on_item(path, result.reason if isinstance(result, Failure) else None)
                if on_warning:
                    for warning in getattr(result, "warnings", ()):
                        on_warning(warning)
                if len(batch) >= COMMIT_EVERY:
                    _commit(catalog, batch, embedder, report)
        finally:  # an interrupted run keeps what it finished
            _commit(catalog, batch, embedder, report)
        if prune:
            present = {str(p) for p in files}
            gone = [r.path for r in catalog.recordings(under=audio.absolute(root)) if r.path not in present]
            report.removed = catalog.remove(gone)
        if cohorts:
            report.cohorts = refresh_cohorts(catalog, workers=executor, on_stage=on_stage, on_item=on_item)
    report.seconds = time.perf_counter() - started
    return report


def refresh_cohorts(
    catalog: Catalog,
    *,
    depth: int = RERANK_DEPTH,
    workers: int | Executor = 1,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
) -> int:
    """Give each recording without a cohort, or with one measured against fewer candidates than the catalog
    now offers, its cohort (:class:`homage.align.rerank.Cohort`): its own top ``depth`` candidates aligned
    as a query aligns them, in summary. Re-ranking S-normalises by it. About one query's alignments per
    recording (≈ 0.3 s for 4-minute songs), measured on ``workers`` (each reads the catalog as committed,
    a few recordings in flight per worker: memory does not grow with the catalog); stored every few
    recordings. Returns how many were stored."""
    size = min(depth, len(catalog) - 1)
    todo = catalog.without_cohort(size) if size >= MIN_COHORT else []
    if not todo:
        return 0
    if on_stage:
        on_stage("cohorts", len(todo))
    catalog.flush()  # the index the workers load is on disk, not rebuilt by each of them
    paths = {i: r.path for i, r in catalog.by_ids(todo).items()}
    stored, batch = 0, {}
    task = _Cohort(str(catalog.root), depth)
    for rid, result in as_executor(workers).map(task, todo, ordered=False):
        if isinstance(result, tuple):
            batch[rid] = result
        if on_item:
            on_item(paths.get(rid, str(rid)), result.reason if isinstance(result, Failure) else None)
        if len(batch) >= COMMIT_EVERY:
            catalog.set_cohorts(batch)
            stored, batch = stored + len(batch), {}
    catalog.set_cohorts(batch)
    return stored + len(batch)


def reader(path: str) -> Catalog:
    """The catalog at ``path`` opened read-only, once per process: what a worker reads its parent's catalog
    through (it sees each commit; it never writes). A catalog removed and made anew is opened anew."""
    try:
        identity = (Path(path) / DB_NAME).stat().st_ino
    except OSError:
        identity = None  # no catalog: opening it says so
    return _reader(path, identity)


@functools.lru_cache(maxsize=4)
def _reader(path: str, identity: int | None) -> Catalog:
    return Catalog(path, read_only=True)


class _Cohort:
    """One recording's cohort — ``(candidates, summary)``, or None without a sequence — as a picklable task."""

    def __init__(self, catalog: str, depth: int):
        self.catalog, self.depth = catalog, depth

    def __call__(self, rid: int) -> tuple[int, np.ndarray] | None:
        catalog = reader(self.catalog)
        (vector,) = catalog.vectors([rid])[1]
        S, I = catalog.search(vector, self.depth, exclude=[rid])
        found = I[0] >= 0
        neighbours, similarity = I[0][found], S[0][found].astype(float)
        sequences = catalog.sequences([rid, *neighbours.tolist()], SEQUENCE_KIND, SEQUENCE_COLUMNS)
        if rid not in sequences:
            return None
        candidates = [sequences.get(int(i)) for i in neighbours]
        aligned = align_candidates(Prepared(sequences[rid], ALIGN_CONFIG), candidates, ALIGN_CONFIG)
        cohort = cohort_of(aligned, similarity)
        return None if cohort is None else (len(neighbours), cohort.to_array())


def _commit(catalog: Catalog, batch: list[NewRecording], embedder: Embedder, report: IndexReport) -> None:
    """Store the batch: new and changed files as recordings, unchanged ones given the words they lacked."""
    known = {r.path: r for r in (catalog.get(e.path) for e in batch) if r is not None}
    words_only = {
        known[e.path].id: e.words
        for e in batch
        if e.path in known and known[e.path].content_hash == e.content_hash and e.words is not None
    }
    if words_only:
        catalog.set_words(words_only)
    added, replaced = catalog.add(
        [e for e in batch if known.get(e.path) is None or known[e.path].id not in words_only],
        embedder=embedder.identity,
        sequence_kind=SEQUENCE_KIND,
    )
    report.added += added
    report.replaced += replaced
    report.transcribed += sum(e.words is not None for e in batch)
    batch.clear()


def catalog_info(catalog_path: CatalogLike) -> dict:
    """What a catalog holds: recordings, hours of audio, embedder, index kind, size on disk."""
    with open_catalog(catalog_path) as catalog:
        return catalog.info()


def optimize(catalog_path: CatalogLike) -> dict:
    """Merge the recordings added and removed since the catalog's main index was written into a new one."""
    with open_catalog(catalog_path) as catalog, catalog.writer(wait=30):
        return catalog.optimize()


def list_recordings(catalog_path: CatalogLike, *, offset: int = 0, limit: int = 50, text: str | None = None) -> dict:
    """One page of a catalog's recordings, filtered by ``text`` in title/artist/album/path."""
    with open_catalog(catalog_path) as catalog:
        total, page = catalog.page(offset=offset, limit=limit, text=text)
    return {"total": total, "offset": offset, "limit": limit, "recordings": [r.to_json() for r in page]}


def remove(paths: list[str | Path], catalog_path: CatalogLike) -> int:
    """Remove recordings (by the path they were indexed under) from a catalog; how many were there."""
    with open_catalog(catalog_path) as catalog:
        return catalog.remove(str(audio.absolute(p)) for p in paths)
