"""Fit the alignment → probability calibration on labelled pairs of rendered versions, lengths included.

    .venv/bin/python scripts/calibrate_alignment.py corpus/val corpus-long/val [--pairs 4000] [--seed 0]

Pairs come from each data set given (a built corpus split: rendered POP909/ASAP versions, never real covers):
every two versions of one work are positives; negatives are the pairs a search judges, a recording and
one of its 100 nearest by embedding (the re-ranking depth) that is not a version of it. Two in five pairs compare a
clip (8–40 s at a random place of the first recording) with the whole second one, as a catalog compares an
excerpt with songs (the clip embedded on its own); the rest compare the two whole recordings. The logistic
fit reads the alignment's symmetric score (Qmax over √ of the shorter one's frames) and its top-line (melody)
twin, each in units of its null (the non-version pairs' mean and spread at those lengths, fitted first), the
log lengths of both (so that a short clip, which can match a stretch of anything by chance, needs more to be
called a version) and the cosine similarity of the two embeddings (the shipped `csi`). Writes
src/homage/align/assets/calibration.json and prints the fit, its accuracy and its verdicts per kind of pair.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from homage.align.rerank import RERANK_DEPTH
from homage.align.verdict import (
    CALIBRATION_FILE,
    FEATURES,
    IN_NULL_UNITS,
    evidence_of,
    feature_values,
    fit_calibration,
    fit_nulls,
)
from homage.data.manifest import load_dataset
from homage.models import DEFAULT_EMBEDDER, Embedder, get_embedder
from homage.pipeline.analysis import Recorded, pair_evidence, recorded

FEATURE_NAMES = ("score_min_z", "melody_min_z", "log_min", "log_max", "similarity")


def recordings(source: str, workers: int) -> tuple[list[Recorded], list[str]]:
    entries = [e for e in load_dataset(source) if e.role == "version"]
    return recorded([str(e.path) for e in entries], [e.work for e in entries], get_embedder(DEFAULT_EMBEDDER), workers)


def draw_pairs(works: list[str], vectors: np.ndarray, n: int, rng: np.random.Generator) -> list[tuple[int, int, bool]]:
    """``n`` pairs as a search judges them, a recording and one of its ``RERANK_DEPTH`` nearest by
    embedding: half versions, half not."""
    by_work = defaultdict(list)
    for i, w in enumerate(works):
        by_work[w].append(i)
    nearest = np.argsort(-Embedder.similarity(vectors, vectors), axis=1)[:, 1 : RERANK_DEPTH + 1]
    near = {(a, int(b)) for a in range(len(works)) for b in nearest[a]}
    positives = [
        (a, b, True)
        for group in by_work.values()
        for a in group
        for b in group
        if a < b and ((a, b) in near or (b, a) in near)
    ]
    positives = [positives[k] for k in rng.permutation(len(positives))[: n // 2]]
    negatives = []
    while len(negatives) < len(positives):
        a = int(rng.integers(len(works)))
        b = int(rng.choice(nearest[a]))
        if works[a] != works[b]:
            negatives.append((a, b, False))
    return positives + negatives


def calibration_pairs(
    sources: list[str], total: int, seed: int, workers: int = 2
) -> Iterator[tuple[str, Recorded, Recorded, bool, str]]:
    """The labelled pairs the fit reads, ``total`` shared by the data sets: (data set, first, second, is a
    version pair, "whole–whole" or "clip–whole"), the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    embedder = get_embedder(DEFAULT_EMBEDDER)
    for source in sources:
        items, works = recordings(source, workers)
        vectors = np.array([item.vector for item in items])
        for a, b, same in draw_pairs(works, vectors, total // len(sources), rng):
            first, kind = items[a], "whole–whole"
            if rng.random() < 0.4:
                seconds = rng.uniform(8, 40)
                if first.seconds > seconds:
                    first, kind = first.clip(rng.uniform(0, first.seconds - seconds), seconds, embedder), "clip–whole"
            yield source, first, items[b], same, kind
        print(f"{source}: {len(items)} recordings of {len(set(works))} works", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="+")
    parser.add_argument("--pairs", type=int, default=4000, help="pairs in all, shared by the data sets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--features",
        default=",".join(FEATURE_NAMES),
        help=f"what the fit reads, of: {', '.join(FEATURES)} (a score name + {IN_NULL_UNITS}: in units of its null)",
    )
    parser.add_argument("--out", default=str(CALIBRATION_FILE))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = tuple(args.features.split(","))
    evidence, truth, kinds = [], [], []
    for source, first, second, same, kind in calibration_pairs(args.data, args.pairs, args.seed, args.workers):
        evidence.append(evidence_of(*pair_evidence(first, second)))
        truth.append(same)
        kinds.append(f"{source}: {kind}")
    y = np.array(truth)
    nulls = fit_nulls([e for e, same in zip(evidence, truth) if not same], names)
    X = np.array([feature_values(e, names, nulls) for e in evidence])
    fitted_on = (
        f"{len(y)} pairs ({int(y.sum())} versions, {int((~y).sum())} non-versions among each other's "
        f"{RERANK_DEPTH} nearest) of rendered versions of "
        f"{', '.join(args.data)}; two in five compare an 8–40 s clip with a whole recording; seed {args.seed}"
    )
    calibration = fit_calibration(X, y, fitted_on, names, nulls)
    z = X @ np.array(calibration.weights) + calibration.intercept
    p = 1 / (1 + np.exp(-z))
    print(
        "weights",
        dict(zip(names, np.round(calibration.weights, 3).tolist())),
        "intercept",
        round(calibration.intercept, 3),
    )
    print(f"accuracy at p = 0.5: {np.mean((p >= 0.5) == y):.3f}")
    for kind in sorted(set(kinds)):
        mask = np.array(kinds) == kind
        for label, sel in (("versions", mask & y), ("non-versions", mask & ~y)):
            v, m = (p[sel] >= 0.7).sum(), ((p[sel] >= 0.3) & (p[sel] < 0.7)).sum()
            print(
                f"  {kind:45s} {label:13s} {sel.sum():5d}: "
                f"version {v:4d}  maybe {m:4d}  unrelated {sel.sum() - v - m:4d}"
            )
    print(f"written: {calibration.save(args.out)}")


if __name__ == "__main__":
    main()
