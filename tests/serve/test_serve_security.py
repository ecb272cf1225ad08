"""Tokens, settings, model verification at start-up, size limits and what reaches the logs."""

from __future__ import annotations

import hmac
import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import AUTH, TOKEN, make_record
from oncofusion.errors import ConfigError, ModelLoadError
from oncofusion.serve.auth import TokenStore, read_token_file
from oncofusion.serve.settings import ServeSettings


# ---------------------------------------------------------------------- tokens
def test_token_store_identifies_clients_and_compares_every_token(monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore([("ward-a", "a" * 20), ("lab", "b" * 24), ("default", "c" * 32)])
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert store.client_for("a" * 20) == "ward-a"
    assert store.client_for("c" * 32) == "default"
    assert store.client_for("a" * 19) is None and store.client_for("") is None and store.client_for(None) is None
    # every presented token is compared with all three (no early exit), always as 32-byte digests
    assert len(calls) == 9 and {len(a) for a, _ in calls} == {32} and {len(b) for _, b in calls} == {32}
    assert "a" * 20 not in repr(store)


@pytest.mark.parametrize(
    ("tokens", "match"),
    [([], "needs a token"), ([("x", "short")], "shorter than 16"), ([("x", "a" * 16 + " b")], "spaces"),
     ([("x", "a" * 20), ("y", "a" * 20)], "twice"), ([("bad name", "a" * 20)], "client name")],
)
def test_token_store_refuses_weak_configurations(tokens: list[tuple[str, str]], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TokenStore(tokens)


def test_token_file(tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text("# clients\nward-a " + "a" * 20 + "\n\n" + "b" * 20 + "\n")
    f.chmod(0o600)
    assert read_token_file(f) == [("ward-a", "a" * 20), ("token-4", "b" * 20)]
    store = TokenStore.from_settings("c" * 20, f)
    assert store.clients == ["default", "ward-a", "token-4"]
    f.write_text("a b c\n")
    with pytest.raises(ConfigError, match="line 1 has 3 fields"):
        read_token_file(f)
    with pytest.raises(ConfigError, match="cannot be read"):
        read_token_file(tmp_path / "missing")


def test_settings_from_env_and_overrides(tmp_path: Path) -> None:
    env = {"ONCOFUSION_TOKEN": TOKEN, "ONCOFUSION_MAX_BATCH": "5", "ONCOFUSION_DATABASE_URL": "sqlite:///x.db",
           "ONCOFUSION_STATE_DIR": str(tmp_path)}
    s = ServeSettings.from_env(env, max_batch=7)
    assert s.max_batch == 7 and s.token == TOKEN and s.resolved_database_url == "sqlite:///x.db"
    assert ServeSettings.from_env({"ONCOFUSION_STATE_DIR": str(tmp_path)}).resolved_database_url == (
        f"sqlite:///{tmp_path.resolve() / 'registry.sqlite'}"
    )
    with pytest.raises(ConfigError, match="ONCOFUSION_MAX_BATCH"):
        ServeSettings.from_env({"ONCOFUSION_MAX_BATCH": "many"})
    with pytest.raises(ConfigError, match="ONCOFUSION_MODEL_CHECKSUM"):
        ServeSettings.from_env({"ONCOFUSION_MODEL_CHECKSUM": "abc"})
    assert TOKEN not in repr(s)


def test_token_file_clients_are_recorded_in_the_audit_trail(make_client: Any, sqlite_url: str, tmp_path: Path) -> None:
    f = tmp_path / "tokens"
    f.write_text("radiology " + "r" * 24 + "\n")
    client = make_client(sqlite_url, token=None, token_file=f)
    r = client.post("/predict", json={"records": [make_record()]}, headers={"Authorization": "Bearer " + "r" * 24})
    assert r.status_code == 200
    hist = client.get("/patients/p1/history", headers={"Authorization": "Bearer " + "r" * 24}).json()
    assert hist["trajectory"][0]["client"] == "radiology"
    assert client.get("/model", headers=AUTH).status_code == 401  # the env token was not configured


# ---------------------------------------------------------------------- model verification
def _copy_run(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def test_model_is_refused_when_a_file_changed(run_dir: Path, tmp_path: Path) -> None:
    from oncofusion.serve.scoring import ScoringModel

    run = _copy_run(run_dir, tmp_path)
    with open(run / "weights.pt", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelLoadError, match="does not match its checksum"):
        ScoringModel.load(run)


def test_model_is_refused_with_an_unknown_format_version(run_dir: Path, tmp_path: Path) -> None:
    from oncofusion.models.run import write_checksums
    from oncofusion.serve.scoring import ScoringModel

    run = _copy_run(run_dir, tmp_path)
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "format_version": 99}))
    write_checksums(run)
    with pytest.raises(ModelLoadError, match="format version 99"):
        ScoringModel.load(run)


def test_model_is_refused_with_an_unknown_schema(run_dir: Path, tmp_path: Path) -> None:
    from oncofusion.models.run import write_checksums
    from oncofusion.serve.scoring import ScoringModel

    run = _copy_run(run_dir, tmp_path)
    schema = json.loads((run / "schema.json").read_text())
    (run / "schema.json").write_text(json.dumps({**schema, "radiomics": ["x"]}))
    write_checksums(run)
    with pytest.raises(ModelLoadError, match="schema or config is not one this oncofusion reads"):
        ScoringModel.load(run)


def test_model_is_refused_when_the_pinned_checksum_differs(run_dir: Path, tmp_path: Path, settings_for: Any,
                                                          sqlite_url: str) -> None:
    from oncofusion.models.run import run_checksum
    from oncofusion.serve.app import create_app
    from oncofusion.serve.scoring import ScoringModel

    with pytest.raises(ModelLoadError, match="not the expected"):
        create_app(run_dir, settings_for(sqlite_url, model_checksum="0" * 64))
    loaded = ScoringModel.load(run_dir, expected_checksum=run_checksum(run_dir))
    assert loaded.info.checksum == run_checksum(run_dir)
    with pytest.raises(ModelLoadError, match="not a run directory"):
        ScoringModel.load(tmp_path)


# ---------------------------------------------------------------------- size limits
def test_request_body_limit_is_413(make_client: Any, sqlite_url: str) -> None:
    client = make_client(sqlite_url, max_request_bytes=2048)
    big = {"records": [make_record(f"p{i}") for i in range(30)]}
    r = client.post("/predict", json=big, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the limit is counted while reading
        yield b'{"records": ['
        for i in range(30):
            yield json.dumps(make_record(f"p{i}")).encode() + b","
        yield b"{}]}"

    r = client.post("/predict", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413


def test_batch_limit_is_413_naming_the_field(make_client: Any, sqlite_url: str) -> None:
    client = make_client(sqlite_url, max_batch=3)
    r = client.post("/predict", json={"records": [make_record(f"p{i}") for i in range(4)]}, headers=AUTH)
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "records"
    assert client.post("/predict", json={"records": [make_record(f"p{i}") for i in range(3)]},
                       headers=AUTH).status_code == 200


def _npy(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).random(shape, dtype=np.float32))
    return buf.getvalue()


def _multipart(client: Any, record: dict[str, Any], files: list[tuple[str, bytes]]) -> Any:
    return client.post(
        "/predict", headers=AUTH, data={"request": json.dumps({"records": [record]})},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
    )


def test_image_uploads_are_stored_by_content_and_limited(make_client: Any, sqlite_url: str, tmp_path: Path) -> None:
    client = make_client(sqlite_url, max_image_side=20, max_upload_bytes=64 * 1024, max_images=2)
    img = _npy((4, 16, 16))
    rec = make_record(images=[{"path": "upload:arterial.npy", "phase": "arterial"}])
    r = _multipart(client, rec, [("arterial.npy", img)])
    assert r.status_code == 200, r.text
    root = client.app.state.service.image_root
    stored = list((root / "uploads").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == img and "arterial" not in stored[0].name
    kept = client.app.state.service.registry.patient("p1")
    assert kept is not None and kept.base["images"] == [{"path": f"uploads/{stored[0].name}", "phase": "arterial"}]
    # an image over the side limit, an upload over the size limit, too many files, stray and missing files
    r = _multipart(client, make_record("p2", images=[{"path": "upload:big.npy"}]), [("big.npy", _npy((4, 32, 16)))])
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "records[0].images[0].path"
    r = _multipart(client, make_record("p3", images=[{"path": "upload:huge.npy"}]), [("huge.npy", _npy((60, 20, 20)))])
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    three = [(f"f{i}.npy", img) for i in range(3)]
    r = _multipart(client, make_record("p4", images=[{"path": f"upload:f{i}.npy"} for i in range(3)]), three)
    assert r.status_code == 413
    r = _multipart(client, make_record("p5"), [("stray.npy", img)])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "files"
    r = _multipart(client, make_record("p6", images=[{"path": "upload:absent.npy"}]), [("other.npy", img)])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "records[0].images[0].path"
    r = _multipart(client, make_record("p7", images=[{"path": "upload:x.exe"}]), [("x.exe", b"MZ")])
    assert r.status_code == 422 and "unsupported file type" in r.json()["message"]
    r = client.post("/predict", headers=AUTH, data={"other": "1"}, files=[("files", ("a.npy", img, "x/y"))])
    assert r.status_code == 422


def test_image_references_are_checked_against_the_limits(make_client: Any, sqlite_url: str, tiny_images: Path) -> None:
    client = make_client(sqlite_url, image_root=tiny_images)
    rec = make_record(images=[{"path": "images/001_arterial.npy", "phase": "arterial"}])
    assert client.post("/predict", json={"records": [rec]}, headers=AUTH).status_code == 200
    small = make_client(sqlite_url, image_root=tiny_images, max_image_voxels=100)
    r = small.post("/predict", json={"records": [make_record("p2", images=rec["images"])]}, headers=AUTH)
    assert r.status_code == 413 and "voxels" in r.json()["message"]


# ---------------------------------------------------------------------- logs
def test_no_patient_values_reach_the_logs(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret_id, secret_age = "zz-patient-4711", 87.123456
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # an operator turning SQL logging on
    rec = make_record(secret_id, clinical={"age": secret_age, "sex": "F"})
    assert client.post("/predict", json={"records": [rec]}, headers=AUTH).status_code == 200
    client.post("/predict", json={"records": [make_record(secret_id, clinical={"sex": "Q-" + secret_id})]}, headers=AUTH)
    client.post(f"/patients/{secret_id}/visits", json={"visits": [{"time": 1.0, "ezh2": 31.4159}]}, headers=AUTH)
    client.get(f"/patients/{secret_id}/history", headers=AUTH)
    client.post("/predict", content=b'{"records": [' + secret_id.encode(), headers={**AUTH, "Content-Type": "application/json"})
    # everything the service process logs (httpx is the test's client, not the service)
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert any(r.name.startswith("sqlalchemy") for r in caplog.records)  # SQL logging is on at DEBUG ...
    assert "POST /predict 200" in text and "GET /patients/{patient_id}/history 200" in text
    for value in (secret_id, "87.12", "31.41", "Q-"):  # ... yet without parameters
        assert value not in text


def test_an_unexpected_failure_is_500_without_details(client: Any, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("value 87.5 of patient zz-secret")

    monkeypatch.setattr(client.app.state.service.scorer, "predict", boom)
    caplog.set_level(logging.DEBUG)
    r = client.post("/predict", json={"records": [make_record()]}, headers=AUTH)
    assert r.status_code == 500 and r.json()["error"] == "internal_error"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert "zz-secret" not in r.text and "zz-secret" not in caplog.text and "RuntimeError" in caplog.text

