"""Conversions between discrete-time hazard, survival, cumulative risk and PMF.

Every function takes and returns either torch tensors (differentiable, any device) or
numpy arrays (computed in float64). The last axis indexes the K intervals of a grid of
cuts :math:`c_0 < \\dots < c_K` (:attr:`Discretizer.cuts`): ``hazard[..., k]`` is
:math:`h(k) = P(T \\in (c_k, c_{k+1}] \\mid T > c_k)` and ``surv[..., k]`` is
:math:`S(c_{k+1})`, with :math:`S(c_0) = 1` implied (DMA-Net §2.3).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.registry import look_up_option

__all__ = [
    "check_grid",
    "cumulative_hazard_from_hazard",
    "cumulative_risk_from_hazard",
    "hazard_from_pmf",
    "hazard_from_survival",
    "hazard_rate_from_hazard",
    "interpolate_survival",
    "landmark_conditional",
    "pmf_from_hazard",
    "restricted_mean_survival_time",
    "survival_from_hazard",
    "survival_from_logit_hazard",
]

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)
_METHODS = ["step", "linear", "exponential"]
_BEYOND = ["error", "hold"]


# ---------------------------------------------------------------------- plumbing
def _dual(fn: Callable[..., torch.Tensor]) -> Callable[..., Any]:
    """Run ``fn`` on torch; numpy (or list) input comes back as a float64 numpy array."""

    @functools.wraps(fn)
    def wrapper(x: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(x, torch.Tensor):
            if not torch.is_floating_point(x):
                x = x.to(torch.get_default_dtype())
            return fn(x, *args, **kwargs)
        out = fn(torch.as_tensor(np.asarray(x, dtype=np.float64)), *args, **kwargs)
        if isinstance(out, tuple):
            return tuple(o.numpy() if isinstance(o, torch.Tensor) else o for o in out)
        return out.numpy()

    return wrapper


def _check_prob(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim < 1 or x.shape[-1] < 1:
        raise SurvivalInputError(
            f"'{name}' needs a last axis of intervals, got shape {tuple(x.shape)}."
        )
    if not bool(torch.isfinite(x).all()) or bool(((x < 0) | (x > 1)).any()):
        raise SurvivalInputError(f"'{name}' must hold probabilities in [0, 1] (no NaN).")
    return x


def check_grid(
    grid: Any, n_intervals: int | None = None, *, like: torch.Tensor | None = None
) -> torch.Tensor:
    """Validate cuts :math:`c_0 < \\dots < c_K` (K = ``n_intervals`` if given) as a tensor."""
    g = (
        grid.detach()
        if isinstance(grid, torch.Tensor)
        else torch.as_tensor(np.asarray(grid, dtype=np.float64))
    )
    if like is not None:
        g = g.to(dtype=like.dtype, device=like.device)
    if g.ndim != 1 or g.shape[0] < 2:
        raise SurvivalInputError(
            f"'grid' must be 1-D with K + 1 cuts (c_0 = the origin), got shape {tuple(g.shape)}."
        )
    if not bool(torch.isfinite(g).all()) or bool((torch.diff(g) <= 0).any()):
        raise SurvivalInputError("'grid' must be finite and strictly increasing.")
    if n_intervals is not None and g.shape[0] != n_intervals + 1:
        raise SurvivalInputError(
            f"'grid' must have K + 1 = {n_intervals + 1} cuts for {n_intervals} intervals (the first "
            f"is the origin, where S = 1), got {g.shape[0]}. Fix: pass Discretizer.cuts."
        )
    return g


def _log1m(h: torch.Tensor) -> torch.Tensor:
    return torch.log1p(-h)


# ---------------------------------------------------------------------- hazard <-> survival
@_dual
def survival_from_hazard(hazard: torch.Tensor) -> torch.Tensor:
    """Survival at the end of each interval from the conditional hazards.

    .. math:: S(k) = \\prod_{l \\le k} (1 - h(l)) = \\exp \\sum_{l \\le k} \\log(1 - h(l))

    computed as a cumulative sum of ``log1p(-h)`` (DMA-Net §2.3, Eq. of :math:`S_{i,k}`).
    """
    h = _check_prob(hazard, "hazard")
    return torch.exp(torch.cumsum(_log1m(h), dim=-1))


@_dual
def survival_from_logit_hazard(logit_hazard: torch.Tensor) -> torch.Tensor:
    """:math:`S(k)` from the logit of the hazard, with :math:`\\log(1 - h) =
    -\\operatorname{softplus}(\\text{logit})` (exact for any logit)."""
    if not bool(torch.isfinite(logit_hazard).all()):
        raise SurvivalInputError("'logit_hazard' contains NaN or inf.")
    return torch.exp(-torch.cumsum(torch.nn.functional.softplus(logit_hazard), dim=-1))


@_dual
def cumulative_risk_from_hazard(hazard: torch.Tensor) -> torch.Tensor:
    """Cumulative risk (higher = worse) :math:`F(k) = 1 - S(k)`, computed as
    ``-expm1(cumsum(log1p(-h)))`` so small risks keep full precision (DMA-Net §2.3)."""
    h = _check_prob(hazard, "hazard")
    return -torch.expm1(torch.cumsum(_log1m(h), dim=-1))


@_dual
def cumulative_hazard_from_hazard(hazard: torch.Tensor) -> torch.Tensor:
    """Cumulative hazard :math:`\\Lambda(c_{k+1}) = -\\log S(k) = -\\sum_{l \\le k}
    \\log(1 - h(l))` (inf once a hazard is 1)."""
    h = _check_prob(hazard, "hazard")
    return -torch.cumsum(_log1m(h), dim=-1)


@_dual
def hazard_rate_from_hazard(hazard: torch.Tensor, grid: Any = None) -> torch.Tensor:
    """Continuous-time hazard rate under a piecewise-constant hazard (DMA-Net §2.3.1).

    .. math:: \\lambda_k = -\\log(1 - h(k)) / (c_{k+1} - c_k)

    so that :math:`S(c_{k+1}) = S(c_k) e^{-\\lambda_k (c_{k+1} - c_k)}` solves
    :math:`dS/dt = -\\lambda S` exactly on each interval. Without ``grid`` the intervals
    have unit length (:math:`\\lambda_k = -\\log(1 - h_k)`, DMA-Net's monthly form).
    """
    h = _check_prob(hazard, "hazard")
    rate = -_log1m(h)
    if grid is None:
        return rate
    g = check_grid(grid, h.shape[-1], like=h)
    return rate / torch.diff(g)


@_dual
def pmf_from_hazard(hazard: torch.Tensor, *, with_tail: bool = False) -> torch.Tensor:
    """Event-time probability mass :math:`f(k) = h(k) S(k-1)` (:math:`S(-1) = 1`).

    With ``with_tail`` a last entry :math:`S(K-1) = P(T > c_K)` is appended, so the
    result sums to 1 along the last axis.
    """
    h = _check_prob(hazard, "hazard")
    log_s = torch.cumsum(_log1m(h), dim=-1)
    log_prev = torch.cat([torch.zeros_like(log_s[..., :1]), log_s[..., :-1]], dim=-1)
    pmf = h * torch.exp(log_prev)
    if with_tail:
        pmf = torch.cat([pmf, torch.exp(log_s[..., -1:])], dim=-1)
    return pmf


@_dual
def hazard_from_pmf(pmf: torch.Tensor, *, with_tail: bool = False) -> torch.Tensor:
    """Hazard from the event-time PMF.

    .. math:: h(k) = \\frac{f(k)}{P(T > c_k)} = \\frac{f(k)}{\\sum_{l \\ge k} f(l) + P(T > c_K)}

    The denominator is a reverse cumulative sum, accurate even where little mass is
    left. With ``with_tail`` the last column is the tail :math:`P(T > c_K)` (the output
    of ``pmf_from_hazard(..., with_tail=True)``; best accuracy); without it the tail is
    :math:`1 - \\sum_k f(k)`. Where no mass is left the hazard is undefined and set to 1
    (absorbing).
    """
    f = _check_prob(pmf, "pmf")
    total = f.sum(dim=-1, keepdim=True)
    if bool((total > 1 + 1e-6).any()):
        raise SurvivalInputError("'pmf' sums to more than 1 over the intervals.")
    if with_tail:
        if f.shape[-1] < 2:
            raise SurvivalInputError("'pmf' with a tail column needs at least 2 columns.")
        full = f
    else:
        full = torch.cat([f, (1.0 - total).clamp(min=0.0)], dim=-1)
    remaining = torch.flip(torch.cumsum(torch.flip(full, [-1]), dim=-1), [-1])[..., :-1]
    mass = full[..., :-1]
    ok = remaining > 0
    h = torch.where(
        ok, mass / torch.where(ok, remaining, torch.ones_like(remaining)), torch.ones_like(mass)
    )
    return h.clamp(0.0, 1.0)


@_dual
def hazard_from_survival(surv: torch.Tensor) -> torch.Tensor:
    """Hazard from survival at interval ends: :math:`h(k) = 1 - S(k) / S(k-1)`
    (:math:`S(-1) = 1`; set to 1 once :math:`S(k-1) = 0`)."""
    s = _check_prob(surv, "surv")
    prev = torch.cat([torch.ones_like(s[..., :1]), s[..., :-1]], dim=-1)
    if bool((s > prev + 1e-9).any()):
        raise SurvivalInputError("'surv' must be non-increasing along the intervals.")
    ok = prev > 0
    h = torch.where(ok, 1.0 - s / torch.where(ok, prev, torch.ones_like(prev)), torch.ones_like(s))
    return h.clamp(0.0, 1.0)


# ---------------------------------------------------------------------- between grid points
def _full_survival(s: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.ones_like(s[..., :1]), s], dim=-1)


def _safe_log(s: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.where(s > 0, s, torch.ones_like(s)))


@_dual
def interpolate_survival(
    surv: torch.Tensor,
    grid: Any,
    times: Any,
    *,
    method: str = "exponential",
    beyond: str = "error",
) -> torch.Tensor:
    """Evaluate :math:`S(t)` between the grid points.

    For :math:`t \\in [c_k, c_{k+1}]` and :math:`u = (t - c_k)/(c_{k+1} - c_k)`:

    * ``"exponential"`` (piecewise-constant hazard rate, DMA-Net §2.3.1):
      :math:`S(t) = S(c_k)^{1-u} S(c_{k+1})^{u}`;
    * ``"linear"`` (constant density in the interval): :math:`S(c_k) + u\\,(S(c_{k+1}) - S(c_k))`;
    * ``"step"`` (right-continuous step, the discrete-time reading):
      :math:`S(t) = S(c_j)` for the last cut :math:`c_j \\le t`.

    All three agree at the grid points. Before :math:`c_0`, :math:`S = 1`; past
    :math:`c_K` it is an error (``beyond="error"``) or held at :math:`S(c_K)`
    (``beyond="hold"``).

    Parameters
    ----------
    surv : shape (..., K)
        Survival at the end of each interval.
    grid : shape (K + 1,)
        The cuts.
    times : shape (T,)
        Non-negative times.

    Returns
    -------
    Shape (..., T).
    """
    s = _check_prob(surv, "surv")
    method = look_up_option(method, _METHODS, what="interpolation method")
    beyond = look_up_option(beyond, _BEYOND, what="'beyond' option")
    k = s.shape[-1]
    g = check_grid(grid, k, like=s)
    t = (
        torch.as_tensor(
            np.asarray(
                times.detach().cpu() if isinstance(times, torch.Tensor) else times, dtype=np.float64
            )
        )
        .to(dtype=s.dtype, device=s.device)
        .reshape(-1)
    )
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise SurvivalInputError("'times' must be finite and non-negative.")
    if beyond == "error" and bool((t > g[-1]).any()):
        raise SurvivalInputError(
            f"'times' go past the last cut {float(g[-1]):g}, where the model makes no prediction. "
            "Fix: restrict the times, or pass beyond='hold' to keep S at its last value."
        )
    sf = _full_survival(s)  # (..., K + 1) at c_0..c_K
    tc = t.clamp(min=float(g[0]), max=float(g[-1]))
    if method == "step":
        j = torch.searchsorted(g, tc, right=True) - 1
        out = sf[..., j]
    else:
        j = (torch.searchsorted(g, tc, right=True) - 1).clamp(0, k - 1)
        u = ((tc - g[j]) / (g[j + 1] - g[j])).clamp(0.0, 1.0)
        left, right = sf[..., j], sf[..., j + 1]
        if method == "linear":
            out = left + u * (right - left)
        else:
            val = torch.exp((1.0 - u) * _safe_log(left) + u * _safe_log(right))
            dead = (left <= 0) | ((right <= 0) & (u > 0))
            out = torch.where(dead, torch.zeros_like(val), val)
    return torch.where(t < g[0], torch.ones_like(out), out)


@_dual
def restricted_mean_survival_time(
    surv: torch.Tensor, grid: Any, tau: float, *, method: str = "exponential"
) -> torch.Tensor:
    """Restricted mean survival time :math:`\\int_{c_0}^{\\tau} S(t)\\,dt` (higher = better).

    Integrated exactly under the interpolation of :func:`interpolate_survival`; on a
    (partial) interval of length :math:`w` starting at :math:`c_k` with
    :math:`\\Delta_k = c_{k+1} - c_k`:

    * step: :math:`S(c_k) w`; linear: :math:`S(c_k) w - (S(c_k) - S(c_{k+1})) w^2 / (2\\Delta_k)`;
    * exponential: :math:`S(c_k)\\, w\\, (1 - e^{-z})/z`, :math:`z = \\lambda_k w`,
      :math:`\\lambda_k = -\\log(S(c_{k+1})/S(c_k))/\\Delta_k`.

    ``tau`` must lie in :math:`(c_0, c_K]` (Royston & Parmar 2013).

    References
    ----------
    Royston P, Parmar MKB. Restricted mean survival time: an alternative to the hazard
    ratio for the design and analysis of randomized trials. BMC Med Res Methodol 2013;13:152.
    """
    s = _check_prob(surv, "surv")
    method = look_up_option(method, _METHODS, what="integration method")
    k = s.shape[-1]
    g = check_grid(grid, k, like=s)
    tau_f = float(tau)
    if not (float(g[0]) < tau_f <= float(g[-1])):
        raise SurvivalInputError(
            f"'tau' must lie in ({float(g[0]):g}, {float(g[-1]):g}] (the grid), got {tau!r}."
        )
    sf = _full_survival(s)
    left, right = sf[..., :-1], sf[..., 1:]
    delta = torch.diff(g)
    w = torch.minimum((tau_f - g[:-1]).clamp(min=0.0), delta)  # length of [c_k, c_k+1] before tau
    if method == "step":
        area = left * w
    elif method == "linear":
        area = left * w - (left - right) * w.square() / (2.0 * delta)
    else:
        log_ratio = _safe_log(right) - _safe_log(left)  # <= 0
        z = -log_ratio * (w / delta)
        pos = z > 0
        z_safe = torch.where(pos, z, torch.ones_like(z))
        phi = torch.where(pos, -torch.expm1(-z_safe) / z_safe, torch.ones_like(z))
        # S(c_k+1) = 0 means an infinite rate: S = 0 right after c_k, so the area is 0
        area = torch.where(right <= 0, torch.zeros_like(left), left * w * phi)
    return area.sum(dim=-1)


def landmark_conditional(
    surv: ArrayT, grid: Any, s: float, *, method: str = "exponential"
) -> tuple[ArrayT, Any]:
    """Survival conditional on being event-free at landmark time ``s``.

    .. math:: S(t \\mid T > s) = S(t) / S(s), \\qquad t > s,

    evaluated at the cuts after ``s``, with :math:`S(s)` from
    :func:`interpolate_survival` (``method``). Returns ``(cond_surv, cond_grid)``:
    ``cond_grid = [s, c_j, ..., c_K]`` (the cuts after ``s``) and ``cond_surv`` of shape
    (..., len(cond_grid) - 1), a survival curve on that grid (:math:`S = 1` at ``s``),
    usable with every function of this module. Used by the dynamic (landmark) update of
    a prediction after a follow-up visit (van Houwelingen 2007).

    References
    ----------
    van Houwelingen HC. Dynamic prediction by landmarking in event history analysis.
    Scand J Stat 2007;34:70-85.
    """
    is_torch = isinstance(surv, torch.Tensor)
    st: torch.Tensor = (
        surv
        if isinstance(surv, torch.Tensor)
        else torch.as_tensor(np.asarray(surv, dtype=np.float64))
    )
    st = _check_prob(st, "surv")
    g = check_grid(grid, st.shape[-1], like=st)
    s_f = float(s)
    if not (float(g[0]) <= s_f < float(g[-1])):
        raise SurvivalInputError(
            f"landmark 's' must lie in [{float(g[0]):g}, {float(g[-1]):g}) (the grid), got {s!r}."
        )
    at_s = interpolate_survival(st, g, [s_f], method=method)  # (..., 1)
    if bool((at_s <= 0).any()):
        raise SurvivalInputError(
            f"S(s) is 0 at the landmark s = {s_f:g} for some samples, so S(t | T > s) is undefined."
        )
    after = g > s_f
    cond = st[..., after[1:]] / at_s
    cond_grid = torch.cat([g.new_tensor([s_f]), g[after]])
    cond = cond.clamp(max=1.0)
    if is_torch:
        return cond, cond_grid  # type: ignore[return-value]
    return cond.numpy(), cond_grid.numpy()  # type: ignore[return-value]
