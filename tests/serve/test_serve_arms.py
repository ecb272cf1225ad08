"""Models with treatment arms (MM-Care's prediction objects): per-arm outcomes and the
recommendation in the answers and the audit trail; no follow-up updates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from conftest import AUTH, make_record
from oncofusion.models.mmcare_outputs import ArmPredictions


class ArmModel:
    """A stand-in with MM-Care's interface: constant hazards per arm (sbrt 0.05, surgery 0.10)."""

    HAZARD: ClassVar[dict[str, float]] = {"sbrt": 0.05, "surgery": 0.10}

    def __init__(self, base: Any) -> None:
        self.schema = base.schema
        self.cuts = np.asarray(base.cuts, float)
        self.horizons = [3.0, 6.0, 12.0]
        self.config = base.config

    def arms_of(self, ids: list[str], received: list[str]) -> ArmPredictions:
        n, k, arms = len(ids), len(self.cuts) - 1, list(self.schema.arms)
        hazard = np.stack([np.full((n, k), self.HAZARD[a]) for a in arms], axis=1)
        return ArmPredictions(
            patient_ids=ids, arms=arms, cuts=self.cuts, os_hazard=hazard, lc_horizons=np.array([6.0, 12.0]),
            lc_control=np.stack([np.full((n, 2), 0.9), np.full((n, 2), 0.8)], axis=1),
            received=np.array(received, dtype=object), propensity=np.tile([0.3, 0.7], (n, 1)),
            outside_support=np.zeros(n, bool), os_horizons=self.horizons,
        )  # fmt: skip

    def predict_arms(self, cohort: Any) -> ArmPredictions:
        return self.arms_of(cohort.patient_ids, cohort.patients["arm"].fillna("").astype(str).tolist())

    def predict_records(self, records: list[dict[str, Any]], *, root: Any = None) -> ArmPredictions:
        return self.arms_of([r["patient_id"] for r in records], [r.get("arm") or "" for r in records])

    def recommend(self, arms: ArmPredictions) -> Any:
        return arms.recommend(alpha=0.7, beta=0.3, horizon=12.0)

    def predict(self, cohort: Any, landmark: float | None = None) -> Any:
        per_arm = self.predict_arms(cohort)
        pred = per_arm.received_prediction()
        pred.recommendation = per_arm.recommend(alpha=0.7, beta=0.3, horizon=12.0)
        return pred


@pytest.fixture
def arm_scorer(scorer: Any) -> Any:
    from oncofusion.serve.scoring import ModelInfo, ScoringModel

    info = ModelInfo(name="arm-model", family="mmcare", version="v1", checksum="a" * 64, format_version=1,
                     oncofusion_version=None, run_dir=Path("."))
    return ScoringModel(ArmModel(scorer.model), info)


def test_per_arm_outcomes_and_recommendation(arm_scorer: Any, settings_for: Any, sqlite_url: str) -> None:
    from fastapi.testclient import TestClient

    from oncofusion.serve.app import create_app

    client = TestClient(create_app(settings=settings_for(sqlite_url), scorer=arm_scorer))
    r = client.post("/predict", json={"records": [make_record("p1", arm="surgery")]}, headers=AUTH)
    assert r.status_code == 200, r.text
    pred = r.json()["predictions"][0]
    k = len(pred["cuts"]) - 1
    np.testing.assert_allclose(pred["hazard"], [0.10] * k)  # the curve under the received arm
    arms = {a["arm"]: a for a in pred["arms"]}
    assert set(arms) == {"sbrt", "surgery"}
    np.testing.assert_allclose(arms["sbrt"]["survival"], 0.95 ** np.arange(1, k + 1))
    s12 = arms["sbrt"]["survival_at_horizons"][-1]
    assert s12["time"] == 12.0 and s12["value"] == pytest.approx(0.95 ** k)
    assert [lc["value"] for lc in arms["surgery"]["local_control"]] == [0.8, 0.8]
    assert arms["surgery"]["propensity"] == pytest.approx(0.7)
    rec = pred["recommendation"]
    assert rec["recommended"] == "sbrt" and rec["horizon"] == 12.0
    u_sbrt, u_surg = 0.7 * 0.95 ** k + 0.3 * 0.9, 0.7 * 0.90 ** k + 0.3 * 0.8
    assert rec["benefit"] == pytest.approx(u_sbrt - u_surg)
    assert rec["utilities"] == {"sbrt": pytest.approx(u_sbrt), "surgery": pytest.approx(u_surg)}
    assert rec["benefit_low"] is None and rec["interval"] == "unavailable" and rec["outside_support"] is False
    # the audit trail keeps the per-arm block; the model has no follow-up updates
    _, rows = client.app.state.service.registry.history("p1")
    assert rows[0].arms["recommendation"]["recommended"] == "sbrt" and len(rows[0].arms["arms"]) == 2
    assert client.get("/model", headers=AUTH).json()["has_arm_outcomes"] is True
    r = client.post("/update", json={"record": make_record("p1"), "visits": [{"time": 1.0}]}, headers=AUTH)
    assert r.status_code == 501
    # a patient not treated yet (no arm): per-arm outcomes and the recommendation, no received-arm curve
    r = client.post("/predict", json={"records": [make_record("p2", arm=None)]}, headers=AUTH)
    assert r.status_code == 200, r.text
    new = r.json()["predictions"][0]
    assert new["hazard"] == [None] * k and new["survival"] == [None] * k
    assert all(h["value"] is None for h in new["horizons"])
    assert new["recommendation"]["recommended"] == "sbrt" and len(new["arms"]) == 2


def test_unknown_received_arm_gives_null_curve(arm_scorer: Any) -> None:
    model = arm_scorer.model
    pred = model.arms_of(["a", "b"], ["", "sbrt"]).received_prediction()
    out = arm_scorer._outputs(pred)
    assert out[0].hazard == [None] * len(out[0].hazard) and all(h.value is None for h in out[0].horizons)
    assert out[1].hazard[0] == pytest.approx(0.05)
