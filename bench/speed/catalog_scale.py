"""A catalog of a million recordings, measured: build, size, query latency and recall at 10k, 100k and 1M.

    .venv/bin/python -m bench.speed.catalog_scale [--size 10000 --size 100000 --size 1000000] \
        [--fit corpus/val] [--real corpus/test] [--work DIR]

This machine cannot embed a million real songs, so the catalogs are built from real embeddings: the shipped
`csi` embeds the recordings of `--fit` (rendered versions of the corpus validation works) and a Gaussian
mixture (8 components, full covariances) is fitted to those vectors; the catalog is filled with vectors
drawn from it (L2-normalised), and the real embeddings of `--real` (the versions of the held-out test
works) are inserted among them and searched for. Per size: build time (SQLite rows; the index), bytes per
recording in the index and in SQLite, query p50/p95 one at a time and in batches of 100, recall@10 and
@100 against exact search, and the share of each held-out version's other versions found in its top 100
(what the re-ranking stage needs), exact and by the catalog; then the time to add 1,000 recordings, and
what `homage groups` would take on it in one process: every recording's 21 nearest (measured, in batches
of 100) plus 25 alignments per recording (`bench/quality/groups_quality.py` aligned 24 per recording on the corpus
validation split) at the measured time of one alignment of two 4-minute songs.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from bench.common import arguments, show
from homage import pipeline
from homage.catalog import Catalog, NewRecording
from homage.data.manifest import load_dataset
from homage.features.cache import FeatureCache
from homage.models import get_embedder

EMBEDDER = "csi"
LINKS_PER_RECORDING = 25


def alignment_seconds(seconds: float = 240.0, repeats: int = 20) -> float:
    """The time of one alignment of two recordings of ``seconds`` (random sequences: the cost does not depend
    on what they hold)."""
    from homage.align import align_sequences
    from homage.pipeline.analysis import ALIGN_CONFIG

    rng = np.random.default_rng(0)
    a, b = (rng.random((int(seconds * ALIGN_CONFIG.frame_rate), 12)).astype(np.float32) for _ in range(2))
    align_sequences(a, b, ALIGN_CONFIG)  # compiled once
    began = time.perf_counter()
    for _ in range(repeats):
        align_sequences(a, b, ALIGN_CONFIG)
    return (time.perf_counter() - began) / repeats


def embeddings(source: Path, workers: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The shipped model's vectors of a data set's recordings, with their works and paths."""
    entries = [e for e in load_dataset(source) if e.role == "version"]
    embedder = get_embedder(EMBEDDER)
    vectors, works, paths = [], [], []
    todo = [(str(e.path), None) for e in entries]
    for entry, (path, result) in zip(
        entries, pipeline.analyze_many(todo, embedder, FeatureCache.default(), workers, sequence=False)
    ):
        if hasattr(result, "vector"):
            vectors.append(result.vector)
            works.append(entry.work)
            paths.append(path)
    return np.array(vectors, dtype=np.float32), np.array(works), paths


def fitted_sampler(X: np.ndarray, seed: int):
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(n_components=8, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(X)

    def draw(n: int) -> np.ndarray:
        Y = model.sample(n)[0].astype(np.float32)
        return Y / np.linalg.norm(Y, axis=1, keepdims=True)

    return draw


def exact_top(xb: np.ndarray, xq: np.ndarray, k: int) -> np.ndarray:
    """Exact inner-product top-k ids (row numbers of ``xb``), in chunks."""
    best = np.zeros((len(xq), k), dtype=np.int64)
    for start in range(0, len(xq), 64):
        S = xq[start : start + 64] @ xb.T
        top = np.argpartition(-S, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(S, top, axis=1), axis=1)
        best[start : start + 64] = np.take_along_axis(top, order, axis=1)
    return best


def build(
    folder: Path, synthetic: np.ndarray, real: np.ndarray, real_paths: list[str]
) -> tuple[Catalog, float, float, np.ndarray]:
    """A catalog of the synthetic vectors with the real ones spread among them; row ids of every vector."""
    embedder = get_embedder(EMBEDDER).identity
    started = time.perf_counter()
    order = np.random.default_rng(0).permutation(len(synthetic) + len(real))
    rows = [NewRecording(f"/synthetic/{i}.mp3", f"s{i}", v) for i, v in enumerate(synthetic)]
    rows += [NewRecording(p, f"r{i}", v) for i, (p, v) in enumerate(zip(real_paths, real))]
    with Catalog(folder, create=True) as catalog:
        for start in range(0, len(order), 20_000):
            catalog.add([rows[i] for i in order[start : start + 20_000]], embedder=embedder)
        rows_s = time.perf_counter() - started
        started = time.perf_counter()
        catalog.optimize()
        index_s = time.perf_counter() - started
    catalog = Catalog(folder)
    ids, _ = catalog.vectors()
    by_path = {r.path: r.id for r in catalog.recordings()}
    ids = np.array([by_path[f"/synthetic/{i}.mp3"] for i in range(len(synthetic))] + [by_path[p] for p in real_paths])
    return catalog, rows_s, index_s, ids


def latency(catalog: Catalog, xq: np.ndarray, k: int, batch: int) -> list[float]:
    times = []
    for start in range(0, len(xq), batch):
        began = time.perf_counter()
        catalog.search(xq[start : start + batch], k)
        times.append((time.perf_counter() - began) / min(batch, len(xq) - start))
    return times


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--size", type=int, action="append", default=None)
    parser.add_argument("--fit", type=Path, default=Path("corpus/val"))
    parser.add_argument("--real", type=Path, default=Path("corpus/test"))
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    sizes = args.size or [10_000, 100_000, 1_000_000]
    fit_X, _, _ = embeddings(args.fit, args.workers)
    real_X, real_works, real_paths = embeddings(args.real, args.workers)
    draw = fitted_sampler(fit_X, seed=0)
    print(
        f"mixture fitted to {len(fit_X)} embeddings of {args.fit}; {len(real_X)} real versions of "
        f"{len(set(real_works))} works from {args.real} inserted",
        flush=True,
    )
    rng = np.random.default_rng(1)
    align_s = alignment_seconds()
    print(f"one alignment of two 4-minute songs: {align_s * 1000:.1f} ms", flush=True)
    table = Table(
        title="homage catalogs at scale (csi vectors: a fitted mixture plus real held-out versions)",
        title_justify="left",
    )
    for col in (
        "recordings",
        "index",
        "build: rows / index",
        "index B/rec (file ≈ memory)",
        "SQLite B/rec",
        "query p50 / p95 (1 at a time)",
        "query (batch 100)",
        "recall@10",
        "recall@100",
        "versions in top 100 (exact / catalog)",
        "add 1,000",
        "groups (est., 1 process)",
    ):
        table.add_column(col, justify="right")
    work = args.work or Path(tempfile.mkdtemp(prefix="homage-scale-"))
    for size in sizes:
        folder = work / f"catalog-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        synthetic = draw(size - len(real_X))
        catalog, rows_s, index_s, ids = build(folder, synthetic, real_X, real_paths)
        xb = np.concatenate([synthetic, real_X])
        stats = catalog.index_stats()
        picks = rng.choice(len(xb), size=min(args.queries, len(xb)), replace=False)
        xq = xb[picks] + 0.02 * rng.standard_normal((len(picks), xb.shape[1])).astype(np.float32)  # near, not equal
        xq /= np.linalg.norm(xq, axis=1, keepdims=True)
        single = latency(catalog, xq[:300], 10, 1)
        batched = latency(catalog, xq, 10, 100)
        neighbours = latency(catalog, xq, 21, 100)
        groups_s = size * (statistics.median(neighbours) + LINKS_PER_RECORDING * align_s)
        truth = ids[exact_top(xb, xq, 100)]
        _, found = catalog.search(xq, 100)
        recall10 = np.mean([len(set(t[:10]) & set(f[:10])) / 10 for t, f in zip(truth, found)])
        recall100 = np.mean([len(set(t) & set(f)) / 100 for t, f in zip(truth, found)])
        real_rows = np.arange(len(synthetic), len(xb))
        exact_hits, catalog_hits = [], []
        _, found_real = catalog.search(real_X, 101)
        truth_real = ids[exact_top(xb, real_X, 101)]
        for n, (row, work_id) in enumerate(zip(real_rows, real_works)):
            others = {ids[r] for r, w in zip(real_rows, real_works) if w == work_id and r != row}
            if others:
                exact_hits.append(len(others & set(truth_real[n])) / len(others))
                catalog_hits.append(len(others & set(found_real[n])) / len(others))
        catalog.close()
        new = draw(1000)
        began = time.perf_counter()
        with Catalog(folder) as catalog:
            catalog.add(
                [NewRecording(f"/added/{i}.mp3", f"a{i}", v) for i, v in enumerate(new)],
                embedder=get_embedder(EMBEDDER).identity,
            )
        add_s = time.perf_counter() - began
        index_bytes = stats["index_file_bytes"] / size
        sqlite_bytes = (folder / "catalog.sqlite").stat().st_size / size
        p = lambda values, q: sorted(values)[int(q * (len(values) - 1))] * 1000  # noqa: E731
        table.add_row(
            f"{size:,}",
            stats["index_built"],
            f"{rows_s:.0f} s / {index_s:.0f} s",
            f"{index_bytes:.0f}",
            f"{sqlite_bytes:.0f}",
            f"{p(single, 0.5):.2f} / {p(single, 0.95):.2f} ms",
            f"{statistics.median(batched) * 1000:.2f} ms",
            f"{recall10:.3f}",
            f"{recall100:.3f}",
            f"{np.mean(exact_hits):.3f} / {np.mean(catalog_hits):.3f}",
            f"{add_s:.1f} s",
            f"{groups_s / 3600:.1f} h",
        )
        print(f"{size:,} done", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    show(table, args.markdown, width=230)


if __name__ == "__main__":
    main()
