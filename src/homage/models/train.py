"""Training: a network, a loss and a sampler over the versions corpus, with checkpoints that resume.

``train(config)`` runs epochs until ``config.epochs``; after each it writes ``last.pt`` (everything
needed to resume), ``best.pt`` (the weights with the best validation MAP on the corpus validation
split — never on real covers), ``history.json`` and ``curves.png``. ``resume=True`` continues from
``last.pt``. The "no model" baseline (the loss and MAP of the raw input features) is recorded once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from homage.config import load_yaml
from homage.data.loaders import (
    Corpus,
    augment_original,
    load_features,
    original_triplets,
    pk_batches,
    shift_bins,
    version_triplets,
)
from homage.errors import ConfigError
from homage.evaluation.metrics import retrieval_scores
from homage.features.cache import FeatureCache
from homage.models.embedder import build_network, embed_prepared
from homage.models.inputs import InputSpec
from homage.models.losses import WorkClassifier, batch_hard_triplet_loss, triplet_loss

LOSSES = ("triplet", "batch_hard", "batch_hard+softmax")
POSITIVES = ("versions", "augmented")


@dataclass(frozen=True)
class Augment:
    tempo: tuple[float, float] = (0.8, 1.25)  # time-stretch range of a training chunk
    key_shift: int = 6  # random CQT shift of up to this many bins (semitones), either way
    freq_mask: int = 8  # SpecAugment: one band of up to this many bins zeroed
    time_mask: int = 6  # and one span of up to this many frames


@dataclass(frozen=True)
class TrainConfig:
    corpus: str = "corpus"
    out: str = "runs/csi"
    network: str = "csi"
    network_args: dict = field(default_factory=dict)
    input: InputSpec = InputSpec()
    positives: str = "versions"  # "versions": other versions of the work; "augmented": the original project's
    loss: str = "batch_hard+softmax"
    margin: float = 0.3  # triplet margin (Euclidean, unit vectors)
    triplet_weight: float = 1.0  # of the batch-hard term next to the softmax
    softmax_scale: float | None = None  # None: plain linear softmax; else cosine logits × scale
    softmax_margin: float = 0.0  # additive cosine margin (with softmax_scale)
    p: int = 16  # works per batch (batch-hard, softmax)
    k: int = 4  # versions per work
    triplets: int = 32  # triplets per batch (loss "triplet")
    steps_per_epoch: int | None = None  # default: one pass over the training works
    epochs: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    chunk_s: float = 24.0
    augment: Augment = Augment()
    max_works: int | None = None  # use a sample of the training works (toy runs)
    init: str | None = None  # ImageNet-format ResNet-18 weights (resnet18 only)
    seed: int = 0
    device: str = "cpu"
    workers: int = 2  # feature computation
    cache: str | None = None  # feature cache folder (default: $HOMAGE_CACHE or ~/.cache/homage)

    @property
    def chunk_frames(self) -> int:
        return max(int(round(self.chunk_s * self.input.frame_rate)), 8)


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    config = load_yaml(TrainConfig, path, list(overrides))
    if config.loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, not {config.loss!r}")
    if config.positives not in POSITIVES:
        raise ConfigError(f"positives must be one of {', '.join(POSITIVES)}, not {config.positives!r}")
    if config.positives == "augmented" and config.loss != "triplet":
        raise ConfigError("augmented positives go with loss 'triplet' (the original project's setup)")
    return config


@dataclass
class Split:
    inputs: list[np.ndarray]
    labels: np.ndarray


def load_split(config: TrainConfig, corpus: Corpus, name: str, on_item=None) -> Split:
    from homage.features.cache import default_cache_dir

    items = corpus.split(name)
    if config.max_works is not None:
        works = sorted({i.work_id for i in items})
        keep = set(np.random.default_rng(config.seed).permutation(works)[: config.max_works if name == "train" else max(config.max_works // 4, 4)])
        items = [i for i in items if i.work_id in keep]
    cache = FeatureCache(config.cache or default_cache_dir())
    data = load_features(items, config.input.spec(), cache, workers=config.workers, on_item=on_item)
    return Split([config.input.prepare(X) for X in data.features], data.labels)


def training_chunk(X: np.ndarray, frames: int, aug: Augment, rng: np.random.Generator, enabled: bool = True) -> np.ndarray:
    """A random ``frames``-long chunk, time-stretched, key-shifted and masked (SpecAugment)."""
    if enabled and tuple(aug.tempo) != (1.0, 1.0):
        rate = rng.uniform(*aug.tempo)
        positions = np.arange(0, X.shape[1] - 1, rate)
        X = np.stack([np.interp(positions, np.arange(X.shape[1]), row) for row in X])
    if X.shape[1] < frames:
        X = np.tile(X, (1, int(np.ceil(frames / X.shape[1]))))
    start = int(rng.integers(X.shape[1] - frames + 1)) if enabled else (X.shape[1] - frames) // 2
    X = np.array(X[:, start : start + frames], dtype=np.float32)
    if not enabled:
        return X
    shift = int(rng.integers(-aug.key_shift, aug.key_shift + 1)) if aug.key_shift else 0
    if shift:
        X = shift_bins(X, shift, fill=0.0)
    if aug.freq_mask:
        width, at = int(rng.integers(aug.freq_mask + 1)), int(rng.integers(X.shape[0]))
        X[at : at + width] = 0.0
    if aug.time_mask:
        width, at = int(rng.integers(aug.time_mask + 1)), int(rng.integers(X.shape[1]))
        X[:, at : at + width] = 0.0
    return X


class Trainer:
    def __init__(self, config: TrainConfig, train: Split, val: Split, log: Callable[[str], None] = print):
        self.config, self.train_data, self.val_data, self.log = config, train, val, log
        self.out = Path(config.out)
        self.out.mkdir(parents=True, exist_ok=True)
        _seed_everything(config.seed)
        self.device = torch.device(config.device)
        self.net = build_network(config.network, config.network_args).to(self.device)
        if config.init:
            if not hasattr(self.net, "load_imagenet"):
                raise ConfigError(f"--init is for resnet18, not {config.network}")
            loaded = self.net.load_imagenet(torch.load(config.init, map_location="cpu", weights_only=True))
            self.log(f"initialised {len(loaded)} tensors from {config.init}")
        n_classes = int(train.labels.max()) + 1
        dim = self.net.head.fc.out_features
        self.softmax = (
            WorkClassifier(dim, n_classes, config.softmax_scale, config.softmax_margin).to(self.device)
            if config.loss == "batch_hard+softmax"
            else None
        )
        params = list(self.net.parameters()) + (list(self.softmax.parameters()) if self.softmax else [])
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(config.epochs, 1))
        self.epoch, self.history, self.best_map = 0, [], -1.0
        self.rng = np.random.default_rng(config.seed)

    # --- batches -------------------------------------------------------------------------------
    def _chunks(self, inputs: list[np.ndarray], idx, augment: bool, rng) -> list[np.ndarray]:
        return [training_chunk(inputs[i], self.config.chunk_frames, self.config.augment, rng, augment) for i in idx]

    def _tensor(self, chunks: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(chunks)).float().unsqueeze(1).to(self.device)

    def _batches(self, split: Split, rng, n_batches: int | None):
        """Index arrays (P×K batches, or triplet rows) for one epoch of ``split``."""
        c = self.config
        if c.loss == "triplet":
            n = n_batches or max(len(np.unique(split.labels)) // c.p, 1)
            sample = original_triplets if c.positives == "augmented" else version_triplets
            return [sample(split.labels, c.triplets, rng) for _ in range(n)]
        batches = list(pk_batches(split.labels, c.p, c.k, rng))
        return batches[:n_batches] if n_batches else batches

    def _triplet_chunks(self, split: Split, batch: np.ndarray, augment: bool, rng) -> list[list[np.ndarray]]:
        """Anchor, positive and negative chunks; an augmented positive is the anchor chunk augmented."""
        anchors = self._chunks(split.inputs, batch[:, 0], augment, rng)
        if self.config.positives == "augmented":
            fit = [augment_original(a, rng) for a in anchors]
            positives = [training_chunk(X, self.config.chunk_frames, self.config.augment, rng, False) for X in fit]
        else:
            positives = self._chunks(split.inputs, batch[:, 1], augment, rng)
        return [anchors, positives, self._chunks(split.inputs, batch[:, -1], augment, rng)]

    def loss(self, split: Split, batch: np.ndarray, training: bool, rng) -> torch.Tensor:
        """The configured loss on one batch; training chunks are augmented and add the softmax term
        (validation works are not among the training classes)."""
        c = self.config
        if c.loss == "triplet":
            a, p, n = self._triplet_chunks(split, batch, training, rng)
            _, normed = self.net(self._tensor(a + p + n))
            a, p, n = F.normalize(normed, dim=1).chunk(3)
            return triplet_loss(a, p, n, c.margin)
        labels = torch.from_numpy(split.labels[batch]).to(self.device)
        raw, normed = self.net(self._tensor(self._chunks(split.inputs, batch, training, rng)))
        loss = batch_hard_triplet_loss(F.normalize(raw, dim=1), labels, c.margin)
        if self.softmax is not None:
            loss = c.triplet_weight * loss
            if training:
                loss = loss + self.softmax(normed, labels)
        return loss

    # --- epochs --------------------------------------------------------------------------------
    def run_epoch(self, on_step: Callable[[int, int, int, float], None] | None = None) -> dict:
        c = self.config
        started = time.perf_counter()
        self.net.train()
        batches = self._batches(self.train_data, self.rng, c.steps_per_epoch)
        losses = []
        for step, batch in enumerate(batches):
            loss = self.loss(self.train_data, batch, True, self.rng)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
            if on_step:
                on_step(self.epoch + 1, step + 1, len(batches), losses[-1])
        self.scheduler.step()
        self.epoch += 1
        baseline = self.baseline() if not self.history else {}
        row = {"epoch": self.epoch, "train_loss": float(np.mean(losses)), **self.validate(), **baseline,
               "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        self.history.append(row)
        is_best = row["val_map"] > self.best_map
        if is_best:
            self.best_map = row["val_map"]
        self.save(best=is_best)
        return row

    @torch.no_grad()
    def validate(self) -> dict:
        """Loss on fixed validation batches (no augmentation) and MAP over the validation versions."""
        self.net.eval()
        rng = np.random.default_rng(1234)
        losses = [float(self.loss(self.val_data, b, False, rng)) for b in self._batches(self.val_data, rng, 8)]
        vectors = np.stack([embed_prepared(self.net, X, self.config.chunk_frames) for X in self.val_data.inputs])
        return {"val_loss": float(np.mean(losses)) if losses else float("nan"), "val_map": _map(vectors, self.val_data.labels)}

    def baseline(self) -> dict:
        """The "no model" baseline: the same loss, and MAP, on the raw input features."""
        c, data = self.config, self.val_data
        rng = np.random.default_rng(1234)

        def flat(chunks):
            return F.normalize(torch.from_numpy(np.stack(chunks)).float().flatten(1), dim=1)

        losses = []
        for batch in self._batches(data, rng, 8):
            if c.loss == "triplet":
                a, p, n = (flat(col) for col in self._triplet_chunks(data, batch, False, rng))
                losses.append(float(triplet_loss(a, p, n, c.margin)))
            else:
                emb = flat(self._chunks(data.inputs, batch, False, rng))
                loss = batch_hard_triplet_loss(emb, torch.from_numpy(data.labels[batch]), c.margin)
                losses.append(float(loss) * (c.triplet_weight if self.softmax is not None else 1.0))
        pooled = np.stack([X.mean(axis=1) / (np.linalg.norm(X.mean(axis=1)) + 1e-9) for X in data.inputs])
        return {"baseline_val_loss": float(np.mean(losses)), "baseline_val_map": _map(pooled, data.labels)}

    # --- checkpoints ---------------------------------------------------------------------------
    def weights_state(self) -> dict:
        c = self.config
        return {
            "network": c.network,
            "network_args": c.network_args,
            "input": dataclasses.asdict(c.input),
            "chunk_frames": c.chunk_frames,
            "weights": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
            "epoch": self.epoch,
        }

    def save(self, best: bool) -> None:
        state = {
            **self.weights_state(),
            "config": json.loads(json.dumps(dataclasses.asdict(self.config))),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "softmax": self.softmax.state_dict() if self.softmax else None,
            "history": self.history,
            "best_map": self.best_map,
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        _atomic_torch_save(state, self.out / "last.pt")
        if best:
            _atomic_torch_save(self.weights_state(), self.out / "best.pt")
        (self.out / "history.json").write_text(json.dumps(self.history, indent=1))
        plot_curves(self.history, self.out / "curves.png")

    def resume(self) -> bool:
        path = self.out / "last.pt"
        if not path.exists():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["config"] != json.loads(json.dumps(dataclasses.asdict(self.config))):
            raise ConfigError(f"{path} was written with another configuration: use another --out folder")
        self.net.load_state_dict(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.softmax is not None:
            self.softmax.load_state_dict(state["softmax"])
        self.epoch, self.history, self.best_map = state["epoch"], state["history"], state["best_map"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return True


def _map(vectors: np.ndarray, labels: np.ndarray) -> float:
    try:
        return retrieval_scores(1.0 - vectors @ vectors.T, labels).map
    except ValueError:
        return float("nan")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [h["train_loss"] for h in history], label="train (every term)")
    left.plot(epochs, [h["val_loss"] for h in history], label="validation (triplet term)")
    right.plot(epochs, [h["val_map"] for h in history], label="validation MAP", color="C2")
    if history and "baseline_val_loss" in history[0]:
        left.axhline(history[0]["baseline_val_loss"], ls="--", color="grey", label="no model (triplet term)")
        right.axhline(history[0]["baseline_val_map"], ls="--", color="grey", label="no model")
    left.set_xlabel("epoch"), left.set_ylabel("loss"), right.set_xlabel("epoch"), right.set_ylabel("MAP")
    left.legend(fontsize=7), right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    log: Callable[[str], None] = print,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
    on_step: Callable[[int, int, int, float], None] | None = None,
) -> Trainer:
    """Load the corpus features, then train (or resume) until ``config.epochs``; returns the trainer."""
    corpus = Corpus.load(config.corpus)
    splits = {}
    for name in ("train", "val"):
        if on_stage:
            on_stage(f"features ({name})", len(corpus.split(name)))
        splits[name] = load_split(config, corpus, name, on_item)
        if len(splits[name].inputs) == 0:
            raise ConfigError(f"{config.corpus}: the {name} split is empty")
    trainer = Trainer(config, splits["train"], splits["val"], log=log)
    if resume and trainer.resume():
        log(f"resumed from {trainer.out / 'last.pt'} after epoch {trainer.epoch}")
    while trainer.epoch < config.epochs:
        row = trainer.run_epoch(on_step)
        log(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    return trainer
