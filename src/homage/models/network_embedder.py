"""A trained network behind the embedder interface: cached features → chunk embeddings → one unit vector.

A recording is cut into chunks (``chunk_frames`` input frames, half overlapping); each chunk is embedded
and the mean of the normalised chunk vectors, normalised again, represents the recording, so whole songs
and short excerpts are embedded alike. An ``ftmnet`` runs in NumPy (:mod:`homage.models.ftmnet`), so the
shipped model needs no PyTorch; the other networks run in PyTorch.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from homage.errors import ConfigError
from homage.models import checkpoint as checkpoints
from homage.models.base import Embedder, l2_normalize
from homage.models.inputs import InputSpec

Forward = Callable[[np.ndarray], np.ndarray]  # (chunks, bins, frames) → (chunks, dim) embeddings


def chunks(X: np.ndarray, chunk_frames: int) -> np.ndarray:
    """(bins, frames) → (n_chunks, bins, chunk_frames), half-overlapping; a short input is repeated to fill one."""
    if X.shape[1] < chunk_frames:
        X = np.tile(X, (1, int(np.ceil(chunk_frames / max(X.shape[1], 1)))))[:, :chunk_frames]
    hop = max(chunk_frames // 2, 1)
    starts = list(range(0, X.shape[1] - chunk_frames + 1, hop))
    if starts[-1] + chunk_frames < X.shape[1]:
        starts.append(X.shape[1] - chunk_frames)
    return np.stack([X[:, s : s + chunk_frames] for s in starts]).astype(np.float32, copy=False)


def embed_chunks(forward: Forward, X: np.ndarray, chunk_frames: int, batch: int = 64) -> np.ndarray:
    """A prepared input matrix → unit vector: the mean of its chunks' normalised embeddings, normalised."""
    parts = chunks(X, chunk_frames)
    vectors = np.concatenate([l2_normalize(forward(parts[s : s + batch])) for s in range(0, len(parts), batch)])
    return l2_normalize(vectors.mean(axis=0))


def torch_forward(net) -> Forward:
    """A PyTorch network (in eval mode) as a NumPy forward: its BNNeck output per chunk."""
    import torch

    def forward(x: np.ndarray) -> np.ndarray:
        net.eval()
        device = next(net.parameters()).device
        with torch.no_grad():
            return net(torch.from_numpy(x).float().unsqueeze(1).to(device))[1].cpu().numpy()

    return forward


def build_network(name: str, args: dict | None = None):
    """A fresh PyTorch network by name (see ``homage.models.architectures.NETWORKS``)."""
    from homage.models.architectures import NETWORKS

    try:
        return NETWORKS[name](**(args or {}))
    except KeyError:
        raise ConfigError(f"unknown network {name!r}; available: {', '.join(NETWORKS)}") from None


class NetworkEmbedder(Embedder):
    """Embeds with a checkpoint written by ``homage train`` (``.pt``) or shipped in the package (``.npz``)."""

    version = "1"

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        ckpt = checkpoints.read(self.path)
        self.name = name or ckpt.network
        self.network = ckpt.network
        self.input = InputSpec(**ckpt.input)
        self.feature = self.input.spec()
        self.chunk_frames = ckpt.chunk_frames
        self.config = ckpt.config
        self.dim = int(ckpt.weights["head.fc.weight"].shape[0])
        self.weights_hash = _weights_hash(ckpt.weights)
        self._forward = _forward(ckpt)

    def __reduce__(self):  # workers load the model once per process instead of receiving it with each task
        return load_network, (str(self.path), self.name)

    def settings(self) -> dict:
        return {"weights": self.weights_hash, "chunk_frames": self.chunk_frames, "input": vars(self.input)}

    def prepare(self, X: np.ndarray) -> np.ndarray:
        return self.input.prepare(X)

    def embed_prepared(self, x: np.ndarray) -> np.ndarray:
        return embed_chunks(self._forward, x, self.chunk_frames)


@functools.lru_cache(maxsize=8)
def load_network(path: str, name: str | None = None) -> NetworkEmbedder:
    """The embedder of checkpoint ``path``, loaded once per process."""
    return NetworkEmbedder(path, name)


def _forward(ckpt: checkpoints.ModelCheckpoint) -> Forward:
    if ckpt.network == "ftmnet":
        from homage.models.ftmnet import FTMNetNumpy

        return FTMNetNumpy(ckpt.weights, **ckpt.network_args)
    import torch

    net = build_network(ckpt.network, ckpt.network_args)
    net.load_state_dict(
        {
            k: torch.from_numpy(np.array(w, dtype=np.float32 if w.dtype.kind == "f" else w.dtype))
            for k, w in ckpt.weights.items()
        }
    )
    return torch_forward(net.eval())


def _weights_hash(weights: dict[str, np.ndarray]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(weights):
        w = np.ascontiguousarray(weights[name])
        digest.update(f"{name}:{w.dtype}:{w.shape}".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()
