"""The FAISS indexes a catalog derives from its vectors: which kind for which size, how each is built.

- ``flat``: exact inner product (what small catalogs use: 100k × 128 is ≈ 10 ms a query);
- ``hnsw``: a graph (M = 32), fast and near exact, but ≈ 0.6 kB per recording and no deletion;
- ``ivfpq``: inverted lists over 4·√n centroids with 32-byte product-quantised codes (≈ 40 B per recording
  with its id), trained on a sample; its candidates are re-scored with the exact vectors kept in SQLite, so
  the memory stays small and the ranking exact among them.

``auto`` (the default) is ``flat`` below :data:`AUTO_IVFPQ_AT` recordings and ``ivfpq`` from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss
import numpy as np

KINDS = ("auto", "flat", "hnsw", "ivfpq")
AUTO_IVFPQ_AT = 100_000
IVFPQ_MIN = 2_000
HNSW_NEIGHBOURS = 32
PQ_BYTES = 32  # bytes per vector in an ivfpq index
TRAIN_SAMPLE = 100_000
PROBED = 16  # an ivfpq search visits one list in 16: recall@10 0.995 at 1M, ≈ 3 ms (bench/speed/catalog_scale.py)
REFINE = 4  # and re-scores max(REFINE × k, 200) candidates with the exact vectors (more changed nothing)


def concrete(kind: str, n: int) -> str:
    """The index kind ``kind`` means for a catalog of ``n`` recordings (an ivfpq index needs
    :data:`IVFPQ_MIN` of them to train: a smaller catalog is searched exactly until it has them)."""
    if kind == "auto":
        kind = "ivfpq" if n >= AUTO_IVFPQ_AT else "flat"
    return "flat" if kind == "ivfpq" and n < IVFPQ_MIN else kind


def build(kind: str, X: np.ndarray, ids: np.ndarray, *, seed: int = 0) -> faiss.Index:
    """An index of ``kind`` (a concrete one) over vectors ``X`` (n, dim) with ids ``ids``."""
    dim = X.shape[1]
    if kind == "hnsw":
        index = faiss.IndexIDMap2(faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT))
    elif kind == "ivfpq":
        index = _ivfpq(X, seed)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(X, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return index


def empty(dim: int) -> faiss.Index:
    """An exact index with nothing in it: the catalog's delta (recordings added since the last merge)."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def is_approximate(index: faiss.Index) -> bool:
    """Whether scores from ``index`` are approximations to be re-scored exactly."""
    return isinstance(faiss.downcast_index(index), faiss.IndexIVF)


def can_remove(index: faiss.Index) -> bool:
    return not isinstance(faiss.downcast_index(_inner(index)), faiss.IndexHNSW)


def search_width(index: faiss.Index, k: int) -> int:
    """How many candidates to ask ``index`` for, to return ``k`` good ones."""
    return max(REFINE * k, 200) if is_approximate(index) else k


@contextmanager
def threads_for(queries: int) -> Iterator[None]:
    """FAISS on one thread for a few queries (its OpenMP threads cost more than they give then, above all on a
    busy machine), on all of them for a batch."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1 if queries < 16 else before)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _inner(index: faiss.Index) -> faiss.Index:
    index = faiss.downcast_index(index)
    return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index


def _ivfpq(X: np.ndarray, seed: int) -> faiss.Index:
    n, dim = X.shape
    lists = int(max(16, min(65536, 4 * round(np.sqrt(n)))))
    quantizer = faiss.IndexFlatIP(dim)
    codes = max(m for m in range(1, PQ_BYTES + 1) if dim % m == 0)  # sub-vectors must divide the dimension
    index = faiss.IndexIVFPQ(quantizer, dim, lists, codes, 8, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(seed)
    sample = X[rng.choice(n, size=min(n, max(TRAIN_SAMPLE, 40 * lists)), replace=False)] if n else X
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.nprobe = max(32, lists // PROBED)
    return index
