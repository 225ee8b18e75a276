"""Which transpositions the alignment tries: the global pitch-class profile that ranks the 12 shifts, and
how many of the best it aligns at.

    .venv/bin/python -m bench.quality.transpositions corpus/val corpus-long/val corpus-kinds/val \\
        --report ../shared/data/covers80-dev

Every recording queries all others. Its top 100 candidates by embedding are aligned once at all 12
transpositions (chroma and top-line Qmax, cached under ``bench/out/transpositions/``); each variant then
keeps, per pair, the best chroma alignment among the shifts its profile ranks first (the top line at that
shift), fuses the scores as `homage query` does and scores MAP. Variants are compared by the mean MAP over
the data sets given first (the corpus validation splits); ``--report`` sets (real covers) are only shown.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import threadpoolctl

from bench.quality.fusion import cached_rows_path, choosing_sets_parser, print_variants
from homage.align import CHROMA, Prepared
from homage.align.rerank import RERANK_DEPTH, fuse
from homage.align.sequences import global_profile
from homage.data.manifest import load_dataset
from homage.evaluation.metrics import retrieval_scores
from homage.models import DEFAULT_EMBEDDER, get_embedder
from homage.pipeline.analysis import ALIGN_CONFIG, recorded

OUT = Path(__file__).resolve().parents[1] / "out" / "transpositions"  # bench/out: ignored by git
SHIFTS = np.arange(12)
ROLLS = (SHIFTS[None, :] - SHIFTS[:, None]) % 12  # row k: the pitch classes of np.roll(x, k)


def profiles(x: np.ndarray) -> dict[str, np.ndarray]:
    """The profiles compared: frames' magnitudes, energies (what the alignment uses), fourth powers, and
    how often each pitch class is a frame's strongest."""
    x = np.asarray(x[:, CHROMA], dtype=np.float32)
    counts = (x == x.max(axis=1, keepdims=True)).sum(axis=0).astype(np.float32)
    found = {
        "magnitude": x.sum(axis=0),
        "energy (shipped)": global_profile(x),
        "fourth power": (x**4).sum(axis=0),
        "strongest pitch class": counts,
    }
    return {name: g / max(float(g.max()), 1e-9) for name, g in found.items()}


def aligned_at_every_shift(data: str, depth: int) -> dict:
    """Similarities, top-``depth`` candidates, their chroma and top-line scores at all 12 shifts and the
    profiles' match at each shift, for every query (cached)."""
    entries = load_dataset(data)
    path = cached_rows_path(OUT, data, entries, DEFAULT_EMBEDDER, depth)
    if path.exists():
        return dict(np.load(path))
    embedder = get_embedder(DEFAULT_EMBEDDER)
    items, works = recorded([str(e.path) for e in entries], [e.work for e in entries], embedder, 2)
    V = np.array([r.vector for r in items])
    S = embedder.similarity(V, V)
    sequences = [np.asarray(r.sequence, dtype=np.float32) for r in items]
    n = len(items)
    top = np.array([[j for j in np.argsort(-S[i], kind="stable") if j != i][: min(depth, n - 1)] for i in range(n)])
    qmax, melody = np.zeros((*top.shape, 12)), np.zeros((*top.shape, 12))

    def align_all(i: int) -> None:
        query = Prepared(sequences[i], ALIGN_CONFIG)
        for c, j in enumerate(top[i]):
            frames = len(sequences[j]) - ALIGN_CONFIG.embed_dim + 1
            qmax[i, c] = [query.qmax(sequences[j], s) for s in SHIFTS]
            melody[i, c] = [query.qmax(sequences[j], s, "melody") / np.sqrt(max(frames, 1)) for s in SHIFTS]

    with threadpoolctl.threadpool_limits(1), ThreadPoolExecutor(2) as threads:  # the Qmax kernels release the GIL
        list(threads.map(align_all, range(n)))
    found = [profiles(x) for x in sequences]
    matches = {
        f"match {name}": np.stack(
            [np.stack([found[j][name][ROLLS] @ found[i][name] for j in top[i]]) for i in range(n)]
        )
        for name in found[0]
    }
    frames = np.array([len(x) - ALIGN_CONFIG.embed_dim + 1 for x in sequences])
    result = {"S": S, "top": top, "qmax": qmax, "melody": melody, "frames": frames, "works": np.array(works), **matches}
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(path, **result)
    return result


def map_of(data: dict, profile: str | None, n_shifts: int) -> tuple[float, float]:
    """MAP and top-1 when each pair is aligned at the ``n_shifts`` shifts ``profile`` ranks first (None: all
    12), the rest following in embedding order."""
    S, top, qmax, melody, frames = data["S"], data["top"], data["qmax"], data["melody"], data["frames"]
    final = S - 1e6
    rows = np.arange(top.shape[1])
    for i in range(len(S)):
        tried = (
            SHIFTS[None].repeat(len(rows), 0)
            if profile is None
            else np.argsort(-data[f"match {profile}"][i], axis=1, kind="stable")[:, :n_shifts]
        )
        best = tried[rows, np.argmax(np.take_along_axis(qmax[i], tried, axis=1), axis=1)]
        final[i, top[i]] = fuse(S[i, top[i]], qmax[i][rows, best] / frames[top[i]] ** 0.5, melody[i][rows, best])
    ranked = retrieval_scores(1.0 - final, data["works"])
    return ranked.map, ranked.top1


def main() -> None:
    args = choosing_sets_parser(__doc__, depth=RERANK_DEPTH).parse_args()
    sets = {name: aligned_at_every_shift(name, args.depth) for name in args.data + args.report}
    names = [key.removeprefix("match ") for key in next(iter(sets.values())) if key.startswith("match ")]
    variants = [(f"{name}, best {n}", name, n) for name in names for n in (1, 2, 3, 4)] + [("all 12 shifts", None, 12)]
    print_variants(
        f"shifts tried by the alignment (top {args.depth} re-ranked); MAP (top-1)",
        "profile, shifts aligned",
        sets,
        args.report,
        [(label, functools.partial(map_of, profile=p, n_shifts=n)) for label, p, n in variants],
        args.markdown,
    )


if __name__ == "__main__":
    main()
