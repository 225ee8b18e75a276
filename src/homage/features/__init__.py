"""Features: what the models and the alignment read, computed from decoded audio.

- :mod:`homage.features.mel` — the original project's log-mel spectrogram.
- :mod:`homage.features.cqt` — the constant-Q transform the version-identification field uses, and what
  derives from it without touching the audio again: chroma, timbre-robust CRP chroma, onset strength, beats,
  beat-synchronous frames.
- :mod:`homage.features.cache` — an on-disk cache keyed by file content and parameters.
"""

from homage.features.cache import FeatureCache
from homage.features.cqt import (
    CQTSpec,
    beat_crp_chroma,
    beat_frames,
    beat_sync,
    chroma_from_cqt,
    cqt,
    crp_chroma,
    estimate_tuning,
)
from homage.features.mel import MelSpec, log_mel

__all__ = [
    "CQTSpec",
    "FeatureCache",
    "MelSpec",
    "beat_crp_chroma",
    "beat_frames",
    "beat_sync",
    "chroma_from_cqt",
    "cqt",
    "crp_chroma",
    "estimate_tuning",
    "log_mel",
]
