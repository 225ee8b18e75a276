"""Write the golden values the test suite checks every numeric step against (tests/test_golden.py).

    .venv/bin/python scripts/golden_values.py

The clips, tests/data/golden-a.flac and golden-b.flac, are 12 s of generated music made once with
``tests/conftest.py``: ``synth_piece(7, seconds=12)`` and ``synth_piece(7, seconds=12, transpose=2, tempo=1.1)``.
Run this only when a change to the numbers is intended (a new model, new features), and say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from homage import pipeline
from homage.features.cache import FeatureCache
from homage.models import get_embedder

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def golden_values() -> dict:
    embedder = get_embedder("csi")
    cache = FeatureCache(None)
    vector = pipeline.analyze_file(DATA / "golden-a.flac", embedder, cache).vector
    comparison = pipeline.compare(
        DATA / "golden-a.flac", DATA / "golden-b.flac", embedder=embedder, words=False, cache=cache
    )
    return {
        "embedder": embedder.identity,
        "vector": [round(float(v), 6) for v in vector],
        "similarity": round(comparison.similarity, 6),
        "alignment_score": round(comparison.alignment.score, 6),
        "probability": round(comparison.probability, 6),
        "transposition": comparison.alignment.transposition,
        "verdict": comparison.verdict,
    }


if __name__ == "__main__":
    (DATA / "golden.json").write_text(json.dumps(golden_values(), indent=1) + "\n")
    print(f"wrote {DATA / 'golden.json'}")
