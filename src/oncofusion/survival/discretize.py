"""Time discretisation: the label transform that sizes a discrete-time head.

After pycox's ``LabTransDiscreteTime``. A :class:`Discretizer` holds the cuts
:math:`c_0 < c_1 < \\dots < c_K` of K intervals, interval k being :math:`(c_k, c_{k+1}]`
(the first one closed at :math:`c_0`); a head sizes itself from
:attr:`Discretizer.n_intervals` (``out_features``) and predicts the hazard
:math:`h(k) = P(T \\in (c_k, c_{k+1}] \\mid T > c_k)`.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, NamedTuple

import numpy as np

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.registry import look_up_option
from oncofusion.survival.target import check_survival_target

__all__ = ["DiscreteLabels", "Discretizer"]

_SCHEMES = ["equidistant", "quantile", "cuts"]
_FORMAT = "oncofusion.Discretizer"


class DiscreteLabels(NamedTuple):
    """Discretised survival target, one entry per sample.

    ``interval_index``: for an event, the interval holding it (0..K-1); for a censored
    sample, the number of intervals it was followed through completely (0..K).
    ``event``: the event indicator after administrative censoring at the last cut.
    """

    interval_index: np.ndarray
    event: np.ndarray


class Discretizer:
    """Cuts of the follow-up into K intervals, fitted on training data.

    Build one with :meth:`equidistant`, :meth:`quantile` (both fitted with :meth:`fit`) or
    :meth:`from_cuts` (ready to use), e.g. monthly to one year:
    ``Discretizer.from_cuts(range(13))``.

    Conventions of :meth:`transform` (pycox's, Kvamme & Borgan 2021):

    * an event at time :math:`t \\in (c_k, c_{k+1}]` is in interval k (an event at
      :math:`c_0` in interval 0);
    * a sample censored at :math:`t \\in [c_k, c_{k+1})` was followed through intervals
      :math:`0..k-1` and is *not* at risk in interval k: censoring inside an interval
      counts as happening at its start, so no unobserved survival is credited. A
      censoring exactly at a cut :math:`c_k` has survived the k intervals before it (the
      likelihood is then exact for follow-up that ends on a cut, e.g. administrative
      censoring at a visit). Counting the censoring interval as survived (Tutz & Schmid
      2016, ch. 3, "censoring at the end of the interval") biases the hazard down; the
      actuarial half-interval lies between; with a fine grid all agree;
    * a time past the last cut :math:`c_K` (event or not) is administratively censored
      at :math:`c_K`: ``interval_index = K``, ``event = 0``;
    * a time before :math:`c_0` is an error.

    References
    ----------
    Kvamme H, Borgan Ø. Continuous and discrete-time survival prediction with neural
    networks. Lifetime Data Analysis 2021;27:710-736.
    Tutz G, Schmid M. Modeling Discrete Time-to-Event Data. Springer 2016.
    """

    def __init__(
        self,
        n_intervals: int | None = None,
        *,
        scheme: str = "equidistant",
        horizon: float | None = None,
        cuts: Any = None,
    ) -> None:
        self.scheme: str = look_up_option(scheme, _SCHEMES, what="discretisation scheme")
        self._cuts: np.ndarray | None = None
        self.horizon = None if horizon is None else _positive(horizon, "horizon")
        self._n_requested: int | None = None
        if self.scheme == "cuts":
            if cuts is None:
                raise ConfigError(
                    "scheme 'cuts' needs 'cuts'. Fix: Discretizer.from_cuts([0, 1, ...])."
                )
            self._cuts = _check_cuts(cuts)
            return
        if cuts is not None:
            raise ConfigError(f"'cuts' is only used with scheme 'cuts', not '{self.scheme}'.")
        if (
            isinstance(n_intervals, bool)
            or not isinstance(n_intervals, (int, np.integer))
            or n_intervals < 1
        ):
            raise ConfigError(f"'n_intervals' must be a positive integer, got {n_intervals!r}.")
        self._n_requested = int(n_intervals)
        if self.scheme == "quantile" and horizon is not None:
            raise ConfigError("'horizon' applies to the equidistant scheme only.")
        if self.scheme == "equidistant" and self.horizon is not None:
            self._cuts = np.linspace(0.0, self.horizon, self._n_requested + 1)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def equidistant(cls, n_intervals: int, *, horizon: float | None = None) -> Discretizer:
        """K equal intervals on :math:`[0, \\text{horizon}]`; without ``horizon`` it is the
        largest training time, set by :meth:`fit`."""
        return cls(n_intervals, scheme="equidistant", horizon=horizon)

    @classmethod
    def quantile(cls, n_intervals: int) -> Discretizer:
        """Cuts at the empirical quantiles of the training *event* times (observed event
        times, inverse-CDF quantiles), so each interval holds about the same number of
        events; :math:`c_0 = 0`, :math:`c_K` = the last event time. Tied quantiles merge
        (fewer intervals, with a warning)."""
        return cls(n_intervals, scheme="quantile")

    @classmethod
    def from_cuts(cls, cuts: Any) -> Discretizer:
        """Given cuts :math:`c_0 < \\dots < c_K` (non-negative, strictly increasing)."""
        return cls(scheme="cuts", cuts=cuts)

    # ------------------------------------------------------------------ fitting
    def fit(self, time: Any, event: Any) -> Discretizer:
        """Set the cuts from training data (a no-op for given cuts or a given horizon)."""
        t, e = check_survival_target(time, event)
        if self.scheme == "cuts" or (self.scheme == "equidistant" and self.horizon is not None):
            return self
        assert self._n_requested is not None
        if self.scheme == "equidistant":
            top = float(t.max())
            if top <= 0:
                raise SurvivalInputError("'time' is all zero: no follow-up to discretise.")
            self._cuts = np.linspace(0.0, top, self._n_requested + 1)
            return self
        ev_t = t[e]
        if ev_t.size == 0 or ev_t.max() <= 0:
            raise SurvivalInputError(
                "quantile cuts need event times after 0, but 'event' has none. Fix: use "
                "Discretizer.equidistant(...) or Discretizer.from_cuts(...)."
            )
        probs = np.linspace(0.0, 1.0, self._n_requested + 1)[1:]
        q = np.quantile(ev_t, probs, method="inverted_cdf")  # observed event times
        cuts = np.unique(np.concatenate([[0.0], q[q > 0]]))
        if cuts.shape[0] - 1 < self._n_requested:
            warnings.warn(
                f"Discretizer.quantile: tied event times merged quantiles; {cuts.shape[0] - 1} "
                f"intervals instead of {self._n_requested}.",
                UserWarning,
                stacklevel=2,
            )
        self._cuts = cuts
        return self

    def fit_transform(self, time: Any, event: Any) -> DiscreteLabels:
        """:meth:`fit`, then :meth:`transform` the same data."""
        return self.fit(time, event).transform(time, event)

    # ------------------------------------------------------------------ use
    @property
    def is_fitted(self) -> bool:
        return self._cuts is not None

    @property
    def cuts(self) -> np.ndarray:
        """The K + 1 cuts (a copy)."""
        return self._require_cuts().copy()

    @property
    def n_intervals(self) -> int:
        """K, the number of intervals: the output size of a discrete-time head."""
        return int(self._require_cuts().shape[0] - 1)

    @property
    def out_features(self) -> int:
        """Alias of :attr:`n_intervals` (pycox's name for the head's size)."""
        return self.n_intervals

    def transform(self, time: Any, event: Any) -> DiscreteLabels:
        """Map ``(time, event)`` to :class:`DiscreteLabels` (conventions in the class doc)."""
        cuts = self._require_cuts()
        t, e = check_survival_target(time, event)
        before = t < cuts[0]
        if before.any():
            raise SurvivalInputError(
                f"'time' has values before the grid's first cut {cuts[0]:g} at positions "
                f"{np.flatnonzero(before)[:10].tolist()}. Fix: use cuts starting at or before "
                "the earliest time (usually 0)."
            )
        k = cuts.shape[0] - 1
        event_out = e & (t <= cuts[-1])
        idx_event = np.searchsorted(cuts, t, side="left") - 1
        idx_cens = np.searchsorted(cuts, t, side="right") - 1
        idx = np.where(event_out, np.clip(idx_event, 0, k - 1), np.minimum(idx_cens, k))
        return DiscreteLabels(interval_index=idx.astype(np.int64), event=event_out)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description; :meth:`from_dict` restores it exactly."""
        return {
            "format": _FORMAT,
            "version": 1,
            "scheme": self.scheme,
            "n_intervals_requested": self._n_requested,
            "horizon": self.horizon,
            "cuts": None if self._cuts is None else [float(c) for c in self._cuts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Discretizer:
        """Rebuild from :meth:`to_dict` output (e.g. read back from JSON)."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ConfigError(
                f"not a Discretizer description: expected a dict with format '{_FORMAT}'."
            )
        if data.get("version") != 1:
            raise ConfigError(
                f"unsupported Discretizer version {data.get('version')!r} (expected 1)."
            )
        scheme = data.get("scheme")
        cuts = data.get("cuts")
        if scheme == "cuts":
            return cls.from_cuts(cuts)
        obj = cls(
            data.get("n_intervals_requested"), scheme=str(scheme), horizon=data.get("horizon")
        )
        if cuts is not None:
            obj._cuts = _check_cuts(cuts)
        return obj

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Discretizer:
        return cls.from_dict(json.loads(text))

    # ------------------------------------------------------------------ helpers
    def _require_cuts(self) -> np.ndarray:
        if self._cuts is None:
            raise ConfigError(
                f"this {self.scheme} Discretizer is not fitted. Fix: call .fit(train_time, "
                "train_event) first."
            )
        return self._cuts

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Discretizer) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict()))

    def __repr__(self) -> str:
        if self._cuts is None:
            return f"Discretizer(scheme={self.scheme!r}, n_intervals={self._n_requested}, unfitted)"
        c = self._cuts
        shown = ", ".join(f"{v:g}" for v in c) if c.shape[0] <= 8 else f"{c[0]:g}, ..., {c[-1]:g}"
        return (
            f"Discretizer(scheme={self.scheme!r}, n_intervals={self.n_intervals}, cuts=[{shown}])"
        )


def _check_cuts(cuts: Any) -> np.ndarray:
    try:
        c = np.asarray(list(cuts), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"'cuts' must be a sequence of numbers, got {cuts!r}.") from e
    if c.ndim != 1 or c.shape[0] < 2:
        raise ConfigError(
            f"'cuts' needs at least 2 values (K + 1 for K intervals), got {c.tolist()}."
        )
    if not np.isfinite(c).all() or c[0] < 0:
        raise ConfigError(f"'cuts' must be finite and non-negative, got {c.tolist()}.")
    if (np.diff(c) <= 0).any():
        raise ConfigError(
            f"'cuts' must be strictly increasing, got {c.tolist()}. Fix: sort them and drop duplicates."
        )
    return c


def _positive(x: Any, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"'{name}' must be a positive number, got {x!r}.") from e
    if not np.isfinite(v) or v <= 0:
        raise ConfigError(f"'{name}' must be a positive number, got {x!r}.")
    return v
