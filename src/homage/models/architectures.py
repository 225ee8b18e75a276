"""The PyTorch networks: the original project's two (``cnn128``, ``resnet18`` on log-mel) and three built
for versions — ``cqtnet`` (CQT input, IBN residual trunk, max over frequency for key invariance, GeM over
time, BNNeck), ``pcnet`` (chroma, key-invariant by construction) and ``ftmnet`` (a learnt 2D Fourier
transform magnitude of beat-synchronous chroma; the network of the shipped ``csi`` embedder).

Each maps a batch (B, 1, bins, frames) to ``(raw, normed)``: the embedding before and after the BNNeck;
the L2-normalised ``normed`` vector is what the catalog stores. Any number of frames is accepted.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from homage.errors import ParameterError
from homage.models.layers import IBN, EmbeddingHead, GeM, ResBlock


class CQTNet(nn.Module):
    """Version-identification network on a time-pooled CQT (84 bins, ~2.5 frames/s)."""

    def __init__(self, dim: int = 128, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        w = widths
        self.stem = nn.Sequential(nn.Conv2d(1, w[0], (7, 3), padding=(3, 1), bias=False), IBN(w[0]), nn.ReLU())
        self.trunk = nn.Sequential(
            ResBlock(w[0], w[0], ibn=True),
            ResBlock(w[0], w[1], stride=(2, 1), ibn=True),
            ResBlock(w[1], w[2], stride=(2, 1), ibn=True),
            ResBlock(w[2], w[3], stride=(2, 2)),
        )
        self.pool = GeM()
        self.head = EmbeddingHead(w[3], dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(self.stem(x))
        h = h.amax(dim=2)  # max over frequency: a transposed input moves features along it
        return self.head(self.pool(h))


def wrap_octave(x: torch.Tensor) -> torch.Tensor:
    """Chroma (B, 1, 12, frames) → 23 rows, the octave continued by its first 11 pitch classes: a
    transposition, a rotation of the 12 rows, becomes a shift along the rows that a convolutional trunk
    followed by a global pooling barely sees."""
    if x.shape[2] != 12:
        raise ParameterError(f"the octave wrap reads chroma (12 pitch classes), not {x.shape[2]} rows")
    return torch.cat([x, x[:, :, :11]], dim=2)


class PitchClassNet(nn.Module):
    """Version-identification network on chroma (12 pitch classes), key-invariant by construction
    (after MOVE, Yesiler et al. 2020): the pitch axis is wrapped to 23 rows, a first convolution spans a
    whole octave at each of the 12 transpositions, and the maximum over them is taken; dilated temporal
    convolutions, GeM over time and a BNNeck follow."""

    def __init__(self, dim: int = 128, widths: tuple[int, ...] = (64, 128, 256)):
        super().__init__()
        w = widths
        self.octave = nn.Sequential(
            nn.Conv2d(1, w[0], (12, 5), padding=(0, 2), bias=False), nn.BatchNorm2d(w[0]), nn.ReLU()
        )
        self.temporal = nn.Sequential(
            nn.Conv1d(w[0], w[1], 5, padding=2, bias=False),
            nn.BatchNorm1d(w[1]),
            nn.ReLU(),
            nn.MaxPool1d(2, ceil_mode=True),
            nn.Conv1d(w[1], w[1], 5, padding=4, dilation=2, bias=False),
            nn.BatchNorm1d(w[1]),
            nn.ReLU(),
            nn.Conv1d(w[1], w[2], 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm1d(w[2]),
            nn.ReLU(),
        )
        self.pool = GeM()
        self.head = EmbeddingHead(w[2], dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.octave(wrap_octave(x)).amax(dim=2)  # max over the 12 transpositions
        return self.head(self.pool(self.temporal(h)))


class CNN128(nn.Module):
    """The original project's CNN from scratch: four conv-BN-ReLU-maxpool blocks, 128-d output.
    ``octave_wrap`` (for chroma input) wraps the pitch axis first (see ``wrap_octave``)."""

    def __init__(self, dim: int = 128, widths: tuple[int, ...] = (32, 64, 128, 128), octave_wrap: bool = False):
        super().__init__()
        self.octave_wrap = octave_wrap
        layers, cin = [], 1
        for cout in widths:
            layers += [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = EmbeddingHead(cin, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = wrap_octave(x) if self.octave_wrap else x
        return self.head(self.features(x).mean(dim=(2, 3)))


class ResNet18(nn.Module):
    """ResNet-18 (He et al. 2016) with a one-channel input and a 128-d embedding head.

    Parameter names follow the ImageNet checkpoints (conv1, bn1, layer1…layer4), so ``load_imagenet``
    can initialise it from a local ResNet-18 state dict. ``octave_wrap`` as for ``CNN128``.
    """

    def __init__(self, dim: int = 128, octave_wrap: bool = False):
        super().__init__()
        self.octave_wrap = octave_wrap
        self.conv1 = nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths, cin, layers = (64, 128, 256, 512), 64, []
        for i, cout in enumerate(widths):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(_Basic(cin, cout, stride), _Basic(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.head = EmbeddingHead(512, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = wrap_octave(x) if self.octave_wrap else x
        h = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        h = self.layer4(self.layer3(self.layer2(self.layer1(h))))
        return self.head(h.mean(dim=(2, 3)))

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> list[str]:
        """Copy matching ImageNet weights (first conv averaged over RGB); returns the names loaded."""
        state = dict(state)
        if "conv1.weight" in state and state["conv1.weight"].shape[1] == 3:
            state["conv1.weight"] = state["conv1.weight"].mean(dim=1, keepdim=True)
        own = self.state_dict()
        loaded = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        own.update(loaded)
        self.load_state_dict(own)
        return sorted(loaded)


class _Basic(nn.Module):
    """torchvision's BasicBlock layout (conv1/bn1/conv2/bn2/downsample) so ImageNet names match."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class FTMNet(nn.Module):
    """A learnt 2D Fourier transform magnitude (after Humphrey, Nieto & Bello, ISMIR 2013) on
    beat-synchronous chroma. Every patch of ``patch_lens`` beats goes through |2D FFT| — unchanged by a
    transposition or by where the patch starts — and log compression; a learnt projection per patch
    length maps each patch's coefficients to ``hidden`` features, GeM pools them over the patches, and
    the scales' pooled features, concatenated, go to a BNNeck. Input (B, 1, 12, beats)."""

    def __init__(
        self, dim: int = 128, patch_lens: tuple[int, ...] = (16, 32, 64), hidden: int = 512, dropout: float = 0.0
    ):
        super().__init__()
        self.patch_lens = tuple(patch_lens)
        self.projections = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm1d(12 * (length // 2 + 1)),
                nn.Linear(12 * (length // 2 + 1), hidden),
                nn.BatchNorm1d(hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            for length in self.patch_lens
        )
        self.pools = nn.ModuleList(GeM() for _ in self.patch_lens)
        self.head = EmbeddingHead(hidden * len(self.patch_lens), dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x[:, 0]
        longest = max(self.patch_lens)
        if x.shape[-1] < longest:  # a short input: repeat it to fill one patch
            x = x.repeat(1, 1, -(-longest // x.shape[-1]))
        pooled = []
        for length, project, pool in zip(self.patch_lens, self.projections, self.pools):
            patches = x.unfold(2, length, 1).transpose(1, 2)  # (B, n_patches, 12, length)
            magnitude = torch.log1p(torch.fft.rfft2(patches).abs()).flatten(2)
            B, n, d = magnitude.shape
            pooled.append(pool(project(magnitude.reshape(B * n, d)).reshape(B, n, -1).transpose(1, 2)))
        return self.head(torch.cat(pooled, dim=1))


NETWORKS = {"cqtnet": CQTNet, "pcnet": PitchClassNet, "cnn128": CNN128, "resnet18": ResNet18, "ftmnet": FTMNet}
