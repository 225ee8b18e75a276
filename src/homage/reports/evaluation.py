"""Evaluation reports: the original project's table and the field's metrics in Markdown, with plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from homage.evaluation.results import RankingResult

# (JSON key, label, format) in the order the original project reported them
ORIGINAL_TABLE = [
    ("mean_distance_versions", "Mean distance of versions", "{:.4f}"),
    ("mean_distance_non_versions", "Mean distance of non-versions", "{:.4f}"),
    ("pair_accuracy", "Accuracy", "{:.4f}"),
    ("pair_precision", "Precision", "{:.4f}"),
    ("pair_f1", "F1 score", "{:.4f}"),
    ("pair_recall", "Recall", "{:.4f}"),
    ("nn_accuracy", "Nearest-neighbour accuracy", "{:.2%}"),
    ("random_baseline_accuracy", "Random-guess baseline accuracy", "{:.2%}"),
]
FIELD_TABLE = [
    ("map", "MAP", "{:.3f}"),
    ("mr1", "MR1", "{:.1f}"),
    ("p_at_10", "P@10", "{:.3f}"),
    ("top1", "top-1", "{:.3f}"),
    ("recall_at_100", "recall@100", "{:.3f}"),
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("best_threshold_accuracy", "best-threshold acc.", "{:.3f}"),
    ("seconds_per_recording", "s / recording", "{:.3f}"),
]


def results_json(results: list[RankingResult], source: str) -> dict:
    return {"dataset": source, "results": [r.to_json() for r in results]}


def write_evaluation_json(results: list[RankingResult], source: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(results, source), indent=2) + "\n")
    return path


def write_evaluation_report(results: list[RankingResult], source: str, folder: str | Path) -> Path:
    """``report.md`` plus, per ranking, ``distances-<name>.png`` and ``pr-<name>.png``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"# homage evaluation: {source}", ""]
    first = results[0]
    lines += [f"{first.n_works} works, {first.n_recordings} recordings; every recording queries all others.", ""]
    lines += ["## Version identification (every recording as a query)", ""]
    lines += _markdown_table(
        ["ranking"] + [label for _, label, _ in FIELD_TABLE],
        [[r.ranking] + [fmt.format(getattr(r, key)) for key, _, fmt in FIELD_TABLE] for r in results],
    )
    if pairs := kind_pairs(results):
        lines += [
            "",
            "## MAP by kind of version pair",
            "",
            "Each kind queries for the other, the work's other versions left out.",
            "",
        ]
        lines += _markdown_table(["pair (queries)"] + [r.ranking for r in results], kind_rows(results, pairs))
    for r in results:
        slug = r.ranking.replace("/", "_")
        plot_distances(r, folder / f"distances-{slug}.png")
        plot_precision_recall(r, folder / f"pr-{slug}.png")
        lines += ["", f"## {r.ranking} — the original project's protocol", ""]
        lines += [
            f"{r.n_pairs} pairs, half versions, half random non-versions; pairs closer than the mean "
            f"distance ({r.pair_threshold:.4f}) are called versions. Embedder `{r.embedder}`.",
            "",
        ]
        lines += _markdown_table(
            ["Metric", "Value"], [[label, fmt.format(getattr(r, key))] for key, label, fmt in ORIGINAL_TABLE]
        )
        lines += ["", f"![distances](distances-{slug}.png) ![precision-recall](pr-{slug}.png)"]
        if r.failed:
            lines += ["", f"Left out ({len(r.failed)}):", ""] + [f"- `{f['path']}`: {f['reason']}" for f in r.failed]
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def kind_pairs(results: list[RankingResult]) -> list[str]:
    """The kinds of version pair any result scores, in order."""
    return sorted({pair for r in results for pair in r.map_by_kind})


def kind_rows(results: list[RankingResult], pairs: list[str]) -> list[list[str]]:
    """One row per kind of pair: its name with the number of queries, then each ranking's MAP."""

    def cell(r, pair):
        return f"{r.map_by_kind[pair][0]:.3f}" if pair in r.map_by_kind else "–"

    counts = {pair: next(r.map_by_kind[pair][1] for r in results if pair in r.map_by_kind) for pair in pairs}
    return [[f"{pair} ({counts[pair]})"] + [cell(r, pair) for r in results] for pair in pairs]


def plot_distances(result: RankingResult, path: Path) -> None:
    """Histogram of pair distances, versions vs non-versions (the original project's figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    D, labels = result.distances, result.labels
    iu = np.triu_indices(len(labels), k=1)
    same = labels[iu[0]] == labels[iu[1]]
    d = D[iu]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(d.min(), d.max(), 40)
    ax.hist(d[~same], bins=bins, density=True, alpha=0.6, label=f"non-versions ({(~same).sum()})")
    ax.hist(d[same], bins=bins, density=True, alpha=0.6, label=f"versions ({same.sum()})")
    ax.axvline(result.pair_threshold, color="k", ls="--", lw=1, label="mean-distance threshold")
    ax.set(xlabel="distance (1 − the ranking's final score)", ylabel="density", title=f"{result.ranking}: distances")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_precision_recall(result: RankingResult, path: Path) -> None:
    """Precision-recall of "version" over all pairs, sweeping the distance threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    D, labels = result.distances, result.labels
    iu = np.triu_indices(len(labels), k=1)
    same = (labels[iu[0]] == labels[iu[1]])[np.argsort(D[iu], kind="stable")]
    tp = np.cumsum(same)
    precision = tp / np.arange(1, len(same) + 1)
    recall = tp / max(1, same.sum())
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(recall, precision)
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title=f"{result.ranking}: MAP {result.map:.3f}",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(row) + " |" for row in rows]
