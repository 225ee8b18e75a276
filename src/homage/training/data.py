"""Training data: a corpus split's prepared inputs (computed once, in parallel, through the feature cache)
with integer work labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from homage.data.manifest import read_corpus, work_labels
from homage.errors import Failure
from homage.features.cache import FeatureCache, default_cache_dir
from homage.models.inputs import InputSpec
from homage.training.config import TrainConfig


@dataclass
class Split:
    """Prepared inputs (bins, frames) with work labels 0 … n_works − 1."""

    inputs: list[np.ndarray]
    labels: np.ndarray


def load_split(
    config: TrainConfig,
    name: str,
    *,
    on_stage: Callable[[str, int], None] | None = None,
    on_item: Callable[[str, str | None], None] | None = None,
) -> Split:
    """The ``name`` split of the config's corpus and extra corpora (a sample of its works with
    ``max_works``); unreadable recordings are reported to ``on_item`` and left out."""
    entries = [e for corpus in (config.corpus, *config.extra_corpora) for e in read_corpus(corpus, name)]
    if config.max_works is not None:
        works = sorted({e.work for e in entries})
        n = config.max_works if name == "train" else max(config.max_works // 4, 4)
        keep = set(np.random.default_rng(config.seed).permutation(works)[:n])
        entries = [e for e in entries if e.work in keep]
    if on_stage:
        on_stage(f"features ({name})", len(entries))
    cache = FeatureCache(config.cache or default_cache_dir())
    results = cache.many(
        [e.path for e in entries],
        config.input.spec(),
        transform=_Prepare(config.input),
        workers=config.workers,
        on_item=on_item,
    )
    kept = [(e, x) for e, x in zip(entries, results) if not isinstance(x, Failure)]
    return Split([x for _, x in kept], work_labels([e.work for e, _ in kept]))


class _Prepare:
    """Features → network input, in the worker (rounded to float16 first, as the shipped model was trained)."""

    def __init__(self, spec: InputSpec):
        self.spec = spec

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.spec.prepare(X.astype(np.float16))
