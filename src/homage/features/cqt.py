"""Constant-Q transform and what derives from it: chroma, onset strength, beats, beat-synchronous frames.

Defaults follow CoverHunter and CLEWS: 16 kHz audio, 12 bins per octave over 7 octaves from C1,
a hop of 640 samples (25 frames per second).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np


@dataclass(frozen=True)
class CQTSpec:
    """Parameters of a CQT feature; also its cache identity."""

    sr: int = 16000
    hop_length: int = 640
    fmin: float = 32.703  # C1: bin 0 is pitch class C
    n_bins: int = 84
    bins_per_octave: int = 12

    name = "cqt"

    @property
    def frame_rate(self) -> float:
        return self.sr / self.hop_length

    def compute(self, y: np.ndarray) -> np.ndarray:
        return cqt(y, **vars(self))


def cqt(
    y: np.ndarray,
    *,
    sr: int = 16000,
    hop_length: int = 640,
    fmin: float = 32.703,
    n_bins: int = 84,
    bins_per_octave: int = 12,
) -> np.ndarray:
    """Magnitude CQT of a mono signal.

    Returns
    -------
    C : np.ndarray, shape (n_bins, n_frames), float32, linear magnitude
    """
    C = librosa.cqt(
        y, sr=sr, hop_length=hop_length, fmin=fmin, n_bins=n_bins, bins_per_octave=bins_per_octave
    )
    return np.abs(C).astype(np.float32)


def chroma_from_cqt(C: np.ndarray, *, bins_per_octave: int = 12, fmin: float = 32.703) -> np.ndarray:
    """Fold a magnitude CQT into 12 pitch classes (row 0 = C), each frame scaled to a maximum of 1.

    Returns
    -------
    chroma : np.ndarray, shape (12, n_frames), float32 in [0, 1]
    """
    chroma = librosa.feature.chroma_cqt(C=C, bins_per_octave=bins_per_octave, fmin=fmin, n_chroma=12)
    return chroma.astype(np.float32)


def onset_strength(C: np.ndarray, *, sr: int = 16000, hop_length: int = 640) -> np.ndarray:
    """Spectral-flux onset envelope from a magnitude CQT, shape (n_frames,)."""
    S = librosa.amplitude_to_db(C, ref=np.max)
    return librosa.onset.onset_strength(S=S, sr=sr, hop_length=hop_length).astype(np.float32)


def beat_frames(
    C: np.ndarray, *, sr: int = 16000, hop_length: int = 640, fallback_period_s: float = 0.5
) -> np.ndarray:
    """Beat positions (frame indices) tracked on the CQT's onset envelope.

    Music without a detectable pulse falls back to a fixed grid of ``fallback_period_s``.
    """
    envelope = onset_strength(C, sr=sr, hop_length=hop_length)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=hop_length, units="frames")
    n_frames = C.shape[1]
    if len(beats) < max(4, 0.1 * n_frames * hop_length / sr):  # fewer than one beat per 10 s: no pulse
        step = max(1, int(round(fallback_period_s * sr / hop_length)))
        beats = np.arange(0, n_frames, step)
    return np.asarray(beats, dtype=np.int64)


def beat_sync(X: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Median of the frames of ``X`` (features × frames) between consecutive beats."""
    return librosa.util.sync(X, beats, aggregate=np.median).astype(np.float32)
