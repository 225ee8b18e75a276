"""`homage scan`: which files of a folder of new releases borrow from a catalog?

Every audio file under the folder is queried against the catalog with the default ranking (the embedding's
and the words' top candidates, aligned and re-ranked) and judged at the candidates it was judged among; the
work runs on the one executor and goes on past bad files. A scan resumes where it stopped, and only when its
answers cannot have changed (the catalog's content, the embedder, the calibration and the options are the
same): see :func:`_answer_key`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from homage import audio
from homage.align.rerank import FUSION_WEIGHTS, LYRICS_WEIGHT, RERANK_DEPTH
from homage.align.verdict import load_calibration
from homage.align.verdict import threshold as verdict_threshold
from homage.catalog import Catalog
from homage.config import stable_hash
from homage.errors import Failure
from homage.features.cache import FeatureCache, default_cache_dir
from homage.models import Embedder
from homage.parallel import DEFAULT_WORKERS, Executor, as_executor
from homage.pipeline.analysis import transcription
from homage.pipeline.indexing import embedder_for, reader
from homage.pipeline.search import alignment_json, query


@dataclass(frozen=True)
class Flag:
    """A new file that looks like a version of a catalogued recording."""

    path: str  # the new file
    recording: dict  # the catalogued recording (id, path, title, artist, …)
    verdict: str
    probability: float
    similarity: float
    alignment: dict  # score, transposition_semitones, tempo_ratio, segments (seconds in both)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "recording": self.recording,
            "verdict": self.verdict,
            "probability": round(self.probability, 4),
            "similarity": round(self.similarity, 6),
            "alignment": self.alignment,
        }


@dataclass
class ScanReport:
    root: str
    catalog: str
    threshold: str
    scanned: int = 0  # files scanned in this run
    resumed: int = 0  # files scanned by an earlier, interrupted run of the same scan
    flags: list[Flag] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    state: str = ""  # where the scan keeps what it has done (to resume)

    def to_json(self) -> dict:
        return {
            "root": self.root,
            "catalog": self.catalog,
            "threshold": self.threshold,
            "scanned": self.scanned,
            "resumed": self.resumed,
            "flagged": [f.to_json() for f in self.flags],
            "failed": [f.to_json() for f in self.failed],
            "seconds": round(self.seconds, 3),
            "state": self.state,
        }


class _ScanOne:
    """Query one file against the catalog, in a worker: each process opens the catalog (and loads its
    index) once."""

    def __init__(self, catalog: str, threshold: float, k: int, cache: FeatureCache, words: bool | None = None):
        self.catalog, self.threshold, self.k, self.cache, self.words = catalog, threshold, k, cache, words

    def __call__(self, item: tuple[str, str]) -> dict:
        path, content_hash = item
        result = query(path, reader(self.catalog), k=self.k, words=self.words, cache=self.cache)
        flags = [
            Flag(
                result.query, m.recording.to_json(), m.verdict, m.probability, m.similarity, alignment_json(m.alignment)
            ).to_json()
            for m in result.matches
            if m.probability is not None and m.probability >= self.threshold
        ]
        return {"path": path, "hash": content_hash, "flags": flags}


def scan(
    root: str | Path,
    catalog_path: str | Path,
    *,
    threshold: str = "maybe",
    k: int = 10,
    cache: FeatureCache | None = None,
    workers: int | Executor = DEFAULT_WORKERS,
    state: str | Path | None = None,
    words: bool | None = None,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
) -> ScanReport:
    """Query every audio file under ``root`` against the catalog (the default ranking: the embedding's top
    100 re-ranked by alignment) and flag the catalogued recordings each is a version of, at or above
    ``threshold`` ("maybe" or "version"). Bad files are reported and skipped; what is done is kept in
    ``state`` (default: in the feature cache folder), so an interrupted scan resumes where it stopped —
    only while its answers cannot have changed (same catalog content, embedder, calibration, weights and
    words); otherwise it starts over. ``words``: as :func:`query` takes it.
    """
    at = verdict_threshold(threshold)
    started = time.perf_counter()
    executor = as_executor(workers)
    cache = cache if cache is not None else FeatureCache.default()
    root, catalog_path = audio.absolute(root), audio.absolute(catalog_path)
    with Catalog(catalog_path) as catalog:
        embedder = embedder_for(catalog)  # a catalog this homage cannot query is an error before any work
        answer = _answer_key(catalog, embedder, words)
    state = (
        Path(state)
        if state
        else default_cache_dir() / "scans" / f"{stable_hash([str(root), str(catalog_path), threshold, k])}.jsonl"
    )
    report = ScanReport(str(root), str(catalog_path), threshold, state=str(state))
    files = audio.find_audio(root, on_skip=report.failed.append)
    resuming = _state_key(state) == answer
    done = _read_state(state) if resuming else {}
    todo = []
    for path in files:
        try:
            content_hash = audio.file_hash(path)
        except audio.AudioError as exc:
            report.failed.append(Failure(exc.path, exc.reason))
            continue
        earlier = done.get(str(path))
        if earlier is not None and earlier["hash"] == content_hash:
            report.resumed += 1
            report.flags += [Flag(**f) for f in earlier["flags"]]
        else:
            todo.append((str(path), content_hash))
    if on_start:
        on_start(len(todo) + len(report.failed))
    for failure in report.failed if on_item else ():
        on_item(failure.path, failure.reason)
    state.parent.mkdir(parents=True, exist_ok=True)
    task = _ScanOne(str(catalog_path), at, k, cache, words)
    with open(state, "a" if resuming else "w", encoding="utf-8") as log:
        if not resuming:
            log.write(json.dumps({"answer_key": answer}) + "\n")
        for (path, _), result in executor.map(task, todo):
            if isinstance(result, Failure):
                report.failed.append(result)
            else:
                log.write(json.dumps(result) + "\n")
                log.flush()
                report.scanned += 1
                report.flags += [Flag(**f) for f in result["flags"]]
            if on_item:
                on_item(path, result.reason if isinstance(result, Failure) else None)
    report.flags.sort(key=lambda f: (-f.probability, f.path))
    report.seconds = time.perf_counter() - started
    return report


def _answer_key(catalog: Catalog, embedder: Embedder, words: bool | None) -> str:
    """What decides a scan's answers beside the files: the catalog's content (its generation), the embedder,
    the calibration, the ranking's weights and depth, and the words asked for."""
    options = transcription(words)
    return stable_hash(
        [
            catalog.generation,
            embedder.identity,
            asdict(load_calibration()),
            FUSION_WEIGHTS,
            LYRICS_WEIGHT,
            RERANK_DEPTH,
            options.identity if options else None,
        ]
    )


def _state_key(path: Path) -> str | None:
    """The answer key an earlier run of a scan recorded on its first line (None: none, or no file)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.readline()).get("answer_key")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


def _read_state(path: Path) -> dict[str, dict]:
    """What an earlier run of the scan recorded, by file, after its answer key (a torn last line from a kill
    is ignored); read only when that key is this run's."""
    found = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            try:
                row = json.loads(line)
                found[row["path"]] = row
            except (json.JSONDecodeError, KeyError):
                continue
    return found
