"""Binary cross-recurrence and Qmax local alignment (Serrà, Serra & Andrzejak 2009), compiled with numba."""

from __future__ import annotations

import numba
import numpy as np


def cross_recurrence(A: np.ndarray, B: np.ndarray, kappa: float = 0.1) -> np.ndarray:
    """Mutual nearest-neighbour cross-recurrence of two embedded sequences (rows unit vectors).

    ``R[i, j]`` is 1 when frame ``j`` of B is among the ``kappa`` share of B's frames nearest to frame
    ``i`` of A, and frame ``i`` among the ``kappa`` share of A's frames nearest to ``j``.

    Returns
    -------
    R : np.ndarray, shape (len(A), len(B)), uint8
    """
    S = np.ascontiguousarray(A @ B.T, dtype=np.float32)  # cosine similarity
    return recurrence(S, *neighbours(S.shape, kappa))


def neighbours(shape: tuple[int, int], kappa: float) -> tuple[int, int]:
    """How many nearest frames count as recurrent, of B for each frame of A and of A for each frame of B."""
    n, m = shape
    return max(1, int(round(kappa * m))), max(1, int(round(kappa * n)))


@numba.njit(cache=True, nogil=True)
def recurrence(S: np.ndarray, ka: int, kb: int) -> np.ndarray:
    """Binary mutual nearest-neighbour recurrence from a similarity matrix (values in [-1, 1])."""
    row_cut = kth_largest(S, ka)
    col_cut = kth_largest(S.T.copy(), kb)
    n, m = S.shape
    R = np.empty((n, m), dtype=np.uint8)
    for i in range(n):
        for j in range(m):
            R[i, j] = 1 if S[i, j] >= row_cut[i] and S[i, j] >= col_cut[j] else 0
    return R


@numba.njit(cache=True, nogil=True)
def kth_largest(S: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th largest value of each row of ``S`` (values in [-1, 1]), exactly, without sorting rows:
    a histogram finds the bin holding it, and only that bin's few values are sorted."""
    n_bins = 1024
    n, m = S.shape
    out = np.empty(n, dtype=S.dtype)
    counts = np.empty(n_bins, dtype=np.int32)
    bins = np.empty(m, dtype=np.int32)
    in_bin = np.empty(m, dtype=S.dtype)
    scale = n_bins / 2.0
    for i in range(n):
        counts[:] = 0
        for j in range(m):
            b = min(max(int((S[i, j] + 1.0) * scale), 0), n_bins - 1)
            bins[j] = b
            counts[b] += 1
        above, b = 0, n_bins - 1
        while above + counts[b] < k:
            above += counts[b]
            b -= 1
        c = 0
        for j in range(m):
            if bins[j] == b:
                in_bin[c] = S[i, j]
                c += 1
        out[i] = np.sort(in_bin[:c])[c - (k - above)]
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def qmax_matrix(R: np.ndarray, gap_onset: float, gap_extension: float) -> np.ndarray:
    """Cumulative local-alignment matrix: runs of recurrences grow along (near-)diagonals, gaps cost
    ``gap_onset`` right after a recurrence and ``gap_extension`` further on. Branch-free inner loop: the
    penalty after each cell is laid out first."""
    n, m = R.shape
    Q = np.zeros((n + 2, m + 2), dtype=np.float32)
    penalty = np.full((n + 2, m + 2), np.float32(gap_extension), dtype=np.float32)  # leaving cell (i-2, j-2)
    for i in range(n):
        for j in range(m):
            if R[i, j]:
                penalty[i + 2, j + 2] = gap_onset
    one, zero = np.float32(1.0), np.float32(0.0)
    for i in range(2, n + 2):
        q0, q1, q2, p1, p2, r = Q[i], Q[i - 1], Q[i - 2], penalty[i - 1], penalty[i - 2], R[i - 2]
        for j in range(2, m + 2):
            a, b, c = q1[j - 1], q2[j - 1], q1[j - 2]
            grow = max(max(a, b), c) + one
            gap = max(max(a - p1[j - 1], b - p2[j - 1]), max(c - p1[j - 2], zero))
            q0[j] = grow if r[j - 2] else gap
    return Q[2:, 2:]


@numba.njit(cache=True)
def backtrack(Q: np.ndarray, i: int, j: int) -> np.ndarray:
    """The alignment path ending at cell (i, j), followed back until the score returns to zero: (k, 2)."""
    path = np.empty((i + j + 2, 2), dtype=np.int64)
    k = 0
    while i >= 0 and j >= 0 and Q[i, j] > 0:
        path[k, 0], path[k, 1] = i, j
        k += 1
        best, bi, bj = -1.0, -1, -1
        for di, dj in ((1, 1), (2, 1), (1, 2)):
            if i - di >= 0 and j - dj >= 0 and Q[i - di, j - dj] > best:
                best, bi, bj = Q[i - di, j - dj], i - di, j - dj
        if bi < 0:
            break
        i, j = bi, bj
    return path[:k][::-1]
