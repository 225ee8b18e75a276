"""Model checkpoints: the only code that reads or writes them.

A checkpoint holds a network's weights and what is needed to use and to reproduce it: the network and its
arguments, its input, the chunk length it embeds, the epoch, and the training config it was trained with.

Two formats, chosen by the file's suffix:

- ``.pt`` (PyTorch): what ``homage train`` writes — ``best.pt``, and ``last.pt``, which adds the training
  state (optimiser, scheduler, random states, history) that ``--resume`` continues from;
- ``.npz`` (NumPy, float16 weights): read without PyTorch — the model shipped in the package.

Writes are atomic (temporary file, then rename), so an interrupted run never leaves half a checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from homage.atomic import atomic_write
from homage.errors import ConfigError

FORMAT = 2  # 2: the training config travels with the weights


@dataclass(frozen=True)
class ModelCheckpoint:
    network: str  # a name in homage.models.architectures.NETWORKS
    network_args: dict
    input: dict  # homage.models.inputs.InputSpec fields
    chunk_frames: int  # input frames per embedded chunk
    weights: dict[str, np.ndarray] = field(repr=False)
    epoch: int = 0
    config: dict = field(default_factory=dict)  # the training config (plain data), {} when unknown

    @property
    def n_parameters(self) -> int:
        return int(
            sum(
                w.size
                for k, w in self.weights.items()
                if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
            )
        )

    def metadata(self) -> dict:
        return {
            "format": FORMAT,
            "network": self.network,
            "network_args": self.network_args,
            "input": self.input,
            "chunk_frames": self.chunk_frames,
            "epoch": self.epoch,
            "config": self.config,
        }

    def half(self) -> ModelCheckpoint:
        """The same checkpoint with floating-point weights in float16 (what ships)."""
        weights = {k: w.astype(np.float16) if w.dtype.kind == "f" else w for k, w in self.weights.items()}
        return replace(self, weights=weights)


def read(path: str | Path) -> ModelCheckpoint:
    """The checkpoint stored at ``path`` (``.npz`` or ``.pt``; a ``last.pt`` reads as its model)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                weights = {k[2:]: data[k] for k in data.files if k.startswith("w/")}
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{path}: not a homage model file ({exc})") from exc
        return _from_metadata(meta, weights, path)
    return _from_torch(_torch_load(path), path)


def write(path: str | Path, checkpoint: ModelCheckpoint) -> Path:
    """Store ``checkpoint`` at ``path`` in the format its suffix names."""
    path = Path(path)
    if path.suffix == ".npz":
        arrays = {f"w/{k}": w for k, w in checkpoint.weights.items()}
        arrays["meta"] = np.array(json.dumps(checkpoint.metadata()))
        return atomic_write(path, lambda fh: np.savez(fh, **arrays))
    return _write_torch(path, _torch_state(checkpoint))


def write_training_state(path: str | Path, checkpoint: ModelCheckpoint, state: dict[str, Any]) -> Path:
    """``last.pt``: the model and the training state (optimiser, scheduler, history, random states…)."""
    return _write_torch(Path(path), {**_torch_state(checkpoint), "training": state})


def read_training_state(path: str | Path) -> tuple[ModelCheckpoint, dict[str, Any]]:
    """The model and the training state written by :func:`write_training_state`."""
    path = Path(path)
    state = _torch_load(path)
    if "training" not in state:
        raise ConfigError(f"{path}: holds no training state to resume from")
    return _from_torch(state, path), state["training"]


def _from_torch(state: dict, path: Path) -> ModelCheckpoint:
    weights = {k: v.detach().cpu().numpy() for k, v in state["weights"].items()}
    return _from_metadata(state, weights, path)


def _from_metadata(meta: dict, weights: dict[str, np.ndarray], path: Path) -> ModelCheckpoint:
    try:
        return ModelCheckpoint(
            meta["network"],
            dict(meta.get("network_args") or {}),
            dict(meta["input"]),
            int(meta["chunk_frames"]),
            weights,
            int(meta.get("epoch", 0)),
            dict(meta.get("config") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a homage model file (missing {exc})") from exc


def _torch_state(checkpoint: ModelCheckpoint) -> dict:
    import torch

    return {
        **checkpoint.metadata(),
        "weights": {k: torch.from_numpy(np.array(w)) for k, w in checkpoint.weights.items()},
    }


def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    try:
        import torch
    except ImportError as exc:
        raise ConfigError(f"{path}: reading a .pt checkpoint needs PyTorch (pip install 'homage[train]')") from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a damaged or foreign file
        raise ConfigError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc


def _write_torch(path: Path, state: dict) -> Path:
    import torch

    return atomic_write(path, lambda fh: torch.save(state, fh))
