"""Plot titles a reader understands: the pipeline and the kind of model, not its internal name.

Example
-------
>>> model_kind("blend(lstm-1x16 | none + linear)")
'LSTM network (1 layer of 16 units) blended with ridge regression'
>>> model_kind("baseline persistence")
'persistence baseline (last value repeated)'
>>> forecast_title("smoke", "gru-2x32 | clipnorm=1", ["temp_max"])
'smoke: temp_max forecast by a GRU network (2 layers of 32 units)'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CELLS = {"lstm": "LSTM", "gru": "GRU", "rnn": "simple RNN"}
_BASELINES = {
    "persistence": "persistence baseline (last value repeated)",
    "seasonal_naive": "seasonal-naive baseline (value one season earlier)",
    "linear": "ridge regression baseline",
}
_SPEC = re.compile(r"^(?P<cell>lstm|gru|rnn)-(?P<layers>\d+)x(?P<units>[\d,]+)(?P<rest>(-\S+)*)$")
_BLEND = re.compile(r"^blend\((?P<inner>.+) \+ (?P<other>\w+)\)$")


def model_kind(label: str) -> str:
    """A plain description of a candidate, baseline or registered model label."""
    label = label.strip()
    if label.startswith("baseline "):
        label = label[len("baseline "):]
    if label in _BASELINES:
        return _BASELINES[label]
    blend = _BLEND.match(label)
    if blend:
        other = "ridge regression" if blend.group("other") == "linear" else blend.group("other")
        return f"{model_kind(blend.group('inner'))} blended with {other}"
    if label.startswith("models:/"):
        name = label[len("models:/"):]
        if "@" not in name and "/" in name:
            name, version = name.rsplit("/", 1)
            return f"the registered model {name} (version {version})"
        label = name
    if label.startswith("runs:/"):
        return f"the model logged in run {label[len('runs:/'):].split('/', 1)[0]}"
    if "@" in label and not label.startswith(("blend", "lstm", "gru", "rnn")):
        name, alias = label.rsplit("@", 1)
        return f"the registered model {name} (@{alias})"
    spec = _SPEC.match(label.split(" | ", 1)[0])
    if spec:
        layers = int(spec.group("layers"))
        units = spec.group("units")
        text = (f"{_CELLS[spec.group('cell')]} network ({layers} layer{'s' if layers > 1 else ''} "
                f"of {units} units")
        extras = [p for p in spec.group("rest").split("-") if p]
        if "bi" in extras:
            text = "bidirectional " + text
        return text + ")"
    return label


def forecast_title(pipeline: str, label: str, targets: Sequence[str] = ()) -> str:
    """``<pipeline>: <targets> forecast by <model kind>``."""
    kind = model_kind(label)
    first = kind.split(" ", 1)[0]
    vowel_sound = first[:1] in "AEFHILMNORSX" if first.isupper() else first[:1].lower() in "aeiou"
    article = "" if kind.startswith(("the ", "a ", "an ")) else ("an " if vowel_sound else "a ")
    what = f"{', '.join(targets)} forecast" if targets else "forecast"
    return f"{pipeline}: {what} by {article}{kind}"


__all__ = ["forecast_title", "model_kind"]
