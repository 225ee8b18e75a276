"""Networks, losses and the trainer on tiny data: shapes, hand-made loss values, a step that learns,
checkpoints that resume, and a trained network behind the embedder interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from homage.models.embedder import NetworkEmbedder, chunks, embed_prepared
from homage.models.inputs import InputSpec
from homage.models.losses import WorkClassifier, batch_hard_triplet_loss, triplet_loss
from homage.models.networks import NETWORKS
from homage.models.train import Augment, Split, TrainConfig, Trainer, training_chunk

torch.set_num_threads(1)


@pytest.mark.parametrize("name,bins", [("csi", 84), ("pcnet", 12), ("cnn128", 128), ("resnet18", 128), ("ftmnet", 12)])
def test_networks_give_128d_vectors_for_any_length(name, bins):
    net = NETWORKS[name]().eval()
    for frames in (20, 75):
        raw, normed = net(torch.randn(3, 1, bins, frames))
        assert raw.shape == normed.shape == (3, 128)
    X = np.random.default_rng(0).random((bins, 130)).astype(np.float32)
    v = embed_prepared(net, X, chunk_frames=60)
    assert v.shape == (128,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)


def test_csi_is_key_invariant_by_construction():
    """Max over frequency after the trunk: a transposition by a multiple of the trunk's frequency stride
    (8 bins) gives the same vector, whatever the weights."""
    torch.manual_seed(0)
    net = NETWORKS["csi"]().eval()
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


def test_resnet18_loads_imagenet_format_weights():
    net = NETWORKS["resnet18"]()
    fake = {k: torch.full_like(v, 0.5) for k, v in net.state_dict().items() if not k.startswith("head")}
    fake["conv1.weight"] = torch.ones(64, 3, 7, 7) * torch.tensor([0.0, 0.3, 0.6]).view(1, 3, 1, 1)
    fake["fc.weight"] = torch.zeros(1000, 512)  # the ImageNet classifier has no counterpart
    loaded = net.load_imagenet(fake)
    assert "conv1.weight" in loaded and "fc.weight" not in loaded
    assert torch.allclose(net.conv1.weight, torch.full_like(net.conv1.weight, 0.3))


def test_triplet_loss_by_hand():
    a = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[0.0, 1.0]])  # distance 1
    n = torch.tensor([[0.0, 1.5]])  # distance 1.5
    assert float(triplet_loss(a, p, n, margin=1.0)) == pytest.approx(0.5, abs=1e-5)
    assert float(triplet_loss(a, p, torch.tensor([[0.0, 3.0]]), margin=1.0)) == pytest.approx(0.0, abs=1e-6)


def test_batch_hard_picks_the_farthest_positive_and_nearest_negative():
    e = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    labels = torch.tensor([0, 0, 1, 1])
    # per anchor: relu(farthest positive − nearest negative + margin)
    loss = batch_hard_triplet_loss(e, labels, margin=1.0)
    per_anchor = [max(1 - 1.5 + 1, 0), max(1 - 0.5 + 1, 0), max(1.5 - 2 + 1, 0), max(1.5 - 0.5 + 1, 0)]
    assert float(loss) == pytest.approx(np.mean(per_anchor), abs=1e-5)


def test_classifier_losses_prefer_the_right_work():
    torch.manual_seed(0)
    for head in (WorkClassifier(4, 3), WorkClassifier(4, 3, scale=16.0, margin=0.2)):
        with torch.no_grad():
            head.weight.copy_(torch.eye(3, 4))
        x = torch.tensor([[5.0, 0, 0, 0]])
        with torch.no_grad():
            assert float(head(x, torch.tensor([0]))) < float(head(x, torch.tensor([1])))


def toy_split(seed: int, works: int = 6, versions: int = 3) -> Split:
    """Works as random pitch patterns; versions transposed and noisy (what the network should ignore)."""
    rng = np.random.default_rng(seed)
    inputs, labels = [], []
    for w in range(works):
        pattern = (rng.random((84, 30)) > 0.9).astype(np.float32)
        for _ in range(versions):
            X = np.roll(pattern, int(rng.integers(-3, 4)), axis=0) + 0.1 * rng.random((84, 30))
            inputs.append(X.astype(np.float32))
            labels.append(w)
    return Split(inputs, np.array(labels))


def tiny_config(tmp_path, **kw) -> TrainConfig:
    base = dict(out=str(tmp_path / "run"), network_args={"dim": 16, "widths": (4, 8, 8, 16)}, p=3, k=2,
                chunk_s=10.0, epochs=2, lr=0.01, steps_per_epoch=4, triplets=6)  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("loss,positives", [("triplet", "augmented"), ("triplet", "versions"),
                                            ("batch_hard", "versions"), ("batch_hard+softmax", "versions")])  # fmt: skip
def test_training_steps_lower_the_loss(tmp_path, loss, positives):
    still = Augment(tempo=(1.0, 1.0), key_shift=0, freq_mask=0, time_mask=0)  # the same chunks every step
    config = tiny_config(tmp_path, loss=loss, positives=positives, augment=still)
    train = toy_split(0)
    trainer = Trainer(config, train, toy_split(1), log=lambda s: None)
    batch = trainer._batches(train, np.random.default_rng(0), 1)[0]
    trainer.net.train()

    def loss_now():
        return trainer.loss(train, batch, True, np.random.default_rng(5))

    with torch.no_grad():
        before = float(loss_now())
    for _ in range(15):
        loss_value = loss_now()
        trainer.optimizer.zero_grad()
        loss_value.backward()
        trainer.optimizer.step()
    with torch.no_grad():
        after = float(loss_now())
    assert after < before


def test_checkpoint_resume_round_trip(tmp_path):
    config = tiny_config(tmp_path)
    first = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
    first.run_epoch()
    assert (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").exists()
    assert "baseline_val_map" in first.history[0] and (tmp_path / "run" / "curves.png").exists()
    again = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
    assert again.resume() and again.epoch == 1 and again.history == first.history
    for (k, a), b in zip(first.net.state_dict().items(), again.net.state_dict().values()):
        assert torch.equal(a, b), k
    again.run_epoch()
    assert again.epoch == 2 and len(again.history) == 2
    other = Trainer(tiny_config(tmp_path, lr=0.5), toy_split(0), toy_split(1), log=lambda s: None)
    with pytest.raises(Exception, match="another configuration"):
        other.resume()


def test_trained_checkpoint_embeds_audio_features(tmp_path):
    from conftest import synth_piece

    config = tiny_config(tmp_path, epochs=1)
    trainer = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
    trainer.run_epoch()
    embedder = NetworkEmbedder(tmp_path / "run" / "best.pt")
    v = embedder.embed_audio(synth_piece(1, seconds=12))
    assert v.shape == (16,) and np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    assert embedder.identity.startswith("csi@")
    from homage.embed import get_embedder

    by_path = get_embedder(str(tmp_path / "run" / "best.pt"))  # as `--pipeline`/`--embedder` accept it
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
    from homage.embed import get_embedder

    from conftest import synth_piece

    csi = get_embedder("csi")
    original, transposed, other = (csi.embed_audio(synth_piece(seed, transpose=t)) for seed, t in ((1, 0), (1, 3), (3, 0)))
    assert original.shape == (128,) and np.linalg.norm(original) == pytest.approx(1.0, abs=1e-5)
    assert csi.identity.startswith("csi@")
    assert float(original @ transposed) > float(original @ other)  # key-invariant, and tells pieces apart
