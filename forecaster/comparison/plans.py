"""Candidate plans and the MLflow parameter contract they map to (the one owner of both).

A :class:`CandidatePlan` is one cell of the comparison grid (an architecture, a clipping setting,
a bptt setting). A :class:`~forecaster.comparison.results.CandidateResult` carries the plan it was trained
from, so no layer has to parse a candidate's name to recover its parts. :func:`contract_params`
is the only place that writes the parameter names every MLflow child run carries.

>>> CONTRACT_PARAMS[:3]
('cell', 'layers', 'units')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forecaster.config import BpttConfig, ClippingConfig, PipelineConfig
from forecaster.models.spec import ModelSpec

#: The MLflow parameter names every child run carries, in logging order (a contract).
CONTRACT_PARAMS = (
    "cell", "layers", "units", "bidirectional", "dropout", "recurrent_dropout", "head", "clipping",
    "clip_threshold", "learning_rate", "batch_size", "lookback", "horizon", "n_features", "n_params",
    "seed", "warm_start", "bptt", "segment", "norm", "ensemble", "highway",
)

#: The baseline every blend candidate mixes with its network (``blend(<network> + linear)``).
BLEND_PARTNER = "linear"


@dataclass(frozen=True)
class CandidatePlan:
    """One cell of the comparison grid: an architecture, a clipping setting and a bptt setting."""

    name: str
    model: dict[str, Any]
    clipping: dict[str, Any]
    bptt: dict[str, Any] = field(default_factory=lambda: {"truncate": None})

    @property
    def architecture(self) -> str:
        """The architecture's short name, e.g. ``gru-2x32-do0.1`` (:attr:`ModelSpec.name`)."""
        return ModelSpec.from_dict(self.model).name

    @property
    def clipping_label(self) -> str:
        """``none`` or ``<kind>=<threshold>``, e.g. ``clipnorm=1`` (:attr:`ClippingConfig.label`)."""
        return ClippingConfig.model_validate(self.clipping).label

    @property
    def bptt_label(self) -> str | None:
        """``truncate=K`` for truncated BPTT; None for full BPTT (it adds nothing to names)."""
        setting = BpttConfig.model_validate(self.bptt)
        return None if setting.truncate is None else setting.label


def plan_candidates(cfg: PipelineConfig) -> list[CandidatePlan]:
    """Every model of the pipeline file crossed with every clipping and bptt setting, in file order.

    Names are ``<model> | <clipping>``, plus ``| truncate=K`` for a truncated-BPTT setting (full
    BPTT adds nothing, so names of pipelines without ``bptt`` are unchanged).
    """
    plans = []
    for model_cfg in cfg.models:
        spec = ModelSpec.from_config(model_cfg)
        for clip in cfg.clipping:
            for bptt in cfg.bptt:
                suffix = "" if bptt.truncate is None else f" | {bptt.label}"
                plans.append(CandidatePlan(name=f"{spec.name} | {clip.label}{suffix}", model=model_cfg.model_dump(),
                                           clipping=clip.model_dump(), bptt=bptt.model_dump()))
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"the pipeline lists the same candidate twice: {dupes}")
    return plans


def blend_name(network: str) -> str:
    """The name of the blend of the candidate ``network`` with :data:`BLEND_PARTNER`.

    >>> blend_name("lstm-1x32 | none")
    'blend(lstm-1x32 | none + linear)'
    """
    return f"blend({network} + {BLEND_PARTNER})"


def bptt_param(plan: CandidatePlan | None) -> str | int:
    """The contract param ``bptt``: ``full``, the integer K of ``{truncate: K}``, or ``none`` (baselines)."""
    if plan is None:
        return "none"
    k = plan.bptt.get("truncate")
    return "full" if k is None else int(k)


def contract_params(cfg: PipelineConfig, plan: CandidatePlan | None, est: Any = None, *,
                    baseline: str | None = None) -> dict[str, Any]:
    """The MLflow parameters of one run, keyed by :data:`CONTRACT_PARAMS` (a contract).

    ``plan`` is the candidate's plan; a baseline passes ``plan=None`` and its kind as ``baseline``
    (its ``cell``) and gets neutral values for what does not apply to it, so UI columns compare
    cleanly. ``n_features``, ``n_params`` and ``warm_start`` come from the fitted ``est`` (0/False
    when it is None or has none).
    """
    model = plan.model if plan else {}
    clip = plan.clipping if plan else {"kind": "none", "threshold": None}
    units = model.get("units", 0)
    values = {
        "cell": model["cell"] if plan else baseline,
        "layers": model.get("layers", 0),
        "units": ",".join(str(u) for u in units) if isinstance(units, list) else units,
        "bidirectional": model.get("bidirectional", False),
        "dropout": model.get("dropout", 0.0),
        "recurrent_dropout": model.get("recurrent_dropout", 0.0),
        "head": model.get("head", "none"),
        "clipping": clip["kind"],
        "clip_threshold": clip["threshold"] if clip["threshold"] is not None else 0.0,
        "bptt": bptt_param(plan),
        "learning_rate": cfg.training.learning_rate if plan else 0.0,
        "batch_size": cfg.training.batch_size if plan else 0,
        "lookback": cfg.window.lookback,
        "horizon": cfg.window.horizon,
        "n_features": getattr(est, "n_features_", 0),
        "n_params": getattr(est, "n_params_", 0),
        "seed": cfg.training.seed,
        "warm_start": bool(getattr(est, "warm_started_", False)),
        # segment recurrence: the segment length in steps (0: the cell steps through every time step)
        # and the window normalisation it uses ("none" without segments)
        "segment": model.get("segment") or 0,
        "norm": model.get("norm", "revin") if model.get("segment") else "none",
        # training.ensemble: the networks averaged in the candidate (seeds seed .. seed + N - 1); 1 for baselines
        "ensemble": cfg.training.ensemble if plan else 1,
        "highway": bool(model.get("highway", False)),  # models[i].highway: the linear path (False for baselines)
    }
    assert set(values) == set(CONTRACT_PARAMS)  # one writer: a new name goes in both places here
    return values


__all__ = ["BLEND_PARTNER", "CONTRACT_PARAMS", "CandidatePlan", "blend_name", "bptt_param", "contract_params",
           "plan_candidates"]
