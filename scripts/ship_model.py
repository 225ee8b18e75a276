"""Ship a trained checkpoint as the package's default network, with its model card.

    .venv/bin/python scripts/ship_model.py runs/ftmnet/best.pt --config configs/ftmnet.yaml \
        --results "covers80-dev (real covers, validation only)=covers80.json" \
        --results "corpus-long/val (whole-song versions of the validation works)=long.json"

Writes src/homage/models/assets/csi.pt (weights in float16, ≤ 20 MB) and csi.md (the model card: data,
command, duration, hardware, validation history and, when given, figures from `homage evaluate ... --json`).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parents[1] / "src" / "homage" / "models" / "assets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="best.pt written by homage train")
    parser.add_argument("--config", default="configs/csi.yaml", help="the config that trained it (for the card)")
    parser.add_argument(
        "--results", action="append", default=[], metavar="LABEL=JSON",
        help="figures from `homage evaluate ... --json JSON` on the data set LABEL (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()

    run = args.checkpoint.parent
    best = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    shipped = {k: best[k] for k in ("network", "network_args", "input", "chunk_frames", "epoch")}
    shipped["weights"] = {k: v.half() if v.is_floating_point() else v for k, v in best["weights"].items()}
    ASSETS.mkdir(parents=True, exist_ok=True)
    torch.save(shipped, ASSETS / "csi.pt")

    history, config = last["history"], last["config"]
    hours = sum(h["seconds"] for h in history) / 3600
    lines = [
        "# Model card: csi (the shipped version-identification network)",
        "",
        f"- Network: `{best['network']}` {best['network_args'] or '(default widths)'}, input {best['input']}, "
        f"{best['chunk_frames']}-frame chunks; {sum(v.numel() for v in best['weights'].values()):,} parameters; "
        f"epoch {best['epoch']} of {len(history)} (best validation MAP).",
        f"- Data: the homage versions corpus `{config['corpus']}` (rendered POP909 and ASAP versions, Debian "
        "recordings as distractors), train split; checkpoint chosen on the corpus validation split. No real "
        "covers were used for training or selection.",
        f"- Command: `homage train {args.config}` (loss {config['loss']}, P×K {config['p']}×{config['k']}, "
        f"lr {config['lr']}, seed {config['seed']}).",
        f"- Training time: {hours:.2f} h on {platform.processor() or platform.machine()} "
        f"({torch.get_num_threads()} threads, CPU).",
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
        lines += [f"| {r['pipeline']} | {r['map']:.3f} | {r['mr1']:.1f} | {r['top1']:.3f} |" for r in results]
    (ASSETS / "csi.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {ASSETS / 'csi.pt'} ({(ASSETS / 'csi.pt').stat().st_size / 1e6:.1f} MB) and {ASSETS / 'csi.md'}")


if __name__ == "__main__":
    main()
