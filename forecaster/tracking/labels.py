"""Short labels of a run, read back from its contract params (the strings the MLflow UI shows).

``clipping_label``, ``architecture_label`` and ``bptt_label`` word a candidate's settings for the
comparison table, the headline and the figures' legends. They read the contract params
(:data:`forecaster.comparison.plans.CONTRACT_PARAMS`), so a baseline or a run read back from the
store is labelled the same way. No MLflow import.

Example
-------
>>> architecture_label({"cell": "gru", "layers": 2, "units": 32, "bidirectional": True})
'gru 2x32 bi'
>>> clipping_label({"clipping": "clipnorm", "clip_threshold": 1.0}), bptt_label({"bptt": 24})
('clipnorm=1', 'truncate=24')
>>> metric_safe("BRK.B"), metric_safe("Zürich (airport)")
('BRK.B', 'Z_rich _airport_')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_METRIC_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def metric_safe(text: str) -> str:
    """``text`` as part of an MLflow metric name: every character MLflow refuses (it keeps ASCII
    letters, digits, ``_ - . /`` and space) becomes ``_``."""
    return _METRIC_UNSAFE.sub("_", str(text)) or "_"


def clipping_label(params: Mapping[str, Any]) -> str:
    """``none`` or ``<kind>=<threshold>`` from contract params ``clipping``/``clip_threshold``."""
    kind = str(params.get("clipping", "none") or "none")
    threshold = params.get("clip_threshold")
    if kind == "none" or threshold is None:
        return kind
    try:
        return f"{kind}={float(threshold):g}"
    except (TypeError, ValueError):
        return f"{kind}={threshold}"


def architecture_label(params: Mapping[str, Any]) -> str:
    """A short architecture name such as ``lstm 1x32`` (+ ``bi``, dropout, head when not default)."""
    units = params.get("units", "")
    if isinstance(units, (list, tuple)):
        units = "-".join(str(u) for u in units)
    label = f"{params.get('cell', '?')} {params.get('layers', '?')}x{units}"
    if params.get("bidirectional"):
        label += " bi"
    if params.get("dropout"):
        label += f" dropout={params['dropout']}"
    if params.get("recurrent_dropout"):
        label += f" rdropout={params['recurrent_dropout']}"
    if params.get("head") and params.get("head") != "dense":
        label += f" {params['head']}"
    return label


def bptt_label(params: Mapping[str, Any]) -> str:
    """``full`` or ``truncate=K`` from the contract param ``bptt`` (``full`` when absent)."""
    value = params.get("bptt", "full")
    return "full" if value in (None, "full", "none") else f"truncate={value}"
