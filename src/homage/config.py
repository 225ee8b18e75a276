"""Plain dataclass configuration: YAML loading with dotted overrides, and stable hashes for cache keys."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from homage.errors import ConfigError

T = TypeVar("T")


def stable_hash(obj: Any, length: int = 16) -> str:
    """A hash of a dataclass or plain value that is the same across processes and runs."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = {"__class__": type(obj).__name__, **dataclasses.asdict(obj)}
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=length // 2).hexdigest()


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a nested dict, returning a new dict."""
    result = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key.path=value")
        node = result
        *parents, leaf = key.lstrip("-").split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return result


def from_dict(cls: type[T], data: dict) -> T:
    """Build dataclass ``cls`` from a dict, recursing into dataclass fields; unknown keys are an error."""
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} option(s): {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in data.items():
        ftype = fields[name].type
        sub = _dataclass_type(ftype, cls)
        kwargs[name] = from_dict(sub, value) if sub is not None and isinstance(value, dict) else value
    return cls(**kwargs)


def load_yaml(cls: type[T], path: str | Path, overrides: list[str] | None = None) -> T:
    """Load dataclass ``cls`` from a YAML file, then apply dotted overrides."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    return from_dict(cls, apply_overrides(data, overrides or []))


def _dataclass_type(annotation: Any, owner: type) -> type | None:
    """Resolve a (possibly string) field annotation to a dataclass type, if it names one."""
    if isinstance(annotation, str):
        import sys

        annotation = vars(sys.modules[owner.__module__]).get(annotation)
    return annotation if dataclasses.is_dataclass(annotation) else None
