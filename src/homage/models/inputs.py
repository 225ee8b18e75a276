"""Network inputs from cached features: log-compressed, time-pooled matrices (bins × frames).

A version-identification network needs pitch content at a coarse time scale (CQTNet averages the CQT
down to about 2 frames per second); pooling makes whole songs cheap to embed on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from homage.features.cqt import CQTSpec, beat_crp_chroma, chroma_from_cqt, crp_chroma
from homage.features.mel import MelSpec

NOMINAL_BEATS_PER_S = 2.0


@dataclass(frozen=True)
class InputSpec:
    # "cqt" (84 bins, 25 fps), "chroma" or "crp" (12 pitch classes from that CQT), "beat_crp" (CRP, one
    # frame per tracked beat), "logmel" (128 bands, 43 fps)
    feature: str = "cqt"
    pool: int = 10  # feature frames averaged into one input frame

    def spec(self) -> CQTSpec | MelSpec:
        return MelSpec() if self.feature == "logmel" else CQTSpec()

    @property
    def n_bins(self) -> int:
        if self.feature in ("chroma", "crp", "beat_crp"):
            return 12
        return self.spec().n_mels if self.feature == "logmel" else self.spec().n_bins

    @property
    def frame_rate(self) -> float:
        """Input frames per second (beat-synchronous input: at a nominal 120 beats per minute)."""
        rate = NOMINAL_BEATS_PER_S if self.feature == "beat_crp" else self.spec().frame_rate
        return rate / self.pool

    def prepare(self, X: np.ndarray) -> np.ndarray:
        """Features as computed (CQT magnitude, or log-mel dB) → float32 (bins, frames) in about [0, 1]."""
        X = np.asarray(X, dtype=np.float32)
        if self.feature == "cqt":
            X = np.log1p(100.0 * X / max(float(X.max()), 1e-8)) / np.log1p(100.0)
        elif self.feature == "chroma":
            X = chroma_from_cqt(X)
        elif self.feature == "crp":
            X = crp_chroma(X)
        elif self.feature == "beat_crp":
            X = beat_crp_chroma(X, self.spec())
        else:
            X = (X + 80.0) / 80.0
        frames = max(X.shape[1] // self.pool, 1)
        X = X[:, : frames * self.pool] if X.shape[1] >= self.pool else X
        return X.reshape(X.shape[0], frames, -1).mean(axis=2)
