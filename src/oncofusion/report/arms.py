"""Per-arm outcomes of one patient and the recommendation, from either kind of model with arms.

* A model with ``predict_arms(cohort, mc_samples=, seed=)`` (MM-Care,
  :class:`~oncofusion.models.mmcare_outputs.ArmPredictions`): its own OS hazards, LC
  probabilities, MC-dropout draws, propensity/overlap flag and ``recommend()``.
* Any other model whose network has a per-arm head (``{arm: {"hazard", "lc_risk" |
  "lc_hazard"}}``, :class:`~oncofusion.nn.heads.PerArmHead`): the outputs are read here and
  the recommendation is :func:`oncofusion.decide.recommend` at the decision horizon.

Both become a :class:`PatientArms`; the report never needs to know which kind it got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PatientArms", "patient_arms"]


@dataclass
class PatientArms:
    """One patient's outcomes under every arm (arm axis in ``arms`` order).

    Attributes
    ----------
    os_hazard, os_surv_draws
        (A, K) OS hazards on ``cuts``; (D, A, K) MC-dropout draws of :math:`P_{OS}(c_k)` or None.
    lc_times, lc_control, lc_draws
        LC horizons (J,), :math:`P_{LC}` (A, J) and draws (D, A, J); None without LC.
    recommendation
        The row of :func:`oncofusion.decide.recommend` (``recommended``, ``benefit``,
        ``low``, ``high``, ``preference``, ``interval``, ``utility_<arm>``) plus ``alpha``,
        ``beta`` and ``horizon``.
    outside_support, propensity
        The overlap flag and the propensity of each arm, where the model has them.
    """

    arms: list[str]
    cuts: np.ndarray
    os_hazard: np.ndarray
    os_surv_draws: np.ndarray | None
    lc_times: np.ndarray | None
    lc_control: np.ndarray | None
    lc_draws: np.ndarray | None
    received: str | None
    recommendation: dict[str, Any]
    outside_support: bool | None = None
    propensity: dict[str, float] | None = None


def _received(patient: Any) -> str | None:
    if "arm" not in patient.patients:
        return None
    v = patient.patients["arm"].iloc[0]
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or str(v) == "" else str(v)


def _from_predict_arms(model: Any, patient: Any, n_draws: int, seed: int) -> PatientArms:
    import warnings

    with warnings.catch_warnings():  # an overlap warning becomes the report's data-quality flag
        warnings.simplefilter("ignore", UserWarning)
        ap = model.predict_arms(patient, mc_samples=n_draws if n_draws >= 2 else 0, seed=seed)
        rec = model.recommend(ap) if hasattr(model, "recommend") else None
    if rec is None:  # pragma: no cover - every predict_arms model so far recommends
        raise AttributeError("a model with predict_arms must also have recommend()")
    row = rec.iloc[0].to_dict()
    row.update(alpha=float(rec.attrs.get("alpha", np.nan)), beta=float(rec.attrs.get("beta", np.nan)),
               horizon=float(rec.attrs.get("horizon", getattr(model, "decision_horizon", np.nan))))
    has_lc = ap.lc_control.shape[-1] > 0
    return PatientArms(
        arms=list(ap.arms), cuts=np.asarray(ap.cuts, float), os_hazard=np.asarray(ap.os_hazard[0], float),
        os_surv_draws=None if ap.os_surv_draws is None else np.asarray(ap.os_surv_draws[:, 0], float),
        lc_times=np.asarray(ap.lc_horizons, float) if has_lc else None,
        lc_control=np.asarray(ap.lc_control[0], float) if has_lc else None,
        lc_draws=None if ap.lc_control_draws is None or not has_lc else np.asarray(ap.lc_control_draws[:, 0], float),
        received=_received(patient), recommendation=row,
        outside_support=bool(ap.outside_support[0]) if len(ap.outside_support) else None,
        propensity={a: float(ap.propensity[0, j]) for j, a in enumerate(ap.arms)} if len(ap.propensity) else None,
    )


def _lc_curve(block: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """P_LC (J,) and draws (D, J) of patient 0 of an output block (monotone for binary)."""
    if block.lc is None:
        return None, None
    if block.lc_kind == "binary":
        p = np.minimum.accumulate(1.0 - block.lc[0])
        d = None if block.lc_draws is None else np.minimum.accumulate(1.0 - block.lc_draws[:, 0], axis=-1)
    else:
        p = np.cumprod(1.0 - block.lc[0])
        d = None if block.lc_draws is None else np.cumprod(1.0 - block.lc_draws[:, 0], axis=-1)
    return p, d


def _from_network(model: Any, patient: Any, out: Any, horizon: float) -> PatientArms:
    from oncofusion.decide.recommend import recommend
    from oncofusion.report.outcomes import surv_at

    arms, cuts = out.arms, out.cuts
    os_h = np.stack([out.blocks[a].hazard[0] for a in arms])
    draws = [out.blocks[a].hazard_draws for a in arms]
    os_d = None if any(d is None for d in draws) else np.stack([np.cumprod(1 - d[:, 0], -1) for d in draws], 1)
    lc = [_lc_curve(out.blocks[a]) for a in arms]
    has_lc = all(p is not None for p, _ in lc)
    lc_control = np.stack([p for p, _ in lc if p is not None]) if has_lc else None
    lc_d = [d for _, d in lc if d is not None]
    lc_draws = np.stack(lc_d, 1) if has_lc and len(lc_d) == len(arms) else None
    lc_times = None
    if has_lc:
        given = getattr(model, "lc_horizons", None)
        lc_times = np.asarray(given if given else np.arange(1, lc_control.shape[1] + 1), float)  # type: ignore[union-attr]
    dh = float(getattr(model, "decision_horizon", None) or horizon)
    p_os = surv_at(np.cumprod(1 - os_h, -1), cuts, dh)[None]
    alpha = float(getattr(model, "alpha", 0.7))
    beta = float(getattr(model, "beta", 0.3)) if has_lc else 0.0
    kwargs: dict[str, Any] = {}
    p_lc = None
    if has_lc:
        j = int(np.argmin(np.abs(lc_times - dh)))  # type: ignore[operator]
        p_lc = lc_control[None, :, j]  # type: ignore[index]
    if os_d is not None and (not has_lc or lc_draws is not None):
        kwargs["p_os_draws"] = np.stack([surv_at(os_d[:, a], cuts, dh) for a in range(len(arms))], -1)[:, None]
        if has_lc:
            kwargs["p_lc_draws"] = lc_draws[:, None, :, j]  # type: ignore[index]
    rec = recommend(p_os, p_lc, arms, alpha=alpha, beta=beta, ci=0.9, patient_ids=[out.patient_ids[0]], **kwargs)
    row = rec.iloc[0].to_dict()
    row.update(alpha=alpha, beta=beta, horizon=dh)
    return PatientArms(arms=arms, cuts=cuts, os_hazard=os_h, os_surv_draws=os_d, lc_times=lc_times,
                       lc_control=lc_control, lc_draws=lc_draws, received=_received(patient), recommendation=row)


def patient_arms(model: Any, patient: Any, *, n_draws: int, seed: int, horizon: float,
                 outcomes: Any = None) -> PatientArms | None:
    """The per-arm view of a one-patient cohort, or None for a model without arms.

    Parameters
    ----------
    outcomes
        :func:`~oncofusion.report.outcomes.predict_outcomes` of the patient, when already
        computed (a model without ``predict_arms``).
    """
    if hasattr(model, "predict_arms"):
        return _from_predict_arms(model, patient, n_draws, seed)
    if outcomes is not None and outcomes.arms:
        return _from_network(model, patient, outcomes, horizon)
    return None
