"""Baseline forecasters on windows, to be beaten by the recurrent models.

All take windows ``X: (n_samples, lookback, n_features)`` (in any consistent units, e.g. the
scaled ones the networks see) and return ``(n_samples, horizon, n_targets)``. ``targets`` are the
column indices of the target variables within the features, in target order.

Example
-------
>>> import numpy as np
>>> X = np.arange(24, dtype="float32").reshape(2, 4, 3)   # (n_samples, lookback, n_features)
>>> persistence(X, targets=[1], horizon=2)[:, :, 0].tolist()
[[10.0, 10.0], [22.0, 22.0]]
>>> seasonal_naive(X, targets=[1], horizon=3, season=2)[0, :, 0].tolist()
[7.0, 10.0, 7.0]
"""

from __future__ import annotations

import logging
import numbers
import re
from collections.abc import Sequence

import numpy as np
from pandas.tseries import offsets
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator
from sklearn.linear_model import Ridge
from sklearn.utils.validation import check_is_fitted

from forecaster.models.blas import ridge_normal_equations, single_threaded_blas

logger = logging.getLogger(__name__)


def _check_windows(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(
            f"`{name}` must have shape (n_samples, lookback, n_features). Received: {name}.shape={X.shape}"
        )
    return X


def _check_targets(targets: Sequence[int], n_features: int) -> list[int]:
    if isinstance(targets, numbers.Integral):
        targets = [targets]
    indices = list(targets)
    if not indices or any(
        not isinstance(i, numbers.Integral) or isinstance(i, bool) or not 0 <= i < n_features for i in indices
    ):
        raise ValueError(
            f"`targets` must be a non-empty list of column indices in [0, {n_features}). "
            f"Received: targets={indices}"
        )
    return [int(i) for i in indices]


def _check_positive(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    return int(value)


def persistence(X, targets: Sequence[int], horizon: int) -> np.ndarray:
    """Forecast the last observed value of each target for every step.

    Parameters
    ----------
    X : array of shape (n_samples, lookback, n_features)
    targets : sequence of int
        Column of each target in ``X``.
    horizon : int

    Returns
    -------
    ndarray of shape (n_samples, horizon, n_targets), dtype of ``X``.
    """
    X = _check_windows(X)
    targets = _check_targets(targets, X.shape[2])
    horizon = _check_positive("horizon", horizon)
    last = X[:, -1:, targets]  # -> (n_samples, 1, n_targets)
    return np.repeat(last, horizon, axis=1)


def seasonal_naive(X, targets: Sequence[int], horizon: int, season: int) -> np.ndarray:
    """Forecast the value observed one season earlier.

    Step ``k`` (1-based) takes the window value at index ``lookback - 1 + k - season * ceil(k / season)``,
    i.e. the same phase in the last observed season; a horizon longer than the season repeats
    the last season.

    Parameters
    ----------
    X : array of shape (n_samples, lookback, n_features)
    targets : sequence of int
    horizon : int
    season : int
        Season length in steps, ``1 <= season <= lookback`` (``season=1`` is persistence).

    Returns
    -------
    ndarray of shape (n_samples, horizon, n_targets)

    Raises
    ------
    ValueError
        ``season`` longer than the window (the message names both).
    """
    X = _check_windows(X)
    targets = _check_targets(targets, X.shape[2])
    horizon = _check_positive("horizon", horizon)
    lookback = X.shape[1]
    season = resolve_season(_check_positive("season", season), None, lookback)
    steps = np.arange(1, horizon + 1)
    index = lookback - 1 + steps - season * np.ceil(steps / season).astype(int)
    return X[:, index][:, :, targets]  # -> (n_samples, horizon, n_targets)


# Aliases pandas 3 no longer parses, mapped to the current ones.
_LEGACY_ALIASES = {"H": "h", "T": "min", "S": "s", "L": "ms", "M": "ME", "Q": "QE", "A": "YE", "Y": "YE"}
_DAY_NS = 86_400 * 10**9


def season_from_frequency(freq: str | None) -> int | None:
    """The natural season length, in steps, of a sampling frequency.

    - fixed sub-daily frequencies dividing a day: one day (``"h"``/``"1h"``/``"H"`` -> 24,
      ``"10min"`` -> 144, ``"30min"`` -> 48, ``"2h"`` -> 12);
    - daily ``"D"`` -> 7 (a week); business days ``"B"`` -> 5; weekly ``"W"``/``"W-SUN"`` -> 52;
      monthly (``"MS"``, ``"ME"``, ``"M"``) -> 12; quarterly (``"QS"``, ``"QE"``, ``"Q"``) -> 4.

    Returns None for anything else (multi-day, yearly, irregular, unparsable). The caller must
    still check that the season fits in the lookback (:func:`seasonal_naive` raises otherwise).

    Example
    -------
    >>> season_from_frequency("1h"), season_from_frequency("10min"), season_from_frequency("B")
    (24, 144, 5)
    >>> season_from_frequency("YS") is None
    True
    """
    if not freq or not isinstance(freq, str):
        return None
    match = re.fullmatch(r"\s*(\d*)\s*([A-Za-z]+)(-[A-Za-z]+)?\s*", freq)
    if match is not None and match.group(2) in _LEGACY_ALIASES:
        freq = f"{match.group(1)}{_LEGACY_ALIASES[match.group(2)]}{match.group(3) or ''}"
    try:
        offset = to_offset(freq)
    except ValueError:
        return None
    if isinstance(offset, offsets.Tick):
        nanos = offset.nanos
        if 0 < nanos < _DAY_NS and _DAY_NS % nanos == 0:
            return _DAY_NS // nanos
        return None
    if offset.n != 1:
        return None
    if isinstance(offset, offsets.Day):
        return 7
    if isinstance(offset, offsets.BusinessDay):
        return 5
    if isinstance(offset, offsets.Week):
        return 52
    if isinstance(offset, (offsets.MonthBegin, offsets.MonthEnd)):
        return 12
    if isinstance(offset, (offsets.QuarterBegin, offsets.QuarterEnd)):
        return 4
    return None


class SeasonError(ValueError):
    """The seasonal-naive baseline cannot run: no season known (``season`` is None) or it is too long."""

    def __init__(self, message: str, *, season: int | None, frequency: str | None, lookback: int):
        super().__init__(message)
        self.season, self.frequency, self.lookback = season, frequency, lookback


def resolve_season(season: int | None, frequency: str | None, lookback: int) -> int:
    """The seasonal-naive rule, its one owner: ``season`` when given, else the frequency's natural
    season (:func:`season_from_frequency`), and it must fit in the window (``season <= lookback``).

    Raises :class:`SeasonError` (a ValueError naming the values) otherwise; callers map it to
    their own keys (the pipeline names ``evaluation.season`` and ``window.lookback``).

    >>> resolve_season(None, "1h", 48), resolve_season(3, None, 4)
    (24, 3)
    """
    resolved = season or season_from_frequency(frequency)
    if not resolved:
        raise SeasonError(f"seasonal_naive needs a season: the frequency {frequency!r} has no known season",
                          season=None, frequency=frequency, lookback=lookback)
    if resolved > lookback:
        raise SeasonError(f"`season` must be <= lookback to look one season back inside the window. "
                          f"Received: season={resolved}, lookback={lookback}",
                          season=int(resolved), frequency=frequency, lookback=lookback)
    return int(resolved)


def _ridge(alpha, coef: np.ndarray, intercept: np.ndarray) -> Ridge:
    """A fitted :class:`~sklearn.linear_model.Ridge` holding ``coef`` and ``intercept``."""
    ridge = Ridge(alpha=alpha)
    ridge.coef_, ridge.intercept_, ridge.n_features_in_ = coef, intercept, coef.shape[1]
    return ridge


class LinearBaseline(BaseEstimator):
    """Ridge regression from the (last ``lags`` steps of the) window to the whole horizon.

    Fit it on training windows only (that is the caller's job): it learns from whatever it is
    given. One :class:`~sklearn.linear_model.Ridge` maps the flattened window
    ``(n_samples, lags * n_features)`` to the flattened forecast ``(n_samples, horizon * n_targets)``;
    its coefficients are solved in float64 from the normal equations
    (:func:`forecaster.models.blas.ridge_normal_equations`).

    Parameters
    ----------
    alpha : float, default 1.0
        L2 penalty of the ridge regression.
    lags : int, optional
        Use only ``X[:, -lags:, :]``; the whole window when None.
    known : int, default 0
        The window's last ``known`` columns are known-future inputs
        (:mod:`forecaster.features.knownfuture`): the regressors take them only from the window's
        last ``horizon`` steps (the target steps' block), the other columns from the ``lags`` steps.

    Attributes
    ----------
    model_ : Ridge
    lookback_, n_features_, horizon_, n_targets_ : int

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 4, 2)); y = X[:, -1:, :1] * 2.0
    >>> LinearBaseline(alpha=1e-6).fit(X, y).predict(X[:1]).shape
    (1, 1, 1)
    """

    def __init__(self, alpha=1.0, lags=None, known=0):
        self.alpha = alpha
        self.lags = lags
        self.known = known

    def _inputs(self, X, lookback: int) -> np.ndarray:
        lags = lookback if self.lags is None else self.lags
        if not self.known:
            return X[:, -lags:, :].reshape(X.shape[0], -1)
        observed = X[:, -lags:, : X.shape[2] - self.known].reshape(X.shape[0], -1)
        block = X[:, X.shape[1] - self.horizon_:, X.shape[2] - self.known:].reshape(X.shape[0], -1)
        return np.concatenate([observed, block], axis=1)

    def fit(self, X, y) -> "LinearBaseline":
        """Fit on windows ``X (n_samples, lookback, n_features)`` and labels ``y (n_samples, horizon, n_targets)``."""
        X = _check_windows(X)
        y = np.asarray(y)
        if y.ndim != 3 or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"`y` must have shape (n_samples, horizon, n_targets) with n_samples={X.shape[0]}. "
                f"Received: y.shape={y.shape}"
            )
        if self.lags is not None:
            lags = _check_positive("lags", self.lags)
            if lags > X.shape[1]:
                raise ValueError(
                    f"`lags` must be <= lookback. Received: lags={lags}, lookback={X.shape[1]}"
                )
        _, self.lookback_, self.n_features_ = X.shape
        _, self.horizon_, self.n_targets_ = y.shape
        if self.known and (self.known >= self.n_features_ or self.horizon_ > self.lookback_):
            raise ValueError(f"`known` columns must leave an observed column and horizon <= lookback. Received: "
                             f"known={self.known}, X.shape={X.shape}, y.shape={y.shape}")
        inputs = self._inputs(X, self.lookback_)
        coef, intercept = ridge_normal_equations(inputs, y.reshape(len(y), -1), float(self.alpha))
        self.model_ = _ridge(self.alpha, coef, intercept)
        logger.debug("LinearBaseline fit on %d windows", len(X))
        return self

    def to_state(self) -> dict:
        """The fitted ridge as plain data (JSON values and float arrays; no pickle)."""
        check_is_fitted(self, "model_")
        state = {"alpha": float(self.alpha), "lags": self.lags, "lookback_": int(self.lookback_),
                 "n_features_": int(self.n_features_), "horizon_": int(self.horizon_),
                 "n_targets_": int(self.n_targets_),
                 "coef": np.asarray(self.model_.coef_, dtype=np.float64),
                 "intercept": np.asarray(self.model_.intercept_, dtype=np.float64)}
        if self.known:  # saved only when set: an older state reads as known=0
            state["known"] = int(self.known)
        return state

    @classmethod
    def from_state(cls, state: dict) -> "LinearBaseline":
        """Rebuild a fitted baseline from :meth:`to_state`; ValueError naming the bad entry."""
        obj = cls(alpha=state["alpha"], lags=state["lags"], known=int(state.get("known", 0)))
        for key in ("lookback_", "n_features_", "horizon_", "n_targets_"):
            setattr(obj, key, _check_positive(key, state[key]))
        lags = obj.lookback_ if obj.lags is None else _check_positive("lags", obj.lags)
        n_in = lags * (obj.n_features_ - obj.known) + obj.horizon_ * obj.known
        n_out = obj.horizon_ * obj.n_targets_
        coef, intercept = np.asarray(state["coef"]), np.asarray(state["intercept"])
        if coef.dtype.kind != "f" or coef.shape != (n_out, n_in) or intercept.shape != (n_out,):
            raise ValueError(
                f"ridge coefficients must be float arrays of shape ({n_out}, {n_in}) and ({n_out},); "
                f"received {coef.dtype} {coef.shape} and {intercept.shape}"
            )
        obj.model_ = _ridge(obj.alpha, coef, intercept)
        return obj

    def predict(self, X) -> np.ndarray:
        """Forecast ``(n_samples, horizon, n_targets)`` for windows ``(n_samples, lookback, n_features)``."""
        check_is_fitted(self, "model_")
        X = _check_windows(X)
        if X.shape[1:] != (self.lookback_, self.n_features_):
            raise ValueError(
                f"`X` must have shape (n_samples, {self.lookback_}, {self.n_features_}) as in fit. "
                f"Received: X.shape={X.shape}"
            )
        with single_threaded_blas():
            flat = self.model_.predict(self._inputs(X, self.lookback_))
        return flat.reshape(X.shape[0], self.horizon_, self.n_targets_)
