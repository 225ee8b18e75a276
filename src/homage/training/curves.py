"""Training curves: loss and validation MAP per epoch, with the no-model baseline."""

from __future__ import annotations

from pathlib import Path


def plot_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [h["train_loss"] for h in history], label="train (every term)")
    left.plot(epochs, [h["val_loss"] for h in history], label="validation (triplet term)")
    right.plot(epochs, [h["val_map"] for h in history], label="validation MAP", color="C2")
    if history and "baseline_val_loss" in history[0]:
        left.axhline(history[0]["baseline_val_loss"], ls="--", color="grey", label="no model (triplet term)")
        right.axhline(history[0]["baseline_val_map"], ls="--", color="grey", label="no model")
    left.set_xlabel("epoch"), left.set_ylabel("loss"), right.set_xlabel("epoch"), right.set_ylabel("MAP")
    left.legend(fontsize=7), right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
