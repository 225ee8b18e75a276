"""Training configuration: plain dataclasses loaded from YAML with dotted overrides.

The defaults are the shipped ``csi`` model's (``configs/csi.yaml`` says the same), all but the extra corpora of
humanized and reinterpreted versions it also trained on, which ``configs/csi.yaml`` names (a run without them
needs two builds less). ``device``, ``workers``
and ``cache`` are runtime settings: they change where and how fast a run computes, not what it learns,
so a run may be resumed with others.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from homage.config import load_yaml
from homage.errors import ConfigError
from homage.models.inputs import InputSpec

LOSSES = ("triplet", "batch_hard", "batch_hard+softmax")
POSITIVES = ("versions", "augmented")
RUNTIME_FIELDS = ("device", "workers", "cache")


@dataclass(frozen=True)
class Augment:
    tempo: tuple[float, float] = (0.9, 1.1)  # time-stretch range of a training chunk (of the beat grid for beat input)
    key_shift: int = 0  # random shift of up to this many bins (semitones), either way; around the octave for chroma
    freq_mask: int = 1  # SpecAugment: one band of up to this many bins zeroed
    time_mask: int = 8  # and one span of up to this many frames


@dataclass(frozen=True)
class TrainConfig:
    corpus: str = "corpus"
    extra_corpora: tuple[str, ...] = ()  # other builds with more versions of the same works (e.g. melody alone)
    out: str = "runs/csi"
    network: str = "ftmnet"
    network_args: dict = field(default_factory=dict)  # the network's own defaults (ftmnet: 16/32/64-beat patches)
    input: InputSpec = InputSpec(feature="beat_crp", pool=1)
    positives: str = "versions"  # "versions": other versions of the work; "augmented": the original project's
    loss: str = "batch_hard+softmax"
    margin: float = 0.3  # triplet margin (Euclidean, unit vectors)
    triplet_weight: float = 0.1  # of the batch-hard term next to the softmax
    softmax_scale: float | None = None  # None: plain linear softmax; else cosine logits × scale
    softmax_margin: float = 0.0  # additive cosine margin (with softmax_scale)
    p: int = 16  # works per batch (batch-hard, softmax)
    k: int = 4  # versions per work
    triplets: int = 32  # triplets per batch (loss "triplet")
    steps_per_epoch: int | None = None  # default: one pass over the training works
    epochs: int = 80
    lr: float = 1e-3
    weight_decay: float = 1e-4
    chunk_s: float = 32.0  # 64 beats at the nominal 2 beats/s
    augment: Augment = Augment()
    max_works: int | None = None  # use a sample of the training works (toy runs)
    init: str | None = None  # ImageNet-format ResNet-18 weights (resnet18 only)
    seed: int = 0
    device: str = "cpu"  # runtime
    workers: int = 2  # runtime: processes computing the corpus features
    cache: str | None = None  # runtime: feature cache folder (default: $HOMAGE_CACHE or ~/.cache/homage)

    @property
    def chunk_frames(self) -> int:
        return max(int(round(self.chunk_s * self.input.frame_rate)), 8)

    def as_dict(self) -> dict:
        """Plain data (what a checkpoint carries)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def learning_settings(self) -> dict:
        """Everything that changes what the run learns: what ``--resume`` must find unchanged."""
        return {k: v for k, v in self.as_dict().items() if k not in RUNTIME_FIELDS}


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """A training config from YAML (unset keys take the shipped model's values), with dotted overrides."""
    config = load_yaml(TrainConfig, path, list(overrides))
    if config.loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, not {config.loss!r}")
    if config.positives not in POSITIVES:
        raise ConfigError(f"positives must be one of {', '.join(POSITIVES)}, not {config.positives!r}")
    if config.positives == "augmented" and config.loss != "triplet":
        raise ConfigError("augmented positives go with loss 'triplet' (the original project's setup)")
    return config
