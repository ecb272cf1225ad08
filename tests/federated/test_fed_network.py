"""The client/server mode for real: a Flower server and two site clients, separate processes,
gRPC over TLS on 127.0.0.1 with message authentication."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from fed_helpers import CONFIG, TINY
from typer.testing import CliRunner

import oncofusion
from oncofusion.federated.certs import make_trial_credentials
from oncofusion.federated.sites import write_site_cohorts

EXE = str(Path(sys.executable).parent / "oncofusion")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_and_two_sites_over_tls_with_authentication(tmp_path: Path) -> None:
    creds = make_trial_credentials(tmp_path / "creds")
    assert oct(creds["server_key"].stat().st_mode & 0o777) == "0o600"
    sites = write_site_cohorts(oncofusion.load_cohort(str(TINY)), tmp_path / "sites")
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(CONFIG))
    address = f"127.0.0.1:{_free_port()}"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    common = ["--config", str(tmp_path / "cfg.yaml"), "--fed-config", str(creds["config"])]
    server = subprocess.Popen([EXE, "federated", "server", "--rounds", "2", "--min-sites", "2", "--address", address,
                               "--out", str(tmp_path / "out"), *common],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    clients = [subprocess.Popen([EXE, "federated", "client", str(path), "--server", address, *common],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
               for path in sites.values()]
    try:
        outs = [p.communicate(timeout=400)[0] for p in (server, *clients)]
    finally:
        for p in (server, *clients):
            if p.poll() is None:
                p.kill()
    assert server.returncode == 0, outs[0][-4000:]
    assert "TLS on, message authentication on" in outs[0]
    for p, out in zip(clients, outs[1:], strict=True):
        assert p.returncode == 0, out[-4000:]
        assert "the server ended the federation" in out
    run = tmp_path / "out" / "run"
    fed = json.loads((run / "federation.json").read_text())
    assert fed["authenticated"] and fed["rejected_messages"] == []
    assert sorted(fed["sites"]) == ["site_a", "site_b"]
    assert {s["n_train"] + s["n_val"] for s in fed["sites"].values()} == {7, 5}
    log = pd.read_csv(tmp_path / "out" / "rounds.csv")
    assert sorted(log.loc[log.scope == "site", "site"]) == ["site_a", "site_a", "site_b", "site_b"]
    assert set(log.scope) == {"site", "weighted"}  # the server has no patients: no pooled rows
    model = oncofusion.load(str(run))
    assert model.predict(oncofusion.load_cohort(str(TINY))).surv.shape == (12, 6)


def test_server_and_client_refuse_to_run_without_tls_and_a_secret(tmp_path: Path) -> None:
    from oncofusion.cli import app

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(CONFIG))
    runner = CliRunner()
    r = runner.invoke(app, ["federated", "server", "--out", str(tmp_path / "o"), "--config", str(tmp_path / "cfg.yaml")])
    assert r.exit_code == 2 and "secure by default" in r.output and "tls.server_cert" in r.output
    r = runner.invoke(app, ["federated", "client", str(TINY), "--server", "127.0.0.1:1", "--config",
                            str(tmp_path / "cfg.yaml")])
    assert r.exit_code == 2 and "auth.secret_file" in r.output
    assert not (tmp_path / "o").exists()
