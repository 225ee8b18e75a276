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
    ``gap_onset`` right after a recurrence and ``gap_extension`` further on.

    A row depends only on the two rows before it, so each row is computed from two rolling buffers (apart
    from the output, so the compiler can vectorise it) with a branch-free blend of "grow" and "gap"."""
    n, m = R.shape
    out = np.empty((n, m), dtype=np.float32)
    rows = np.zeros((3, m + 2), dtype=np.float32)  # rows i, i-1, i-2 of the matrix, 2 cells of padding
    penalties = np.full((3, m + 2), np.float32(gap_extension), dtype=np.float32)  # the penalty after each cell
    q0, q1, q2 = rows[0], rows[1], rows[2]
    p0, p1, p2 = penalties[0], penalties[1], penalties[2]
    onset_extra, extension = np.float32(gap_onset - gap_extension), np.float32(gap_extension)
    one, zero = np.float32(1.0), np.float32(0.0)
    for i in range(n):
        r = R[i]
        for j in range(m):
            a, b, c = q1[j + 1], q2[j + 1], q1[j]
            grow = max(max(a, b), c) + one
            gap = max(max(a - p1[j + 1], b - p2[j + 1]), max(c - p1[j], zero))
            recurrent = np.float32(r[j])
            q0[j + 2] = recurrent * grow + (one - recurrent) * gap
            p0[j + 2] = extension + onset_extra * recurrent
        out[i] = q0[2:]
        q0, q1, q2 = q2, q0, q1
        p0, p1, p2 = p2, p0, p1
    return out


@numba.njit(cache=True, nogil=True)
def strongest_paths(Q: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Up to ``count`` alignment paths, strongest first, each in rows and columns that no stronger one
    spans (as if those were zeroed): from the strongest remaining cell, back to the strongest of its three
    predecessors until the score returns to zero. Returns the paths' cells one after another (k, 2), where
    each path starts in them (offsets, one more than the paths) and each path's strength."""
    n, m = Q.shape
    row_free, col_free = np.ones(n, dtype=np.bool_), np.ones(m, dtype=np.bool_)
    cells = np.empty((count * (n + m + 2), 2), dtype=np.int64)
    starts = np.zeros(count + 1, dtype=np.int64)
    strengths = np.zeros(count, dtype=np.float32)
    found = 0
    for _ in range(count):
        best, bi, bj = np.float32(0.0), -1, -1
        for i in range(n):
            if row_free[i]:
                for j in range(m):
                    if col_free[j] and Q[i, j] > best:
                        best, bi, bj = Q[i, j], i, j
        if bi < 0:
            break
        strengths[found] = best
        start, k = starts[found], starts[found]
        i, j = bi, bj
        while i >= 0 and j >= 0 and row_free[i] and col_free[j] and Q[i, j] > 0:
            cells[k, 0], cells[k, 1] = i, j
            k += 1
            step, si, sj = np.float32(-1.0), -1, -1
            for di, dj in ((1, 1), (2, 1), (1, 2)):
                if i - di >= 0 and j - dj >= 0:
                    value = Q[i - di, j - dj] if row_free[i - di] and col_free[j - dj] else np.float32(0.0)
                    if value > step:
                        step, si, sj = value, i - di, j - dj
            if si < 0:
                break
            i, j = si, sj
        cells[start:k] = cells[start:k][::-1].copy()
        row_free[cells[start, 0] : cells[k - 1, 0] + 1] = False
        col_free[cells[start, 1] : cells[k - 1, 1] + 1] = False
        found += 1
        starts[found] = k
    return cells[: starts[found]], starts[: found + 1], strengths[:found]
