"""Short MLflow run names that fit the runs list's default column (about 30 characters).

A candidate's full name (``lstm-1x32 | clipnorm=1``) is kept in the ``forecaster.candidate``
tag; the run name shows cell, size and clipping compactly, clipping included:

=======================================  ==============================
full name                                run name
=======================================  ==============================
``lstm-1x32 | none``                     ``lstm-1x32 noclip``
``gru-2x32-do0.1 | clipnorm=1``          ``gru-2x32-do0.1 norm1``
``rnn-1x32-bi | clipvalue=0.5``          ``rnn-1x32-bi value0.5``
``lstm-1x32 | global_clipnorm=1``        ``lstm-1x32 gnorm1``
``blend(lstm-1x32 | none + linear)``     ``lstm-1x32 noclip+lin``
``persistence``                          ``persistence``
=======================================  ==============================

The champion's run is renamed ``★ <short name>`` once the gate promotes it (the word "champion" is
in its description and its ``forecaster.champion`` tag): the runs list's default column shows about
22 characters, so the mark goes first and stays short.

The names are read from the result's plan (:class:`forecaster.comparison.plans.CandidatePlan`: architecture,
clipping, bptt), never parsed back out of the full name.

Example
-------
>>> from forecaster.comparison.plans import CandidatePlan
>>> from forecaster.comparison.results import CandidateResult
>>> plan = CandidatePlan("gru-2x32-do0.1 | clipnorm=1", {"cell": "gru", "layers": 2, "units": 32, "dropout": 0.1},
...                      {"kind": "clipnorm", "threshold": 1.0})
>>> short_run_name(CandidateResult(plan.name, "candidate", {}, plan=plan))
'gru-2x32-do0.1 norm1'
>>> short_run_name(CandidateResult("blend(gru-2x32-do0.1 | clipnorm=1 + linear)", "ensemble", {}, plan=plan))
'gru-2x32-do0.1 norm1+lin'
>>> champion_run_name("lstm-1x32 noclip")
'★ lstm-1x32 noclip'
"""

from __future__ import annotations

from typing import Any

from forecaster.comparison.plans import BLEND_PARTNER
from forecaster.comparison.results import ROLE_ENSEMBLE

MAX_RUN_NAME = 40
CHAMPION_PREFIX = "★ "

_CLIP_WORDS = (("global_clipnorm", "gnorm"), ("clipnorm", "norm"), ("clipvalue", "value"))


def short_clipping(label: str) -> str:
    """``none`` -> ``noclip``, ``clipnorm=1`` -> ``norm1``, ``clipvalue=0.5`` -> ``value0.5``."""
    label = label.strip()
    if label in ("", "none"):
        return "noclip"
    for kind, word in _CLIP_WORDS:
        if label.startswith(kind + "="):
            return word + label[len(kind) + 1:]
    return label.replace("=", "")


def short_run_name(result: Any) -> str:
    """The run name shown in the MLflow runs list for a candidate or baseline result.

    A network: ``<architecture> <short clipping>`` (a truncated-BPTT setting adds
    `` | truncate=K`` before shortening); a blend: its network's name then ``+lin``; a run
    without a plan (a baseline): its name.
    """
    plan = getattr(result, "plan", None)
    if plan is None:
        return _cut(result.name)
    setting = plan.clipping_label if plan.bptt_label is None else f"{plan.clipping_label} | {plan.bptt_label}"
    name = _cut(f"{plan.architecture} {short_clipping(setting)}")
    if result.role == ROLE_ENSEMBLE:
        name = _cut(f"{name}+{BLEND_PARTNER[:3]}")
    return name


def champion_run_name(short_name: str) -> str:
    """The champion's run name: ``★ `` then its short name."""
    if short_name.startswith(CHAMPION_PREFIX):
        return short_name
    return CHAMPION_PREFIX + short_name


def _cut(text: str) -> str:
    return text if len(text) <= MAX_RUN_NAME else text[:MAX_RUN_NAME - 1] + "~"


__all__ = ["CHAMPION_PREFIX", "champion_run_name", "short_clipping", "short_run_name"]
