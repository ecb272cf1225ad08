"""Every route of the scoring service and every error it answers (FastAPI TestClient)."""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import numpy as np
import pytest

from conftest import AUTH, TOKEN, make_record
from oncofusion.data.records import cohort_from_records


def _post(client: Any, path: str, body: Any, **kw: Any) -> Any:
    return client.post(path, json=body, headers={**AUTH, **kw.pop("headers", {})}, **kw)


# ---------------------------------------------------------------------- health and model
def test_health_needs_no_token_and_reports_ok(client: Any) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "model": True, "database": True}
    assert len(r.headers["x-request-id"]) == 32


def test_health_is_503_when_the_database_is_gone(client: Any) -> None:
    from sqlalchemy import create_engine

    registry = client.app.state.service.registry
    registry.engine.dispose()
    registry.engine = create_engine("sqlite:////nonexistent-dir/x.sqlite")  # cannot be opened
    r = client.get("/health")
    assert r.status_code == 503
    assert r.json()["database"] is False and r.json()["status"] == "unavailable"


def test_model_describes_name_version_checksum_and_schema(client: Any, run_dir: Any) -> None:
    from oncofusion.models.run import file_sha256

    r = client.get("/model", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "tiny-serve" and body["family"] == "dmanet"
    assert body["checksum"] == file_sha256(run_dir / "checksums.json")
    assert body["format_version"] == 1
    assert body["record_schema"]["biomarkers"] == ["ezh2", "cd10"]
    assert body["modalities"] == ["biomarkers", "clinical"]
    assert body["supports_update"] is True and body["has_arm_outcomes"] is False
    assert body["cuts"][0] == 0.0 and len(body["cuts"]) == 7
    assert body["limits"]["max_batch"] == 64


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/model"), ("post", "/predict"), ("post", "/update"), ("get", "/report/p1"),
     ("post", "/patients/p1/visits"), ("get", "/patients/p1/history")],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_every_route_but_health_needs_the_token(client: Any, method: str, path: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = getattr(client, method)(path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized"


# ---------------------------------------------------------------------- predict
def test_predict_matches_the_model_and_is_audited(client: Any, scorer: Any) -> None:
    rec = make_record("p1")
    r = _post(client, "/predict", {"records": [rec, make_record("p2", clinical={"age": 40})]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["patient_id"] for p in body["predictions"]] == ["p1", "p2"]
    direct = scorer.model.predict(cohort_from_records([rec], scorer.schema, source="t"))
    got = body["predictions"][0]
    np.testing.assert_allclose(got["hazard"], direct.hazard[0], rtol=1e-6)
    np.testing.assert_allclose(got["survival"], direct.surv[0], rtol=1e-6)
    np.testing.assert_allclose(got["cumulative_risk"], 1 - direct.surv[0], rtol=1e-6)
    assert [h["time"] for h in got["horizons"]] == [3.0, 6.0, 12.0]
    assert math.isclose(got["horizons"][0]["value"], float(direct.risk_at(3.0)[0]), rel_tol=1e-6)
    assert got["landmark"] == 0.0 and got["arms"] is None and got["recommendation"] is None
    assert body["model"]["checksum"] == scorer.info.checksum
    counts = client.app.state.service.registry.counts()
    assert counts == {"patients": 2, "records": 2, "visits": 2, "predictions": 2}
    hist = client.get("/patients/p1/history", headers=AUTH).json()
    assert hist["trajectory"][0]["route"] == "/predict" and hist["trajectory"][0]["client"] == "default"
    assert hist["trajectory"][0]["model"] == body["model"]


def test_predict_at_a_landmark_uses_data_up_to_it(client: Any) -> None:
    rec = make_record("p1", visits=[{"time": 0.0, "ezh2": 1.9, "cd10": 44.0}, {"time": 3.0, "ezh2": 5.0}])
    r = _post(client, "/predict", {"records": [rec], "landmark": 3.0})
    assert r.status_code == 200
    pred = r.json()["predictions"][0]
    assert pred["landmark"] == 3.0 and pred["cuts"][0] == 3.0
    assert [h["time"] for h in pred["horizons"]] == [6.0, 12.0]


def test_predict_accepts_missing_values(client: Any) -> None:
    rec = make_record("p1", clinical={"age": None, "sex": "F"}, visits=[{"time": 0.0, "ezh2": 2.0}])
    r = _post(client, "/predict", {"records": [rec]})
    assert r.status_code == 200, r.text
    assert all(0 <= s <= 1 for s in r.json()["predictions"][0]["survival"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"records": [make_record(clinical={"agee": 61})]}, "records[0].clinical.agee"),
        ({"records": [make_record(colour="red")]}, "records[0].colour"),
        ({"records": [make_record()], "extra_field": 1}, "extra_field"),
        ({"records": [make_record(visits=[{"time": 0, "ezh3": 1.0}])]}, "records[0].visits[0].ezh3"),
        ({"records": [make_record(visits=[{"time": -1, "ezh2": 1.0}])]}, "records[0].visits[0].time"),
        ({"records": [make_record(visits=[{"ezh2": 1.0}])]}, "records[0].visits[0].time"),
        ({"records": [make_record(clinical={"age": "sixty"})]}, "records[0].clinical.age"),
        ({"records": [make_record(patient_id="a/b")]}, "records[0].patient_id"),
        ({"records": [make_record(arm="chemo")]}, "records[0].arm"),
        ({"records": []}, "records"),
        ({"record": make_record()}, "record"),
        ({"records": [make_record(genomics={"egfr": 1.0, "myc": 2.0})]}, "records[0].genomics.myc"),
    ],
)
def test_predict_rejects_invalid_fields_naming_them(client: Any, body: Any, field: str) -> None:
    r = _post(client, "/predict", body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["error"] == "validation_error"
    assert field in [e["field"] for e in err["errors"]], err


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (make_record(clinical={"sex": "X"}), "records[0].clinical.sex", "sex"),
        (make_record(visits=[{"time": 1.0, "ezh2": 1.0}, {"time": 1.0, "ezh2": 2.0}]), "records[0].visits.time",
         "more than one visit"),
        (make_record(images=[{"path": "../etc/passwd"}]), "records[0].images.path", "leaves"),
        (make_record(images=[{"path": "nope.npy"}]), "records[0].images.path", "does not exist"),
    ],
)
def test_predict_runs_the_cohort_validators(client: Any, record: Any, field: str, words: str) -> None:
    r = _post(client, "/predict", {"records": [record]})
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["error"] == "invalid_record"
    assert err["errors"][0]["field"] == field
    assert words in err["message"]
    assert client.app.state.service.registry.counts()["records"] == 0  # nothing stored


def test_a_patient_not_yet_treated_may_leave_the_arm_out(client: Any) -> None:
    treated = _post(client, "/predict", {"records": [make_record("p1")]})
    untreated = _post(client, "/predict", {"records": [make_record("p2", arm=None)]})
    assert treated.status_code == untreated.status_code == 200, untreated.text
    # the arm received is not an input of this model: the same record scores the same
    assert untreated.json()["predictions"][0]["hazard"] == treated.json()["predictions"][0]["hazard"]


def test_predict_batch_errors_name_the_record_or_the_patient(client: Any) -> None:
    r = _post(client, "/predict", {"records": [make_record("p1"), make_record("p1")]})
    assert r.status_code == 422 and "p1" in r.json()["message"]
    r = _post(client, "/predict", {"records": [make_record("p1"), make_record("p2", clinical={"sex": "X"})]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "records[].clinical.sex"
    bad_visit = make_record("p2", visits=[{"time": 2.0, "ezh2": 1.0}, {"time": 2.0}])
    r = _post(client, "/predict", {"records": [make_record("p1"), bad_visit]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "records[].visits.time"
    assert "p2" in r.json()["message"]


def test_predict_refuses_non_json_bodies(client: Any) -> None:
    r = client.post("/predict", content=b"records=1", headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    r = client.post("/predict", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = client.post("/predict", content=b'{"records": [{"patient_id": "p", "clinical": {"age": NaN}}]}',
                    headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 422 and "NaN" in r.json()["message"]


def test_predict_conflicting_visit_is_409_and_stores_nothing(client: Any) -> None:
    assert _post(client, "/predict", {"records": [make_record("p1")]}).status_code == 200
    changed = make_record("p1", visits=[{"time": 0.0, "ezh2": 9.9, "cd10": 44.0}])
    r = _post(client, "/predict", {"records": [make_record("p2"), changed]})
    assert r.status_code == 409
    assert r.json()["errors"][0]["field"] == "records[1].visits[0]"
    assert client.app.state.service.registry.counts() == {"patients": 1, "records": 1, "visits": 1, "predictions": 1}
    assert _post(client, "/predict", {"records": [make_record("p1")]}).status_code == 200  # identical: fine


# ---------------------------------------------------------------------- update
def test_update_refreshes_the_curve_from_the_last_visit(client: Any, scorer: Any) -> None:
    rec = make_record("p1")
    visit = {"time": 2.0, "ezh2": 2.5, "cd10": 50.0}
    r = _post(client, "/update", {"record": rec, "visits": [visit]})
    assert r.status_code == 200, r.text
    pred = r.json()["predictions"][0]
    direct = scorer.model.update(rec, [visit])
    assert pred["landmark"] == 2.0 and pred["cuts"][0] == 2.0
    np.testing.assert_allclose(pred["survival"], direct.surv[0], rtol=1e-6)
    hist = client.get("/patients/p1/history", headers=AUTH).json()
    assert [v["time"] for v in hist["visits"]] == [0.0, 2.0]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"record": make_record(), "visits": []}, 422, "visits"),
        ({"record": make_record()}, 422, "visits"),
        ({"record": make_record(), "visits": [{"time": 20.0, "ezh2": 1.0}]}, 422, None),
        ({"record": make_record(), "visits": [{"time": 1.0, "cd11": 1.0}]}, 422, "visits[0].cd11"),
    ],
)
def test_update_errors(client: Any, body: Any, status: int, field: str | None) -> None:
    r = _post(client, "/update", body)
    assert r.status_code == status, r.text
    if field is not None:
        assert field in [e["field"] for e in r.json()["errors"]]


def test_update_is_501_for_a_model_without_updates(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = client.app.state.service.scorer
    monkeypatch.setattr(type(scorer), "supports_update", property(lambda self: False))
    r = _post(client, "/update", {"record": make_record(), "visits": [{"time": 1.0, "ezh2": 1.0}]})
    assert r.status_code == 501 and r.json()["error"] == "not_supported"
    r = _post(client, "/patients/p1/visits", {"visits": [{"time": 1.0}], "record": {"arm": "sbrt"}})
    assert r.status_code == 501


# ---------------------------------------------------------------------- visits and history
def test_visits_register_append_and_refresh(client: Any, scorer: Any) -> None:
    base = {k: v for k, v in make_record("p7").items() if k not in ("patient_id", "visits")}
    r = _post(client, "/patients/p7/visits", {"record": base, "visits": [{"time": 0.0, "ezh2": 1.9, "cd10": 44.0}]})
    assert r.status_code == 200, r.text
    assert r.json()["visits_added"] == 1 and r.json()["visits_total"] == 1
    r = _post(client, "/patients/p7/visits", {"visits": [{"time": 1.5, "ezh2": 2.2}, {"time": 3.0, "cd10": 30.0}]})
    assert r.status_code == 200
    body = r.json()
    assert body["visits_added"] == 2 and body["visits_total"] == 3 and body["patient_id"] == "p7"
    expected = scorer.model.update(
        {"patient_id": "p7", **base, "visits": []},
        [{"time": 0.0, "ezh2": 1.9, "cd10": 44.0}, {"time": 1.5, "ezh2": 2.2}, {"time": 3.0, "cd10": 30.0}],
    )
    assert body["prediction"]["landmark"] == 3.0
    np.testing.assert_allclose(body["prediction"]["survival"], expected.surv[0], rtol=1e-6)
    # resending is harmless; a different value at a stored time is a conflict
    again = _post(client, "/patients/p7/visits", {"visits": [{"time": 1.5, "ezh2": 2.2}]})
    assert again.status_code == 200 and again.json()["visits_added"] == 0
    clash = _post(client, "/patients/p7/visits", {"visits": [{"time": 1.5, "ezh2": 7.0}]})
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "visits[0]"
    hist = client.get("/patients/p7/history", headers=AUTH).json()
    assert [v["time"] for v in hist["visits"]] == [0.0, 1.5, 3.0]
    assert hist["visits"][1]["values"] == {"ezh2": 2.2, "cd10": None}
    assert [t["landmark"] for t in hist["trajectory"]] == [0.0, 3.0, 3.0]
    assert all(t["route"] == "/patients/{patient_id}/visits" for t in hist["trajectory"])
    assert client.get("/patients/p7/history?limit=1", headers=AUTH).json()["trajectory"][0]["landmark"] == 3.0


def test_visits_errors(client: Any) -> None:
    r = _post(client, "/patients/nobody/visits", {"visits": [{"time": 1.0, "ezh2": 1.0}]})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "record"
    r = _post(client, "/patients/bad%20id/visits", {"visits": [{"time": 1.0}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path:patient_id"
    r = _post(client, "/patients/p1/visits", {"visits": [{"time": 1.0}], "record": {"clinical": {"sex": "Z"}, "arm": "sbrt"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "clinical.sex"
    r = _post(client, "/patients/p1/visits", {"visits": [{"time": 1.0}], "record": {"patient_id": "p1"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "record.patient_id"
    r = _post(client, "/patients/p1/visits", {"visits": [{"time": 99.0}], "record": {"arm": "sbrt"}})
    assert r.status_code == 422 and "grid" in r.json()["message"]
    assert client.app.state.service.registry.counts()["patients"] == 0  # nothing stored


def test_history_errors(client: Any) -> None:
    assert client.get("/patients/ghost/history", headers=AUTH).status_code == 404
    assert client.get("/patients/p1/history?limit=0", headers=AUTH).status_code == 422
    r = client.get("/nowhere", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert client.delete("/predict", headers=AUTH).status_code == 405


# ---------------------------------------------------------------------- report
def test_report_is_501_without_the_report_package(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "oncofusion.report", types.ModuleType("oncofusion.report"))
    r = client.get("/report/p1", headers=AUTH)
    assert r.status_code == 501
    assert "patient_report" in r.json()["message"]


def test_report_calls_patient_report(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any, str]] = []
    fake = types.ModuleType("oncofusion.report")

    def patient_report(model: Any, cohort: Any, patient_id: str, **kwargs: Any) -> str:
        calls.append((model, cohort, patient_id))
        assert kwargs == {"run_dir": client.app.state.service.scorer.info.run_dir}
        return f"<html><body>report of {patient_id}</body></html>"

    fake.patient_report = patient_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "oncofusion.report", fake)
    assert client.get("/report/p1", headers=AUTH).status_code == 404
    assert _post(client, "/predict", {"records": [make_record("p1")]}).status_code == 200
    r = client.get("/report/p1", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "report of p1" in r.text
    model, cohort, pid = calls[0]
    assert model is client.app.state.service.scorer.model and pid == "p1"
    assert cohort.patient_ids == ["p1"] and len(cohort.biomarkers) == 1


def test_report_of_the_report_package(client: Any) -> None:
    from oncofusion.serve.routes.scoring import report_function

    assert report_function() is not None  # oncofusion.report provides patient_report
    visits = [{"time": 0.0, "ezh2": 1.9, "cd10": 44.0}, {"time": 2.0, "ezh2": 2.4, "cd10": None}]
    assert _post(client, "/predict", {"records": [make_record("rp-1", visits=visits)]}).status_code == 200
    r = client.get("/report/rp-1", headers=AUTH)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/html") and "rp-1" in r.text and "<html" in r.text.lower()


# ---------------------------------------------------------------------- OpenAPI
def test_openapi_documents_routes_models_and_bearer_auth(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/health", "/model", "/predict", "/update", "/report/{patient_id}",
                                  "/patients/{patient_id}/visits", "/patients/{patient_id}/history"}
    schemas = spec["components"]["schemas"]
    assert set(schemas["Clinical"]["properties"]) == {"age", "cea", "sex", "stage", "emvi"}
    assert schemas["Clinical"]["additionalProperties"] is False
    assert schemas["PatientRecord"]["properties"]["arm"]["anyOf"][0]["enum"] == ["sbrt", "surgery"]
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" not in spec["paths"]["/health"]["get"]
    assert spec["paths"]["/model"]["get"]["security"] == [{"HTTPBearer": []}]


def test_first_requests_from_many_threads_all_find_their_route(make_client: Any, sqlite_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI builds an included router's route table lazily and without a lock, so
    concurrent first requests could meet a half-built one (a 404 once seen in CI). The app
    builds every table at start-up: no request builds one. The build is slowed down here
    to make the interleaving likely where it would happen."""
    import threading
    import time

    import fastapi.routing

    builds_during_requests: list[str] = []
    included = getattr(fastapi.routing, "_IncludedRouter", None)
    if included is not None and hasattr(included, "_build_effective_context"):
        build = included._build_effective_context

        def slow_build(self: Any, route: Any) -> Any:
            builds_during_requests.append(threading.current_thread().name)
            time.sleep(0.003)
            return build(self, route)

        monkeypatch.setattr(included, "_build_effective_context", slow_build)
    client = make_client(sqlite_url)
    builds_during_requests.clear()
    kinds: list[str] = []

    def first_request(i: int) -> None:
        time.sleep(0.001 * i)
        body = {"visits": [{"time": 2.0, "ezh2": 1.0}]}  # the router's first route: the likeliest to be missing
        kinds.append(client.post(f"/patients/x{i}/visits", json=body, headers=AUTH).json()["error"])

    threads = [threading.Thread(target=first_request, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert builds_during_requests == []
    assert kinds == ["unknown_patient"] * 24
