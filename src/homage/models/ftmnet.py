"""The ``ftmnet`` forward pass in NumPy (evaluation mode), so the shipped model runs without PyTorch.

It computes what :class:`homage.models.architectures.FTMNet` computes in eval mode — |2D FFT| of every patch,
log, per patch length a batch norm, linear layer, batch norm and ReLU, GeM over the patches, then the
BNNeck head — from that network's state dict; a test checks the two agree to float precision.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

BN_EPS = 1e-5  # torch.nn.BatchNorm1d's default


class FTMNetNumpy:
    """Call with chunks (B, 12, beats) → BNNeck embeddings (B, dim)."""

    def __init__(
        self,
        weights: dict[str, np.ndarray],
        *,
        patch_lens=(16, 32, 64),
        dim: int = 128,
        hidden: int = 512,
        dropout: float = 0.0,
    ):
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.patch_lens = tuple(patch_lens)
        self.scales = [
            (
                _batch_norm(w, f"projections.{i}.0"),
                (w[f"projections.{i}.1.weight"].T.copy(), w[f"projections.{i}.1.bias"]),
                _batch_norm(w, f"projections.{i}.2"),
                float(w[f"pools.{i}.p"]),
            )
            for i in range(len(self.patch_lens))
        ]
        self.fc = (w["head.fc.weight"].T.copy(), w["head.fc.bias"])
        self.head_norm = _batch_norm(w, "head.bn")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        longest = max(self.patch_lens)
        if x.shape[-1] < longest:  # a short input: repeat it to fill one patch
            x = np.tile(x, (1, 1, -(-longest // x.shape[-1])))
        pooled = []
        for length, (norm_in, (W, b), norm_out, p) in zip(self.patch_lens, self.scales):
            patches = np.lib.stride_tricks.sliding_window_view(x, length, axis=2).transpose(0, 2, 1, 3)
            magnitude = np.log1p(np.abs(scipy.fft.rfft2(patches, axes=(-2, -1), workers=-1)))
            B, n = magnitude.shape[:2]
            h = np.maximum(_apply(norm_out, _apply(norm_in, magnitude.reshape(B * n, -1)) @ W + b), 0.0)
            h = np.maximum(h.reshape(B, n, -1), 1e-6) ** p  # GeM over the patches
            pooled.append(h.mean(axis=1) ** (1.0 / p))
        raw = np.concatenate(pooled, axis=1) @ self.fc[0] + self.fc[1]
        return _apply(self.head_norm, raw).astype(np.float32)


def _batch_norm(w: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm folded into a scale and a shift."""
    scale = w[f"{prefix}.weight"] / np.sqrt(w[f"{prefix}.running_var"] + BN_EPS)
    return scale, w[f"{prefix}.bias"] - w[f"{prefix}.running_mean"] * scale


def _apply(norm: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    return x * norm[0] + norm[1]
