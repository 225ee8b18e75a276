"""Fit the centre vector of the 2DFTM baseline on rendered music21 pieces (none of the demo's).

2DFTM vectors of unrelated pieces share a large common component (cosine ≈ 0.95); subtracting the mean
vector of a reference collection before normalising restores contrast. The reference collection is
rendered here from music21's bundled corpus, so the result is reproducible offline:

    .venv/bin/python scripts/fit_ftm2d_center.py [--n 80] [--out src/homage/models/assets/ftm2d_center.npy]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from homage.data.render import VersionParams, make_version, render
from homage.data.timing import excerpt
from homage.demo import PIECES, PROGRAMS, score_to_midi
from homage.features.cache import FeatureCache
from homage.models.ftm2d import FTM2D, FTM2DConfig


def reference_works(n: int, seed: int) -> list[Path]:
    from music21 import corpus

    demo = {w.split("/")[-1] for w, _, _ in PIECES}
    paths = [
        Path(p)
        for p in corpus.getCorePaths()
        if Path(p).suffix in {".mxl", ".xml", ".krn", ".musicxml"} and not any(d in str(p) for d in demo)
    ]
    rng = np.random.default_rng(seed)
    return [paths[i] for i in rng.permutation(len(paths))[: 2 * n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=80, help="pieces to render")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="src/homage/models/assets/ftm2d_center.npy")
    args = parser.parse_args()

    embedder = FTM2D(FTM2DConfig(), center=None)
    rng = np.random.default_rng(args.seed)
    vectors = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in reference_works(args.n, args.seed):
            if len(vectors) >= args.n:
                break
            try:
                midi = score_to_midi(path)
                params = VersionParams(int(rng.choice(PROGRAMS)), 1.0, 0)
                wav = render(make_version(excerpt(midi, 60.0), params), f"{tmp}/piece.wav")
                vectors.append(embedder.embed(FeatureCache(None).features(wav, embedder.feature)))
                print(f"{len(vectors):3d} {path.name}")
            except Exception as exc:  # noqa: BLE001 - skip any piece music21 or the synthesizer cannot handle
                print(f"    skipped {path.name}: {exc}")
    center = np.mean(vectors, axis=0).astype(np.float32)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, center)
    print(f"centre of {len(vectors)} pieces written to {args.out}")


if __name__ == "__main__":
    main()
