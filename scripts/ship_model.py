"""Ship a trained checkpoint as the package's default network (`csi`), with its model card.

    .venv/bin/python scripts/ship_model.py [runs/csi/best.pt] \
        --results "covers80-dev (real covers, validation only)=covers80.json" \
        --results "corpus-long/val (whole-song versions of the validation works)=long.json"

Writes src/homage/models/assets/csi.npz (float16 weights and the training config, read without PyTorch)
and csi.md (the model card: data, command, duration, hardware, validation history and, when given,
figures from `homage evaluate ... --json`). The run's last.pt supplies the history.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from homage.models import SHIPPED_CSI
from homage.models import checkpoint as checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, nargs="?", default=Path("runs/csi/best.pt"), help="best.pt of a run")
    parser.add_argument(
        "--results",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="figures from `homage evaluate ... --json JSON` on the data set LABEL (repeatable)",
    )
    args = parser.parse_args()

    best = checkpoints.read(args.checkpoint)
    _, state = checkpoints.read_training_state(args.checkpoint.parent / "last.pt")
    checkpoints.write(SHIPPED_CSI, best.half())
    history, config = state["history"], best.config
    hours = sum(h["seconds"] for h in history) / 3600
    lines = [
        "# Model card: csi (the shipped version-identification network)",
        "",
        f"- Network: `{best.network}` {best.network_args or '(default arguments)'}, input {best.input}, "
        f"{best.chunk_frames}-frame chunks; {best.n_parameters:,} parameters; "
        f"epoch {best.epoch} of {len(history)} (best validation MAP). Runs in NumPy (no PyTorch needed).",
        f"- Data: the homage versions corpus `{config['corpus']}` (rendered POP909 and ASAP versions, Debian "
        "recordings as distractors)"
        + (
            ", with more versions of the same works from " + " and ".join(f"`{e}`" for e in config["extra_corpora"])
            if config.get("extra_corpora")
            else ""
        )
        + ", train split; checkpoint chosen on the corpus validation split. No real covers were used for training "
        "or selection.",
        f"- Command: `homage train configs/csi.yaml` (loss {config['loss']}, P×K {config['p']}×{config['k']}, "
        f"lr {config['lr']}, seed {config['seed']}); the whole training config is stored in csi.npz.",
        f"- Training time: {hours:.2f} h on {platform.processor() or platform.machine()} ({config['device']}).",
        "",
        "| epoch | train loss | val loss | val MAP |",
        "| ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {h['epoch']} | {h['train_loss']:.3f} | {h['val_loss']:.3f} | {h['val_map']:.3f} |" for h in history]
    if history and "baseline_val_map" in history[0]:
        lines += ["", f"No-model baseline on the validation split: MAP {history[0]['baseline_val_map']:.3f}."]
    for item in args.results:
        label, _, path = item.rpartition("=")
        results = json.loads(Path(path).read_text())["results"]
        lines += ["", f"{label}:", "", "| pipeline | MAP | MR1 | top-1 |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {r['ranking']} | {r['map']:.3f} | {r['mr1']:.1f} | {r['top1']:.3f} |" for r in results]
        if pairs := sorted({pair for r in results for pair in r.get("map_by_kind", {})}):
            lines += [
                "",
                "| MAP by kind of version pair | " + " | ".join(r["ranking"] for r in results) + " |",
                "| --- |" + " ---: |" * len(results),
            ]
            lines += [
                f"| {pair} | "
                + " | ".join(
                    f"{r['map_by_kind'][pair][0]:.3f}" if pair in r.get("map_by_kind", {}) else "–" for r in results
                )
                + " |"
                for pair in pairs
            ]
    lines += [
        "",
        "Limits: the network reads CRP chroma, the harmony of a recording; a melody borrowed alone into another "
        "arrangement is nearly invisible to it (README, *Quality*: MAP per kind of version pair), and the re-ranker's "
        "top-line alignment finds only some of those. It learnt from rendered MIDI only.",
    ]
    card = SHIPPED_CSI.with_suffix(".md")
    card.write_text("\n".join(lines) + "\n")
    print(f"shipped {SHIPPED_CSI} ({SHIPPED_CSI.stat().st_size / 1e6:.1f} MB) and {card}")


if __name__ == "__main__":
    main()
