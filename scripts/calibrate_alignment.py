"""Fit the alignment-score → probability calibration on labelled pairs of the versions corpus.

    .venv/bin/python scripts/calibrate_alignment.py corpus --split val

Pairs: every two versions of one work (positives) and as many random pairs of different works
(negatives), from the given split of a corpus built by `homage data build` (rendered versions, never
real covers). Writes src/homage/align/assets/calibration.json and prints the fit and its accuracy.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from homage.align import align_sequences
from homage.align.verdict import MAYBE_AT, VERSION_AT, fit_calibration
from homage.data.manifest import read_corpus, work_labels
from homage.errors import Failure
from homage.features.cache import FeatureCache
from homage.pipeline.analysis import SequenceTask
from homage.parallel import as_executor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus")
    parser.add_argument("--split", default="val")
    parser.add_argument("--max-pairs", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    entries = [e for e in read_corpus(args.corpus, args.split) if e.role == "version"]
    results = as_executor(2).map(SequenceTask(FeatureCache.default()), [str(e.path) for e in entries])
    kept = [(e, seq) for e, (_, seq) in zip(entries, results) if not isinstance(seq, Failure)]
    chroma = [seq for _, seq in kept]
    labels = work_labels([e.work for e, _ in kept])
    rng = np.random.default_rng(args.seed)
    positives = [(i, j) for i, j in itertools.combinations(range(len(labels)), 2) if labels[i] == labels[j]]
    positives = [positives[k] for k in rng.permutation(len(positives))[: args.max_pairs // 2]]
    negatives = []
    while len(negatives) < len(positives):
        i, j = rng.integers(len(labels), size=2)
        if labels[i] != labels[j]:
            negatives.append((int(i), int(j)))
    pairs = positives + negatives
    scores = np.array([align_sequences(chroma[i], chroma[j]).score for i, j in pairs])
    truth = np.array([1] * len(positives) + [0] * len(negatives))
    fitted_on = (
        f"{len(pairs)} pairs ({len(positives)} versions, {len(negatives)} non-versions) of the versions corpus "
        f"'{args.split}' split (rendered POP909/ASAP versions, {np.mean([len(c) for c in chroma]) / 2.5:.0f} s "
        f"excerpts), seed {args.seed}"
    )
    calibration = fit_calibration(scores, truth, fitted_on)
    probabilities = np.array([calibration.probability(s) for s in scores])
    print(f"slope {calibration.slope:.3f}, intercept {calibration.intercept:.3f}")
    print(f"score at p={VERSION_AT}: {(np.log(VERSION_AT / (1 - VERSION_AT)) - calibration.intercept) / calibration.slope:.2f}; "
          f"at p={MAYBE_AT}: {(np.log(MAYBE_AT / (1 - MAYBE_AT)) - calibration.intercept) / calibration.slope:.2f}")
    print(f"accuracy at p=0.5: {np.mean((probabilities >= 0.5) == truth):.3f}; "
          f"mean score versions {scores[truth == 1].mean():.2f}, non-versions {scores[truth == 0].mean():.2f}")
    print(f"written: {calibration.save()}")


if __name__ == "__main__":
    main()
