"""Would two embedders do better as one? MAP of each embedder alone and of the mean of their cosine
similarities (what one embedding made of both vectors side by side, each scaled by 1/√2, would give).

    .venv/bin/python -m bench.quality.ensemble csi runs/cnn128-crp/best.pt \\
        --data corpus/val corpus-long/val corpus-kinds/val ../shared/data/covers80-dev

Every recording queries all others, embedding alone. Prints one table (choose on the corpus validation
splits; covers80-dev is only shown).
"""

from __future__ import annotations

import numpy as np
from rich.table import Table

from bench.common import arguments, show
from homage.data.manifest import load_dataset
from homage.evaluation.metrics import retrieval_scores
from homage.models import get_embedder
from homage.pipeline.analysis import recorded


def similarities(data: str, embedder_name: str, workers: int) -> tuple[np.ndarray, np.ndarray]:
    entries = load_dataset(data)
    embedder = get_embedder(embedder_name)
    items, works = recorded([str(e.path) for e in entries], [e.work for e in entries], embedder, workers)
    V = np.array([r.vector for r in items])
    return embedder.similarity(V, V), np.array(works)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("embedders", nargs="+", help="registered names or checkpoints")
    parser.add_argument("--data", nargs="+", required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    table = Table(title="embedding alone, MAP", title_justify="left")
    table.add_column("data")
    for name in [*args.embedders, "mean of the similarities"]:
        table.add_column(name, justify="right")
    for data in args.data:
        results = [similarities(data, name, args.workers) for name in args.embedders]
        works = results[0][1]
        if any(len(w) != len(works) or (w != works).any() for _, w in results):
            raise SystemExit(f"{data}: the embedders read different recordings")
        scores = [S for S, _ in results] + [np.mean([S for S, _ in results], axis=0)]
        table.add_row(data, *(f"{retrieval_scores(1.0 - S, works).map:.3f}" for S in scores))
    show(table, args.markdown, width=160)


if __name__ == "__main__":
    main()
