"""``--set key.path=value`` overrides, applied to a pipeline file's mapping before it is validated.

Example
-------
>>> apply_overrides({"training": {"epochs": 20}, "models": [{"units": 32}]}, ["training.epochs=2", "models.0.units=16"])
{'training': {'epochs': 2}, 'models': [{'units': 16}]}
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from forecaster.errors import ConfigError


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``--set key.path=value`` override; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set expects key.path=value; received {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set has an empty key in {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: the value {raw!r} is not valid YAML ({exc})") from exc
    return key.split("."), value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``key.path=value`` override applied."""
    result = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = result
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                node = _list_item(node, part, path[: i + 1])
                continue
            if part not in node or node[part] is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a mapping")
        last = path[-1]
        if isinstance(node, list):
            index = int(last) if last.isdigit() else None
            if index is None or index >= len(node):
                raise ConfigError(f"--set {'.'.join(path)}: no list item {last!r}")
            node[index] = value
        else:
            node[last] = value
    return result


def _list_item(node: list, part: str, where: list[str]) -> Any:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {'.'.join(where)}: no list item {part!r}")
    return node[int(part)]



__all__ = ["apply_overrides", "parse_override"]
