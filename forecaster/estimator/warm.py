"""Warm start: begin training from the current champion's weights when the architecture matches.

A candidate is warm-started only when the champion's network has the same architecture (the
whole :class:`~forecaster.models.spec.ModelSpec`), the same window (lookback, horizon), the same
targets and input features, and the same target transforms (``residual``, ``center_targets``,
``scale_targets``); otherwise it starts cold and the reason is returned for the log.

An ensemble (``training.ensemble: N``) warm-starts only from a champion that is an ensemble of the
same size (and matches as above): member ``i`` starts from the champion's member ``i``; a champion
with another number of members means a cold start of every member (``ensemble N vs champion's M``).

A warm-started candidate fine-tunes with its own budget (:func:`warm_budget`: the pipeline keys
``training.warm_epochs``, ``warm_patience``, ``warm_learning_rate``), and keeps the champion's own
weights when no epoch beats them on today's validation windows (:func:`keep_start_callback`), so
early stopping chooses among the starting point and every epoch, as a cold fit chooses among epochs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from forecaster.errors import ModelFileError
from forecaster.estimator.state_files import read_header

logger = logging.getLogger(__name__)


def champion_network_dir(source: str | os.PathLike[str]) -> tuple[Path | None, str]:
    """The saved recurrent network inside a saved champion: itself, or the network member of a blend.

    Reads only the saved headers (``forecaster.json``). Returns ``(directory, "")``, or ``(None,
    why not)`` when the champion has no network or its header cannot be read.
    """
    source = Path(source)
    try:
        header = read_header(source)
        if header.get("class") == "RNNForecaster":
            return source, ""
        if header.get("class") == "BlendForecaster":
            for member in sorted(source.glob("member*")):
                if read_header(member).get("class") == "RNNForecaster":
                    return member, ""
    except ModelFileError as exc:
        return None, f"the champion at {source} could not be loaded (ModelFileError: {exc})"
    return None, f"the champion is a {header.get('kind', '?')} forecaster with no network"


def mismatches(est: Any, net: Any) -> list[str]:
    """What differs between the candidate ``est`` (preprocessor fitted) and the champion network."""
    checks = {
        "architecture": (est.spec, net.spec),
        "lookback": (est.lookback, net.lookback),
        "horizon": (est.horizon, net.horizon),
        "target": (list(est.target), list(net.target)),
        "features": (list(est.preprocessor_.feature_names_), list(getattr(net, "feature_names_", []))),
    }
    for flag in ("residual", "center_targets", "scale_targets"):
        checks[flag] = (getattr(est, flag), getattr(net, flag, None))
    # an ensemble warm-starts member by member: only from a champion with as many members
    checks["ensemble"] = (int(getattr(est, "ensemble", 1)), int(getattr(net, "ensemble", 1)))
    return [f"{key} {mine!r} vs champion's {theirs!r}" if key != "architecture" else
            f"architecture {mine.name} vs champion's {theirs.name}"
            for key, (mine, theirs) in checks.items() if mine != theirs]


def matching_champion(est: Any, source: str | os.PathLike[str],
                      load_network: Callable[[Path], Any]) -> tuple[Any | None, str]:
    """The champion's network (saved forecaster at ``source``, loaded) when it matches ``est``.

    ``load_network`` loads the champion's saved network directory (the candidate's own class's
    ``load``). Returns ``(network, note)``, or ``(None, why not)`` for the log.
    """
    net_dir, why_not = champion_network_dir(source)
    if net_dir is None:
        return None, why_not
    try:
        net = load_network(net_dir)
    except Exception as exc:  # noqa: BLE001 - an unreadable champion means a cold start, not a failed run
        return None, f"the champion at {source} could not be loaded ({type(exc).__name__}: {exc})"
    differ = mismatches(est, net)
    if differ:
        return None, "; ".join(differ)
    size = int(getattr(net, "ensemble", 1))
    members = f" (member i from its member i, {size} members)" if size > 1 else ""
    return net, f"from the champion's {net.spec.name} weights{members}"


def copy_weights(model: Any, net: Any, member: int = 0) -> str:
    """Copy the weights of the champion ``net``'s ``member`` into ``model``: "" or why not."""
    try:
        model.set_weights(net.member_models()[member].get_weights())
    except ValueError as exc:
        return f"the champion's weights do not fit ({exc})"
    return ""


def apply_warm_start(est: Any, model: Any, source: str | os.PathLike[str],
                     load_network: Callable[[Path], Any]) -> tuple[bool, str]:
    """Copy the champion's weights (saved forecaster at ``source``) into ``model`` when they match.

    One network (the first member of an ensemble); :func:`matching_champion` and
    :func:`copy_weights` do it member by member. Returns ``(warm, note)``: whether the weights
    were copied, and why not (for the log).
    """
    net, note = matching_champion(est, source, load_network)
    if net is None:
        return False, note
    why_not = copy_weights(model, net)
    return (False, why_not) if why_not else (True, note)


@dataclass(frozen=True)
class WarmBudget:
    """How a warm-started candidate trains: at most ``epochs``, early-stopping ``patience``, ``learning_rate``."""

    epochs: int
    patience: int
    learning_rate: float


def warm_budget(epochs: int, patience: int, learning_rate: float, warm_epochs: int = 3,
                warm_patience: int = 1, warm_learning_rate: float | None = None) -> WarmBudget:
    """The fine-tuning budget of a warm-started candidate, from the cold settings and the warm keys.

    ``warm_epochs`` and ``warm_patience`` never exceed the cold ``epochs`` and ``patience``;
    ``warm_learning_rate`` None means a tenth of ``learning_rate``.

    Example
    -------
    >>> warm_budget(epochs=20, patience=2, learning_rate=1e-3)
    WarmBudget(epochs=3, patience=1, learning_rate=0.0001)
    >>> warm_budget(epochs=2, patience=0, learning_rate=1e-3, warm_epochs=5, warm_learning_rate=5e-4)
    WarmBudget(epochs=2, patience=0, learning_rate=0.0005)
    """
    rate = learning_rate / 10 if warm_learning_rate is None else warm_learning_rate
    return WarmBudget(epochs=min(warm_epochs, epochs), patience=min(warm_patience, patience), learning_rate=rate)


def keep_start_callback(val_ds: Any) -> Any:
    """A Keras callback that restores the starting (champion's) weights when training did not beat them.

    ``val_ds``: a dataset of ``(X, y)`` batches or a tuple ``(X, y)`` of arrays. It evaluates the
    loss before the first step and after training (after early stopping restored its best epoch);
    when the starting weights' loss is lower or equal, they are put back and ``kept_start`` is True
    (the estimator's ``warm_start_note_`` says so in the log).
    """
    import keras

    class KeepStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.kept_start = False
            self.start_weights = self.model.get_weights()
            self.start_loss = _val_loss(self.model, val_ds)

        def on_train_end(self, logs=None):
            self.end_loss = _val_loss(self.model, val_ds)
            if self.start_loss <= self.end_loss:  # NaN end loss: not <=, but NanGuard already failed the fit
                self.model.set_weights(self.start_weights)
                self.kept_start = True

    return KeepStart()


def _val_loss(model: Any, val_ds: Any) -> float:
    """The compiled loss over ``val_ds``: a dataset of ``(X, y)`` batches or a tuple ``(X, y)`` of arrays."""
    data = val_ds if isinstance(val_ds, (tuple, list)) else (val_ds,)
    result = model.evaluate(*data, verbose=0, return_dict=True)
    return float(result["loss"])
