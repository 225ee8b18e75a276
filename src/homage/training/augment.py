"""Augmentation of training inputs (bins × frames): random chunks with time stretch, key shift and
SpecAugment masks, and the original project's augmented positive."""

from __future__ import annotations

import numpy as np

from homage.training.config import Augment

PITCH_CLASSES = 12


def shift_bins(X: np.ndarray, shift: int, fill: float) -> np.ndarray:
    """``X`` (bins, frames) moved ``shift`` bins up (down when negative); the bins left empty get ``fill``."""
    X = np.roll(X, shift, axis=0)
    if shift > 0:
        X[:shift] = fill
    elif shift < 0:
        X[shift:] = fill
    return X


def stretch(X: np.ndarray, rate: float) -> np.ndarray:
    """``X`` resampled along time by linear interpolation: ``rate`` > 1 makes it shorter (faster)."""
    positions = np.clip(np.arange(0, X.shape[1] - 1 if X.shape[1] > 1 else 1, rate), 0, X.shape[1] - 1)
    return np.stack([np.interp(positions, np.arange(X.shape[1]), row) for row in X])


def training_chunk(
    X: np.ndarray, frames: int, aug: Augment, rng: np.random.Generator, enabled: bool = True
) -> np.ndarray:
    """A random ``frames``-long chunk, time-stretched, key-shifted and masked (SpecAugment); with
    ``enabled`` False the middle chunk as it is."""
    if enabled and tuple(aug.tempo) != (1.0, 1.0):
        X = stretch(X, rng.uniform(*aug.tempo))
    if X.shape[1] < frames:
        X = np.tile(X, (1, int(np.ceil(frames / X.shape[1]))))
    start = int(rng.integers(X.shape[1] - frames + 1)) if enabled else (X.shape[1] - frames) // 2
    X = np.array(X[:, start : start + frames], dtype=np.float32)
    if not enabled:
        return X
    shift = int(rng.integers(-aug.key_shift, aug.key_shift + 1)) if aug.key_shift else 0
    if shift:  # pitch-class input (12 rows) wraps around the octave; a spectrum moves and is filled
        X = np.roll(X, shift, axis=0) if X.shape[0] == PITCH_CLASSES else shift_bins(X, shift, fill=0.0)
    if aug.freq_mask:
        width, at = int(rng.integers(aug.freq_mask + 1)), int(rng.integers(X.shape[0]))
        X[at : at + width] = 0.0
    if aug.time_mask:
        width, at = int(rng.integers(aug.time_mask + 1)), int(rng.integers(X.shape[1]))
        X[:, at : at + width] = 0.0
    return X


def augment_original(X: np.ndarray, rng: np.random.Generator, *, bins_per_octave: int = 12) -> np.ndarray:
    """The original project's positive: the same recording with noise, a time stretch (0.8–1.2×) and a
    pitch shift (±2 semitones), on a (bins, frames) magnitude or dB feature."""
    X = stretch(np.asarray(X, dtype=np.float32), rng.uniform(0.8, 1.2))
    shift = int(round(rng.uniform(-2, 2) * bins_per_octave / 12))
    X = shift_bins(X, shift, fill=float(X.min()))
    scale = float(np.std(X)) or 1.0
    return X + rng.normal(0, 0.05 * scale, X.shape).astype(np.float32)
