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

__all__ = ["TARGET_KINDS", "Target", "make_target", "target_log_odds", "target_values"]

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
