"""Per-network cost on this machine: parameters, one training step, and embedding a 4-minute song.

    .venv/bin/python -m bench.speed.model_speed [--repeats 5]

A training step is forward + backward + Adam update on 64 chunks of 24 s at each network's input rate;
embedding is the whole 4-minute input in 24-second chunks (half overlapping), from prepared features.
Medians of the repeats, after one untimed run, with torch's default threads.
"""

from __future__ import annotations

import numpy as np
import torch
from rich.table import Table

from bench.common import arguments, median_time, show
from homage.models.architectures import NETWORKS
from homage.models.inputs import InputSpec
from homage.models.network_embedder import embed_chunks, torch_forward

INPUTS = {
    "cnn128": InputSpec("logmel", 16),
    "resnet18": InputSpec("logmel", 16),
    "cqtnet": InputSpec("cqt", 10),
    "pcnet": InputSpec("crp", 5),
    "ftmnet": InputSpec("beat_crp", 1),
}


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = Table(title=f"Networks, {torch.get_num_threads()} threads, median of {args.repeats}", title_justify="left")
    for col in ("network", "input", "parameters", "train step (64 × 24 s)", "embed 4-min song"):
        table.add_column(col, justify="right")
    rng = np.random.default_rng(0)
    for name, spec in INPUTS.items():
        net = NETWORKS[name]()
        chunk = int(round(24 * spec.frame_rate))
        x = torch.from_numpy(rng.random((64, 1, spec.n_bins, chunk), dtype=np.float32))
        optimizer = torch.optim.Adam(net.parameters())

        def step():
            net.train()
            raw, normed = net(x)
            loss = normed.pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        song = rng.random((spec.n_bins, int(240 * spec.frame_rate)), dtype=np.float32)
        train_s = median_time(step, args.repeats)[0]
        embed_s = median_time(lambda: embed_chunks(torch_forward(net), song, chunk), args.repeats)[0]
        table.add_row(
            name,
            f"{spec.feature} {spec.n_bins} × {spec.frame_rate:.1f} fps",
            f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M",
            f"{train_s:.2f} s",
            f"{embed_s * 1000:.0f} ms",
        )
    show(table, args.markdown)


if __name__ == "__main__":
    main()
