"""`homage train`: train a network on the versions corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import command


@command
def train(
    ctx: typer.Context,
    config: Annotated[
        Path, typer.Argument(help="Training config (YAML), e.g. configs/csi.yaml; then key=value overrides.")
    ],
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pt.")] = False,
    device: Annotated[str | None, typer.Option(help="cpu (default) or cuda.")] = None,
    init: Annotated[Path | None, typer.Option(help="ImageNet-format ResNet-18 weights (resnet18 only).")] = None,
):
    """Train a network on the versions corpus; checkpoints every epoch, curves and history in the config's OUT."""
    from homage.cli.common import FileProgress, console
    from homage.training.config import load_config
    from homage.training.loop import train as run_training

    overrides = list(ctx.args) + ([f"device={device}"] if device else []) + ([f"init={init}"] if init else [])
    cfg = load_config(config, overrides)
    with FileProgress("features") as progress:

        def on_step(epoch: int, step: int, total: int, loss: float) -> None:
            if step == 1:
                progress.stage(f"epoch {epoch}", total)
            progress.advance(f"loss {loss:.4f}")

        trainer = run_training(
            cfg, resume=resume, log=progress.print, on_stage=progress.stage, on_item=progress.item, on_step=on_step
        )
    console.print(f"checkpoints, history and curves: {trainer.out} (best validation MAP {trainer.best_map:.3f})")
