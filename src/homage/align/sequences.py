"""Pitch-class sequences for alignment: fixed-rate CRP chroma and top-line chroma, global transposition,
delay embedding."""

from __future__ import annotations

import numpy as np

from homage.features.cqt import CQTSpec, crp_chroma


def fixed_rate_chroma(C: np.ndarray, spec: CQTSpec, frame_rate: float) -> np.ndarray:
    """Timbre-robust chroma (CRP) of a magnitude CQT at ``frame_rate`` frames per second, each frame
    L2-normalised. The CQT is pooled down to that rate first (ten times less work for the CRP).
    CRP rather than plain chroma: on the versions corpus validation split it lifts alignment-alone MAP
    from 0.64 to 0.78 (covers80-dev: 0.52 to 0.69).

    Returns
    -------
    chroma : np.ndarray, shape (n_frames, 12), float32
    """
    pooled = _pool_frames(C, spec, frame_rate)
    chroma = crp_chroma(pooled, bins_per_octave=spec.bins_per_octave, fmin=spec.fmin).T
    return (chroma / np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-9)).astype(np.float32)


TOP_LINE_MIDI = (60, 96)  # C4 up to (not including) C7: where a lead line usually lies


def _pool_frames(X: np.ndarray, spec: CQTSpec, frame_rate: float) -> np.ndarray:
    """(bins, frames) at the CQT's frame rate summed down to about ``frame_rate`` (all frames into one when
    fewer than a step)."""
    step = max(1, int(round(spec.frame_rate / frame_rate)))
    n = X.shape[1] // step
    return (
        X.sum(axis=1, keepdims=True)
        if n == 0
        else np.add.reduceat(X[:, : n * step], np.arange(0, n * step, step), axis=1)
    )


def top_line_chroma(C: np.ndarray, spec: CQTSpec, frame_rate: float) -> np.ndarray:
    """Chroma of the top line: in each CQT frame, the pitch class of the strongest bin from C4 to B6 (log
    magnitude less the frame's median), weighted by how far it stands out, pooled to ``frame_rate`` and each
    frame L2-normalised. A melody played alone and the same melody inside an arrangement share it where
    their chroma differ (the arrangement's harmony dominates that).

    Returns
    -------
    chroma : np.ndarray, shape (n_frames, 12), float32
    """
    first = int(round((TOP_LINE_MIDI[0] - _midi(spec.fmin)) * spec.bins_per_octave / 12))
    last = min(int(round((TOP_LINE_MIDI[1] - _midi(spec.fmin)) * spec.bins_per_octave / 12)), C.shape[0])
    X = np.log1p(100.0 * np.asarray(C[first:last], dtype=np.float32))
    X -= np.median(X, axis=0, keepdims=True)
    peak = X.argmax(axis=0)
    onehot = np.zeros((12, X.shape[1]), dtype=np.float32)
    pitch_class = np.round(_midi(spec.fmin) + (first + peak) * 12 / spec.bins_per_octave).astype(int) % 12
    onehot[pitch_class, np.arange(X.shape[1])] = np.maximum(X.max(axis=0), 0.0)
    pooled = _pool_frames(onehot, spec, frame_rate).T
    return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def _midi(hz: float) -> float:
    return 69.0 + 12.0 * np.log2(hz / 440.0)


def global_profile(x: np.ndarray) -> np.ndarray:
    """A sequence's pitch-class profile (12,): each (unit-length) frame's energy share of every pitch class,
    summed over the frames and scaled to a maximum of 1. Energy rather than magnitude lets each frame's
    strongest pitch classes outweigh the floor CRP leaves under the others (the best-shift choice on the
    three validation sets: mean MAP 0.680 → 0.683 re-ranked; ``bench/quality/transpositions.py``)."""
    x = np.asarray(x, dtype=np.float32)
    g = (x * x).sum(axis=0)
    return g / max(float(g.max()), 1e-9)


def transposition_candidates(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """OTI: the ``n`` circular shifts (semitones, 0–11) of ``b``'s pitch classes whose global profile best
    matches ``a``'s, best first. ``np.roll(b, k, axis=1)`` with the first ``k`` is ``b`` in ``a``'s key."""
    return best_shifts(global_profile(a), global_profile(b), n)


_ROLLS = (np.arange(12)[None, :] - np.arange(12)[:, None]) % 12  # row k: the indices of np.roll(x, k)


def best_shifts(ga: np.ndarray, gb: np.ndarray, n: int) -> np.ndarray:
    """:func:`transposition_candidates` from the two global profiles."""
    return np.argsort(-(gb[_ROLLS] @ ga), kind="stable")[:n]


def delay_embed(x: np.ndarray, m: int, tau: int = 1) -> np.ndarray:
    """Stack ``m`` frames ``tau`` apart: (n, d) → (n - (m - 1) tau, m d), each row L2-normalised."""
    span = (m - 1) * tau
    if len(x) <= span:
        x = np.pad(x, ((0, span + 1 - len(x)), (0, 0)), mode="edge")
    n = len(x) - span
    out = np.concatenate([x[k * tau : k * tau + n] for k in range(m)], axis=1)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def signed_semitones(shift: int) -> int:
    """A 0–11 circular shift as the nearest signed transposition (−5 … +6)."""
    return shift - 12 if shift > 6 else shift
