"""The sections of a pipeline file other than ``data``: features, window, split, models, clipping,
bptt, training, evaluation, monitoring, tracking and output (pydantic, unknown keys forbidden).

Each section validates itself; rules that span sections live on
:class:`forecaster.config.PipelineConfig`. Import these names from :mod:`forecaster.config`.

Example
-------
>>> ClippingConfig.model_validate({"clipnorm": 1.0}).label
'clipnorm=1'
>>> BpttConfig.model_validate("full").label
'full'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

CELLS = ("rnn", "gru", "lstm")
HEADS = ("dense", "seq2seq")
CLIPPING_KINDS = ("none", "clipnorm", "clipvalue", "global_clipnorm")
BASELINES = ("persistence", "seasonal_naive", "linear")
CALENDAR_SIGNALS = ("hour_of_day", "day_of_week", "day_of_year")


class StrictSection(BaseModel):
    """A pipeline-file section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WindConfig(StrictSection):
    speed: str
    direction: str


class FeaturesConfig(StrictSection):
    """Derived input features (scikit-learn transformers in :mod:`forecaster.features`)."""

    calendar: list[Literal["hour_of_day", "day_of_week", "day_of_year"]] = Field(default_factory=list)
    log_returns: list[str] = Field(default_factory=list)
    wind: WindConfig | None = None
    #: Calendar signals of the TARGET steps, known when the forecast is made (issue 25); see
    #: :mod:`forecaster.features.knownfuture`. Empty: no known-future inputs.
    #: Left out of the dump when empty: a pipeline file without it keeps its config hash (no rerun)
    #: and a model saved without it its state.
    known_future: list[Literal["hour_of_day", "day_of_week", "day_of_year"]] = Field(
        default_factory=list, exclude_if=lambda names: not names)

    @field_validator("known_future")
    @classmethod
    def _signals_once(cls, names: list[str]) -> list[str]:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"lists {repeated[0]!r} more than once; name each signal once")
        return names


class WindowConfig(StrictSection):
    lookback: int = Field(ge=1)
    horizon: int = Field(ge=1)
    stride: int = Field(default=1, ge=1)


class SplitConfig(StrictSection):
    """Chronological split of each series: fractions (``val``, ``test``) or row counts
    (``val_rows``, ``test_rows``, optional ``train_rows``), never both (see
    :class:`forecaster.data.splits.SplitRule`)."""

    val: float = Field(default=0.25, gt=0, lt=1)
    test: float = Field(default=0.25, ge=0, lt=1)
    train_rows: StrictInt | None = Field(
        default=None, ge=1,
        description="With val_rows/test_rows: the first train_rows rows of each series train, the next "
        "val_rows validate, the next test_rows test; later rows are unused (the ETT protocol).")
    val_rows: StrictInt | None = Field(
        default=None, ge=1, description="Validation rows per series (with test_rows; instead of val/test).")
    test_rows: StrictInt | None = Field(
        default=None, ge=0, description="Test rows per series (with val_rows; instead of val/test); "
        "without train_rows the last test_rows rows, after the val_rows validation rows.")

    @property
    def by_rows(self) -> bool:
        """Whether the split counts rows (``val_rows``/``test_rows``) instead of fractions."""
        return self.val_rows is not None

    @model_validator(mode="after")
    def _leaves_training_data(self) -> "SplitConfig":
        counts = {k: getattr(self, k) for k in ("train_rows", "val_rows", "test_rows") if getattr(self, k) is not None}
        fractions = {k: getattr(self, k) for k in ("val", "test") if k in self.model_fields_set}
        if counts and fractions:
            given = ", ".join(f"split.{k}={v}" for k, v in {**fractions, **counts}.items())
            raise ValueError(
                f"split fractions (split.val, split.test) and row counts (split.train_rows, split.val_rows, "
                f"split.test_rows) cannot be combined; received {given}. Give one or the other"
            )
        if counts and (self.val_rows is None or self.test_rows is None):
            given = ", ".join(f"split.{k}={v}" for k, v in counts.items())
            raise ValueError(
                f"split by row counts needs both split.val_rows and split.test_rows (split.train_rows is "
                f"optional); received {given}"
            )
        if self.val + self.test >= 1:
            raise ValueError(
                f"val + test must be below 1 to leave training data; received val={self.val}, test={self.test}"
            )
        return self


class ModelConfig(StrictSection):
    """One candidate architecture. Mirrors :class:`forecaster.models.spec.ModelSpec`."""

    cell: Literal["rnn", "gru", "lstm"]
    layers: int = Field(default=1, ge=1)
    units: int | list[int] = 32
    bidirectional: bool = False
    dropout: float = Field(default=0.0, ge=0, lt=1)
    recurrent_dropout: float = Field(default=0.0, ge=0, lt=1)
    head: Literal["dense", "seq2seq"] = "dense"
    segment: int | None = Field(default=None, ge=1)
    norm: Literal["revin", "last"] = "revin"
    channel_embedding: bool = True
    highway: bool = False

    @model_validator(mode="after")
    def _segment_single_layer(self) -> "ModelConfig":
        if self.segment is not None and self.highway:
            raise ValueError(f"highway (a linear path from the window to the forecast) is for the classic encoder, "
                             f"not segment recurrence; received segment={self.segment}, highway=true")
        if self.segment is not None and (self.layers != 1 or self.bidirectional or self.recurrent_dropout):
            raise ValueError(
                f"segment={self.segment} takes one unidirectional layer without recurrent_dropout; "
                f"received layers={self.layers}, bidirectional={self.bidirectional}, "
                f"recurrent_dropout={self.recurrent_dropout}"
            )
        return self

    @model_validator(mode="after")
    def _units_match_layers(self) -> "ModelConfig":
        if isinstance(self.units, list):
            if len(self.units) != self.layers:
                raise ValueError(
                    f"units lists one size per layer: layers={self.layers} but units={self.units}"
                )
            if any(u < 1 for u in self.units):
                raise ValueError(f"units must be >= 1, received {self.units}")
        elif self.units < 1:
            raise ValueError(f"units must be >= 1, received {self.units}")
        return self


class ClippingConfig(StrictSection):
    """A gradient-clipping setting: ``none`` or one Keras optimizer argument with its threshold."""

    kind: Literal["none", "clipnorm", "clipvalue", "global_clipnorm"] = "none"
    threshold: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        # Accepts "none", {clipnorm: 1.0}, or the long form {kind: clipnorm, threshold: 1.0}.
        if value is None or value == "none" or value == {}:
            return {"kind": "none"}
        if isinstance(value, str):
            raise ValueError(
                f"a clipping setting is 'none' or a mapping like {{clipnorm: 1.0}}; received {value!r}"
            )
        if isinstance(value, dict) and "kind" not in value:
            if len(value) != 1:
                raise ValueError(
                    f"a clipping setting names exactly one of clipnorm, clipvalue, global_clipnorm; received {value}"
                )
            ((kind, threshold),) = value.items()
            return {"kind": kind, "threshold": threshold}
        return value

    @model_validator(mode="after")
    def _threshold_when_clipping(self) -> "ClippingConfig":
        if self.kind == "none":
            if self.threshold is not None:
                raise ValueError(f"clipping 'none' takes no threshold; received {self.threshold}")
        elif self.threshold is None or self.threshold <= 0:
            raise ValueError(f"{self.kind} needs a threshold > 0; received {self.threshold}")
        return self

    @property
    def label(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}={self.threshold:g}"


class BpttConfig(StrictSection):
    """A backpropagation-through-time setting: ``full`` or ``{truncate: K}`` (K >= 1 steps)."""

    truncate: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        # Accepts "full" or {truncate: K}.
        if value is None or value == "full" or value == {}:
            return {"truncate": None}
        if not isinstance(value, dict):
            raise ValueError("a bptt setting is 'full' or a mapping like {truncate: 20}")
        return value

    @property
    def label(self) -> str:
        return "full" if self.truncate is None else f"truncate={self.truncate}"


class TrainingConfig(StrictSection):
    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=256, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    patience: int = Field(default=3, ge=0)
    seed: int = 42
    loss: Literal["mse", "mae", "huber"] = "mse"
    residual: bool = Field(
        default=True,
        description="Train the network on the change from the last observed target value "
        "(persistence is the zero output), not on the level.",
    )
    center_targets: bool = Field(
        default=True,
        description="Feed each target's history relative to its last observed value (networks and "
        "the linear baseline), so models are invariant to the target's level and do not "
        "extrapolate a level-dependent drift into a warmer season or a higher price regime.",
    )
    blend: bool = Field(
        default=True,
        description="Add a candidate that blends the best network with the linear baseline, one "
        "weight per horizon step chosen on validation (never worse than either on validation).",
    )
    scale_targets: bool = Field(
        default=False,
        description="With center_targets: also express each target's history and forecast change in "
        "units of the window's own step volatility (instance normalisation), for series whose "
        "volatility changes between seasons or regimes.",
    )
    jit_compile: bool | Literal["auto"] = Field(
        default="auto",
        description="XLA for the networks' training steps. 'auto': measured on this machine (a short "
        "probe of both ways per CPU, library versions and model shape, cached in the state directory; "
        "XLA's sign flips between CPUs); true or false is obeyed.",
    )
    ensemble: int = Field(
        default=1, ge=1, strict=True,
        description="Train each network candidate this many times, member i with seed `seed + i` "
        "(i = 0..N-1), and forecast the mean of the members' outputs: one candidate in the comparison, "
        "scored, blended and given intervals like a single network. 1: a single network.",
    )
    warm_start: bool = Field(
        default=False,
        description="Start each candidate whose architecture, features and window match the current "
        "champion's from the champion's weights (others start cold; the log says which did which).",
    )
    warm_epochs: int = Field(
        default=3, ge=1,
        description="A warm-started candidate fine-tunes for at most this many epochs (never more than "
        "`epochs`); cold candidates keep `epochs`.",
    )
    warm_patience: int = Field(
        default=1, ge=0,
        description="Early-stopping patience of a warm-started candidate (never more than `patience`; "
        "0 turns early stopping off).",
    )
    warm_learning_rate: float | None = Field(
        default=None, gt=0,
        description="Learning rate of a warm-started candidate; null: a tenth of `learning_rate`.",
    )
    horizon_weights: Literal["uniform", "linear"] | list[float] = Field(
        default="uniform",
        description="How much each forecast step counts in the networks' training (and early-stopping) "
        "loss: 'uniform' (the plain mean), 'linear' (step k weighs k: the far steps count most), or one "
        "positive weight per step (window.horizon of them). Rescaled to mean 1. The comparison and the "
        "gate still rank by the plain MAE. Measured at 24 h in docs/levers.md.",
    )
    lr_schedule: Literal["none", "plateau"] = Field(
        default="none",
        description="Learning-rate schedule of the networks. 'plateau': halve the rate whenever the "
        "validation loss has not improved for max(1, patience // 2) epochs (at most 5 halvings); "
        "'none': a constant rate. Measured at 24 h in docs/levers.md.",
    )


class EvaluationConfig(StrictSection):
    interval_level: float = Field(default=0.9, gt=0, lt=1)
    interval_scale: Literal["absolute", "local"] = Field(
        default="absolute",
        description="Conformal interval scores in target units ('absolute': stable error scale, "
        "e.g. temperatures over several years), or divided by each window's mean absolute one-step "
        "change ('local': intervals follow each series' level and volatility; use it for prices and "
        "for several series of different scales).",
    )
    calibration_window: int | None = Field(
        default=None,
        ge=10,
        description="Rolling conformal calibration: each forecast's interval comes from the N most "
        "recent windows of its series whose outcomes are known (adapts to seasons and volatility "
        "regimes; at forecast time from the history given). null: calibrated once on the "
        "validation windows.",
    )
    backtest_folds: int = Field(default=0, ge=0)
    significance: float | None = Field(
        default=None, gt=0, lt=1,
        description="Claim a win only when it is significant: the champion gate also requires the "
        "walk-forward folds' one-sided Diebold-Mariano test of the best candidate against persistence "
        "(absolute-error losses, HLN-corrected) to give p < significance, pooled over all series and "
        "on each series; otherwise exit 4 and persistence's forecast is served. Needs backtest_folds "
        ">= 1. null: off.",
    )
    season: int | None = Field(
        default=None, ge=1, description="Season length in steps; inferred from the frequency when absent."
    )
    plot_steps: int = Field(default=168, ge=1)

    @model_validator(mode="after")
    def _significance_needs_folds(self) -> "EvaluationConfig":
        if self.significance is not None and not self.backtest_folds:
            raise ValueError(
                f"evaluation.significance={self.significance} tests the walk-forward folds against persistence: set "
                f"evaluation.backtest_folds >= 1 (received backtest_folds={self.backtest_folds}) or "
                "evaluation.significance: null"
            )
        return self


class MonitoringConfig(StrictSection):
    """Live accuracy of the forecasts in the ledger and the drift alert (``forecaster monitor``)."""

    window: int = Field(
        default=100, ge=1,
        description="The drift rules look at the last `window` scored forecast values (one value = one "
        "series, target and step of one forecast); fewer scored values: no verdict yet.",
    )
    coverage_tolerance: float = Field(
        default=0.1, ge=0, lt=1,
        description="Degraded when live interval coverage < evaluation.interval_level - coverage_tolerance.",
    )
    mae_tolerance: float = Field(
        default=1.5, gt=0,
        description="Degraded when live MAE > mae_tolerance x the model's test MAE.",
    )


class TrackingConfig(StrictSection):
    experiment: str | None = None
    registered_model: str | None = None
    tracking_uri: str | None = None


class OutputConfig(StrictSection):
    forecast_path: str | None = None
    plot_path: str | None = None
    fallback_to_baseline: bool = Field(
        default=True,
        description="When no candidate beats the baselines, still write the forecast of the best baseline.",
    )


__all__ = [
    "BASELINES", "CALENDAR_SIGNALS", "CELLS", "CLIPPING_KINDS", "HEADS", "BpttConfig", "ClippingConfig",
    "EvaluationConfig", "FeaturesConfig", "ModelConfig", "MonitoringConfig", "OutputConfig", "SplitConfig",
    "StrictSection", "TrackingConfig", "TrainingConfig", "WindConfig", "WindowConfig",
]
