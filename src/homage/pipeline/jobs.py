"""The jobs catalog teams run every week: scan a folder of new releases against a catalog (which of them
borrow from it?), and group a whole catalog into works (which recordings are versions of one another?).

Both use the default ranking (embedding and words, then alignment); both run on the one executor and go on past
bad files; a scan resumes where it stopped, and grouping is incremental.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from homage import audio, lyrics
from homage.align import SEQUENCE_COLUMNS, Prepared
from homage.align.rerank import FUSION_WEIGHTS, LYRICS_WEIGHT, RERANK_DEPTH
from homage.align.verdict import MAYBE_AT, VERSION_AT, judge, load_calibration
from homage.atomic import atomic_write
from homage.catalog import Catalog
from homage.config import stable_hash
from homage.errors import Failure, ParameterError
from homage.features.cache import FeatureCache, default_cache_dir
from homage.models import Embedder
from homage.parallel import DEFAULT_WORKERS, Executor, as_executor
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND, transcription
from homage.pipeline.library import CatalogLike, embedder_for, open_catalog
from homage.pipeline.search import alignment_json, query

THRESHOLDS = {"maybe": MAYBE_AT, "version": VERSION_AT}


# ---- scan -----------------------------------------------------------------------------------------------
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
        result = query(path, _shared_catalog(self.catalog), k=self.k, words=self.words, cache=self.cache)
        flags = [
            Flag(
                result.query, m.recording.to_json(), m.verdict, m.probability, m.similarity, alignment_json(m.alignment)
            ).to_json()
            for m in result.matches
            if m.probability is not None and m.probability >= self.threshold
        ]
        return {"path": path, "hash": content_hash, "flags": flags}


@functools.lru_cache(maxsize=4)
def _shared_catalog(path: str) -> Catalog:
    return Catalog(path)


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
    on_file: Callable[[str, str | None], None] | None = None,
) -> ScanReport:
    """Query every audio file under ``root`` against the catalog (the default ranking: the embedding's top
    100 re-ranked by alignment) and flag the catalogued recordings each is a version of, at or above
    ``threshold`` ("maybe" or "version"). Bad files are reported and skipped; what is done is kept in
    ``state`` (default: in the feature cache folder), so an interrupted scan resumes where it stopped —
    only while its answers cannot have changed (same catalog content, embedder, calibration, weights and
    words); otherwise it starts over. ``words``: as :func:`query` takes it.
    """
    if threshold not in THRESHOLDS:
        raise ParameterError(f"threshold must be one of {', '.join(THRESHOLDS)}, not {threshold!r}")
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
    for failure in report.failed if on_file else ():
        on_file(failure.path, failure.reason)
    state.parent.mkdir(parents=True, exist_ok=True)
    task = _ScanOne(str(catalog_path), THRESHOLDS[threshold], k, cache, words)
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
            if on_file:
                on_file(path, result.reason if isinstance(result, Failure) else None)
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


def write_scan_report(report: ScanReport, folder: str | Path, *, cache: FeatureCache | None = None) -> Path:
    """``folder/report.html``: one self-contained page (pictures inline) with, per flagged pair, the verdict,
    the numbers, the matched passages and the alignment picture; and ``folder/flagged.csv``."""
    import base64
    import csv
    import html
    import io

    from homage.align.report import clock, plot_alignment
    from homage.pipeline.search import compare

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "flagged.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "file",
                "catalog_id",
                "catalog_path",
                "catalog_label",
                "verdict",
                "probability",
                "transposition_semitones",
                "tempo_ratio",
                "matched_spans",
            ]
        )
        for f in report.flags:
            spans = "; ".join(
                f"A {clock(g['a_start'])}–{clock(g['a_end'])} = B {clock(g['b_start'])}–{clock(g['b_end'])}"
                for g in f.alignment["segments"]
            )
            writer.writerow(
                [
                    f.path,
                    f.recording["id"],
                    f.recording["path"],
                    f.recording["label"],
                    f.verdict,
                    f"{f.probability:.3f}",
                    f.alignment["transposition_semitones"],
                    f.alignment["tempo_ratio"],
                    spans,
                ]
            )
    parts = [
        f"<h1>homage scan of {html.escape(report.root)}</h1>",
        f"<p>Against the catalog {html.escape(report.catalog)}; threshold “{report.threshold}”. "
        f"{report.scanned + report.resumed} files scanned, {len(report.flags)} flagged pairs, "
        f"{len(report.failed)} files could not be read. Verdicts are calibrated on real covers where both recordings "
        "have words, on rendered versions where not: listen before acting.</p>",
    ]
    for n, f in enumerate(report.flags, start=1):
        comparison = compare(f.path, f.recording["path"], cache=cache)
        png = base64.b64encode(plot_alignment(comparison, io.BytesIO()).getvalue()).decode()
        rows = "".join(
            f"<tr><td>{k}</td><td>{clock(g['a_start'])}–{clock(g['a_end'])}</td><td>{clock(g['b_start'])}–{clock(g['b_end'])}</td></tr>"
            for k, g in enumerate(f.alignment["segments"], start=1)
        )
        parts.append(
            f"<section><h2>{n}. {html.escape(Path(f.path).name)} ↔ {html.escape(f.recording['label'])}</h2>"
            f"<p><b class='{f.verdict}'>{f.verdict}</b> (probability {f.probability:.2f}); {comparison.summary}; "
            f"embedding similarity {f.similarity:.3f}.</p><p>New file: <code>{html.escape(f.path)}</code><br>"
            f"Catalogued: <code>{html.escape(f.recording['path'])}</code> (id {f.recording['id']})</p>"
            f"<table><tr><th>#</th><th>new file (A)</th><th>catalogued (B)</th></tr>{rows}</table>"
            f"<img alt='cross-recurrence of the pair' src='data:image/png;base64,{png}'></section>"
        )
    if report.failed:
        parts.append(
            "<h2>Files that could not be read</h2><ul>"
            + "".join(f"<li><code>{html.escape(x.path)}</code>: {html.escape(x.reason)}</li>" for x in report.failed)
            + "</ul>"
        )
    style = (
        "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "img{max-width:100%}table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd}"
        ".version{color:#1b7f3b}.maybe{color:#a86400}section{margin:2rem 0;border-top:1px solid #ccc}"
    )
    page = f"<!doctype html><meta charset='utf-8'><title>homage scan</title><style>{style}</style>{''.join(parts)}"
    return atomic_write(folder / "report.html", lambda fh: fh.write(page.encode("utf-8")))


# ---- groups ---------------------------------------------------------------------------------------------
@dataclass
class GroupReport:
    catalog: str
    threshold: str
    recordings: int = 0
    grouped: int = 0  # recordings placed in this run (the others kept their groups)
    groups: int = 0  # groups in the catalog now (singletons included)
    multi: int = 0  # groups of two or more recordings
    aligned_pairs: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return dict(self.__dict__) | {"seconds": round(self.seconds, 3)}


def groups(
    catalog_path: CatalogLike,
    *,
    threshold: str = "version",
    neighbours: int = 20,
    regroup: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
) -> GroupReport:
    """Group the catalog's recordings into works, and store the groups in the catalog.

    Each recording's ``neighbours`` nearest by embedding are candidates; each candidate link is verified by
    aligning the two (a link's score divides Qmax by the frames of the longer recording, so a short clip
    cannot inflate it). A recording joins the group whose members it matches best *on average* — every
    member aligned, a missing link counting as 0 — when that average reaches ``threshold`` ("version" or
    "maybe"); otherwise it starts a group of its own. So one strong link cannot chain two works together.
    Incremental: recordings grouped before keep their groups and new ones join them (``regroup`` starts
    over).
    """
    if threshold not in THRESHOLDS:
        raise ParameterError(f"threshold must be one of {', '.join(THRESHOLDS)}, not {threshold!r}")
    started = time.perf_counter()
    cut = THRESHOLDS[threshold]
    calibration = load_calibration()
    with open_catalog(catalog_path) as catalog:
        report = GroupReport(str(catalog.root), threshold, recordings=len(catalog))
        ids, X = catalog.vectors()
        known = {} if regroup else {r: g for r, (g, _, _) in catalog.groups().items() if r in set(ids.tolist())}
        todo = [int(i) for i in ids if int(i) not in known]
        if on_start:
            on_start(len(todo))
        sequences = catalog.sequences(ids, SEQUENCE_KIND, SEQUENCE_COLUMNS)
        recordings = catalog.by_ids(ids)
        row = {int(i): n for n, i in enumerate(ids)}
        _, I = (
            catalog.search(X[[row[i] for i in todo]], min(neighbours + 1, len(ids)))
            if todo
            else (None, np.zeros((0, 0), int))
        )
        members: dict[int, list[int]] = {}
        for r, g in known.items():
            members.setdefault(g, []).append(r)
        group_of = dict(known)
        strongest: dict[int, tuple[int, float]] = {r: (s, p) for r, (_, s, p) in catalog.groups().items() if r in known}
        vectors = {int(i): x for i, x in zip(ids, X)}
        weights = _words_weights(catalog, ids)
        nearest = [
            [int(j) for j in I[n] if int(j) >= 0]
            + (catalog.words_search(weights[rid], neighbours, exclude=[rid]) if weights.get(rid) else [])
            for n, rid in enumerate(todo)
        ]
        probability = functools.lru_cache(maxsize=None)(
            lambda a, b: _link(a, b, sequences, vectors, weights, calibration)
        )
        for n, rid in enumerate(todo):
            candidates = {group_of[j] for j in nearest[n] if j in group_of and j != rid}
            best_group, best_average = None, cut
            for g in sorted(candidates):
                links = [probability(*sorted((rid, m))) for m in members[g]]
                average = float(np.mean(links))
                if average >= best_average:
                    best_group, best_average = g, average
            links = [(probability(*sorted((rid, j))), j) for j in set(nearest[n]) if j != rid and j in group_of]
            link_p, link_id = max(links, default=(0.0, None))
            if best_group is None:
                best_group = rid  # a group of its own, named after its first recording
                members[best_group] = []
            members[best_group].append(rid)
            group_of[rid] = best_group
            strongest[rid] = (link_id, link_p)
            if link_id is not None and link_p > strongest.get(link_id, (None, 0.0))[1]:
                strongest[link_id] = (rid, link_p)
            report.grouped += 1
            if on_item:
                on_item(recordings[rid].path, None)
        catalog.set_groups({r: (g, *strongest.get(r, (None, 0.0))) for r, g in group_of.items()})
        report.aligned_pairs = probability.cache_info().currsize
    report.groups = len(members)
    report.multi = sum(len(m) > 1 for m in members.values())
    report.seconds = time.perf_counter() - started
    return report


def _words_weights(catalog: Catalog, ids: np.ndarray) -> dict[int, dict[str, float]]:
    """Each transcribed recording's words as TF-IDF weights, with the catalog's document frequencies."""
    stored = catalog.terms(ids)
    df, documents = catalog.document_frequencies({t for terms in stored.values() for t in terms})
    return {rid: lyrics.tfidf(Counter(terms), df, documents) for rid, terms in stored.items() if terms}


def _link(
    a: int,
    b: int,
    sequences: dict[int, np.ndarray],
    vectors: dict[int, np.ndarray],
    weights: dict[int, dict[str, float]],
    calibration,
) -> float:
    """The calibrated probability that recordings ``a`` and ``b`` are versions (0 without sequences), from
    their alignment, their embeddings and their words, judged as one pair (:func:`judge`)."""
    if a not in sequences or b not in sequences:
        return 0.0
    short, long = sorted((sequences[a], sequences[b]), key=len)
    alignment = Prepared(short, ALIGN_CONFIG).align(long, melody=True)
    words = lyrics.similarity(weights.get(a, {}), weights.get(b, {}))
    return judge(alignment, float(Embedder.similarity(vectors[a], vectors[b])[0, 0]), words, calibration=calibration)[0]


def group_table(catalog_path: CatalogLike) -> list[dict]:
    """One row per recording: its group, the group's size, its strongest link and that link's probability."""
    with open_catalog(catalog_path) as catalog:
        stored = catalog.groups()
        recordings = catalog.by_ids(list(stored))
    sizes: dict[int, int] = {}
    for g, _, _ in stored.values():
        sizes[g] = sizes.get(g, 0) + 1
    rows = []
    for rid, (g, link, p) in sorted(stored.items(), key=lambda item: (item[1][0], item[0])):
        if rid not in recordings:
            continue
        rows.append(
            {
                "id": rid,
                "path": recordings[rid].path,
                "label": recordings[rid].label,
                "group": g,
                "group_size": sizes[g],
                "strongest_link": recordings[link].path if link in recordings else None,
                "probability": round(p, 4),
            }
        )
    return rows
