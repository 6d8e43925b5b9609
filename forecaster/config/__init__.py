"""The pipeline file: its schema, its sections, ``--set`` overrides and reading the YAML.

Owns what a valid pipeline file is (unknown keys and wrong types name the key path and the value).
Describes and validates only; does no work. May import only :mod:`forecaster.errors` (the ground
floor) and pydantic/YAML. Import every name from here: ``from forecaster.config import load_config``.
"""

from __future__ import annotations

from forecaster.config.data import DataConfig, check_frequency, check_timestamp_format
from forecaster.config.overrides import apply_overrides, parse_override
from forecaster.config.pipeline_file import PipelineConfig, load_config
from forecaster.config.reading import DuplicateKeyError
from forecaster.config.sections import (
    BASELINES,
    CALENDAR_SIGNALS,
    CELLS,
    CLIPPING_KINDS,
    HEADS,
    BpttConfig,
    ClippingConfig,
    EvaluationConfig,
    FeaturesConfig,
    ModelConfig,
    MonitoringConfig,
    OutputConfig,
    SplitConfig,
    TrackingConfig,
    TrainingConfig,
    WindConfig,
    WindowConfig,
)

__all__ = [
    "BASELINES", "CALENDAR_SIGNALS", "CELLS", "CLIPPING_KINDS", "HEADS", "BpttConfig", "ClippingConfig",
    "DataConfig", "DuplicateKeyError", "EvaluationConfig", "FeaturesConfig", "ModelConfig", "MonitoringConfig",
    "OutputConfig", "PipelineConfig", "SplitConfig", "TrackingConfig", "TrainingConfig", "WindConfig",
    "WindowConfig", "apply_overrides", "check_frequency", "check_timestamp_format", "load_config",
    "parse_override",
]
