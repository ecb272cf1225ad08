"""The registry database on SQLite and on a real PostgreSQL server: migrations, the
repository's rules, and concurrent writers (threads through HTTP, separate processes)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect

from conftest import AUTH, make_record
from oncofusion.errors import ConfigError
from oncofusion.serve.db.engine import current_revision, head_revision, make_engine, redact, upgrade
from oncofusion.serve.db.repository import (
    Audit,
    PredictionFields,
    Registry,
    UnknownPatient,
    VisitConflict,
)

HERE = Path(__file__).resolve().parent


def _audit(i: int = 0) -> Audit:
    return Audit(request_id=f"r{i}", route="test", client="tester")


def _fields(landmark: float = 0.0) -> PredictionFields:
    return PredictionFields(landmark, {"3": 0.1}, {"cuts": [0, 3]}, None, "m", "v1", "c" * 64)


# ---------------------------------------------------------------------- migrations
def test_migrations_create_the_tables_and_match_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from oncofusion.serve.db.models import Base

    engine = make_engine(db_url)
    assert current_revision(engine) is None
    assert upgrade(engine) == head_revision() == "0001"
    assert upgrade(engine) == "0001"  # idempotent
    tables = set(sa_inspect(engine).get_table_names())
    assert {"patients", "records", "visits", "predictions", "alembic_version"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    from alembic import command

    from oncofusion.serve.db.engine import _alembic_config

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
    assert set(sa_inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_unsupported_database_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        make_engine("mysql://u:secret@h/db")
    with pytest.raises(ConfigError, match="in-memory"):
        make_engine("sqlite://")
    with pytest.raises(ConfigError, match="invalid"):
        make_engine("not a url")
    assert "secret" not in redact("postgresql+psycopg://u:secret@h/db")
    assert make_engine("postgresql://u@127.0.0.1/db").url.drivername == "postgresql+psycopg"


def test_create_app_without_migrations_needs_a_migrated_database(
    scorer: Any, settings_for: Any, sqlite_url: str
) -> None:
    from oncofusion.serve.app import create_app

    with pytest.raises(ConfigError, match="--migrate-only"):
        create_app(settings=settings_for(sqlite_url), scorer=scorer, migrate=False)
    upgrade(make_engine(sqlite_url))
    assert create_app(settings=settings_for(sqlite_url), scorer=scorer, migrate=False) is not None


# ---------------------------------------------------------------------- repository rules
def test_repository_rules(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    reg = Registry(engine)
    with pytest.raises(UnknownPatient):
        reg.append_visits("p1", [{"time": 1.0, "ezh2": 1.0}], None, _audit())
    patient, new = reg.append_visits("p1", [{"time": 1.0, "ezh2": 1.0}], {"clinical": {"age": 60}}, _audit())
    assert new == 1 and patient.base == {"clinical": {"age": 60}}
    patient, new = reg.append_visits("p1", [{"time": 0.5, "ezh2": 2.0}, {"time": 1.0, "ezh2": 1.0}], None, _audit(1))
    assert new == 1 and [v["time"] for v in patient.visits] == [0.5, 1.0]
    with pytest.raises(VisitConflict) as info:
        reg.append_visits("p1", [{"time": 2.0, "ezh2": 0.0}, {"time": 1.0, "ezh2": 3.0}], {"clinical": {}}, _audit(2))
    assert info.value.index == 1 and info.value.time == 1.0
    after = reg.patient("p1")
    assert after is not None and len(after.visits) == 2 and after.base == {"clinical": {"age": 60}}  # rolled back
    reg.add_prediction("p1", _fields(1.0), _audit(3))
    with pytest.raises(UnknownPatient):
        reg.add_prediction("nobody", _fields(), _audit())
    reg.store_scoring([{"patient_id": "p1", "clinical": {"age": 61}, "visits": [{"time": 3.0, "ezh2": 1.0}]}],
                      [_fields(3.0)], _audit(4))
    stored, preds = reg.history("p1")
    assert stored.base == {"clinical": {"age": 61}} and [v["time"] for v in stored.visits] == [0.5, 1.0, 3.0]
    assert [p.landmark for p in preds] == [1.0, 3.0]
    assert preds[0].created_at.tzinfo is not None and preds[0].model_checksum == "c" * 64
    assert reg.counts() == {"patients": 1, "records": 3, "visits": 3, "predictions": 2}
    engine.dispose()


# ---------------------------------------------------------------------- concurrency
def test_concurrent_http_writers_lose_no_visit(make_client: Any, db_url: str) -> None:
    """16 threads append visits to one patient at once through the API; all are kept."""
    client = make_client(db_url)
    assert client.post("/predict", json={"records": [make_record("p1")]}, headers=AUTH).status_code == 200
    n = 16
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        visit = {"time": 0.25 + i * 0.5, "ezh2": 1.0 + i, "cd10": None}
        results[i] = client.post("/patients/p1/visits", json={"visits": [visit]}, headers=AUTH)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r.status_code for r in results] == [200] * n, [r.text for r in results if r.status_code != 200]
    assert sorted(r.json()["visits_added"] for r in results) == [1] * n
    # each answer scored the history it saw: its own visit is in it
    assert all(r.json()["visits_total"] >= 2 for r in results)
    hist = client.get("/patients/p1/history", headers=AUTH).json()
    assert [v["time"] for v in hist["visits"]] == [0.0] + [0.25 + i * 0.5 for i in range(n)]
    assert len(hist["trajectory"]) == n + 1
    client.app.state.service.registry.engine.dispose()


def test_concurrent_conflicting_visits_keep_exactly_one(make_client: Any, db_url: str) -> None:
    client = make_client(db_url)
    assert client.post("/predict", json={"records": [make_record("p1")]}, headers=AUTH).status_code == 200
    n = 8
    barrier = threading.Barrier(n)
    codes: list[int] = [0] * n

    def worker(i: int) -> None:
        barrier.wait()
        r = client.post("/patients/p1/visits", json={"visits": [{"time": 2.0, "ezh2": float(i)}]}, headers=AUTH)
        codes[i] = r.status_code

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(codes) == [200] + [409] * (n - 1)
    winner = codes.index(200)
    visits = client.get("/patients/p1/history", headers=AUTH).json()["visits"]
    assert visits[1] == {"time": 2.0, "values": {"ezh2": float(winner), "cd10": None}}
    client.app.state.service.registry.engine.dispose()


def test_concurrent_processes_lose_no_visit(db_url: str, tmp_path: Path) -> None:
    """4 processes append 10 visits each to one patient at the same moment."""
    engine = make_engine(db_url)
    upgrade(engine)
    reg = Registry(engine)
    reg.append_visits("p1", [{"time": 0.0, "ezh2": 1.0, "cd10": None}], {"clinical": {}}, _audit())
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "_visit_writer.py"), db_url, "p1", str(100 * (k + 1)), "10",
                          str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(4)
    ]
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    assert [int(out) for out, _ in outs] == [10] * 4
    stored = reg.patient("p1")
    assert stored is not None
    expected = [0.0] + [100.0 * (k + 1) + i for k in range(4) for i in range(10)]
    assert sorted(v["time"] for v in stored.visits) == sorted(expected)
    assert reg.counts()["records"] == 41
    engine.dispose()
