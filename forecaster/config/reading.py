"""A pipeline file as text: YAML read with every key once, and schema errors worded for people.

:func:`read_mapping` returns the file's top-level mapping (or raises :class:`ConfigError`, exit 2,
naming the file); :func:`format_errors` turns a pydantic ``ValidationError`` into one line per
problem with its key path, the rule broken and the value received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from forecaster.errors import ConfigError


def format_errors(error: ValidationError, source: str) -> str:
    """One line per problem of ``error``: ``<key.path>: <rule>; received <value>``, under ``source``.

    A rule that compares several keys (a section's or the whole file's validator) states the keys and
    the values it compared in its own message, so the section or file it received is not echoed."""
    lines = [f"{source}: the pipeline file is not valid ({error.error_count()} problem(s)):"]
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            rule = "unknown key"
        else:
            rule = item["msg"].removeprefix("Value error, ")
        received = item.get("input")
        if item["type"] == "value_error" and isinstance(received, dict):
            # A rule across keys (a section's or the file's own check) names the keys and values it
            # compared; echoing the whole section or file after it would bury them.
            lines.append(f"  - {path}: {rule}")
            continue
        shown = repr(received)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        lines.append(f"  - {path}: {rule}; received {shown}")
    return "\n".join(lines)


class DuplicateKeyError(ValueError):
    """A mapping of the pipeline file names one key twice (YAML would keep the last silently)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated within one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(
                    f"the key {key!r} appears twice in one mapping (lines {seen[key]} and {line}); "
                    "YAML would silently keep the last. Keep one."
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``; a missing file, bad YAML, a key repeated in
    one mapping or a top level that is not a mapping raises :class:`ConfigError` naming the file."""
    label = str(path)
    if not path.is_file():
        raise ConfigError(f"{label}: pipeline file not found")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except DuplicateKeyError as exc:
        raise ConfigError(f"{label}: {exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: not a valid YAML file ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{label}: a pipeline file is a mapping of keys; received {type(raw).__name__}"
        )
    return raw


__all__ = ["DuplicateKeyError", "format_errors", "read_mapping"]
