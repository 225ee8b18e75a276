"""Alignment: where and how two recordings match, from their pitch-class content.

Fixed-rate CRP chroma (timbre removed) → global transposition (OTI) → delay embedding → binary cross-recurrence →
Qmax local alignment. The result says how strongly two songs match, at what transposition and tempo
ratio, and which time spans of each correspond. A sequence may carry a second part, the top-line chroma
(columns 12–23): it is aligned the same way at the transposition found, as the melody evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from homage.align.qmax import neighbours, qmax_matrix, recurrence, strongest_paths
from homage.align.sequences import (
    best_shifts,
    delay_embed,
    fixed_rate_chroma,
    global_profile,
    signed_semitones,
    top_line_chroma,
)
from homage.features.cqt import CQTSpec


@dataclass(frozen=True)
class AlignConfig:
    frame_rate: float = 2.5  # chroma frames per second
    embed_dim: int = 5  # frames stacked by the delay embedding (2 s; 10 frames did worse on the corpus val split)
    kappa: float = 0.1  # share of nearest neighbours that count as recurrent
    transpositions: int = 2  # the best global-profile (OTI) shifts tried; the better alignment is kept
    gap_onset: float = 2.0
    gap_extension: float = 0.5
    max_segments: int = 3
    min_segment_s: float = 8.0


# The columns of an alignment sequence: CRP chroma, then (when present) the top-line chroma.
CHROMA, MELODY = slice(0, 12), slice(12, 24)
SEQUENCE_COLUMNS = MELODY.stop


@dataclass(frozen=True)
class Segment:
    a_start: float  # seconds in recording A
    a_end: float
    b_start: float  # seconds in recording B
    b_end: float
    strength: float  # Qmax of the segment (matched frames, gaps deducted)


@dataclass(frozen=True)
class Alignment:
    score: float  # Qmax / sqrt(frames of B): comparable across candidates of one query
    qmax: float
    melody_score: float | None  # the same on the top-line chroma, when asked for and both sequences carry it
    transposition: int  # semitones B is shifted to match A (−5 … +6)
    tempo_ratio: float  # duration in B / duration in A along the best segment (> 1: B is slower)
    segments: list[Segment] = field(default_factory=list)
    frames_a: int = 0  # delay-embedded frames of A and of B: how much material was compared
    frames_b: int = 0
    cross_recurrence: np.ndarray | None = field(default=None, repr=False)
    path: np.ndarray | None = field(default=None, repr=False)  # best path, frame indices (i in A, j in B)


class Prepared:
    """One recording's alignment sequence with what each comparison against it reuses: its global pitch
    profile and its delay embedding at each transposition tried. Align a query with many candidates
    through one ``Prepared`` query: its work is done once."""

    def __init__(self, a: np.ndarray, config: AlignConfig = AlignConfig()):
        a = np.asarray(a, dtype=np.float32)
        self.a, self.melody = a[:, CHROMA], (a[:, MELODY] if a.shape[1] >= SEQUENCE_COLUMNS else None)
        self.config = config
        self.profile = global_profile(self.a)
        self._embedded: dict[tuple[str, int], np.ndarray] = {}

    def embedded(self, shift: int, part: str = "chroma") -> np.ndarray:
        """The delay embedding of the sequence (``part`` "chroma" or "melody") moved ``shift`` pitch classes
        down (what B moved up meets)."""
        if (part, shift) not in self._embedded:
            x = self.a if part == "chroma" else self.melody
            self._embedded[(part, shift)] = delay_embed(np.roll(x, -shift, axis=1), self.config.embed_dim)
        return self._embedded[(part, shift)]

    def qmax(self, b: np.ndarray, shift: int, part: str = "chroma") -> float:
        """Qmax of ``b``'s ``part`` ("chroma" or "melody") moved up ``shift`` pitch classes against this
        sequence's: the alignment's score at one transposition, without its segments."""
        columns = CHROMA if part == "chroma" else MELODY
        B = delay_embed(np.asarray(b, dtype=np.float32)[:, columns], self.config.embed_dim)
        return _qmax(self.embedded(int(shift), part), B, self.config)[0]

    def align(self, b: np.ndarray, melody: bool = False) -> Alignment:
        """Align with a fixed-rate chroma sequence ``b`` of shape (m, 12), or (m, 24) with its top line;
        ``melody``: also align the top lines (re-ranking reads that score; the verdict does not)."""
        config = self.config
        b = np.asarray(b, dtype=np.float32)
        B = delay_embed(b[:, CHROMA], config.embed_dim)
        best = None
        for shift in best_shifts(self.profile, global_profile(b[:, CHROMA]), config.transpositions):
            qmax, R, Q = _qmax(self.embedded(int(shift)), B, config)  # A against B moved up by shift
            if best is None or qmax > best[0]:
                best = (qmax, int(shift), R, Q)
        qmax, shift, R, Q = best
        melody_score = None
        if melody and self.melody is not None and b.shape[1] >= SEQUENCE_COLUMNS:
            M = delay_embed(b[:, MELODY], config.embed_dim)
            melody_score = _qmax(self.embedded(shift, "melody"), M, config)[0] / np.sqrt(len(M))
        segments, best_path = _segments(Q, config)
        tempo = 1.0
        if best_path is not None and len(best_path) > 1:
            di, dj = np.ptp(best_path[:, 0]), np.ptp(best_path[:, 1])
            tempo = float(dj / di) if di > 0 else 1.0
        return Alignment(
            score=qmax / np.sqrt(len(B)),
            qmax=qmax,
            melody_score=melody_score,
            transposition=signed_semitones((-shift) % 12),
            tempo_ratio=tempo,
            segments=segments,
            frames_a=R.shape[0],
            frames_b=R.shape[1],
            cross_recurrence=R,
            path=best_path,
        )


def _qmax(A: np.ndarray, B: np.ndarray, config: AlignConfig) -> tuple[float, np.ndarray, np.ndarray]:
    """Qmax of two delay-embedded sequences, with their cross-recurrence and Qmax matrices."""
    S = np.ascontiguousarray(A @ B.T)
    R = recurrence(S, *neighbours(S.shape, config.kappa))
    Q = qmax_matrix(R, config.gap_onset, config.gap_extension)
    return float(Q.max()), R, Q


def align_sequences(a: np.ndarray, b: np.ndarray, config: AlignConfig = AlignConfig()) -> Alignment:
    """Align two fixed-rate chroma sequences, shapes (n, 12) and (m, 12) (or 24 columns with the top line)."""
    return Prepared(a, config).align(b)


def alignment_sequence(C: np.ndarray, spec: CQTSpec = CQTSpec(), config: AlignConfig = AlignConfig()) -> np.ndarray:
    """What the alignment reads of a recording, from its magnitude CQT: CRP chroma and top-line chroma at
    ``config.frame_rate``, (n_frames, 24), stored as float16 (the catalog keeps it for re-ranking; ≈ 29 kB
    per 4-minute song)."""
    return np.hstack(
        [fixed_rate_chroma(C, spec, config.frame_rate), top_line_chroma(C, spec, config.frame_rate)]
    ).astype(np.float16)


def align_cqt(
    Ca: np.ndarray, Cb: np.ndarray, spec: CQTSpec = CQTSpec(), config: AlignConfig = AlignConfig()
) -> Alignment:
    """Align two recordings from their magnitude CQTs (as the feature cache holds them)."""
    return align_sequences(alignment_sequence(Ca, spec, config), alignment_sequence(Cb, spec, config), config)


def _segments(Q: np.ndarray, config: AlignConfig) -> tuple[list[Segment], np.ndarray | None]:
    """The strongest non-overlapping alignment paths, longest-scoring first, in seconds; and the best path
    (frame indices). Later paths use other time spans of both songs; short ones after the first are left out."""
    cells, starts, strengths = strongest_paths(Q, config.max_segments)
    to_s = 1.0 / config.frame_rate
    span = config.embed_dim - 1  # a delay-embedded frame covers embed_dim frames
    found, best = [], None
    for n, strength in enumerate(strengths):
        path = cells[starts[n] : starts[n + 1]]
        (i0, j0), (i1, j1) = (int(v) for v in path[0]), (int(v) for v in path[-1])
        if (i1 - i0 + span) * to_s < config.min_segment_s and found:
            continue
        best = path if best is None else best
        found.append(Segment(i0 * to_s, (i1 + span + 1) * to_s, j0 * to_s, (j1 + span + 1) * to_s, float(strength)))
    return found, best


__all__ = [
    "SEQUENCE_COLUMNS",
    "AlignConfig",
    "Alignment",
    "Prepared",
    "Segment",
    "align_cqt",
    "align_sequences",
    "alignment_sequence",
]
