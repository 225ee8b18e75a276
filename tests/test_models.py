"""Networks behind the model interface: shapes, invariances by construction, the NumPy ftmnet equal to the
PyTorch one, checkpoints that carry their config, and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the [train] extra (pip install 'homage[train]')")
from torch.nn import functional as F

from homage.models import checkpoint as checkpoints
from homage.models.architectures import NETWORKS
from homage.models.inputs import InputSpec
from homage.models.network_embedder import NetworkEmbedder, chunks, embed_chunks, torch_forward
from homage.training.augment import training_chunk
from homage.training.config import TrainConfig
from homage.training.loop import Trainer

from test_training import tiny_config, toy_split

torch.set_num_threads(1)


@pytest.mark.parametrize(
    "name,bins", [("cqtnet", 84), ("pcnet", 12), ("cnn128", 128), ("resnet18", 128), ("ftmnet", 12)]
)
def test_networks_give_128d_vectors_for_any_length(name, bins):
    net = NETWORKS[name]().eval()
    for frames in (20, 75):
        raw, normed = net(torch.randn(3, 1, bins, frames))
        assert raw.shape == normed.shape == (3, 128)
    X = np.random.default_rng(0).random((bins, 130)).astype(np.float32)
    v = embed_chunks(torch_forward(net), X, chunk_frames=60)
    assert v.shape == (128,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_cqtnet_is_key_invariant_by_construction():
    """Max over frequency after the trunk: a transposition by a multiple of the trunk's frequency stride
    (8 bins) gives the same vector, whatever the weights."""
    torch.manual_seed(0)
    net = NETWORKS["cqtnet"]().eval()
    x = torch.zeros(1, 1, 84, 60)
    x[0, 0, 30:50:4, :] = 1.0
    with torch.no_grad():
        a, b = (F.normalize(net(t)[1], dim=1) for t in (x, torch.roll(x, 8, dims=2)))
    assert float((a * b).sum()) > 0.99


def test_pcnet_is_exactly_key_invariant():
    """The first convolution sees every transposition of a full octave and the maximum is kept: any
    circular shift of the pitch classes gives the same vector."""
    torch.manual_seed(0)
    net = NETWORKS["pcnet"]().eval()
    x = torch.rand(2, 1, 12, 50)
    with torch.no_grad():
        a = F.normalize(net(x)[1], dim=1)
        for shift in (1, 5, 11):
            b = F.normalize(net(torch.roll(x, shift, dims=2))[1], dim=1)
            assert torch.allclose(a, b, atol=1e-5)


def test_ftmnet_ignores_transposition_and_patch_position():
    """|2D FFT| of a patch is unchanged by a circular shift of the pitch classes, at every patch length;
    a circular shift in time of an input one patch long changes nothing either."""
    torch.manual_seed(0)
    x = torch.rand(2, 1, 12, 16)
    with torch.no_grad():
        multi = NETWORKS["ftmnet"](patch_lens=(8, 16)).eval()
        a = F.normalize(multi(x)[1], dim=1)
        assert torch.allclose(a, F.normalize(multi(torch.roll(x, 5, dims=2))[1], dim=1), atol=1e-5)
        single = NETWORKS["ftmnet"](patch_lens=(16,)).eval()
        b = F.normalize(single(x)[1], dim=1)
        for moved in (torch.roll(x, 7, dims=3), torch.roll(x, (3, 4), dims=(2, 3))):
            assert torch.allclose(b, F.normalize(single(moved)[1], dim=1), atol=1e-5)
        other = F.normalize(single(torch.rand(2, 1, 12, 16))[1], dim=1)
    assert not torch.allclose(b, other, atol=1e-3)


def test_octave_wrap_turns_a_transposition_into_a_shift_along_the_rows():
    from homage.errors import ParameterError
    from homage.models.architectures import wrap_octave

    x = torch.randn(2, 1, 12, 30)
    wrapped, transposed = wrap_octave(x), wrap_octave(torch.roll(x, -5, dims=2))
    assert wrapped.shape == (2, 1, 23, 30)
    torch.testing.assert_close(transposed[:, :, :18], wrapped[:, :, 5:])  # the same rows, moved up by 5
    for name in ("cnn128", "resnet18"):
        raw, normed = NETWORKS[name](octave_wrap=True).eval()(x)
        assert normed.shape == (2, 128)
    with pytest.raises(ParameterError, match="12 pitch classes"):
        wrap_octave(torch.randn(1, 1, 128, 30))  # log-mel is not a circle


def test_resnet18_loads_imagenet_format_weights():
    net = NETWORKS["resnet18"]()
    fake = {k: torch.full_like(v, 0.5) for k, v in net.state_dict().items() if not k.startswith("head")}
    fake["conv1.weight"] = torch.ones(64, 3, 7, 7) * torch.tensor([0.0, 0.3, 0.6]).view(1, 3, 1, 1)
    fake["fc.weight"] = torch.zeros(1000, 512)  # the ImageNet classifier has no counterpart
    loaded = net.load_imagenet(fake)
    assert "conv1.weight" in loaded and "fc.weight" not in loaded
    assert torch.allclose(net.conv1.weight, torch.full_like(net.conv1.weight, 0.3))


def test_trained_checkpoint_embeds_audio_features(tmp_path):
    from conftest import synth_piece

    config = tiny_config(tmp_path, epochs=1)
    trainer = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
    trainer.run_epoch()
    embedder = NetworkEmbedder(tmp_path / "run" / "best.pt")
    v = embedder.embed_audio(synth_piece(1, seconds=12))
    assert v.shape == (16,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    assert embedder.identity.startswith("cqtnet@")
    from homage.models import get_embedder

    by_path = get_embedder(str(tmp_path / "run" / "best.pt"))  # as `--ranking`/`--embedder` accept it
    assert by_path.identity.startswith(str(tmp_path / "run" / "best.pt") + "@")
    assert np.allclose(by_path.embed_audio(synth_piece(1, seconds=12)), v, atol=1e-5)


def test_chunks_and_training_chunk_shapes():
    X = np.random.default_rng(0).random((84, 100)).astype(np.float32)
    parts = chunks(X, 40)
    assert parts.shape[1:] == (84, 40) and parts.shape[0] == 4  # starts 0, 20, 40, 60
    assert chunks(X[:, :10], 40).shape == (1, 84, 40)
    rng = np.random.default_rng(0)
    assert training_chunk(X, 30, TrainConfig().augment, rng).shape == (84, 30)
    spec = InputSpec()
    prepared = spec.prepare(np.random.default_rng(1).random((84, 250)))
    assert prepared.shape == (84, 25) and 0.0 <= prepared.min() and prepared.max() <= 1.0


def test_shipped_weights_load_and_embed():
    from homage.models import get_embedder

    from conftest import synth_piece

    csi = get_embedder("csi")
    original, transposed, other = (
        csi.embed_audio(synth_piece(seed, transpose=t)) for seed, t in ((1, 0), (1, 3), (3, 0))
    )
    assert original.shape == (128,) and np.linalg.norm(original) == pytest.approx(1.0, abs=1e-5)
    assert csi.identity.startswith("csi@")
    assert float(original @ transposed) > float(original @ other)  # key-invariant, and tells pieces apart


def test_numpy_ftmnet_equals_the_torch_forward():
    """The shipped network runs in NumPy; it must compute what the PyTorch module computes (eval mode)."""
    from homage.models.ftmnet import FTMNetNumpy

    torch.manual_seed(0)
    net = NETWORKS["ftmnet"](patch_lens=(8, 16), hidden=32, dim=24)
    with torch.no_grad():  # non-trivial batch-norm statistics and GeM powers
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
        for pool in net.pools:
            pool.p.fill_(2.5)
    net.eval()
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    numpy_net = FTMNetNumpy(weights, patch_lens=(8, 16), hidden=32, dim=24)
    for frames in (5, 16, 40):  # shorter than a patch (repeated), one patch, many
        x = np.random.default_rng(frames).random((3, 12, frames)).astype(np.float32)
        np.testing.assert_allclose(numpy_net(x), torch_forward(net)(x), rtol=1e-4, atol=1e-4)


def test_checkpoint_round_trips_its_config(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    trainer = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
    trainer.run_epoch()
    best = checkpoints.read(tmp_path / "run" / "best.pt")
    assert best.config == config.as_dict() and best.network == "cqtnet" and best.epoch == 1
    shipped = checkpoints.write(tmp_path / "model.npz", best.half())
    again = checkpoints.read(shipped)
    assert again.config == best.config and again.input == best.input and again.chunk_frames == best.chunk_frames
    assert all(again.weights[k].dtype == np.float16 for k in best.weights if best.weights[k].dtype.kind == "f")
    a = NetworkEmbedder(tmp_path / "run" / "best.pt")
    b = NetworkEmbedder(shipped)
    X = np.random.default_rng(0).random((84, 300)).astype(np.float32)
    np.testing.assert_allclose(a.embed(X), b.embed(X), atol=2e-2)  # float16 weights


def test_shipped_model_carries_its_training_config_and_needs_no_torch():
    import subprocess
    import sys

    from homage.models import SHIPPED_CSI

    shipped = checkpoints.read(SHIPPED_CSI)
    assert shipped.network == "ftmnet" and shipped.config["network"] == "ftmnet"
    from homage.training.config import TrainConfig

    assert shipped.config["input"] == shipped.input and shipped.config["epochs"] == TrainConfig().epochs  # the defaults
    code = (
        "import sys, numpy as np; from homage.models import get_embedder; "
        "v = get_embedder('csi').embed(np.random.default_rng(0).random((84, 2000)).astype(np.float32)); "
        "assert v.shape == (128,); assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_key_shifts_wrap_chroma_around_the_octave_and_move_a_spectrum():
    from homage.training.config import Augment

    rng = np.random.default_rng(3)
    shift_only = Augment(tempo=(1.0, 1.0), key_shift=6, freq_mask=0, time_mask=0)
    chroma = rng.random((12, 40)).astype(np.float32)
    shifted = [training_chunk(chroma, 40, shift_only, rng) for _ in range(20)]
    assert all(np.allclose(np.sort(s, axis=0), np.sort(chroma, axis=0)) for s in shifted)  # every pitch class kept
    assert any(not np.allclose(s, chroma) for s in shifted)  # and moved
    cqt = rng.random((84, 40)).astype(np.float32) + 1.0
    moved = [training_chunk(cqt, 40, shift_only, rng) for _ in range(20)]
    assert any((m == 0).all(axis=1).any() for m in moved)  # bins moved out of a spectrum leave zeros
