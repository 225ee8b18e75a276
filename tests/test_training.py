"""Losses and the trainer on tiny data: hand-made loss values, steps that learn, checkpoints that resume
(also on another device), samplers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the [train] extra (pip install 'homage[train]')")

from homage.models.inputs import InputSpec
from homage.training.config import Augment, TrainConfig
from homage.training.data import Split
from homage.training.loop import Trainer
from homage.training.losses import WorkClassifier, batch_hard_triplet_loss, triplet_loss

torch.set_num_threads(1)


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
    base = dict(
        out=str(tmp_path / "run"),
        network="cqtnet",
        network_args={"dim": 16, "widths": (4, 8, 8, 16)},
        input=InputSpec("cqt", 10),
        p=3,
        k=2,
        chunk_s=10.0,
        epochs=2,
        lr=0.01,
        steps_per_epoch=4,
        triplets=6,
    )
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize(
    "loss,positives",
    [("triplet", "augmented"), ("triplet", "versions"), ("batch_hard", "versions"), ("batch_hard+softmax", "versions")],
)
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


def test_resume_accepts_other_runtime_settings(tmp_path):
    """Device, workers and cache change where a run computes, not what it learns: resuming with others works."""
    first = Trainer(tiny_config(tmp_path), toy_split(0), toy_split(1), log=lambda s: None)
    first.run_epoch()
    moved = tiny_config(tmp_path, device="cpu:0", workers=7, cache=str(tmp_path / "elsewhere"))
    again = Trainer(moved, toy_split(0), toy_split(1), log=lambda s: None)
    assert again.resume() and again.epoch == 1


def test_resume_device_through_the_cli(tmp_path, monkeypatch):
    """`homage train … --resume --device …` is not refused for the device: only learning settings must match."""
    from typer.testing import CliRunner

    import homage.training.loop as loop
    from homage.cli.app import app

    seen = {}

    def fake_train(config, *, resume, **kwargs):
        seen.update(device=config.device, resume=resume)
        trainer = Trainer(config, toy_split(0), toy_split(1), log=lambda s: None)
        trainer.resume()
        return trainer

    first = Trainer(tiny_config(tmp_path), toy_split(0), toy_split(1), log=lambda s: None)
    first.run_epoch()
    config = tmp_path / "tiny.yaml"
    config.write_text(
        f"out: {tmp_path / 'run'}\nnetwork: cqtnet\nnetwork_args: {{dim: 16, widths: [4, 8, 8, 16]}}\n"
        "input: {feature: cqt, pool: 10}\np: 3\nk: 2\nchunk_s: 10.0\nepochs: 2\nlr: 0.01\n"
        "steps_per_epoch: 4\ntriplets: 6\n"
    )
    monkeypatch.setattr(loop, "train", fake_train)
    result = CliRunner().invoke(app, ["train", str(config), "--resume", "--device", "cpu:0"])
    assert result.exit_code == 0, result.output
    assert seen == {"device": "cpu:0", "resume": True}
