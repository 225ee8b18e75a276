"""Binary cross-recurrence and Qmax local alignment (Serrà, Serra & Andrzejak 2009), compiled with numba."""

from __future__ import annotations

import numba
import numpy as np


def cross_recurrence(A: np.ndarray, B: np.ndarray, kappa: float = 0.1) -> np.ndarray:
    """Mutual nearest-neighbour cross-recurrence of two embedded sequences.

    ``R[i, j]`` is 1 when frame ``j`` of B is among the ``kappa`` share of B's frames nearest to frame
    ``i`` of A, and frame ``i`` among the ``kappa`` share of A's frames nearest to ``j``.

    Returns
    -------
    R : np.ndarray, shape (len(A), len(B)), uint8
    """
    S = A @ B.T  # rows are unit vectors: cosine similarity
    n, m = S.shape
    ka, kb = max(1, int(round(kappa * m))), max(1, int(round(kappa * n)))
    row_cut = np.partition(S, m - ka, axis=1)[:, m - ka, None]  # the ka-th largest of each row
    col_cut = np.partition(np.ascontiguousarray(S.T), n - kb, axis=1)[None, :, n - kb]
    return ((S >= row_cut) & (S >= col_cut)).astype(np.uint8)


@numba.njit(cache=True)
def qmax_matrix(R: np.ndarray, gap_onset: float, gap_extension: float) -> np.ndarray:
    """Cumulative local-alignment matrix: runs of recurrences grow along (near-)diagonals, gaps cost."""
    n, m = R.shape
    Q = np.zeros((n + 2, m + 2), dtype=np.float32)
    for i in range(2, n + 2):
        for j in range(2, m + 2):
            a, b, c = Q[i - 1, j - 1], Q[i - 2, j - 1], Q[i - 1, j - 2]
            if R[i - 2, j - 2]:
                Q[i, j] = max(a, max(b, c)) + 1.0
            else:
                pa = gap_onset if i > 2 and j > 2 and R[i - 3, j - 3] else gap_extension
                pb = gap_onset if i > 3 and j > 2 and R[i - 4, j - 3] else gap_extension
                pc = gap_onset if i > 2 and j > 3 and R[i - 3, j - 4] else gap_extension
                Q[i, j] = max(0.0, max(a - pa, max(b - pb, c - pc)))
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
