"""`homage groups`: the catalog's recordings grouped into works (which recordings are versions of one
another?), incrementally: recordings already placed keep their groups unless asked to regroup.

Links come from the default ranking's evidence (the embedding's neighbours aligned, and the words) judged by
:func:`homage.align.verdict.judge`, the one pair judgement; a group is a set of recordings joined by links
at the threshold.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from homage import lyrics
from homage.align import SEQUENCE_COLUMNS, Prepared
from homage.align.verdict import judge, load_calibration
from homage.align.verdict import threshold as verdict_threshold
from homage.catalog import Catalog
from homage.models import Embedder
from homage.pipeline.analysis import ALIGN_CONFIG, SEQUENCE_KIND
from homage.pipeline.indexing import CatalogLike, open_catalog


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
    started = time.perf_counter()
    cut = verdict_threshold(threshold)
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
