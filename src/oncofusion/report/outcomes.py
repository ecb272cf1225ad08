"""Predicted outcomes for a report: risk curves with an MC-dropout band, per arm where the
model has arms, conditional on a landmark after a follow-up visit.

Everything is read off the network output (``docs/internals.md``): a discrete-time block
``{"hazard": (B, K)}`` or, for a per-arm model (MM-Care), ``{arm: {"hazard", "lc_risk" |
"lc_hazard"}}``. On the grid :math:`c_0 < \\dots < c_K`,

.. math:: S(c_k) = \\prod_{l \\le k} (1 - h_l), \\qquad F(c_k) = 1 - S(c_k),

and after a visit at :math:`s` the curve is conditional on being event-free at :math:`s`,
:math:`S(t \\mid T > s) = S(t) / S(s)` (van Houwelingen 2007), exactly as
:meth:`DiscreteTimePredictor.predict` with ``landmark=s``.

**The band.** Dropout layers are switched on at prediction time and the patient is scored
``n_draws`` times (Monte-Carlo dropout; Gal & Ghahramani 2016); the band is the 5th-95th
percentile of those curves. It shows how much the prediction moves under the model's own
dropout noise. It is not a confidence interval: it leaves out the sampling variability of
the training cohort, so it is a lower bound on the uncertainty, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BAND_QUANTILES",
    "ArmOutput",
    "Curve",
    "Outcomes",
    "band_label",
    "curve_on_grid",
    "has_dropout",
    "predict_outcomes",
    "risk_at",
    "surv_at",
]

BAND_QUANTILES = (0.05, 0.95)


def band_label(n_draws: int) -> str:
    """How the band was made, in words a reader can check."""
    lo, hi = (round(100 * q) for q in BAND_QUANTILES)
    return (f"band: {lo}th–{hi}th percentile of {n_draws} Monte-Carlo-dropout passes "
            "(model uncertainty only; not a confidence interval)")


@dataclass
class ArmOutput:
    """One output block for a set of patients.

    ``hazard`` (n, K) conditional hazards (point prediction, dropout off); ``hazard_draws``
    (D, n, K) with dropout on, or None; ``lc`` (n, J) the local-failure output (binary
    probabilities by each LC horizon, or LC hazards, see ``lc_kind``) and ``lc_draws``.
    """

    hazard: np.ndarray
    hazard_draws: np.ndarray | None = None
    lc: np.ndarray | None = None
    lc_draws: np.ndarray | None = None
    lc_kind: str | None = None


@dataclass
class Outcomes:
    """Network outputs of some patients: ``blocks[None]`` for a single-outcome model,
    ``blocks[arm]`` for each arm of a per-arm model."""

    patient_ids: list[str]
    cuts: np.ndarray
    blocks: dict[str | None, ArmOutput]

    @property
    def arms(self) -> list[str]:
        return [a for a in self.blocks if a is not None]


def has_dropout(network: Any) -> bool:
    """Whether ``network`` has a dropout layer with p > 0 (so MC dropout gives a band)."""
    from torch import nn

    return any(isinstance(m, nn.modules.dropout._DropoutNd) and float(m.p) > 0 for m in network.modules())


def _blocks(output: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    if isinstance(output.get("arms"), dict):  # {"arms": {arm: block}, "received": ...}
        output = output["arms"]
    arms: dict[str | None, dict[str, Any]] = {
        k: v for k, v in output.items() if isinstance(v, dict) and "hazard" in v}
    return arms if arms else {None: output}


def _lc(block: dict[str, Any]) -> tuple[Any, str | None]:
    if "lc_risk" in block:
        return block["lc_risk"], "binary"
    if "lc_hazard" in block:
        return block["lc_hazard"], "discrete_time"
    return None, None


def _forward(network: Any, batch: Any) -> dict[str | None, dict[str, np.ndarray]]:
    out = _blocks(network(batch))
    res: dict[str | None, dict[str, np.ndarray]] = {}
    for key, block in out.items():
        lc, kind = _lc(block)
        res[key] = {"hazard": block["hazard"].float().cpu().numpy().astype(np.float64)}
        if lc is not None:
            res[key]["lc"] = lc.float().cpu().numpy().astype(np.float64)
            res[key]["lc_kind"] = kind  # type: ignore[assignment]
    return res


def _dataset(model: Any, cohort: Any, max_visit_time: float | None) -> Any:
    if max_visit_time is None:
        return model.make_dataset(cohort)
    return model.make_dataset(cohort, max_visit_time=max_visit_time)


def predict_outcomes(model: Any, cohort: Any, *, max_visit_time: float | None = None, n_draws: int = 0,
                     seed: int = 0, batch_size: int = 32) -> Outcomes:
    """Point predictions (and MC-dropout draws) of every patient of ``cohort``.

    Parameters
    ----------
    model
        A fitted predictor: ``network``, ``make_dataset(cohort, max_visit_time=...)``, ``cuts``.
    cohort
        The patients to score.
    max_visit_time
        Use biomarker visits up to this time only (a landmark); default the model's baseline.
    n_draws
        Monte-Carlo-dropout passes per patient (0: none). Seeded by ``seed``: the same
        seed gives the same band.
    """
    import torch

    from oncofusion.data.collate import collate_patients

    network = model.network
    dataset = _dataset(model, cohort, max_visit_time)
    ids: list[str] = []
    point: dict[str | None, dict[str, list[np.ndarray]]] = {}
    draws: dict[str | None, dict[str, list[np.ndarray]]] = {}
    kinds: dict[str | None, str | None] = {}
    dropouts = [m for m in network.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            for start in range(0, len(dataset), batch_size):
                samples = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
                batch = collate_patients(samples)
                ids.extend(str(p) for p in batch["patient_id"])
                for key, res in _forward(network, batch).items():
                    slot = point.setdefault(key, {})
                    for name in ("hazard", "lc"):
                        if name in res:
                            slot.setdefault(name, []).append(res[name])
                    kinds[key] = res.get("lc_kind")  # type: ignore[assignment]
                if n_draws > 0 and dropouts:
                    for m in dropouts:
                        m.train()
                    for sample in samples:
                        per: dict[str | None, dict[str, list[np.ndarray]]] = {}
                        for d0 in range(0, n_draws, 25):
                            rep = collate_patients([sample] * min(25, n_draws - d0))
                            for key, res in _forward(network, rep).items():
                                for name in ("hazard", "lc"):
                                    if name in res:
                                        per.setdefault(key, {}).setdefault(name, []).append(res[name])
                        for key, slot in per.items():
                            for name, parts in slot.items():
                                draws.setdefault(key, {}).setdefault(name, []).append(np.concatenate(parts)[:, None])
                    for m in dropouts:
                        m.eval()
    finally:
        network.train(was_training)
    blocks: dict[str | None, ArmOutput] = {}
    for key, slot in point.items():
        d = draws.get(key, {})
        blocks[key] = ArmOutput(
            hazard=np.concatenate(slot["hazard"]),
            hazard_draws=np.concatenate(d["hazard"], axis=1) if "hazard" in d else None,
            lc=np.concatenate(slot["lc"]) if "lc" in slot else None,
            lc_draws=np.concatenate(d["lc"], axis=1) if "lc" in d else None,
            lc_kind=kinds.get(key),
        )
    return Outcomes(patient_ids=ids, cuts=np.asarray(model.cuts, dtype=np.float64), blocks=blocks)


@dataclass
class Curve:
    """A cumulative-risk curve :math:`F(t)` on ``times`` (starting at the landmark with 0),
    with its band (None without draws) and the risk at chosen horizons."""

    times: np.ndarray
    risk: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    landmark: float


def _surv(hazard: np.ndarray) -> np.ndarray:
    return np.cumprod(1.0 - np.clip(hazard, 0.0, 1.0), axis=-1)


def _conditional(surv: np.ndarray, cuts: np.ndarray, s: float, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    from oncofusion.survival.transforms import landmark_conditional

    if s <= max(baseline, float(cuts[0])):
        return surv, cuts
    cond, grid = landmark_conditional(surv, cuts, s)
    return np.asarray(cond, dtype=np.float64), np.asarray(grid, dtype=np.float64)


def curve_on_grid(hazard: np.ndarray, cuts: np.ndarray, *, surv_draws: np.ndarray | None = None,
                  landmark: float = 0.0, baseline: float = 0.0) -> Curve:
    """The cumulative-risk curve of one patient from its hazards (K,), with the band of the
    draws of :math:`S(c_k)` (D, K) when given; conditional on ``landmark`` when it is after
    the baseline."""
    surv, grid = _conditional(_surv(hazard[None]), cuts, landmark, baseline)
    times = np.asarray(grid, dtype=np.float64)
    risk = np.concatenate([[0.0], 1.0 - surv[0]])
    low = high = None
    if surv_draws is not None and len(surv_draws) > 1:
        ds, _ = _conditional(np.clip(surv_draws, 1e-12, 1.0), cuts, landmark, baseline)
        dr = np.concatenate([np.zeros((len(ds), 1)), 1.0 - ds], axis=1)
        low, high = np.quantile(dr, BAND_QUANTILES, axis=0)
        low, high = np.minimum(low, risk), np.maximum(high, risk)
    return Curve(times=times, risk=risk, low=low, high=high, landmark=float(times[0]))


def surv_draws_of(hazard_draws: np.ndarray | None) -> np.ndarray | None:
    """:math:`S(c_k)` of hazard draws (D, K), or None."""
    return None if hazard_draws is None else _surv(hazard_draws)


def surv_at(surv: np.ndarray, cuts: np.ndarray, t: float) -> np.ndarray:
    """:math:`S(t)` of curves ``surv`` (..., K) on ``cuts`` (piecewise-constant hazard, held
    past the grid), shape (...)."""
    from oncofusion.survival.transforms import interpolate_survival

    flat = np.clip(np.asarray(surv, np.float64).reshape(-1, surv.shape[-1]), 1e-12, 1.0)
    out = interpolate_survival(flat, np.asarray(cuts, np.float64), np.asarray([float(t)]), beyond="hold")
    return np.asarray(out)[:, 0].reshape(surv.shape[:-1])


def risk_at(curve_times: np.ndarray, risk: np.ndarray, t: float) -> float:
    """:math:`F(t)` between grid points with a piecewise-constant hazard (as
    :meth:`Prediction.surv_at`); held flat past the last point."""
    from oncofusion.survival.transforms import interpolate_survival

    surv = np.clip(1.0 - np.asarray(risk[1:], dtype=np.float64), 1e-12, 1.0)
    s = interpolate_survival(surv[None], curve_times, np.asarray([float(t)]), beyond="hold")
    return float(1.0 - np.asarray(s)[0, 0])
