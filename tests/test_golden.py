"""Golden values: the shipped `csi` vector and a comparison of two committed 12-s clips (generated music), so
that a change in any numeric step — decoding, features, the network, alignment, calibration — is caught.
Regenerate them with scripts/golden_values.py only when such a change is intended."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from homage import pipeline
from homage.features.cache import FeatureCache
from homage.models import get_embedder

DATA = Path(__file__).with_name("data")
GOLDEN = json.loads((DATA / "golden.json").read_text())


def test_the_shipped_embedder_gives_the_golden_vector():
    embedder = get_embedder("csi")
    assert embedder.identity == GOLDEN["embedder"]
    vector = pipeline.analyze_file(DATA / "golden-a.flac", embedder, FeatureCache(None)).vector
    np.testing.assert_allclose(vector, GOLDEN["vector"], atol=1e-3)


def test_compare_gives_the_golden_evidence_and_verdict():
    found = pipeline.compare(DATA / "golden-a.flac", DATA / "golden-b.flac", words=False, cache=FeatureCache(None))
    assert found.alignment.transposition == GOLDEN["transposition"] and found.verdict == GOLDEN["verdict"]
    assert abs(found.similarity - GOLDEN["similarity"]) < 1e-3
    assert abs(found.alignment.score - GOLDEN["alignment_score"]) < 1e-3 * max(1.0, GOLDEN["alignment_score"])
    assert abs(found.probability - GOLDEN["probability"]) < 1e-3
