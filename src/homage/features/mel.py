"""The original project's input: a log-mel spectrogram (22.05 kHz, 128 mel bands, dB)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from homage.features.librosa_loader import librosa


@dataclass(frozen=True)
class MelSpec:
    """Parameters of a log-mel feature; also its cache identity."""

    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    top_db: float = 80.0

    name = "logmel"

    @property
    def frame_rate(self) -> float:
        return self.sr / self.hop_length

    def compute(self, y: np.ndarray) -> np.ndarray:
        return log_mel(y, **vars(self))


def log_mel(
    y: np.ndarray,
    *,
    sr: int = 22050,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    top_db: float = 80.0,
) -> np.ndarray:
    """Log-mel spectrogram in dB relative to the signal's maximum.

    Returns
    -------
    S_db : np.ndarray, shape (n_mels, n_frames), float32, values in [-top_db, 0]
    """
    S = librosa().feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    return librosa().power_to_db(S, ref=np.max, top_db=top_db).astype(np.float32)
