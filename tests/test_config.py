from dataclasses import dataclass, field

import pytest

from homage.config import apply_overrides, from_dict, load_yaml, stable_hash
from homage.errors import ConfigError


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    epochs: int = 10


@dataclass(frozen=True)
class Run:
    name: str = "run"
    optim: Optim = field(default_factory=Optim)


def test_yaml_with_dotted_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("name: first\noptim:\n  lr: 0.01\n")
    run = load_yaml(Run, path, ["optim.epochs=3", "--name=second"])
    assert run == Run(name="second", optim=Optim(lr=0.01, epochs=3))


def test_unknown_keys_and_malformed_overrides_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown Optim option"):
        from_dict(Run, {"optim": {"momentum": 0.9}})
    with pytest.raises(ConfigError, match="not of the form"):
        apply_overrides({}, ["epochs"])
    with pytest.raises(ConfigError, match="cannot read config"):
        load_yaml(Run, tmp_path / "missing.yaml")


def test_stable_hash_depends_on_values_only():
    assert stable_hash(Optim()) == stable_hash(Optim())
    assert stable_hash(Optim()) != stable_hash(Optim(lr=0.1))
    assert len(stable_hash({"a": 1})) == 16
