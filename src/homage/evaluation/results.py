"""What an evaluation reports per ranking: the field's retrieval metrics and the original project's
pair protocol, both read off the ranking's final scores (distance = 1 − score)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from homage.errors import ParameterError
from homage.evaluation.metrics import map_by_kind, nn_accuracy, pair_scores, retrieval_scores


@dataclass
class RankingResult:
    ranking: str
    embedder: str
    n_works: int
    n_recordings: int
    map: float
    mr1: float
    p_at_10: float
    top1: float
    recall_at_100: float
    roc_auc: float
    best_threshold_accuracy: float
    pair_accuracy: float
    pair_precision: float
    pair_recall: float
    pair_f1: float
    nn_accuracy: float
    random_baseline_accuracy: float
    mean_distance_versions: float
    mean_distance_non_versions: float
    pair_threshold: float
    n_pairs: int
    seconds_per_recording: float
    seconds_total: float
    failed: list[dict] = field(default_factory=list)
    map_by_kind: dict[str, tuple[float, int]] = field(default_factory=dict)  # corpora naming each version's kind
    # for plots, left out of JSON
    distances: np.ndarray | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("distances")
        data.pop("labels")
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in data.items()}


def score_ranking(
    name: str,
    identity: str,
    scores: np.ndarray,
    labels: np.ndarray,
    failed: list[dict],
    seconds: float,
    seed: int,
    kinds: np.ndarray | None = None,
) -> RankingResult:
    """Every metric of one ranking from its (n, n) matrix of final scores (row = query; higher = closer);
    with ``kinds`` (each recording's kind of version, e.g. its arrangement) also MAP per kind of pair."""
    D = 1.0 - np.asarray(scores, dtype=np.float64)
    if len(D) < 3 or len(set(labels)) < 2:
        raise ParameterError(f"{name}: too few recordings decoded to evaluate ({len(D)})")
    ranked = retrieval_scores(D, labels)
    pairs = pair_scores(D, labels, seed=seed)
    return RankingResult(
        ranking=name,
        embedder=identity,
        n_works=len(set(labels)),
        n_recordings=len(labels),
        map=ranked.map,
        mr1=ranked.mr1,
        p_at_10=ranked.p_at_10,
        top1=ranked.top1,
        recall_at_100=ranked.recall_at_100,
        roc_auc=pairs.roc_auc,
        best_threshold_accuracy=pairs.best_threshold_accuracy,
        pair_accuracy=pairs.accuracy,
        pair_precision=pairs.precision,
        pair_recall=pairs.recall,
        pair_f1=pairs.f1,
        nn_accuracy=nn_accuracy(D, labels, seed=seed),
        random_baseline_accuracy=pairs.random_baseline_accuracy,
        mean_distance_versions=pairs.mean_distance_versions,
        mean_distance_non_versions=pairs.mean_distance_non_versions,
        pair_threshold=pairs.threshold,
        n_pairs=pairs.n_pairs,
        seconds_per_recording=seconds / max(1, len(labels) + len(failed)),
        seconds_total=seconds,
        failed=failed,
        map_by_kind=map_by_kind(D, labels, kinds) if kinds is not None and len(set(kinds)) > 1 else {},
        distances=D,
        labels=labels,
    )
