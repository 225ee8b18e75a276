"""Building blocks shared by the networks: IBN normalisation, residual blocks, GeM pooling, embedding head."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class IBN(nn.Module):
    """Instance norm on half the channels, batch norm on the rest (IBN-a, Pan et al. 2018): instance
    norm removes per-recording timbre and loudness statistics, batch norm keeps content."""

    def __init__(self, channels: int):
        super().__init__()
        self.half = channels // 2
        self.instance = nn.InstanceNorm2d(self.half, affine=True)
        self.batch = nn.BatchNorm2d(channels - self.half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat([self.instance(a.contiguous()), self.batch(b.contiguous())], dim=1)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with a shortcut (ResNet basic block), optional IBN and stride."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int] | int = 1, ibn: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm1 = IBN(cout) if ibn else nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(y)) + self.shortcut(x))


class GeM(nn.Module):
    """Generalised-mean pooling over the last axis, p learnt (p=1 mean, p→∞ max)."""

    def __init__(self, p: float = 3.0):
        super().__init__()
        self.p = nn.Parameter(torch.tensor(p))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(min=1e-6).pow(self.p).mean(dim=-1).pow(1.0 / self.p)


class EmbeddingHead(nn.Module):
    """Linear projection to the embedding, then a BNNeck (Luo et al. 2019): the triplet loss sees the
    vector before batch norm, the classifier and the normalised output see it after."""

    def __init__(self, cin: int, dim: int):
        super().__init__()
        self.fc = nn.Linear(cin, dim)
        self.bn = nn.BatchNorm1d(dim)
        self.bn.bias.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.fc(x)
        return raw, self.bn(raw)
