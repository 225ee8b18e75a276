"""The training loop: a network, a loss and a sampler over the versions corpus, with checkpoints that resume.

``train(config)`` runs epochs until ``config.epochs``; after each it writes ``last.pt`` (everything
needed to resume), ``best.pt`` (the weights with the best validation MAP on the corpus validation
split — never on real covers), ``history.json`` and ``curves.png``. ``resume=True`` continues from
``last.pt``. The "no model" baseline (the loss and MAP of the raw input features) is recorded once.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from homage.errors import ConfigError, ParameterError
from homage.evaluation.metrics import retrieval_scores
from homage.models import checkpoint as checkpoints
from homage.models.base import Embedder
from homage.models.network_embedder import build_network, embed_chunks, torch_forward
from homage.training.augment import augment_original, training_chunk
from homage.training.config import TrainConfig
from homage.training.curves import plot_curves
from homage.training.data import Split, load_split
from homage.training.losses import WorkClassifier, batch_hard_triplet_loss, triplet_loss
from homage.training.samplers import original_triplets, pk_batches, version_triplets


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
        row = {
            "epoch": self.epoch,
            "train_loss": float(np.mean(losses)),
            **self.validate(),
            **baseline,
            "seconds": round(time.perf_counter() - started, 1),
        }
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
        forward = torch_forward(self.net)
        vectors = np.stack([embed_chunks(forward, X, self.config.chunk_frames) for X in self.val_data.inputs])
        return {
            "val_loss": float(np.mean(losses)) if losses else float("nan"),
            "val_map": _map(vectors, self.val_data.labels),
        }

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
    def model_checkpoint(self) -> checkpoints.ModelCheckpoint:
        c = self.config
        weights = {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
        return checkpoints.ModelCheckpoint(
            c.network, c.network_args, c.input.__dict__.copy(), c.chunk_frames, weights, self.epoch, c.as_dict()
        )

    def save(self, best: bool) -> None:
        model = self.model_checkpoint()
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "softmax": self.softmax.state_dict() if self.softmax else None,
            "history": self.history,
            "best_map": self.best_map,
            "rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }
        checkpoints.write_training_state(self.out / "last.pt", model, state)
        if best:
            checkpoints.write(self.out / "best.pt", model)
        (self.out / "history.json").write_text(json.dumps(self.history, indent=1))
        plot_curves(self.history, self.out / "curves.png")

    def resume(self) -> bool:
        """Continue from ``last.pt`` when there is one; refused when it learnt under other settings."""
        path = self.out / "last.pt"
        if not path.exists():
            return False
        model, state = checkpoints.read_training_state(path)
        defaults = TrainConfig().learning_settings()  # what runs written before a setting existed used
        saved = {k: model.config.get(k, defaults[k]) for k in self.config.learning_settings()}
        if saved != self.config.learning_settings():
            changed = sorted(k for k, v in self.config.learning_settings().items() if saved.get(k) != v)
            raise ConfigError(
                f"{path} was written with another configuration ({', '.join(changed)}): use another --out folder"
            )
        self.net.load_state_dict({k: torch.from_numpy(w) for k, w in model.weights.items()})
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.softmax is not None:
            self.softmax.load_state_dict(state["softmax"])
        self.epoch, self.history, self.best_map = model.epoch, state["history"], state["best_map"]
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        return True


def _map(vectors: np.ndarray, labels: np.ndarray) -> float:
    try:
        return retrieval_scores(1.0 - Embedder.similarity(vectors, vectors), labels).map
    except ParameterError:  # no validation work with two versions
        return float("nan")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    splits = {}
    for name in ("train", "val"):
        splits[name] = load_split(config, name, on_stage=on_stage, on_item=on_item)
        if len(splits[name].inputs) == 0:
            raise ConfigError(f"{config.corpus}: the {name} split is empty")
    trainer = Trainer(config, splits["train"], splits["val"], log=log)
    if resume and trainer.resume():
        log(f"resumed from {trainer.out / 'last.pt'} after epoch {trainer.epoch}")
    while trainer.epoch < config.epochs:
        row = trainer.run_epoch(on_step)
        log(" ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    return trainer
