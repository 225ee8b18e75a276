import numpy as np
import pytest

from homage.errors import ConfigError
from homage.models import available_embedders, get_embedder
from homage.models.ftm2d import FTM2D, FTM2DConfig

from conftest import synth_piece


@pytest.fixture(scope="module")
def embedder():
    return get_embedder("ftm2d")


def test_output_is_a_unit_vector_of_the_declared_size(embedder):
    v = embedder.embed_audio(synth_piece(1))
    assert v.shape == (embedder.dim,) == (456,)
    assert v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_transposed_and_faster_copies_stay_nearer_than_another_piece(embedder):
    a = embedder.embed_audio(synth_piece(1))
    transposed = embedder.embed_audio(synth_piece(1, transpose=5))
    faster = embedder.embed_audio(synth_piece(1, tempo=1.2))
    others = [embedder.embed_audio(synth_piece(seed)) for seed in (2, 3, 4)]
    nearest_other = max(float(a @ o) for o in others)
    assert float(a @ transposed) > nearest_other
    assert float(a @ faster) > nearest_other


def test_short_input_still_embeds(embedder):
    v = embedder.embed_audio(synth_piece(1, seconds=3))
    assert np.isfinite(v).all() and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_identity_changes_with_settings():
    assert FTM2D().identity != FTM2D(FTM2DConfig(patch_len=50)).identity
    assert FTM2D().identity != FTM2D(center=None).identity
    assert FTM2D().identity == FTM2D().identity
    assert FTM2D().identity.startswith("ftm2d@2#")


def test_registry():
    assert "ftm2d" in available_embedders()
    with pytest.raises(ConfigError, match="unknown embedder 'nope'"):
        get_embedder("nope")


def test_centre_of_wrong_shape_is_refused():
    with pytest.raises(ConfigError, match="centre"):
        FTM2D(center=np.zeros(10, dtype=np.float32))
