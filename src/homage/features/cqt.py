"""Constant-Q transform and what derives from it: chroma, onset strength, beats, beat-synchronous frames.

Defaults follow CoverHunter and CLEWS: 16 kHz audio, 12 bins per octave over 7 octaves from C1,
a hop of 640 samples (25 frames per second).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.fft

from homage.features.librosa_loader import librosa

CRP_DROP = 0.3  # share of the lowest pitch-cepstral coefficients CRP removes
CRP_ETA = 1000.0  # log compression: log(1 + eta · energy)
# Tuning is estimated from this many excerpts of this length spread through a recording (≈ 0.07 s for a
# 4-minute song, against 0.3–1.5 s for the whole; the two agree within a few cents).
TUNING_EXCERPTS, TUNING_EXCERPT_S = 6, 10.0


@dataclass(frozen=True)
class CQTSpec:
    """Parameters of a CQT feature; also its cache identity."""

    sr: int = 16000
    hop_length: int = 640
    fmin: float = 32.703  # C1: bin 0 is pitch class C
    n_bins: int = 84
    bins_per_octave: int = 12
    tuned: bool = True  # bins centred on the recording's own tuning (see :func:`estimate_tuning`)

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
    tuned: bool = True,
) -> np.ndarray:
    """Magnitude CQT of a mono signal; ``tuned``: its bins centred on the signal's tuning rather than on
    A = 440 Hz, so a recording tuned a quarter-tone away keeps its pitch classes.

    Returns
    -------
    C : np.ndarray, shape (n_bins, n_frames), float32, linear magnitude
    """
    with warnings.catch_warnings():  # a clip of a second or two is shorter than the lowest octave's window:
        warnings.filterwarnings("ignore", message="n_fft=", category=UserWarning)  # librosa pads it, as wanted
        tuning = estimate_tuning(y, sr=sr, bins_per_octave=bins_per_octave) if tuned else 0.0
        C = librosa().cqt(
            y, sr=sr, hop_length=hop_length, fmin=fmin, n_bins=n_bins, bins_per_octave=bins_per_octave, tuning=tuning
        )
    return np.abs(C).astype(np.float32)


def estimate_tuning(y: np.ndarray, *, sr: int = 16000, bins_per_octave: int = 12) -> float:
    """How far a recording's tuning lies from A = 440 Hz, in fractions of a bin (−0.5 … 0.5): librosa's
    pitch-tracking estimate over :data:`TUNING_EXCERPTS` excerpts spread through the signal. Real
    recordings stray by up to half a semitone (tape speed, instruments tuned to each other); renders do not."""
    window = int(TUNING_EXCERPT_S * sr)
    if len(y) > TUNING_EXCERPTS * window:
        starts = np.linspace(0, len(y) - window, TUNING_EXCERPTS).astype(int)
        y = np.concatenate([y[s : s + window] for s in starts])
    with warnings.catch_warnings():  # silence has no pitch to track: librosa warns and the answer is 0
        warnings.simplefilter("ignore", UserWarning)
        tuning = librosa().estimate_tuning(y=y, sr=sr, bins_per_octave=bins_per_octave)
    return float(tuning) if np.isfinite(tuning) else 0.0


def chroma_from_cqt(C: np.ndarray, *, bins_per_octave: int = 12, fmin: float = 32.703) -> np.ndarray:
    """Fold a magnitude CQT into 12 pitch classes (row 0 = C), each frame scaled to a maximum of 1.

    Returns
    -------
    chroma : np.ndarray, shape (12, n_frames), float32 in [0, 1]
    """
    chroma = librosa().feature.chroma_cqt(C=C, bins_per_octave=bins_per_octave, fmin=fmin, n_chroma=12)
    return chroma.astype(np.float32)


def crp_chroma(
    C: np.ndarray, *, bins_per_octave: int = 12, fmin: float = 32.703, drop: float = CRP_DROP, eta: float = CRP_ETA
) -> np.ndarray:
    """Timbre-robust chroma: CRP, "chroma DCT-reduced log pitch" (Müller & Ewert 2010).

    The log-compressed pitch energies are taken to the cepstral domain along the pitch axis, the
    lowest ``drop`` share of coefficients (the spectral envelope: timbre, loudness) is removed, and
    what is left is folded into 12 pitch classes. Versions played on other instruments keep their
    harmony and melody but lose their instrument's colour.

    Returns
    -------
    chroma : np.ndarray, shape (12, n_frames), float32, each frame scaled to a maximum of 1
    """
    energy = (C / max(float(C.max()), 1e-9)) ** 2
    cepstrum = scipy.fft.dct(np.log1p(eta * energy), axis=0, norm="ortho")
    cepstrum[: int(round(drop * len(C)))] = 0.0
    pitch = np.maximum(scipy.fft.idct(cepstrum, axis=0, norm="ortho"), 0.0)
    start = int(round(bins_per_octave * np.log2(fmin / librosa().note_to_hz("C1")))) % bins_per_octave
    classes = (np.arange(len(C)) * 12 // bins_per_octave + start * 12 // bins_per_octave) % 12
    chroma = np.eye(12, dtype=pitch.dtype)[:, classes] @ pitch  # sum the octaves of each pitch class
    return (chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-9)).astype(np.float32)


def onset_strength(C: np.ndarray, *, sr: int = 16000, hop_length: int = 640) -> np.ndarray:
    """Spectral-flux onset envelope from a magnitude CQT, shape (n_frames,)."""
    S = librosa().amplitude_to_db(C, ref=np.max)
    return librosa().onset.onset_strength(S=S, sr=sr, hop_length=hop_length).astype(np.float32)


def beat_frames(C: np.ndarray, *, sr: int = 16000, hop_length: int = 640, fallback_period_s: float = 0.5) -> np.ndarray:
    """Beat positions (frame indices) tracked on the CQT's onset envelope.

    Music without a detectable pulse falls back to a fixed grid of ``fallback_period_s``.
    """
    envelope = onset_strength(C, sr=sr, hop_length=hop_length)
    _, beats = librosa().beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=hop_length, units="frames")
    n_frames = C.shape[1]
    if len(beats) < max(4, 0.1 * n_frames * hop_length / sr):  # fewer than one beat per 10 s: no pulse
        step = max(1, int(round(fallback_period_s * sr / hop_length)))
        beats = np.arange(0, n_frames, step)
    return np.asarray(beats, dtype=np.int64)


def beat_sync(X: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Median of the frames of ``X`` (features × frames) between consecutive beats."""
    return librosa().util.sync(X, beats, aggregate=np.median).astype(np.float32)


def beat_crp_chroma(C: np.ndarray, spec: CQTSpec) -> np.ndarray:
    """Beat-synchronous CRP chroma of a CQT computed under ``spec``: (12, n_beats), each beat scaled to a
    maximum of 1. One column per tracked beat makes versions at other tempi line up column for column."""
    chroma = crp_chroma(C, bins_per_octave=spec.bins_per_octave, fmin=spec.fmin)
    chroma = beat_sync(chroma, beat_frames(C, sr=spec.sr, hop_length=spec.hop_length))
    return chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-9)
