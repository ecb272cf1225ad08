"""Fixtures of the scoring-service tests.

* ``run_dir``: a real run directory, trained once per session on the tiny example cohort
  (clinical + biomarkers, 2 epochs, a few seconds on one core).
* ``scorer``: that run loaded once (:class:`ScoringModel`); apps share it.
* ``postgres``: a real PostgreSQL server for the session (see ``_postgres.py``).
* ``db_url``: parametrised over ``sqlite`` and ``postgresql``: a fresh, empty database.
* ``make_client``: a TestClient of an app on a database with given settings.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _postgres import PostgresServer, find_pg_bin, install_postgres

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"

TINY_CONFIG: dict[str, Any] = {
    "name": "tiny-serve",
    "model": "dmanet",
    "data": {"n_intervals": 6, "split": [0.5, 0.25, 0.25], "stratify": ["event"], "landmarks": [1, 2, 3]},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 4, "out_features": 8}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [8], "out_features": 8}},
        },
        "fusion": {"name": "concat", "args": {}},
        "head": {"name": "discrete_time", "args": {}},
    },
    "train": {"max_epochs": 2, "batch_size": 4, "progress": False, "accelerator": "cpu"},
}


def make_record(patient_id: str = "p1", **changes: Any) -> dict[str, Any]:
    """A valid record for the tiny model (clinical, one baseline visit, arm)."""
    rec: dict[str, Any] = {
        "patient_id": patient_id,
        "clinical": {"age": 61, "cea": 4.2, "sex": "M", "stage": "III", "emvi": "yes"},
        "visits": [{"time": 0.0, "ezh2": 1.9, "cd10": 44.0}],
        "arm": "surgery",
    }
    rec.update(changes)
    return rec


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from oncofusion.data import load_cohort
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.config import config_from_dict
    from oncofusion.models.pipeline import train_model

    base = tmp_path_factory.mktemp("serve-run")
    cohort = load_cohort(TINY, check_images=False)
    run = train_model(cohort, config_from_dict(TINY_CONFIG), work_dir=base / "work")
    return save_run(run, cohort, base / "run")


@pytest.fixture(scope="session")
def scorer(run_dir: Path) -> Any:
    from oncofusion.serve.scoring import ScoringModel

    return ScoringModel.load(run_dir)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        why = install_postgres()
        bin_dir = find_pg_bin()
        if bin_dir is None:  # only where PostgreSQL truly cannot be installed (never in CI: make ensure-postgres)
            pytest.skip(f"PostgreSQL server binaries not found and could not be installed: {why}")
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.sqlite'}"


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Any]:
    from oncofusion.serve.settings import ServeSettings

    def make(database_url: str, **kwargs: Any) -> ServeSettings:
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("state_dir", tmp_path / "state")
        return ServeSettings(database_url=database_url, **kwargs)

    return make


@pytest.fixture
def make_client(scorer: Any, settings_for: Callable[..., Any]) -> Callable[..., Any]:
    from fastapi.testclient import TestClient

    from oncofusion.serve.app import create_app

    def make(database_url: str, **kwargs: Any) -> TestClient:
        app = create_app(settings=settings_for(database_url, **kwargs), scorer=scorer)
        return TestClient(app, raise_server_exceptions=False)

    return make


@pytest.fixture
def client(make_client: Callable[..., Any], sqlite_url: str) -> Any:
    return make_client(sqlite_url)


@pytest.fixture
def tiny_images(tmp_path: Path) -> Path:
    """An image root holding the tiny cohort's images (relative paths ``images/...``)."""
    root = tmp_path / "image-root"
    shutil.copytree(TINY / "images", root / "images")
    return root


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
