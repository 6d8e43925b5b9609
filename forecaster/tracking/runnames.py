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

Example
-------
>>> short_run_name("gru-2x32-do0.1 | clipnorm=1")
'gru-2x32-do0.1 norm1'
>>> short_run_name("blend(lstm-1x32 | none + linear)")
'lstm-1x32 noclip+lin'
>>> champion_run_name("lstm-1x32 noclip")
'★ lstm-1x32 noclip'
"""

from __future__ import annotations

import re

MAX_RUN_NAME = 40
CHAMPION_PREFIX = "★ "

_CLIP_WORDS = (("global_clipnorm", "gnorm"), ("clipnorm", "norm"), ("clipvalue", "value"))
_BLEND = re.compile(r"^blend\((?P<inner>.+) \+ (?P<other>\w+)\)$")


def short_clipping(label: str) -> str:
    """``none`` -> ``noclip``, ``clipnorm=1`` -> ``norm1``, ``clipvalue=0.5`` -> ``value0.5``."""
    label = label.strip()
    if label in ("", "none"):
        return "noclip"
    for kind, word in _CLIP_WORDS:
        if label.startswith(kind + "="):
            return word + label[len(kind) + 1:]
    return label.replace("=", "")


def short_run_name(name: str) -> str:
    """The run name shown in the MLflow runs list for the candidate or baseline ``name``."""
    blend = _BLEND.match(name)
    if blend:
        inner = short_run_name(blend.group("inner"))
        other = blend.group("other")
        return _cut(f"{inner}+{other[:3]}")
    if " | " in name:
        spec, clipping = name.split(" | ", 1)
        return _cut(f"{spec} {short_clipping(clipping)}")
    return _cut(name)


def champion_run_name(short_name: str) -> str:
    """The champion's run name: ``★ `` then its short name."""
    if short_name.startswith(CHAMPION_PREFIX):
        return short_name
    return CHAMPION_PREFIX + short_name


def _cut(text: str) -> str:
    return text if len(text) <= MAX_RUN_NAME else text[:MAX_RUN_NAME - 1] + "~"


__all__ = ["CHAMPION_PREFIX", "champion_run_name", "short_clipping", "short_run_name"]
