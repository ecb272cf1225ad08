"""``oncofusion serve``: start-up errors, migrations only, and a live uvicorn server on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from conftest import AUTH, TOKEN, make_record
from oncofusion.cli import app


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCOFUSION_")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def test_migrate_only(tmp_path: Path, run_dir: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    result = CliRunner().invoke(app, ["serve", str(run_dir), "--db", url, "--migrate-only"], env=_env())
    assert result.exit_code == 0, result.output
    assert "revision 0001" in result.output
    from oncofusion.serve.db.engine import current_revision, make_engine

    assert current_revision(make_engine(url)) == "0001"


def test_start_up_errors_are_one_clear_message(tmp_path: Path, run_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["serve", str(run_dir), "--state-dir", str(tmp_path)], env=_env())
    assert result.exit_code == 2 and "needs a token" in result.output
    result = runner.invoke(app, ["serve", str(tmp_path), "--state-dir", str(tmp_path)], env=_env(ONCOFUSION_TOKEN=TOKEN))
    assert result.exit_code == 2 and "not a run directory" in result.output
    result = runner.invoke(app, ["serve", str(run_dir), "--db", "mysql://x/y"], env=_env(ONCOFUSION_TOKEN=TOKEN))
    assert result.exit_code == 2 and "not supported" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_server_on_loopback(tmp_path: Path, run_dir: Path) -> None:
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "oncofusion"), "serve", str(run_dir), "--port", str(port),
             "--state-dir", str(tmp_path / "state")],
            env=_env(ONCOFUSION_TOKEN=TOKEN), stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        r = httpx.post(f"{base}/predict", json={"records": [make_record("live-secret-42")]}, headers=AUTH, timeout=30)
        assert r.status_code == 200 and r.json()["predictions"][0]["patient_id"] == "live-secret-42"
        assert httpx.get(f"{base}/model", timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    text = log.read_text()
    assert "POST /predict 200" in text and "live-secret-42" not in text
    assert (tmp_path / "state" / "registry.sqlite").is_file()
