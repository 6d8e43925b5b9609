"""The whole pipeline file: :class:`PipelineConfig` (the rules that span sections, the config hash)
and :func:`load_config` (read, override, validate before any work starts).

Unknown keys and wrong types are errors that name the key path and the value received. This module
only describes and validates configuration; it does no work. Its sections live beside it
(:mod:`forecaster.config.data`, :mod:`forecaster.config.sections`); import every name from
``forecaster.config``.

Example
-------
>>> from forecaster.config import PipelineConfig
>>> cfg = PipelineConfig.model_validate({
...     "name": "demo",
...     "data": {"path": "data/temperature.csv", "timestamp_column": "Date Time",
...              "target": "T (degC)", "frequency": "1h"},
...     "window": {"lookback": 48, "horizon": 24},
... })
>>> cfg.data.target, cfg.clipping[0].kind
(['T (degC)'], 'none')
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from forecaster.config.data import DataConfig
from forecaster.config.horizon import horizon_weights
from forecaster.config.overrides import apply_overrides
from forecaster.config.reading import format_errors, read_mapping
from forecaster.config.sections import (
    BASELINES,
    BpttConfig,
    ClippingConfig,
    EvaluationConfig,
    FeaturesConfig,
    ModelConfig,
    MonitoringConfig,
    OutputConfig,
    SplitConfig,
    StrictSection,
    TrackingConfig,
    TrainingConfig,
    WindowConfig,
)
from forecaster.errors import ConfigError


class PipelineConfig(StrictSection):
    """A whole pipeline file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    data: DataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    window: WindowConfig
    split: SplitConfig = Field(default_factory=SplitConfig)
    models: list[ModelConfig] = Field(default_factory=lambda: [ModelConfig(cell="lstm")])
    clipping: list[ClippingConfig] = Field(default_factory=lambda: [ClippingConfig()])
    bptt: list[BpttConfig] = Field(default_factory=lambda: [BpttConfig()])
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    baselines: list[Literal["persistence", "seasonal_naive", "linear"]] = Field(
        default_factory=lambda: list(BASELINES)
    )
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("clipping", "bptt", mode="before")
    @classmethod
    def _one_setting_is_a_list(cls, value: Any) -> Any:
        # `clipping: {clipnorm: 1.0}` and `bptt: full` stand for one-item lists.
        if value is None or isinstance(value, (str, dict)):
            return [value]
        return value

    @field_validator("bptt")
    @classmethod
    def _bptt_truncates(cls, value: list[BpttConfig], info: ValidationInfo) -> list[BpttConfig]:
        # window and models are declared before bptt, so they are validated (when valid) by now.
        window, models = info.data.get("window"), info.data.get("models") or []
        for i, setting in enumerate(value):
            k = setting.truncate
            if k is None:
                continue
            if window is not None and k >= window.lookback:
                raise ValueError(
                    f"bptt.{i}: truncate={k} is not truncation: it must be below window.lookback="
                    f"{window.lookback} (use 'full' for full backpropagation through time)"
                )
            bidirectional = [j for j, m in enumerate(models) if m.bidirectional]
            if bidirectional:
                raise ValueError(
                    f"bptt.{i}: truncate={k} cannot be combined with bidirectional models "
                    f"(models.{bidirectional[0]}): the backward direction reads the window from its "
                    "start, so there is no clean K-step cut; use bptt 'full' or drop bidirectional"
                )
        return value

    @model_validator(mode="after")
    def _segments_divide_window(self) -> "PipelineConfig":
        for j, m in enumerate(self.models):
            if m.segment is None:
                continue
            for key, v in (("window.lookback", self.window.lookback), ("window.horizon", self.window.horizon)):
                if v % m.segment:
                    raise ValueError(
                        f"{key}={v} is not divisible by models.{j}.segment={m.segment}: segment "
                        "recurrence cuts the window and the forecast into whole segments"
                    )
        return self

    @model_validator(mode="after")
    def _split_rows_hold_a_window(self) -> PipelineConfig:
        lookback, horizon, split = self.window.lookback, self.window.horizon, self.split
        for key, value, least, what in (
            ("train_rows", split.train_rows, lookback + horizon, "window.lookback + window.horizon"),
            ("val_rows", split.val_rows, horizon, "window.horizon"),
            ("test_rows", split.test_rows or None, horizon, "window.horizon"),
        ):
            if value is not None and value < least:
                raise ValueError(
                    f"split.{key}={value} is below {what} = {least}: the {key[:-5]} rows hold no full window "
                    f"(window.lookback={lookback}, window.horizon={horizon})"
                )
        return self

    @model_validator(mode="after")
    def _horizon_weights_fit(self) -> PipelineConfig:
        try:  # one rule (forecaster.config.horizon), checked against window.horizon
            horizon_weights(self.training.horizon_weights, self.window.horizon)
        except ValueError as error:
            raise ValueError(f"training.horizon_weights (window.horizon={self.window.horizon}): {error}") from None
        return self

    @model_validator(mode="after")
    def _known_future_fits(self) -> PipelineConfig:
        known = self.features.known_future
        if not known:
            return self
        if self.window.horizon > self.window.lookback:
            raise ValueError(
                f"features.known_future={known} needs window.horizon <= window.lookback; received "
                f"horizon={self.window.horizon}, lookback={self.window.lookback} (the target steps' "
                "calendar travels in the window's last horizon steps)"
            )
        return self

    @field_validator("models")
    @classmethod
    def _models_distinct(cls, value: list[ModelConfig]) -> list[ModelConfig]:
        if not value:
            raise ValueError("must list at least one model, e.g. [{cell: lstm, units: 32}]")
        seen: dict[str, int] = {}
        for i, model in enumerate(value):
            dumped = model.model_dump()
            units = dumped["units"]
            dumped["units"] = units if isinstance(units, list) else [units] * model.layers
            key = json.dumps(dumped, sort_keys=True)
            if key in seen:
                raise ValueError(
                    f"models[{seen[key]}] and models[{i}] are the same model "
                    f"({model.model_dump(exclude_defaults=True)}); list each model once"
                )
            seen[key] = i
        return value

    @field_validator("baselines")
    @classmethod
    def _persistence_always(cls, value: list[str]) -> list[str]:
        # Relative metrics and the champion gate are defined against persistence.
        if "persistence" not in value:
            value = ["persistence", *value]
        return value

    @property
    def experiment_name(self) -> str:
        return self.tracking.experiment or self.name

    @property
    def registered_model_name(self) -> str:
        return self.tracking.registered_model or self.name

    def sha256(self) -> str:
        """A stable hash of the validated configuration (key order does not matter)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def load_config(
    source: str | Path | dict[str, Any], overrides: list[str] | None = None
) -> PipelineConfig:
    """Load and validate a pipeline file (or an already-parsed mapping).

    Relative ``data.path`` values are kept as written; callers resolve them against the
    working directory (like every command-line tool).

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or breaks the schema; the message names the key path
        and the value received.
    """
    if isinstance(source, dict):
        raw, label = source, "<mapping>"
    else:
        label = str(Path(source))
        raw = read_mapping(Path(source))
    if overrides:
        raw = apply_overrides(raw, overrides)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, label)) from exc


