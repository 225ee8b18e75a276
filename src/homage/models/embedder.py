"""A trained network behind the embedder interface: cached features → chunk embeddings → one unit vector.

A recording is cut into chunks (``chunk_s`` long, half overlapping); each chunk is embedded and the
mean of the chunk vectors, re-normalised, represents the recording, so whole songs and short excerpts
are embedded alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from homage.embed.base import Embedder
from homage.errors import ConfigError
from homage.models.inputs import InputSpec
from homage.models.networks import NETWORKS

SHIPPED_CSI = Path(__file__).with_name("assets") / "csi.pt"


def build_network(name: str, args: dict | None = None) -> torch.nn.Module:
    try:
        return NETWORKS[name](**(args or {}))
    except KeyError:
        raise ConfigError(f"unknown network {name!r}; available: {', '.join(NETWORKS)}") from None


def chunks(X: np.ndarray, chunk_frames: int) -> np.ndarray:
    """(bins, frames) → (n_chunks, bins, chunk_frames), half-overlapping; a short input is repeated to fill one."""
    if X.shape[1] < chunk_frames:
        X = np.tile(X, (1, int(np.ceil(chunk_frames / max(X.shape[1], 1)))))[:, :chunk_frames]
    hop = max(chunk_frames // 2, 1)
    starts = list(range(0, X.shape[1] - chunk_frames + 1, hop))
    if starts[-1] + chunk_frames < X.shape[1]:
        starts.append(X.shape[1] - chunk_frames)
    return np.stack([X[:, s : s + chunk_frames] for s in starts])


@torch.no_grad()
def embed_prepared(net: torch.nn.Module, X: np.ndarray, chunk_frames: int, batch: int = 64) -> np.ndarray:
    """A prepared input matrix → unit vector (mean of its chunks' normalised embeddings)."""
    net.eval()
    device = next(net.parameters()).device
    parts = chunks(X, chunk_frames)
    vectors = []
    for start in range(0, len(parts), batch):
        x = torch.from_numpy(parts[start : start + batch]).float().unsqueeze(1).to(device)
        vectors.append(F.normalize(net(x)[1], dim=1))
    mean = torch.cat(vectors).mean(dim=0)
    return F.normalize(mean, dim=0).cpu().numpy().astype(np.float32)


class NetworkEmbedder(Embedder):
    """Embeds with a checkpoint written by ``homage train`` (or the one shipped in the package)."""

    version = "1"

    def __init__(self, checkpoint: str | Path, name: str | None = None):
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise ConfigError(f"{checkpoint}: no such model file")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        self.name = name or state["network"]
        self.input = InputSpec(**state["input"])
        self.feature = self.input.spec()
        self.chunk_frames = int(state["chunk_frames"])
        self.net = build_network(state["network"], state.get("network_args"))
        self.net.load_state_dict({k: v.float() for k, v in state["weights"].items()})
        self.net.eval()
        self.dim = self.net.head.fc.out_features
        self.weights_hash = hashlib.blake2b(checkpoint.read_bytes(), digest_size=8).hexdigest()

    def settings(self) -> dict:
        return {"weights": self.weights_hash, "chunk_frames": self.chunk_frames, "input": vars(self.input)}

    def embed(self, X: np.ndarray) -> np.ndarray:
        return embed_prepared(self.net, self.input.prepare(X), self.chunk_frames)
