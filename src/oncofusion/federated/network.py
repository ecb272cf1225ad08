"""The client/server mode: a Flower server and one Flower client per hospital, over gRPC.

Uses Flower's gRPC transport: the server is what ``flwr.server.start_server`` builds (a
``Server`` with the strategy, Flower's gRPC server, the rounds), assembled here so that an
error stops the gRPC server and disconnects the sites; the sites use
``flwr.client.start_client``. Both APIs are deprecated by Flower since 1.13 in favour of the
SuperLink/SuperNode Deployment Engine and still work in the 1.x line (docs/scale-out.md).
TLS comes from Flower (``certificates`` on the server, ``root_certificates`` on the client);
authentication is the HMAC of :mod:`oncofusion.federated.auth`. Both are required unless
``insecure``.
"""

from __future__ import annotations

import logging
import time as _time
from pathlib import Path

from oncofusion.errors import ConfigError
from oncofusion.federated.config import FederatedConfig
from oncofusion.federated.result import FederatedResult
from oncofusion.models.config import ModelConfig

__all__ = ["run_client", "run_server"]



def run_server(config: ModelConfig, fed: FederatedConfig, out: str | Path, *, address: str,
               overwrite: bool = False) -> FederatedResult:
    """Run the federation's server until ``fed.rounds`` rounds are done; write ``out``.

    ``out`` gets ``rounds.csv`` (per-site and site-weighted validation metrics per round)
    and ``run/`` (the global model). The server never sees a patient record: it gets
    aggregate statistics once, then weights and metrics.
    """
    from flwr.common.logger import log as flwr_log
    from flwr.server import Server, SimpleClientManager
    from flwr.server.superlink.fleet.grpc_bidi.grpc_server import start_grpc_server

    from oncofusion.federated.result import save_federated_run
    from oncofusion.federated.strategy import Coordinator, build_strategy

    fed.check_secure("server")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"output directory '{out}' exists and is not empty. Fix: choose another --out or pass --overwrite.")
    out.mkdir(parents=True, exist_ok=True)
    coordinator = Coordinator(config, fed, out / "rounds.csv", secret=fed.auth.secret())
    strategy = build_strategy(coordinator)
    manager = SimpleClientManager()
    server = Server(client_manager=manager, strategy=strategy)
    # what flwr.server.start_server does, but owning the gRPC server: on any error the sites
    # are told to disconnect and the gRPC server stops, so no process is left waiting
    grpc_server = start_grpc_server(client_manager=manager, server_address=address,
                                    certificates=fed.tls.server_files())
    flwr_log(logging.INFO, "oncofusion: gRPC server on %s, TLS %s, message authentication %s", address,
             "on" if fed.tls.server_files() else "OFF", "on" if coordinator.secret else "OFF")
    start = _time.perf_counter()
    done = False
    try:
        server.fit(num_rounds=fed.rounds, timeout=fed.round_timeout)
        done = True
    finally:
        server.disconnect_all_clients(timeout=fed.round_timeout if done else 10.0)
        grpc_server.stop(grace=1)
    if coordinator.latest is None or not coordinator.rows:
        raise ConfigError("the federation ended before any round finished (did the sites connect?).")
    return save_federated_run(coordinator, out / "run", seconds=_time.perf_counter() - start, overwrite=overwrite)


def run_client(cohort_dir: str | Path, config: ModelConfig, fed: FederatedConfig, *, server: str,
               site: str | None = None, wait: float = 120.0) -> None:
    """Join the federation at ``server`` with the patients of ``cohort_dir`` (one site's cohort).

    The site's name is ``site``, or the single value of the cohort's site column, or the
    directory's name. Returns when the server ends the federation.
    """
    from flwr.client import start_client

    from oncofusion.data import load_cohort
    from oncofusion.federated.client import SiteClient
    from oncofusion.federated.local import SiteTrainer, config_digest

    fed.check_secure("client")
    cohort = load_cohort(cohort_dir, require_events=True)
    if site is None:
        col = fed.site_column
        values = cohort.patients[col].astype(str).unique() if col in cohort.patients.columns else []
        if len(values) > 1:
            raise ConfigError(f"the cohort at '{cohort_dir}' holds {len(values)} sites in '{col}'. Fix: give each "
                              "hospital its own cohort ('oncofusion federated split') or pass --site.")
        site = str(values[0]) if len(values) == 1 else Path(cohort_dir).resolve().name
    trainer = SiteTrainer(site, cohort, config, val_fraction=fed.val_fraction, seed=fed.seed)
    client = SiteClient(trainer, fed.auth.secret(), config_sha256=config_digest(config))
    root = fed.tls.client_root()
    start_client(server_address=server, client=client.to_client(), root_certificates=root,
                 insecure=root is None, max_wait_time=wait)
