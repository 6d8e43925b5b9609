"""`ModelSpec`: one recurrent architecture, as plain data.

A spec names everything :func:`forecaster.models.builders.build_model` needs besides the data
shapes. It is frozen (hashable, safe as a dict key), validated on construction, round-trips
through :meth:`ModelSpec.to_dict` / :meth:`ModelSpec.from_dict` (JSON-friendly), and has a short
stable :attr:`ModelSpec.name` used for run names and file names.

Example
-------
>>> spec = ModelSpec(cell="gru", layers=2, units=(64, 32), dropout=0.1, recurrent_dropout=0.2)
>>> spec.name
'gru-2x64,32-do0.1-rdo0.2'
>>> spec.units_per_layer
(64, 32)
>>> ModelSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from forecaster.config import CELLS, HEADS, ModelConfig


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelSpec:
    """A recurrent forecaster architecture.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
        ``keras.layers.SimpleRNN``, ``GRU`` or ``LSTM``.
    layers : int, default 1
        Number of stacked recurrent layers (>= 1).
    units : int or tuple of int, default 32
        Units of every layer, or one size per layer. A tuple whose sizes are all equal is
        stored as one int, so equal architectures compare equal and share a name.
    bidirectional : bool, default False
        Wrap each recurrent layer in ``keras.layers.Bidirectional`` (outputs concatenated).
    dropout, recurrent_dropout : float, default 0.0
        In ``[0, 1)``; passed to the cells. ``recurrent_dropout > 0`` turns off the cuDNN kernel.
    head : {"dense", "seq2seq"}, default "dense"
        ``dense``: last state -> Dense(horizon * n_targets) (direct multi-step);
        ``seq2seq``: last state repeated ``horizon`` times -> recurrent decoder -> per-step Dense.
    segment : int, optional
        Segment recurrence (:mod:`forecaster.models.segment`): the cell steps over segments of this
        many steps; ``head`` is then unused (parallel multi-step decoder). One layer only.
    norm : {"revin", "last"}, default "revin"
        With ``segment``: instance normalisation of each channel's window (mean/std, no affine) or
        subtraction of its last value.
    channel_embedding : bool, default True
        With ``segment``: the decoder input concatenates a learned channel embedding.
    highway : bool, default False
        A linear path from the observed window straight to the forecast, added to the recurrent
        head's output (LSTNet's autoregressive "highway"): the network learns a linear forecast and
        a nonlinear correction jointly. Not with ``segment``.

    Raises
    ------
    ValueError
        Any field out of range; the message names the field, the rule and the value received.
    """

    cell: str
    layers: int = 1
    units: int | tuple[int, ...] = 32
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    head: str = "dense"
    segment: int | None = None
    norm: str = "revin"
    channel_embedding: bool = True
    highway: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"`cell` must be one of {list(CELLS)}. Received: cell={self.cell!r}")
        if not _is_int(self.layers) or self.layers < 1:
            raise ValueError(f"`layers` must be an int >= 1. Received: layers={self.layers!r}")
        object.__setattr__(self, "layers", int(self.layers))
        object.__setattr__(self, "units", self._normalised_units(self.units, self.layers))
        if not isinstance(self.bidirectional, bool):
            raise ValueError(
                f"`bidirectional` must be True or False. Received: bidirectional={self.bidirectional!r}"
            )
        for name in ("dropout", "recurrent_dropout"):
            value = getattr(self, name)
            if (
                not isinstance(value, numbers.Real)
                or isinstance(value, bool)
                or not 0.0 <= float(value) < 1.0
            ):
                raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
            object.__setattr__(self, name, float(value))
        if self.head not in HEADS:
            raise ValueError(f"`head` must be one of {list(HEADS)}. Received: head={self.head!r}")
        if self.segment is not None and (not _is_int(self.segment) or self.segment < 1):
            raise ValueError(f"`segment` must be an int >= 1. Received: segment={self.segment!r}")
        if self.norm not in ("revin", "last"):
            raise ValueError(f"`norm` must be one of ['revin', 'last']. Received: norm={self.norm!r}")
        if not isinstance(self.highway, bool):
            raise ValueError(f"`highway` must be True or False. Received: highway={self.highway!r}")
        if self.segment is not None and self.highway:
            raise ValueError(f"`highway` is for the classic encoder, not `segment` recurrence. Received: "
                             f"segment={self.segment}, highway=True")
        if self.segment is not None and (self.bidirectional or self.layers != 1 or self.recurrent_dropout):
            raise ValueError("`segment` recurrence takes one unidirectional layer without recurrent_dropout. "
                             f"Received: layers={self.layers}, bidirectional={self.bidirectional}, "
                             f"recurrent_dropout={self.recurrent_dropout}")

    @staticmethod
    def _normalised_units(units: Any, layers: int) -> int | tuple[int, ...]:
        if _is_int(units):
            if units < 1:
                raise ValueError(f"`units` must be >= 1. Received: units={units!r}")
            return int(units)
        if isinstance(units, (list, tuple)):
            if len(units) != layers:
                raise ValueError(
                    f"`units` lists one size per layer: layers={layers} but units={list(units)}"
                )
            if not all(_is_int(u) and u >= 1 for u in units):
                raise ValueError(f"every entry of `units` must be an int >= 1. Received: units={list(units)}")
            sizes = tuple(int(u) for u in units)
            return sizes[0] if len(set(sizes)) == 1 else sizes
        raise ValueError(
            f"`units` must be an int or a list of ints, one per layer. Received: units={units!r}"
        )

    @property
    def units_per_layer(self) -> tuple[int, ...]:
        """The units of each recurrent layer, bottom first, e.g. ``(64, 32)``."""
        if isinstance(self.units, int):
            return (self.units,) * self.layers
        return tuple(self.units)

    @property
    def name(self) -> str:
        """A short stable name, e.g. ``lstm-1x32``, ``gru-2x32-bi``, ``gru-2x64,32-do0.1-rdo0.2``.

        Parts in order: ``<cell>-<layers>x<units>``, then ``-bi``, ``-do<dropout>``,
        ``-rdo<recurrent_dropout>``, ``-seq2seq`` and ``-hw`` (highway) when they differ from the defaults.
        """
        units = ",".join(str(u) for u in self.units_per_layer) if isinstance(self.units, tuple) else str(self.units)
        parts = [f"{self.cell}-{self.layers}x{units}"]
        if self.bidirectional:
            parts.append("bi")
        if self.dropout:
            parts.append(f"do{self.dropout:g}")
        if self.recurrent_dropout:
            parts.append(f"rdo{self.recurrent_dropout:g}")
        if self.head != "dense":
            parts.append(self.head)
        if self.highway:
            parts.append("hw")
        if self.segment is not None:
            parts.append(f"seg{self.segment}")
            if self.norm != "revin":
                parts.append(self.norm)
            if not self.channel_embedding:
                parts.append("noch")
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (``units`` as an int or a list)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(out["units"], tuple):
            out["units"] = list(out["units"])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelSpec":
        """Build a spec from :meth:`to_dict` output (or any mapping of its fields).

        Raises
        ------
        ValueError
            Unknown keys, a missing ``cell``, or an invalid value.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"ModelSpec: unknown key(s) {unknown}; allowed: {sorted(known)}")
        if "cell" not in data:
            raise ValueError(f"ModelSpec: `cell` is required. Received keys: {sorted(data)}")
        return cls(**dict(data))

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "ModelSpec":
        """Build a spec from a validated :class:`forecaster.config.ModelConfig`."""
        return cls.from_dict(cfg.model_dump())
