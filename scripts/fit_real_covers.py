"""Fit what real covers decide — the words' weight in the ranking and the verdict calibration — on a set of
real covers, by leave-one-work-out cross-validation, and report the cross-validated figures.

    .venv/bin/python scripts/fit_real_covers.py ../shared/data/covers80-dev [--write] [--markdown]

For each work in turn, everything is fitted on the pairs and queries of the other works and judged on the
held-out one: the ranking's words weight (the grid's best MAP over the other works' queries) and the
logistic calibration with its nulls (on every pair not touching the work; a pair of two works is judged by
a fit that saw neither). The figures printed are those cross-validated ones, never in-sample. With
``--write`` the fit on all works of the variant chosen by :func:`_choose` is written to
``src/homage/align/assets/calibration.json`` (pairs without lyric evidence keep the shipped fit on rendered
versions: instrumental music is judged as before), and the words weight to set in
``homage.align.rerank.LYRICS_WEIGHT`` is printed. Network weights are never
trained here. The scan columns simulate a scan of a catalog holding the first version of each work, the others
scanned, at the candidate count a catalog query judges (embedding and words top 100): the candidates of a
query judged together — how far each stands out among the others (:class:`homage.align.verdict.Standout`,
fitted per held-out work on the cross-validated log-odds of every query × candidate of the other works) — and,
for comparison, each on its own with only the prior of the candidate count. "Originals" are every recording
scanned against the catalog without its own work: a new release that borrows from nothing catalogued.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from itertools import combinations

import numpy as np

from homage.align.rerank import LYRICS_WEIGHT, RERANK_DEPTH
from homage.align.verdict import (
    CALIBRATION_FILE,
    MAYBE_AT,
    MIN_CANDIDATES,
    VERSION_AT,
    Calibration,
    Standout,
    among_rivals,
    evidence_of,
    feature_values,
    fit_calibration,
    fit_nulls,
    load_calibration,
    log_odds_of,
)
from homage.data.manifest import load_dataset
from homage.features.cache import FeatureCache
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.evaluate import aligned_rows, ranked_scores, words_similarity
from homage.pipeline.grouping import place
from homage.pipeline.indexing import analyze_many

PITCH = ("score_min_z", "melody_min_z", "log_min", "log_max", "similarity")
# with words: the pitch scores in null units (which already read the lengths), the embeddings and the words;
# the log lengths themselves are left out (every pair here is two whole songs: a clip would extrapolate)
WITH_WORDS = ("score_min_z", "melody_min_z", "similarity", "words")
# the calibrations compared: what they read, and the L2 penalty of the fit (the one shipped: _choose)
VARIANTS = {
    "pitch": (PITCH, 0.0),
    "pitch + words, lengths too, l2 0.1": ((*PITCH, "words"), 0.1),
    "pitch + words": (WITH_WORDS, 0.0),
    "pitch + words, l2 0.03": (WITH_WORDS, 0.03),
    "pitch + words, l2 0.1": (WITH_WORDS, 0.1),
    "pitch + words, l2 0.3": (WITH_WORDS, 0.3),
    "pitch + words in null units, l2 0.1": (("score_min_z", "melody_min_z", "similarity", "words_z"), 0.1),
}
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # the words weights tried
LOG_LOSS_SLACK = 0.01  # variants this close to the lowest cross-validated log loss count as calibrated alike


def _choose(rows: dict[str, dict]) -> str:
    """The calibration to ship: among the variants with words whose cross-validated log loss is within
    ``LOG_LOSS_SLACK`` of the lowest (probabilities as trustworthy), the one whose simulated scan flags the
    most covers — then the fewest false flags, then the lower log loss (what a rights team acts on)."""
    labels = [label for label in rows if label != "pitch"]
    lowest = min(rows[label]["log loss"] for label in labels)
    calibrated = [label for label in labels if rows[label]["log loss"] <= lowest + LOG_LOSS_SLACK]
    return max(
        calibrated,
        key=lambda label: (rows[label]["scan flagged"], -rows[label]["scan false per 100"], -rows[label]["log loss"]),
    )


def mean_ap(final: np.ndarray, works: np.ndarray, queries: np.ndarray, columns: np.ndarray) -> tuple[float, float]:
    """MAP and top-1 of ``queries`` ranking ``columns`` by ``final`` (themselves excluded; queries without
    a version among the columns are skipped)."""
    aps, tops = [], []
    for q in queries:
        others = columns[columns != q]
        relevant = works[others] == works[q]
        if not relevant.any():
            continue
        order = np.argsort(-final[q, others], kind="stable")
        hits = relevant[order]
        aps.append(float((np.cumsum(hits) / np.arange(1, len(hits) + 1))[hits].mean()))
        tops.append(float(hits[0]))
    return float(np.mean(aps)), float(np.mean(tops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write the fit on all works as the shipped calibration")
    parser.add_argument("--markdown", action="store_true", help="(the tables are Markdown in any case)")
    parser.add_argument(
        "--judged",
        type=int,
        default=120,
        help="candidates a scan's query judges (a catalog of ~120: the embedding's and the words' top 100)",
    )
    args = parser.parse_args()
    entries = load_dataset(args.data)
    cache = FeatureCache.default()
    embedder = get_embedder(DEFAULT_EMBEDDER)
    kept, vectors, sequences = [], [], []
    for entry, (_, result) in zip(
        entries, analyze_many([(str(e.path), None) for e in entries], embedder, cache, args.workers)
    ):
        if not hasattr(result, "reason"):
            kept.append(entry)
            vectors.append(result.vector)
            sequences.append(result.sequence)
    works = np.array([e.work for e in kept])
    S = embedder.similarity(np.array(vectors), np.array(vectors))
    W, _ = words_similarity([str(e.path) for e in kept], cache, args.workers)
    rows, cohorts = aligned_rows(S, sequences, RERANK_DEPTH, W)
    everyone = np.arange(len(kept))
    held = {w: np.flatnonzero(works == w) for w in sorted(set(works))}

    # ---- the ranking: words weight by leave-one-work-out --------------------------------------------------
    finals = {w: ranked_scores(S, rows, cohorts, W, w) for w in WEIGHTS}
    ap_rows = {}
    chosen = []
    predicted = np.zeros_like(S)
    for mine in held.values():
        rest = np.setdiff1d(everyone, mine)
        best = max(WEIGHTS, key=lambda w: (mean_ap(finals[w], works, rest, rest)[0], -w))
        chosen.append(best)
        predicted[mine] = finals[best][mine]
    ap_rows["pitch (csi+rerank100)"] = mean_ap(finals[0.0], works, everyone, everyone)
    only_words = np.nan_to_num(W, nan=-1.0)
    ap_rows["words alone"] = mean_ap(only_words, works, everyone, everyone)
    ap_rows["pitch + words, weight cross-validated"] = mean_ap(predicted, works, everyone, everyone)
    weight_all = max(WEIGHTS, key=lambda w: (mean_ap(finals[w], works, everyone, everyone)[0], -w))

    # ---- the verdicts: calibration by leave-one-work-out ---------------------------------------------------
    pairs = list(combinations(range(len(kept)), 2))
    evidence = []
    for i, j in pairs:
        others, alignments = rows[i]
        al = alignments[int(np.flatnonzero(others == j)[0])]
        evidence.append(evidence_of(al, float(S[i, j]), None if np.isnan(W[i, j]) else float(W[i, j])))
    same = np.array([works[i] == works[j] for i, j in pairs])
    pair_works = [(works[i], works[j]) for i, j in pairs]
    verdict_rows, fits, cv_probabilities, standouts = {}, {}, {}, {}
    shipped = load_calibration()
    without_words = shipped.without_words or shipped  # the fit on rendered (instrumental) versions
    for label, (names, l2) in VARIANTS.items():
        p_cv = np.zeros(len(pairs))
        models = {}
        for n, (a, b) in enumerate(pair_works):
            key = tuple(sorted({a, b}))
            if key not in models:
                train = [m for m, (x, y) in enumerate(pair_works) if x not in key and y not in key]
                models[key] = _fit(
                    [evidence[m] for m in train], same[train], names, "cross-validation fold", l2, without_words
                )
            p_cv[n] = models[key].probability_of(evidence[n])
        P = np.full(S.shape, np.nan)
        P[tuple(np.array(pairs).T)] = P[tuple(np.array(pairs).T[::-1])] = p_cv
        verdict_rows[label] = _verdicts(p_cv, same, P, W, works, held, args.judged)
        cv_probabilities[label] = p_cv
        fitted_on = _fitted_on(args.data, len(pairs), int(same.sum()))
        fits[label] = _fit(evidence, same, names, fitted_on, l2, without_words)
        standouts[label] = _standout(
            P,
            works,
            everyone,
            f"every query × candidate of {args.data}, each query with and without its versions, "
            "on the pair probabilities of this calibration cross-validated (leave one work out)",
        )

    best = _choose(verdict_rows)
    _print(args, ap_rows, chosen, weight_all, verdict_rows, len(kept), len(held), best)
    grouped = _grouped(dict(zip(pairs, cv_probabilities[best])), works, S, W)
    print(
        f"groups simulated with the cross-validated link probabilities of the shipped calibration ({best}; "
        f"candidates: each recording's 20 nearest by embedding and 20 by words; threshold version): pair "
        f"precision {grouped['precision']:.3f}, recall {grouped['recall']:.3f}, F1 {grouped['f1']:.3f}, "
        f"{grouped['exact']} of {len(held)} works recovered exactly\n"
    )
    if args.write:  # pairs without lyric evidence keep the shipped fit on rendered (instrumental) versions
        shipped = replace(fits[best], standout=standouts[best])
        print(f"written ({best}; without words: {without_words.fitted_on[:60]}…): {shipped.save(CALIBRATION_FILE)}")
        print(f"words weight on all works: {weight_all} (homage.align.rerank.LYRICS_WEIGHT is {LYRICS_WEIGHT})")


def _grouped(p_by_pair: dict, works: np.ndarray, S: np.ndarray, W: np.ndarray, neighbours: int = 20) -> dict:
    """`homage groups` on these recordings with the given link probabilities (its own placement rule,
    :func:`homage.pipeline.grouping.place`), scored as pairs "same group" against the true works."""
    group_of, members = {}, {}
    words = np.nan_to_num(W, nan=-1.0)
    for rid in range(len(works)):
        by_words = [int(j) for j in np.argsort(-words[rid])[:neighbours] if words[rid, j] > 0]
        near = [int(j) for j in np.argsort(-S[rid])[: neighbours + 1]] + by_words
        group, _, _ = place(rid, near, group_of, members, lambda a, b: p_by_pair[(min(a, b), max(a, b))], VERSION_AT)
        if group is None:
            group, members[rid] = rid, []
        members[group].append(rid)
        group_of[rid] = group
    together = np.array([group_of[i] == group_of[j] for i, j in combinations(range(len(works)), 2)])
    same = np.array([works[i] == works[j] for i, j in combinations(range(len(works)), 2)])
    precision = (together & same).sum() / max(together.sum(), 1)
    recall = (together & same).sum() / max(same.sum(), 1)
    exact = 0
    for w in set(works):
        mine = np.flatnonzero(works == w)
        group = group_of[int(mine[0])]
        exact += all(group_of[int(i)] == group for i in mine) and len(members[group]) == len(mine)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "exact": exact,
    }


def _fit(
    evidence: list[dict],
    same: np.ndarray,
    names: tuple[str, ...],
    fitted_on: str,
    l2: float,
    without_words: Calibration,
) -> Calibration:
    """A calibration fitted on the pairs with lyric evidence (all of them for a pitch-only fit); pairs
    without are judged by ``without_words``, as the shipped calibration judges them."""
    words = "words" in names or "words_z" in names
    rows = [n for n, e in enumerate(evidence) if e["words"] is not None or not words]
    nulls = fit_nulls([evidence[n] for n in rows if not same[n]], names)
    X = np.array([feature_values(evidence[n], names, nulls) for n in rows])
    fitted = fit_calibration(X, same[rows], fitted_on, names, nulls, l2)
    return replace(fitted, without_words=without_words) if words else fitted


def _fitted_on(data: str, n: int, versions: int) -> str:
    return (
        f"{n} pairs of real covers ({versions} versions, {n - versions} non-versions): every pair of {data}, "
        "whole recordings; features and words weight chosen by leave-one-work-out cross-validation"
    )


def _standout(P: np.ndarray, works: np.ndarray, keep: np.ndarray, fitted_on: str) -> Standout:
    """The second stage fitted on every query × candidate among the recordings ``keep`` from their
    cross-validated pair probabilities ``P`` (what the shipped calibration says of recordings it has not
    seen): each query among all the others kept, and again without its versions (an original)."""
    X, y = [], []
    for q in keep:
        others = keep[keep != q]
        for candidates in (others, others[works[others] != works[q]]):
            X.append(Standout.features(log_odds_of(P[q, candidates])))
            y.append(works[candidates] == works[q])
    X = np.vstack(X)
    fit = fit_calibration(X, np.concatenate(y), fitted_on, ("standing", "rivals", "own"))
    rivals_range = (float(X[:, 1].min()), float(X[:, 1].max()))
    return Standout(fit.weights, fit.intercept, rivals_range, fitted_on, fit.n_pairs)


def _verdicts(
    p: np.ndarray, same: np.ndarray, P: np.ndarray, W: np.ndarray, works: np.ndarray, held: dict, judged: int
) -> dict:
    """Shares of verdicts on version and other pairs (even odds, as compare judges), and a simulated scan
    (``P``: the pair probabilities as a matrix; ``W``: the words' similarities, NaN without lyric evidence)
    with the candidates judged together (as :func:`homage.align.verdict.judge_candidates` does) and each on
    its own."""
    out = {
        "versions unrelated": float(np.mean(p[same] < MAYBE_AT)),
        "versions version": float(np.mean(p[same] >= VERSION_AT)),
        "others version": float(np.mean(p[~same] >= VERSION_AT)),
        "others maybe+": float(np.mean(p[~same] >= MAYBE_AT)),
    }
    clipped = np.clip(p, 1e-9, 1 - 1e-9)
    out["log loss"] = float(-(np.log(clipped[same]).mean() + np.log(1 - clipped[~same]).mean()) / 2)
    catalogued = np.array([mine[0] for mine in held.values()])
    everyone = np.arange(len(works))
    for suffix, together in (("", True), (" alone", False)):
        flagged = false = originals_false = 0
        for work, mine in held.items():
            standout = _standout(P, works, np.setdiff1d(everyone, mine), "fold") if together else None

            def flags(q, candidates, standout=standout):
                sung = np.sum(~np.isnan(W[q, candidates])) >= MIN_CANDIDATES
                return candidates[among_rivals(P[q, candidates], standout if sung else None, judged) >= MAYBE_AT]

            for q in mine[1:]:
                found = flags(q, catalogued)
                flagged += bool(np.any(works[found] == work))
                false += int(np.sum(works[found] != work))
            originals_false += sum(len(flags(q, catalogued[works[catalogued] != work])) for q in mine)
        scanned = len(works) - len(catalogued)
        out["scan flagged" + suffix] = flagged / scanned
        out["scan false per 100" + suffix] = 100 * false / scanned
        out["originals false per 100" + suffix] = 100 * originals_false / len(works)
    return out


def _print(args, ap_rows, chosen, weight_all, verdict_rows, recordings, n_works, best) -> None:
    title = f"{args.data} ({n_works} works, {recordings} recordings), leave-one-work-out"
    lines = [f"### Ranking — {title}", "", "| ranking | MAP | top-1 |", "|---|---:|---:|"]
    lines += [f"| {name} | {m:.3f} | {t:.3f} |" for name, (m, t) in ap_rows.items()]
    lines += [
        "",
        f"words weight chosen per fold: {_counts(chosen)}; on all works: {weight_all}",
        "",
    ]
    lines += [
        f"### Verdicts — {title}; scan judged among {args.judged} candidates",
        "",
        "| calibration | log loss | versions 'unrelated' | versions 'version' | others 'version' "
        "| others 'maybe' or 'version' | scan: covers flagged (maybe) | false flags / 100 covers "
        "| false flags / 100 originals | candidates judged alone: flagged | false / 100 covers "
        "| false / 100 originals |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, v in verdict_rows.items():
        lines.append(
            f"| {label}{' (shipped)' if label == best else ''} | {v['log loss']:.3f} "
            f"| {v['versions unrelated']:.1%} "
            f"| {v['versions version']:.1%} | {v['others version']:.2%} | {v['others maybe+']:.2%} "
            f"| {v['scan flagged']:.1%} | {v['scan false per 100']:.1f} | {v['originals false per 100']:.1f} "
            f"| {v['scan flagged alone']:.1%} | {v['scan false per 100 alone']:.1f} "
            f"| {v['originals false per 100 alone']:.1f} |"
        )
    print("\n".join(lines))


def _counts(values) -> str:
    """``0.5 × 38, 2 × 2``: each value and how often it came."""
    found, counts = np.unique(values, return_counts=True)
    return ", ".join(f"{float(v):g} × {int(c)}" for v, c in zip(found, counts))


if __name__ == "__main__":
    main()
