"""What an explanation explains: one scalar per patient read off the network output.

Every explainer (Grad-CAM, SHAP, modality masking) differentiates or perturbs one number
per patient. For a discrete-time output with conditional hazards :math:`h(1..K)` on the
cuts :math:`c_0 < \\dots < c_K` (``docs/internals.md``) the choices are

.. math::
    \\text{hazard}_k = h(k), \\qquad
    S(k) = \\prod_{l \\le k} (1 - h(l)), \\qquad F(k) = 1 - S(k),

computed on the logit scale (:math:`\\log(1 - h) = -\\operatorname{softplus}(\\mathrm{logit})`)
so gradients stay finite. A per-arm (MM-Care) output ``{arm: block}`` gives, under a chosen
arm, :math:`P_{OS}` (the OS survival probability :math:`S(k)` of that arm's block) and local
control :math:`P_{LC,j} = 1 - \\text{lc\\_risk}_j` (binary LC head) or :math:`\\prod_{l\\le j}
(1 - h_{LC}(l))` (discrete-time LC head).

Direction: ``hazard``, ``risk`` and ``lc_risk`` are higher-is-worse; ``survival``
(:math:`P_{OS}`) and ``lc_control`` (:math:`P_{LC}`) are probabilities of a good outcome.

A treatment decision (MM-Care) is explained with :class:`DecisionTarget`
(:func:`decision_targets`): :math:`P_{OS}(\tau)` and :math:`P_{LC}(\tau)` under each arm at
the decision horizon :math:`\tau`, read exactly as the per-arm predictions and the
recommendation read them, and the recommendation's expected benefit
:math:`U_a - U_b`, :math:`U = \alpha P_{OS}(\tau) + \beta P_{LC}(\tau)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from oncofusion.errors import ConfigError
from oncofusion.registry import look_up_option

__all__ = [
    "DECISION_KINDS",
    "TARGET_KINDS",
    "AnyTarget",
    "DecisionTarget",
    "Target",
    "decision_targets",
    "make_target",
    "target_log_odds",
    "target_values",
]

#: kind -> (description, higher is worse)
TARGET_KINDS: dict[str, tuple[str, bool]] = {
    "hazard": ("conditional hazard h(k)", True),
    "risk": ("cumulative risk F(k) = 1 - S(k)", True),
    "survival": ("survival probability S(k) (P_OS for a per-arm model)", False),
    "lc_risk": ("probability of local failure", True),
    "lc_control": ("local control probability P_LC", False),
}


@dataclass(frozen=True)
class Target:
    """One scalar per patient to explain; call it on a network output.

    Parameters
    ----------
    kind
        One of :data:`TARGET_KINDS`.
    index
        0-based interval index ``k``: ``hazard`` is :math:`h(k)`, ``risk``/``survival`` are
        :math:`F`/:math:`S` at the end of interval ``k`` (time :math:`c_{k+1}`); for the LC
        kinds the index of the LC horizon (binary head) or interval (discrete-time head).
    arm
        The treatment arm of a per-arm output (required for one).
    time
        The time the index stands for (cohort time unit), used in :attr:`label` only.
    """

    kind: str
    index: int
    arm: str | None = None
    time: float | None = None

    def __post_init__(self) -> None:
        look_up_option(self.kind, list(TARGET_KINDS), what="explanation target kind")
        if int(self.index) < 0:
            raise ConfigError(f"target index must be >= 0 (0-based interval), got {self.index}.")

    @property
    def higher_is_worse(self) -> bool:
        """True when a larger value means a worse prognosis."""
        return TARGET_KINDS[self.kind][1]

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``"risk at t=12 (arm surgery)"``."""
        where = f"t={self.time:g}" if self.time is not None else f"interval {self.index}"
        arm = f" (arm {self.arm})" if self.arm is not None else ""
        return f"{self.kind} at {where}{arm}"

    def __call__(self, output: Mapping[str, Any]) -> torch.Tensor:
        """The target (B,) from a network output (differentiable)."""
        return target_values(output, self)

    def log_odds(self, output: Mapping[str, Any]) -> torch.Tensor:
        """The target's log-odds (B,), see :func:`target_log_odds`."""
        return target_log_odds(output, self)


def _interval_from_time(kind: str, time: float, cuts: Sequence[float]) -> int:
    c = np.asarray(cuts, dtype=float)
    if c.ndim != 1 or c.size < 2 or not np.all(np.diff(c) > 0):
        raise ConfigError("cuts must be the increasing grid c_0 < ... < c_K (Discretizer.cuts).")
    if not c[0] <= time <= c[-1]:
        raise ConfigError(
            f"time {time:g} is outside the model's grid [{c[0]:g}, {c[-1]:g}]; "
            "choose a time inside it (a horizon past follow-up has no estimate)."
        )
    if kind == "hazard":  # the interval (c_k, c_{k+1}] holding the time
        return max(int(np.searchsorted(c, time, side="left")) - 1, 0)
    k = int(np.searchsorted(c, time, side="right")) - 2  # S is known at cuts: last cut <= time
    if k < 0:
        raise ConfigError(
            f"time {time:g} is before the first interval ends (c_1 = {c[1]:g}), where "
            "S = 1 for everybody; choose a time >= c_1."
        )
    return k


def make_target(
    kind: str,
    *,
    interval: int | None = None,
    time: float | None = None,
    cuts: Sequence[float] | None = None,
    arm: str | None = None,
) -> Target:
    """Build a :class:`Target` from an interval index or a time on the model's grid.

    Parameters
    ----------
    kind
        ``"hazard"``, ``"risk"``, ``"survival"``, ``"lc_risk"`` or ``"lc_control"``.
    interval
        0-based interval index (see :class:`Target`). Give this or ``time``.
    time
        A time in the cohort's unit. ``hazard``: the interval :math:`(c_k, c_{k+1}]` that
        holds it; ``risk``/``survival``: the last cut :math:`c_{k+1} \\le` time (the step
        convention of a discrete-time survival curve). Needs ``cuts``. For the LC kinds
        ``cuts`` are the LC horizons and ``time`` must be one of them.
    cuts
        The grid :math:`c_0 < \\dots < c_K` (``Discretizer.cuts``) or, for LC, the horizons.
    arm
        Treatment arm of a per-arm model.
    """
    kind = look_up_option(kind, list(TARGET_KINDS), what="explanation target kind")
    if (interval is None) == (time is None):
        raise ConfigError("give exactly one of interval= (0-based index) or time= (with cuts=).")
    if interval is not None:
        return Target(kind, int(interval), arm, None)
    assert time is not None
    if cuts is None:
        raise ConfigError("time= needs cuts= (the model's Discretizer.cuts, or the LC horizons).")
    if kind.startswith("lc_"):
        horizons = np.asarray(cuts, dtype=float)
        hit = np.flatnonzero(np.isclose(horizons, time))
        if hit.size == 0:
            raise ConfigError(
                f"LC time {time:g} is not one of the LC horizons {horizons.tolist()}."
            )
        return Target(kind, int(hit[0]), arm, float(time))
    return Target(kind, _interval_from_time(kind, float(time), cuts), arm, float(time))


def _block(output: Mapping[str, Any], arm: str | None) -> Mapping[str, Any]:
    arms = [
        k for k, v in output.items() if isinstance(v, Mapping) and ("hazard" in v or "lc_risk" in v)
    ]
    if arm is None:
        if "hazard" in output or "logit_hazard" in output:
            return output
        if arms:
            raise ConfigError(f"the model predicts per treatment arm {arms}: choose one with arm=.")
        raise ConfigError(
            f"the network output has no discrete-time hazard (keys {sorted(output)}); "
            "explanations need a discrete-time or per-arm head."
        )
    if not arms:
        raise ConfigError(
            f"arm='{arm}' was given but the model has no per-arm output (keys {sorted(output)})."
        )
    return output[look_up_option(arm, arms, what="treatment arm")]


def _log_survival(block: Mapping[str, Any], logit_key: str, prob_key: str) -> torch.Tensor:
    if logit_key in block:
        return -F.softplus(block[logit_key]).cumsum(-1)
    if prob_key in block:
        return torch.log1p(-block[prob_key].clamp(max=1 - 1e-7)).cumsum(-1)
    raise ConfigError(
        f"the output block has neither '{logit_key}' nor '{prob_key}' (keys {sorted(block)})."
    )


def _take(values: torch.Tensor, index: int, what: str) -> torch.Tensor:
    if index >= values.shape[-1]:
        raise ConfigError(
            f"target index {index} is out of range: the model has {values.shape[-1]} {what} "
            f"(indices 0..{values.shape[-1] - 1})."
        )
    return values[..., index]


def _log_pair(output: Mapping[str, Any], target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`(\\log p, \\log(1 - p))` of the target probability :math:`p`, both (B,)."""
    block = _block(output, target.arm)
    kind, k = target.kind, int(target.index)

    def from_logit(logit: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return -F.softplus(-logit), -F.softplus(logit)

    def from_log_surv(log_s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # risk F = 1 - S: log F = log(-expm1(log S)), log(1 - F) = log S
        return torch.log(torch.clamp(-torch.expm1(log_s), min=1e-30)), log_s

    if kind == "hazard":
        if "logit_hazard" in block:
            return from_logit(_take(block["logit_hazard"], k, "intervals"))
        h = _take(block["hazard"], k, "intervals")
        return torch.log(h), torch.log1p(-h)
    if kind in ("risk", "survival"):
        log_f, log_s = from_log_surv(
            _take(_log_survival(block, "logit_hazard", "hazard"), k, "intervals")
        )
        return (log_f, log_s) if kind == "risk" else (log_s, log_f)
    if "lc_logit" in block or "lc_risk" in block:  # binary LC head: P(local failure by horizon j)
        if "lc_logit" in block:
            log_r, log_c = from_logit(_take(block["lc_logit"], k, "LC horizons"))
        else:
            r = _take(block["lc_risk"], k, "LC horizons")
            log_r, log_c = torch.log(r), torch.log1p(-r)
        return (log_r, log_c) if kind == "lc_risk" else (log_c, log_r)
    if "lc_logit_hazard" in block or "lc_hazard" in block:
        log_f, log_s = from_log_surv(
            _take(_log_survival(block, "lc_logit_hazard", "lc_hazard"), k, "LC intervals")
        )
        return (log_f, log_s) if kind == "lc_risk" else (log_s, log_f)
    raise ConfigError(
        f"target '{kind}' needs a local-control output (lc_risk or lc_hazard); "
        f"this block has {sorted(block)}."
    )


def target_values(output: Mapping[str, Any], target: Target) -> torch.Tensor:
    """The explained probability of every patient, shape (B,), differentiable.

    Parameters
    ----------
    output
        A network output: ``{"logit_hazard", "hazard", ...}`` or ``{arm: block, ...}``.
    target
        What to read (see :class:`Target`).
    """
    log_p, log_q = _log_pair(output, target)
    # p from whichever of log p, log(1 - p) is better conditioned
    return torch.where(log_p < log_q, torch.exp(log_p), -torch.expm1(log_q))


def target_log_odds(output: Mapping[str, Any], target: Target) -> torch.Tensor:
    """The target's log-odds :math:`\\log p - \\log(1 - p)`, shape (B,).

    A strictly increasing function of the target that does not saturate (for ``hazard``
    it is the head's logit): the score gradient-based maps differentiate, as Grad-CAM uses
    the pre-softmax class score (Selvaraju et al. 2017, §3).
    """
    log_p, log_q = _log_pair(output, target)
    return log_p - log_q


# ---------------------------------------------------------------------------------------------
# the treatment decision (MM-Care): P_OS and P_LC at the decision horizon, the expected benefit
#: decision kind -> (description, is a probability)
DECISION_KINDS: dict[str, tuple[str, bool]] = {
    "os": ("P_OS(tau): probability of being alive at the decision horizon", True),
    "lc": ("P_LC(tau): probability of local control at the decision horizon", True),
    "benefit": ("U(arm) - U(versus), U = alpha P_OS(tau) + beta P_LC(tau)", False),
}


def _interpolation(cuts: Sequence[float], time: float) -> tuple[int, float]:
    """``(j, u)`` with :math:`c_j \\le \\tau \\le c_{j+1}`, :math:`u = (\\tau - c_j)/(c_{j+1} - c_j)`."""
    c = np.asarray(cuts, dtype=float)
    if c.ndim != 1 or c.size < 2 or not np.all(np.diff(c) > 0):
        raise ConfigError("cuts must be the increasing grid c_0 < ... < c_K (Discretizer.cuts).")
    if not c[0] < time <= c[-1]:
        raise ConfigError(
            f"decision horizon {time:g} is outside the model's grid ({c[0]:g}, {c[-1]:g}]; "
            "choose a horizon inside it."
        )
    j = min(int(np.searchsorted(c, time, side="right")) - 1, c.size - 2)
    return j, float((time - c[j]) / (c[j + 1] - c[j]))


def _os_log_pair(block: Mapping[str, Any], cuts: Sequence[float], time: float) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`(\\log P_{OS}(\\tau), \\log(1 - P_{OS}(\\tau)))`, exponential interpolation between
    the cuts (piecewise-constant hazard), as :meth:`ArmPredictions.os_at` evaluates it."""
    log_s = _log_survival(block, "logit_hazard", "hazard")
    if log_s.shape[-1] != len(cuts) - 1:
        raise ConfigError(
            f"the output has {log_s.shape[-1]} OS intervals but the grid has {len(cuts) - 1}; "
            "pass the model's own cuts."
        )
    full = torch.cat([torch.zeros_like(log_s[..., :1]), log_s], dim=-1)  # log S at c_0..c_K
    j, u = _interpolation(cuts, time)
    log_p = (1.0 - u) * full[..., j] + u * full[..., j + 1]
    return log_p, torch.log(torch.clamp(-torch.expm1(log_p), min=1e-30))


def _lc_log_pair(block: Mapping[str, Any], index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`(\\log P_{LC,j}, \\log(1 - P_{LC,j}))` as the per-arm predictions read it: binary
    head :math:`P_{LC,j} = \\min_{l \\le j}(1 - \\sigma(z_l)) = 1 - \\sigma(\\max_{l \\le j} z_l)`
    (non-increasing over the horizons); discrete-time head :math:`\\prod_{l \\le j}(1 - h_l)`."""
    if "lc_logit" in block:
        _take(block["lc_logit"], index, "LC horizons")
        z = block["lc_logit"][..., : index + 1].amax(-1)
        return -F.softplus(z), -F.softplus(-z)
    if "lc_risk" in block:
        _take(block["lc_risk"], index, "LC horizons")
        r = block["lc_risk"][..., : index + 1].amax(-1)
        return torch.log1p(-r), torch.log(r)
    if "lc_logit_hazard" in block or "lc_hazard" in block:
        log_s = _take(_log_survival(block, "lc_logit_hazard", "lc_hazard"), index, "LC intervals")
        return log_s, torch.log(torch.clamp(-torch.expm1(log_s), min=1e-30))
    raise ConfigError(
        f"P_LC needs a local-control output (lc_risk or lc_hazard); this block has {sorted(block)}."
    )


@dataclass(frozen=True)
class DecisionTarget:
    """A quantity of the treatment decision at the decision horizon :math:`\\tau`, read off a
    per-arm output ``{arm: block}`` (MM-Care's ``network.body``); call it on the output.

    * ``"os"``: :math:`P_{OS,a}(\\tau)` under ``arm`` (exponential interpolation between the
      cuts, exactly as :meth:`~oncofusion.models.mmcare_outputs.ArmPredictions.os_at`);
    * ``"lc"``: :math:`P_{LC,a}(\\tau)` at LC horizon ``lc_index`` (binary head made
      non-increasing over the horizons, as the per-arm predictions are);
    * ``"benefit"``: :math:`B = U_{a} - U_{b}` with :math:`U = \\alpha P_{OS}(\\tau) + \\beta
      P_{LC}(\\tau)` (:func:`oncofusion.decide.recommend`), ``arm`` :math:`a` the recommended
      arm and ``versus`` :math:`b` the runner-up: the recommendation's expected benefit.

    ``os``/``lc`` are probabilities (:meth:`log_odds` exists); the benefit lies in
    :math:`[-(\\alpha + \\beta), \\alpha + \\beta]` and has no log-odds, so Grad-CAM
    differentiates the value itself (``score="value"``).

    Parameters
    ----------
    kind
        ``"os"``, ``"lc"`` or ``"benefit"``.
    arm
        The arm (``"benefit"``: the arm whose advantage is explained).
    time
        The decision horizon :math:`\\tau` (cohort time unit).
    cuts
        The model's OS grid :math:`c_0 < \\dots < c_K`.
    lc_index
        Index of :math:`\\tau` among the LC horizons; None when LC is not used (then a
        ``"benefit"`` is :math:`\\alpha (P_{OS,a} - P_{OS,b})`).
    versus
        The other arm of a ``"benefit"``.
    alpha, beta
        Utility weights (MM-Care: 0.7 and 0.3).
    """

    kind: str
    arm: str
    time: float
    cuts: tuple[float, ...]
    lc_index: int | None = None
    versus: str | None = None
    alpha: float = 0.7
    beta: float = 0.3

    def __post_init__(self) -> None:
        look_up_option(self.kind, list(DECISION_KINDS), what="decision target kind")
        _interpolation(self.cuts, float(self.time))
        if self.kind == "lc" and self.lc_index is None:
            raise ConfigError("a P_LC target needs lc_index (the decision horizon among the LC horizons).")
        if self.kind == "benefit":
            if self.versus is None or self.versus == self.arm:
                raise ConfigError("a benefit target needs versus=, an arm other than arm=.")
            if self.alpha < 0 or self.beta < 0 or self.alpha + self.beta == 0:
                raise ConfigError("alpha and beta must be non-negative and not both 0.")

    @property
    def is_probability(self) -> bool:
        """True for ``os``/``lc`` (a log-odds exists), False for the benefit."""
        return DECISION_KINDS[self.kind][1]

    @property
    def higher_is_worse(self) -> bool:
        """Always False: survival, local control and benefit are good outcomes."""
        return False

    @property
    def uses_lc(self) -> bool:
        return self.lc_index is not None and (self.kind == "lc" or self.beta > 0)

    @property
    def label(self) -> str:
        """E.g. ``"P_OS at t=36 (arm surgery)"`` or ``"benefit of surgery over sbrt at t=36"``."""
        if self.kind == "benefit":
            return f"benefit of {self.arm} over {self.versus} at t={self.time:g}"
        name = "P_OS" if self.kind == "os" else "P_LC"
        return f"{name} at t={self.time:g} (arm {self.arm})"

    def _utility(self, output: Mapping[str, Any], arm: str) -> torch.Tensor:
        block = _block(output, arm)
        u = self.alpha * torch.exp(_os_log_pair(block, self.cuts, float(self.time))[0])
        if self.uses_lc:
            u = u + self.beta * torch.exp(_lc_log_pair(block, int(self.lc_index))[0])  # type: ignore[arg-type]
        return u

    def _log_pair(self, output: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        block = _block(output, self.arm)
        if self.kind == "os":
            return _os_log_pair(block, self.cuts, float(self.time))
        if self.kind == "lc":
            return _lc_log_pair(block, int(self.lc_index))  # type: ignore[arg-type]
        raise ConfigError(
            "the expected benefit is a difference of utilities, not a probability: it has no "
            "log-odds (explain its value: Grad-CAM score='value')."
        )

    def __call__(self, output: Mapping[str, Any]) -> torch.Tensor:
        """The target (B,) from a per-arm network output (differentiable)."""
        if self.kind == "benefit":
            return self._utility(output, self.arm) - self._utility(output, str(self.versus))
        log_p, log_q = self._log_pair(output)
        return torch.where(log_p < log_q, torch.exp(log_p), -torch.expm1(log_q))

    def log_odds(self, output: Mapping[str, Any]) -> torch.Tensor:
        """:math:`\\log p - \\log(1 - p)` of a probability target (ConfigError for the benefit)."""
        log_p, log_q = self._log_pair(output)
        return log_p - log_q


def decision_targets(
    arms: Sequence[str],
    *,
    cuts: Sequence[float],
    horizon: float,
    lc_horizons: Sequence[float] = (),
    recommended: str,
    versus: str | None = None,
    alpha: float = 0.7,
    beta: float = 0.3,
) -> dict[str, DecisionTarget]:
    """The targets that explain a treatment decision, keyed ``os_<arm>``, ``lc_<arm>`` (when
    the model predicts LC at the decision horizon) and ``benefit``.

    Parameters
    ----------
    arms
        The model's arms.
    cuts, horizon
        OS grid and decision horizon :math:`\\tau`.
    lc_horizons
        The model's LC horizons (empty: no LC output; LC then enters neither the targets nor
        the utility, as in :meth:`ArmPredictions.recommend`).
    recommended, versus
        The recommended arm and the arm it is compared with (default: the first other arm;
        with more than two arms pass the runner-up).
    alpha, beta
        Utility weights.
    """
    arms = [str(a) for a in arms]
    recommended = look_up_option(str(recommended), arms, what="treatment arm")
    others = [a for a in arms if a != recommended]
    if not others:
        raise ConfigError(f"a decision needs at least two arms, the model has {arms}.")
    versus = others[0] if versus is None else look_up_option(str(versus), others, what="treatment arm")
    c = tuple(float(x) for x in cuts)
    lc_index = None
    if len(lc_horizons):
        hit = np.flatnonzero(np.isclose(np.asarray(lc_horizons, float), float(horizon)))
        if hit.size:
            lc_index = int(hit[0])
        elif beta > 0:
            raise ConfigError(
                f"local control is predicted at {list(lc_horizons)}, not at the decision horizon "
                f"{horizon:g}, so the utility cannot weight it. Fix: use one of those horizons or beta=0."
            )
    out: dict[str, DecisionTarget] = {}
    for a in arms:
        out[f"os_{a}"] = DecisionTarget("os", a, float(horizon), c, lc_index, alpha=alpha, beta=beta)
    if lc_index is not None:
        for a in arms:
            out[f"lc_{a}"] = DecisionTarget("lc", a, float(horizon), c, lc_index, alpha=alpha, beta=beta)
    out["benefit"] = DecisionTarget(
        "benefit", recommended, float(horizon), c, lc_index, versus=versus, alpha=alpha, beta=beta
    )
    return out


#: what the explainers accept: a discrete-time/per-arm :class:`Target` or a :class:`DecisionTarget`
AnyTarget = Target | DecisionTarget
