"""The pipeline-file schema: load a YAML file and validate it before any work starts.

Unknown keys and wrong types are errors that name the key path and the value received.
This module only describes and validates configuration; it does no work.

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

import copy
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from forecaster.errors import ConfigError

CELLS = ("rnn", "gru", "lstm")
HEADS = ("dense", "seq2seq")
CLIPPING_KINDS = ("none", "clipnorm", "clipvalue", "global_clipnorm")
BASELINES = ("persistence", "seasonal_naive", "linear")
CALENDAR_SIGNALS = ("hour_of_day", "day_of_week", "day_of_year")


def check_frequency(value: str) -> str:
    """``value`` when it is a positive pandas offset alias (``'10min'``, ``'1h'``, ``'D'``, ``'B'``).

    Raises ``ValueError`` (a pipeline-file error under ``data.frequency``) otherwise.
    """
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(value)
    except (ValueError, TypeError):
        offset = None
    if offset is None or offset.n <= 0:
        raise ValueError(
            "must be a positive pandas offset alias such as '10min', '1h', 'D' or 'B'"
        )
    return value


def check_timestamp_format(value: str) -> str:
    """``value`` when pandas accepts it as a strftime format (``'%d.%m.%Y %H:%M:%S'``).

    Raises ``ValueError`` (a pipeline-file error under ``data.timestamp_format``) for a bad
    directive such as ``'%Q'`` or a stray ``%``.
    """
    import warnings

    import pandas as pd

    if value in ("ISO8601", "mixed"):  # pandas' own keywords
        return value
    if "%" not in value:
        raise ValueError("must be a strftime format with % directives (e.g. '%Y-%m-%d')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pd.to_datetime(pd.Series(["2000-01-01"]), format=value, errors="coerce")
        except ValueError as exc:
            raise ValueError(f"must be a valid strftime format ({exc})") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    """Where the data is and how to read it into the canonical long frame."""

    path: str
    timestamp_column: str = "timestamp"
    timestamp_format: str | None = None
    timestamp_parts: dict[str, str] | None = Field(
        default=None,
        description="Build the timestamp from several columns, e.g. "
        "{year: year, month: month, day: day, hour: hour} (keys: year, month, day, hour, minute).",
    )
    series_column: str | None = None
    target: list[str]
    features: Literal["all"] | list[str] = "all"
    missing_values: list[float | int | str] = Field(default_factory=list)
    frequency: str | None = None
    aggregate: Literal["mean", "last", "sum"] = "mean"
    max_gap: int = Field(default=3, ge=0)
    encoding: str = "utf-8"
    separator: str = ","
    units: str | None = Field(
        default=None,
        description="Unit of the target(s), e.g. degC or USD; shown on plot axes (default: the column name).",
    )
    valid_range: dict[str, tuple[float, float]] | None = Field(
        default=None,
        description="Per column, the closed range [low, high] of plausible values, e.g. "
        '{"T (degC)": [-60, 60]}: a value outside it is a data error (exit 3) naming the file, '
        "column, row and value. Without it, values far outside the training range are only warned about.",
    )

    @field_validator("target", mode="before")
    @classmethod
    def _one_target_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("target")
    @classmethod
    def _target_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must name at least one column, received []")
        return value

    @field_validator("frequency")
    @classmethod
    def _frequency_is_an_offset(cls, value: str | None) -> str | None:
        return value if value is None else check_frequency(value)

    @field_validator("timestamp_format")
    @classmethod
    def _format_parses(cls, value: str | None) -> str | None:
        return value if value is None else check_timestamp_format(value)

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                "must be a Python text encoding such as 'utf-8', 'latin-1' or 'cp1252'"
            ) from None
        return value

    @field_validator("separator")
    @classmethod
    def _separator_usable(cls, value: str) -> str:
        if value == r"\s+":
            return value
        if len(value) != 1 or value in "\"'\r\n\0" or value.isalnum():
            raise ValueError(
                "must be one character that is not a letter, digit, quote or line break (e.g. ',', "
                "';', '\\t', '|'), or '\\s+' for runs of whitespace"
            )
        return value

    @field_validator("valid_range")
    @classmethod
    def _ranges_ordered(cls, value: dict[str, tuple[float, float]] | None) -> Any:
        for column, (low, high) in (value or {}).items():
            if not low < high or not math.isfinite(low - high):
                raise ValueError(
                    f"column {column!r}: a range is [low, high] with finite low < high; received [{low}, {high}]"
                )
        return value

    @field_validator("timestamp_parts")
    @classmethod
    def _parts_known(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return value
        allowed = {"year", "month", "day", "hour", "minute"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown part(s) {unknown}; allowed: {sorted(allowed)}")
        for needed in ("year", "month", "day"):
            if needed not in value:
                raise ValueError(f"needs at least year, month and day; received {sorted(value)}")
        return value


class WindConfig(_Strict):
    speed: str
    direction: str


class FeaturesConfig(_Strict):
    """Derived input features (scikit-learn transformers in :mod:`forecaster.features`)."""

    calendar: list[Literal["hour_of_day", "day_of_week", "day_of_year"]] = Field(default_factory=list)
    log_returns: list[str] = Field(default_factory=list)
    wind: WindConfig | None = None


class WindowConfig(_Strict):
    lookback: int = Field(ge=1)
    horizon: int = Field(ge=1)
    stride: int = Field(default=1, ge=1)


class SplitConfig(_Strict):
    val: float = Field(default=0.25, gt=0, lt=1)
    test: float = Field(default=0.25, ge=0, lt=1)

    @model_validator(mode="after")
    def _leaves_training_data(self) -> "SplitConfig":
        if self.val + self.test >= 1:
            raise ValueError(
                f"val + test must be below 1 to leave training data; received val={self.val}, test={self.test}"
            )
        return self


class ModelConfig(_Strict):
    """One candidate architecture. Mirrors :class:`forecaster.models.spec.ModelSpec`."""

    cell: Literal["rnn", "gru", "lstm"]
    layers: int = Field(default=1, ge=1)
    units: int | list[int] = 32
    bidirectional: bool = False
    dropout: float = Field(default=0.0, ge=0, lt=1)
    recurrent_dropout: float = Field(default=0.0, ge=0, lt=1)
    head: Literal["dense", "seq2seq"] = "dense"

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


class ClippingConfig(_Strict):
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


class BpttConfig(_Strict):
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


class TrainingConfig(_Strict):
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
    warm_start: bool = Field(
        default=False,
        description="Start each candidate whose architecture, features and window match the current "
        "champion's from the champion's weights (others start cold; the log says which did which).",
    )


class EvaluationConfig(_Strict):
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
    season: int | None = Field(
        default=None, ge=1, description="Season length in steps; inferred from the frequency when absent."
    )
    plot_steps: int = Field(default=168, ge=1)


class MonitoringConfig(_Strict):
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


class TrackingConfig(_Strict):
    experiment: str | None = None
    registered_model: str | None = None
    tracking_uri: str | None = None


class OutputConfig(_Strict):
    forecast_path: str | None = None
    plot_path: str | None = None
    fallback_to_baseline: bool = Field(
        default=True,
        description="When no candidate beats the baselines, still write the forecast of the best baseline.",
    )


class PipelineConfig(_Strict):
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

    @field_validator("clipping", mode="before")
    @classmethod
    def _single_clipping(cls, value: Any) -> Any:
        if value is None or isinstance(value, (str, dict)):
            return [value]
        return value

    @field_validator("bptt", mode="before")
    @classmethod
    def _single_bptt(cls, value: Any) -> Any:
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


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: the pipeline file is not valid ({error.error_count()} problem(s)):"]
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            rule = "unknown key"
        else:
            rule = item["msg"]
        received = item.get("input")
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
        path = Path(source)
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
    if overrides:
        raw = apply_overrides(raw, overrides)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, label)) from exc
