"""MM-Care's evaluation tables (paper Tables 1, 3-5 and 7) from per-arm predictions.

Each arm's predictions are scored on the test patients who received that arm, against
their observed outcomes (the only outcomes observed):

* OS (:func:`os_table`): Uno's C-index truncated at each horizon :math:`\\tau` of the risk
  :math:`1 - P_{OS}(\\tau)`, and the cumulative/dynamic AUC at :math:`\\tau`, both with the
  censoring distribution of the training patients;
* LC (:func:`lc_table`): AUC at each LC horizon (local failure by :math:`h`, IPCW), and
  accuracy, sensitivity, specificity of ``1 - P_LC(h) >= c`` among patients whose status at
  :math:`h` is known, with :math:`c` locked on the validation patients of that arm (Youden);
* calibration (:func:`calibration_rows`): the Hosmer-Lemeshow test among patients whose
  status at :math:`\\tau` is known (the paper's test) and its censoring-aware form, the
  D'Agostino-Nam test (Kaplan-Meier per risk group).

A metric that is undefined on a small group (no event, no comparable pair) is NaN, and the
reason is kept in ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import OncofusionError
from oncofusion.models.mmcare_outputs import ArmPredictions

__all__ = [
    "Outcomes",
    "calibration_rows",
    "calibration_table",
    "lc_table",
    "lc_thresholds",
    "os_table",
    "safe",
]


class Outcomes:
    """Observed OS and LC outcomes of a set of patients, in prediction order."""

    def __init__(self, patients: pd.DataFrame, patient_ids: Sequence[str]) -> None:
        p = patients.set_index(patients["patient_id"].astype(str)).loc[
            [str(i) for i in patient_ids]
        ]
        self.time = p["time"].to_numpy(float)
        self.event = p["event"].to_numpy(int)
        self.arm = p["arm"].astype(str).to_numpy() if "arm" in p else np.full(len(p), "")
        has = "lc_time" in p and "lc_event" in p
        self.lc_time = (
            pd.to_numeric(p["lc_time"], errors="coerce").to_numpy(float)
            if has
            else np.full(len(p), np.nan)
        )
        self.lc_event = (
            pd.to_numeric(p["lc_event"], errors="coerce").to_numpy(float)
            if has
            else np.full(len(p), np.nan)
        )
        self.patients = p


def safe(notes: list[str], what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``, or NaN with a note when the metric is undefined on these patients."""
    try:
        return fn(*args, **kwargs)
    except (OncofusionError, ValueError) as e:
        notes.append(f"{what}: {e}")
        return float("nan")


def _known(time: np.ndarray, event: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(y, known): event by ``h``; status known (event by h, or followed to h)."""
    y = (event == 1) & (time <= h)
    return y, y | (time >= h)


def os_table(
    preds: ArmPredictions,
    out: Outcomes,
    *,
    train_time: np.ndarray | None,
    train_event: np.ndarray | None,
    horizons: Sequence[float],
    notes: list[str],
) -> pd.DataFrame:
    """C-index and td-AUC of OS at each horizon, per arm and for the arm received."""
    from oncofusion.metrics import concordance_index_uno, time_dependent_auc

    surv = preds.os_at(list(horizons))
    idx = preds.received_index()
    groups = [(a, idx == j, surv[:, j]) for j, a in enumerate(preds.arms)]
    groups.append(("received arm", idx >= 0, surv[np.arange(len(idx)), np.clip(idx, 0, None)]))
    rows = []
    for name, m, s in groups:
        for t, h in enumerate(horizons):
            risk = 1.0 - s[m, t]
            tag = f"OS {name} {h:g}"
            rows.append({
                "arm": name, "horizon": float(h), "n": int(m.sum()), "events": int(out.event[m].sum()),
                "c_index": float(safe(notes, f"{tag} C-index", concordance_index_uno, out.time[m], out.event[m], risk,
                                      tau=float(h), train_time=train_time, train_event=train_event)),
                "td_auc": float(safe(notes, f"{tag} td-AUC", lambda *a: time_dependent_auc(*a).auc[0], out.time[m],
                                     out.event[m], risk, [float(h)], train_time, train_event)),
                "mean_p_os": float(np.mean(s[m, t])) if m.any() else float("nan"),
            })  # fmt: skip
    return pd.DataFrame(rows)


def _lc_groups(
    preds: ArmPredictions, out: Outcomes, h: float
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, patient mask, predicted local-failure risk at h) per arm and for the arm received."""
    idx = preds.received_index()
    lc = preds.lc_at(h)
    has = np.isfinite(out.lc_time)
    groups = [(a, (idx == j) & has, 1.0 - lc[:, j]) for j, a in enumerate(preds.arms)]
    groups.append(
        ("received arm", (idx >= 0) & has, 1.0 - lc[np.arange(len(idx)), np.clip(idx, 0, None)])
    )
    return groups


def lc_thresholds(
    preds: ArmPredictions, out: Outcomes, notes: list[str]
) -> dict[tuple[str, float], float]:
    """Youden thresholds on the predicted local-failure risk, per arm (and pooled) and LC
    horizon; 0.5 where the validation patients have no case or no control."""
    from oncofusion.metrics import youden_threshold

    found: dict[tuple[str, float], float] = {}
    for h in preds.lc_horizons:
        for name, m, risk in _lc_groups(preds, out, float(h)):
            c = safe(
                notes,
                f"LC threshold {name} {h:g}",
                youden_threshold,
                out.lc_time[m],
                out.lc_event[m].astype(int),
                risk[m],
                float(h),
            )
            found[(name, float(h))] = float(c) if np.isfinite(float(c)) else 0.5
    return found


def lc_table(
    preds: ArmPredictions,
    out: Outcomes,
    *,
    thresholds: dict[tuple[str, float], float],
    train_time: np.ndarray | None,
    train_event: np.ndarray | None,
    notes: list[str],
) -> pd.DataFrame:
    """AUC, accuracy, sensitivity, specificity of local control per arm and LC horizon."""
    from oncofusion.metrics import time_dependent_auc

    rows = []
    for h in preds.lc_horizons:
        h = float(h)
        for name, m, risk_all in _lc_groups(preds, out, h):
            t, e, risk = out.lc_time[m], out.lc_event[m].astype(int), risk_all[m]
            y, known = _known(t, e, h)
            c = thresholds.get((name, h), 0.5)
            pos = risk >= c
            yk, pk = y[known], pos[known]
            tp, tn = int((yk & pk).sum()), int((~yk & ~pk).sum())
            n_case, n_ctrl = int(yk.sum()), int((~yk).sum())
            rows.append({
                "arm": name, "horizon": h, "n_known": int(known.sum()), "failures": n_case,
                "auc": float(safe(notes, f"LC {name} {h:g} AUC", lambda *z: time_dependent_auc(*z).auc[0], t, e, risk,
                                  [h - 1e-9 * max(1.0, h)], train_time, train_event)),
                "accuracy": (tp + tn) / known.sum() if known.any() else float("nan"),
                "sensitivity": tp / n_case if n_case else float("nan"),
                "specificity": tn / n_ctrl if n_ctrl else float("nan"),
                "threshold": float(c), "mean_p_lc": float(np.mean(1.0 - risk)) if m.any() else float("nan"),
            })  # fmt: skip
    return pd.DataFrame(rows)


def calibration_rows(
    name: str,
    arm: str,
    time: np.ndarray,
    event: np.ndarray,
    p_good: np.ndarray,
    h: float,
    notes: list[str],
) -> dict[str, Any]:
    """Hosmer-Lemeshow (known status at ``h``) and D'Agostino-Nam tests of a predicted
    probability of a good outcome ``p_good`` at ``h`` (risk ``1 - p_good``)."""
    from oncofusion.metrics import dagostino_nam, hosmer_lemeshow

    y, known = _known(time, event, h)
    risk = np.clip(1.0 - p_good, 1e-6, 1 - 1e-6)
    groups = int(min(10, max(3, known.sum() // 15)))
    hl = safe(
        notes,
        f"HL {name} {arm}",
        hosmer_lemeshow,
        y[known].astype(int),
        risk[known],
        n_groups=groups,
    )
    dn = safe(
        notes,
        f"D'Agostino-Nam {name} {arm}",
        dagostino_nam,
        time,
        event,
        risk,
        h - 1e-9 * max(1.0, h),
        n_groups=groups,
    )
    observed = float(1.0 - y[known].mean()) if known.any() else float("nan")
    return {
        "outcome": name, "arm": arm, "horizon": float(h), "n": len(time), "n_known": int(known.sum()),
        "mean_predicted": float(np.mean(p_good)) if len(p_good) else float("nan"), "observed_known": observed,
        "hl_statistic": getattr(hl, "statistic", float("nan")), "hl_df": getattr(hl, "df", float("nan")),
        "hl_p": getattr(hl, "p_value", float("nan")),
        "dn_statistic": getattr(dn, "statistic", float("nan")), "dn_p": getattr(dn, "p_value", float("nan")),
    }  # fmt: skip


def calibration_table(
    preds: ArmPredictions, out: Outcomes, *, os_horizon: float, notes: list[str]
) -> pd.DataFrame:
    """Calibration of OS at ``os_horizon`` and LC at the last LC horizon, per arm."""
    import warnings

    idx = preds.received_index()
    rows = []
    p_os = preds.os_at([os_horizon])[..., 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j, a in enumerate(preds.arms):
            m = idx == j
            rows.append(
                calibration_rows("OS", a, out.time[m], out.event[m], p_os[m, j], os_horizon, notes)
            )
            if len(preds.lc_horizons):
                h = float(preds.lc_horizons[-1])
                ml = m & np.isfinite(out.lc_time)
                rows.append(
                    calibration_rows(
                        "LC",
                        a,
                        out.lc_time[ml],
                        out.lc_event[ml].astype(int),
                        preds.lc_at(h)[ml, j],
                        h,
                        notes,
                    )
                )
    return pd.DataFrame(rows)
