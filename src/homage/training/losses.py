"""Losses on embeddings: the original triplet loss, batch-hard triplet, and a margin softmax over works."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float) -> torch.Tensor:
    """The original project's loss: mean of max(0, ‖a−p‖ − ‖a−n‖ + margin), Euclidean distances."""
    return F.relu(F.pairwise_distance(anchor, positive) - F.pairwise_distance(anchor, negative) + margin).mean()


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Hermans et al. 2017: for each anchor, its farthest positive against its nearest negative."""
    D = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    hardest_positive = D.masked_fill(~same | eye, float("-inf")).amax(dim=1)
    hardest_negative = D.masked_fill(same, float("inf")).amin(dim=1)
    valid = torch.isfinite(hardest_positive) & torch.isfinite(hardest_negative)
    if not valid.any():
        return embeddings.sum() * 0.0
    return F.relu(hardest_positive - hardest_negative + margin)[valid].mean()


class WorkClassifier(nn.Module):
    """Softmax classification over training works. ``scale=None``: a plain linear layer without bias
    (ByteCover's classifier on the BNNeck output); otherwise additive-margin cosine logits (CosFace,
    ArcFace-style as in CoverHunter): s·(cos θ − m) for the true work, s·cos θ for the others."""

    def __init__(self, dim: int, n_classes: int, scale: float | None = None, margin: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_classes, dim) * (0.01 if scale else dim**-0.5))
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            return F.cross_entropy(F.linear(embeddings, self.weight), labels)
        cosine = F.linear(F.normalize(embeddings), F.normalize(self.weight))
        logits = self.scale * (cosine - self.margin * F.one_hot(labels, cosine.shape[1]))
        return F.cross_entropy(logits, labels)
