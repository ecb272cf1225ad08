"""Does updating the prediction with follow-up visits help? (the dynamic-prediction check)

Among test patients still event-free and under follow-up at landmark ``s``, compare the
discrimination, for events in :math:`(s, \\tau]`, of

* the baseline prediction read conditionally, :math:`(F(\\tau) - F(s)) / (1 - F(s))`, and
* the updated prediction from all data up to ``s`` (``model.predict(..., landmark=s)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["landmark_update_table"]


def landmark_update_table(
    models: dict[str, Any], cohort: Any, test_ids: list[str], *, landmark: float, horizon: float,
    oracle: pd.DataFrame | None = None, train: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """AUC at ``horizon`` among patients at risk at ``landmark``: baseline vs updated.

    ``oracle`` (optional): columns ``patient_id``, ``baseline``, ``updated`` with the true
    conditional risks (from a simulator's truth) for the same comparison.
    """
    from oncofusion.evaluation.run import usable_horizon
    from oncofusion.metrics import time_dependent_auc

    test = cohort.subset(test_ids)
    pts = test.patients
    at_risk = pts[pts["time"] > landmark]
    sub = test.subset(at_risk["patient_id"].tolist())
    time = sub.patients["time"].to_numpy(float)
    event = sub.patients["event"].to_numpy(int)
    h = usable_horizon(horizon, time)
    rows = []

    def auc(risk: np.ndarray) -> float:
        tt = train["time"].to_numpy(float) if train is not None else None
        te = train["event"].to_numpy(int) if train is not None else None
        return float(time_dependent_auc(time, event, risk, [h], train_time=tt, train_event=te).auc[0])

    n_events = int(((time <= horizon) & (event == 1)).sum())
    for name, model in models.items():
        base = model.predict(sub)
        f = 1.0 - base.surv_at([landmark, h])
        cond = (f[:, 1] - f[:, 0]) / np.clip(1.0 - f[:, 0], 1e-12, None)
        upd = model.predict(sub, landmark=landmark).risk_at(h)
        rows.append({"model": name, "landmark": landmark, "horizon": horizon, "n_at_risk": len(sub),
                     "events": n_events, "auc_baseline": auc(cond), "auc_updated": auc(upd)})
    if oracle is not None:
        o = oracle.set_index("patient_id").loc[sub.patients["patient_id"]]
        rows.append({"model": "oracle", "landmark": landmark, "horizon": horizon, "n_at_risk": len(sub),
                     "events": n_events, "auc_baseline": auc(o["baseline"].to_numpy(float)),
                     "auc_updated": auc(o["updated"].to_numpy(float))})
    out = pd.DataFrame(rows)
    out["gain"] = out["auc_updated"] - out["auc_baseline"]
    return out.rename(columns={
        "landmark": "Landmark", "horizon": "Horizon", "n_at_risk": "At risk at landmark",
        "events": "Events in (landmark, horizon]", "auc_baseline": "AUC, baseline prediction",
        "auc_updated": "AUC, updated with visits to landmark", "gain": "Gain",
    })
