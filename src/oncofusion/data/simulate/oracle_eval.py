"""Metrics of the oracle risks of a simulated CRLM cohort on any split.

The metrics come from :mod:`oncofusion.metrics` (cumulative/dynamic IPCW AUC, Uno's C, IPCW
Brier score and its integral); where that package cannot be imported, from
scikit-survival's ``cumulative_dynamic_auc``, ``concordance_index_ipcw``, ``brier_score``
and ``integrated_brier_score`` (the reference it is tested against). The censoring
distribution is estimated from the evaluated patients themselves.

The metrics need time points strictly inside the follow-up, and every censored patient
without an event is followed to exactly 12 months, so "12 months" is evaluated at
:math:`12 - 10^{-6}` (no event time lies in between: times are floored to 0.001 month).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError, SurvivalInputError

if TYPE_CHECKING:
    from oncofusion.data.simulate.writer import SimulatedCohort

__all__ = ["oracle_metrics"]

_SUBSETS = ("clinical", "imaging", "markers", "all")
_HORIZONS = (3, 6, 9, 12)
_LANDMARK = 4


class _Backend:
    """The four metrics, from oncofusion.metrics or (fallback) scikit-survival."""

    def __init__(self) -> None:
        try:
            from oncofusion import metrics as m

            self._m: Any = m
            self.name = "oncofusion.metrics"
            _ = (
                m.time_dependent_auc,
                m.concordance_index_uno,
                m.brier_score,
                m.integrated_brier_score,
            )
        except (ImportError, AttributeError):
            self._m = None
            self.name = "sksurv.metrics"

    @staticmethod
    def _y(time: np.ndarray, event: np.ndarray) -> np.ndarray:
        from sksurv.util import Surv

        return Surv.from_arrays(event.astype(bool), time)

    def auc(self, time, event, risk, times) -> tuple[np.ndarray, float]:
        if self._m is not None:
            r = self._m.time_dependent_auc(time, event, risk, times)
            return np.asarray(r.auc), float(r.mean_auc)
        from sksurv.metrics import cumulative_dynamic_auc

        y = self._y(time, event)
        auc, mean = cumulative_dynamic_auc(y, y, risk, times)
        return np.asarray(auc), float(mean)

    def uno(self, time, event, risk) -> float:
        if self._m is not None:
            return float(self._m.concordance_index_uno(time, event, risk))
        from sksurv.metrics import concordance_index_ipcw

        y = self._y(time, event)
        return float(concordance_index_ipcw(y, y, risk)[0])

    def brier(self, time, event, surv, times) -> np.ndarray:
        if self._m is not None:
            return np.asarray(self._m.brier_score(time, event, surv, times))
        from sksurv.metrics import brier_score

        y = self._y(time, event)
        return np.asarray(brier_score(y, y, surv, times)[1])

    def ibs(self, time, event, surv, times) -> float:
        if self._m is not None:
            return float(self._m.integrated_brier_score(time, event, surv, times))
        from sksurv.metrics import integrated_brier_score

        y = self._y(time, event)
        return float(integrated_brier_score(y, y, surv, times))


def _read(
    cohort: SimulatedCohort | str | os.PathLike[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if isinstance(cohort, (str, os.PathLike)):
        root = Path(cohort)
        files = {
            name: root / name
            for name in ("patients.csv", "truth/oracle_risk.csv", "truth/dynamic_risk.csv")
        }
        for rel, f in files.items():
            if not f.is_file():
                raise CohortError(
                    "oracle metrics need a cohort written by 'oncofusion simulate crlm'; this file is missing.",
                    file=str(rel),
                    fix="pass the directory of a simulated CRLM cohort (with its truth/ folder).",
                )

        def read(f: Path) -> pd.DataFrame:
            return pd.read_csv(f, dtype={"patient_id": str})

        patients = read(files["patients.csv"])[["patient_id", "time", "event"]]
        return patients, read(files["truth/oracle_risk.csv"]), read(files["truth/dynamic_risk.csv"])
    truth = getattr(cohort, "truth", {})
    if "oracle_risk" not in truth or "dynamic_risk" not in truth:
        raise CohortError(
            "oracle metrics need a simulated CRLM cohort; this one has no oracle risks in its truth.",
            fix="simulate it with oncofusion.data.simulate.simulate_crlm.",
        )
    return (
        cohort.patients[["patient_id", "time", "event"]],
        truth["oracle_risk"],
        truth["dynamic_risk"],
    )


def _inside(
    labels: Sequence[int], time: np.ndarray, event: np.ndarray, *, need_event: bool
) -> tuple[np.ndarray, list[int]]:
    """Evaluation times for the month ``labels``, moved just inside the follow-up.

    The largest observed time is excluded (a time there becomes ``max - 1e-6``); times before
    the first observed time (or, with ``need_event``, the first event) are dropped, and so are
    labels that land on an already used time. Returns the times and their labels.
    """
    hi = float(time.max())
    lo = float(time[event == 1].min()) if need_event and event.any() else float(time.min())
    if need_event and not event.any():
        return np.empty(0), []
    times: list[float] = []
    kept: list[int] = []
    for m in labels:
        t = min(float(m), hi - 1e-6)
        if t >= lo and (not times or t > times[-1]):
            times.append(t)
            kept.append(int(m))
    return np.asarray(times), kept


def oracle_metrics(
    cohort: SimulatedCohort | str | os.PathLike[str],
    patient_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Discrimination and calibration of the CRLM oracle risks on a split.

    For each modality subset (``clinical``, ``imaging``, ``markers``, ``all``) the oracle
    cumulative risk :math:`F_M(t) = P(T \\le t \\mid M)` is scored with: ``auc_3`` ...
    ``auc_12`` (cumulative/dynamic AUC of :math:`F_M(t)` at t), ``iauc`` (its integrated
    mean over months 1-12), ``uno_c`` (Uno's C of :math:`F_M(12)`), ``brier_12`` and ``ibs``
    (months 1-12) of :math:`S_M(t) = 1 - F_M(t)`. Two more rows score the patients still at
    risk at month 4, for events in (4, 12]: ``all_baseline_m4`` uses the baseline data,
    :math:`(F(12) - F(4)) / (1 - F(4))`, and ``all_updated_m4`` the data up to month 4
    (``truth/dynamic_risk.csv``, column ``m04``); the gap is the value of updating.

    Parameters
    ----------
    cohort
        A simulated CRLM cohort or the directory it was written to.
    patient_ids
        Score only these patients (a test split, say); all when omitted.

    Returns
    -------
    pandas.DataFrame
        Long format: ``subset``, ``metric``, ``value``, ``n`` (patients scored), ``events``
        (events among them). Metrics undefined on the split (no event before 3 months, say)
        are left out with one warning. ``attrs["backend"]`` names the metrics package used.
    """
    patients, oracle, dynamic = _read(cohort)
    if patient_ids is not None:
        wanted = pd.Index([str(p) for p in patient_ids])
        unknown = wanted.difference(patients["patient_id"])
        if len(unknown):
            raise CohortError(
                f"{len(unknown)} of the requested patients are not in the cohort: {list(unknown[:5])}.",
                file="patients.csv",
                fix="pass ids from the cohort's patient_id column.",
            )
        patients = (
            patients.set_index("patient_id").loc[wanted].rename_axis("patient_id").reset_index()
        )
    frame = patients.merge(oracle, on="patient_id", how="left").merge(
        dynamic, on="patient_id", how="left"
    )
    time = frame["time"].to_numpy(np.float64)
    event = frame["event"].to_numpy(np.int64)
    be = _Backend()
    rows: list[tuple[str, str, float, int, int]] = []
    skipped: list[str] = []

    def add(subset: str, metric: str, mask: np.ndarray, fn: Callable[..., Any], *args: Any) -> None:
        try:
            value = float(fn(*args))
        except SurvivalInputError as exc:
            skipped.append(f"{subset}/{metric} ({exc})")
            return
        rows.append((subset, metric, value, int(mask.sum()), int(event[mask].sum())))

    everyone = np.ones(time.size, bool)
    months = list(range(1, 13))
    t_12, lab_12 = _inside([12], time, event, need_event=False)
    t_i, lab_i = _inside(months, time, event, need_event=True)
    t_b, lab_b = _inside(months, time, event, need_event=False)
    for s in _SUBSETS:
        risk = {m: frame[f"{s}_{m:02d}"].to_numpy(np.float64) for m in months}
        cols = lambda labels, r=risk: np.column_stack([r[m] for m in labels])
        for h in _HORIZONS:
            t_h, lab = _inside([h], time, event, need_event=True)
            if not lab:
                skipped.append(f"{s}/auc_{h} (no event by {h} months)")
                continue
            add(s, f"auc_{h}", everyone, lambda *a: be.auc(*a)[0][0], time, event, cols(lab), t_h)
        add(s, "iauc", everyone, lambda *a: be.auc(*a)[1], time, event, cols(lab_i), t_i)
        add(s, "uno_c", everyone, be.uno, time, event, risk[12])
        add(
            s,
            "brier_12",
            everyone,
            lambda *a: be.brier(*a)[0],
            time,
            event,
            1.0 - cols(lab_12),
            t_12,
        )
        add(s, "ibs", everyone, be.ibs, time, event, 1.0 - cols(lab_b), t_b)

    at_risk = time > _LANDMARK
    tl, el = time[at_risk], event[at_risk]
    f4, f12 = frame["all_04"].to_numpy()[at_risk], frame["all_12"].to_numpy()[at_risk]
    landmark_risk = {
        "all_baseline_m4": (f12 - f4) / np.clip(1.0 - f4, 1e-12, None),
        "all_updated_m4": frame[f"m{_LANDMARK:02d}"].to_numpy(np.float64)[at_risk],
    }
    t12l = _inside([12], tl, el, need_event=True)[0] if at_risk.any() else np.empty(0)
    if t12l.size == 0:
        skipped.append("landmark month 4 (no patient at risk at month 4 with a later event)")
    else:
        t12b = _inside([12], tl, el, need_event=False)[0]
        for name, r in landmark_risk.items():
            add(name, "auc_12", at_risk, lambda *a: be.auc(*a)[0][0], tl, el, r[:, None], t12l)
            add(name, "uno_c", at_risk, be.uno, tl, el, r)
            add(
                name,
                "brier_12",
                at_risk,
                lambda *a: be.brier(*a)[0],
                tl,
                el,
                (1.0 - r)[:, None],
                t12b,
            )
    if skipped:
        warnings.warn(
            "oracle_metrics: left out undefined metrics: " + "; ".join(skipped),
            UserWarning,
            stacklevel=2,
        )
    out = pd.DataFrame(rows, columns=["subset", "metric", "value", "n", "events"])
    out.attrs["backend"] = be.name
    return out
