"""Federated training across sites that cannot share data, on Flower.

Each site trains the global model locally on its own patients (the project's trainer and
objective) and only weights travel; the server averages them with Flower's ``FedAvg`` (or
``FedProx``), evaluates the global model at every site each round, and writes the model as
an ordinary run directory. Preprocessing is federated (aggregate statistics only, see
:mod:`oncofusion.federated.preprocessing`) and the time grid is shared (the config horizon).

* :func:`~oncofusion.federated.simulate.simulate_federation`: all sites in one process;
* :func:`~oncofusion.federated.network.run_server` / :func:`~oncofusion.federated.network.run_client`:
  the real deployment over gRPC with TLS and message authentication;
* :func:`~oncofusion.federated.sites.assign_sites`: give a cohort sites with different case mix.

Flower is imported only by the modules that need it (``pip install oncofusion[federated]``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FederatedConfig", "assign_sites", "load_federated_config", "run_client", "run_server",
           "simulate_federation", "site_cohorts", "write_site_cohorts"]

_LAZY = {
    "FederatedConfig": "oncofusion.federated.config",
    "load_federated_config": "oncofusion.federated.config",
    "assign_sites": "oncofusion.federated.sites",
    "site_cohorts": "oncofusion.federated.sites",
    "write_site_cohorts": "oncofusion.federated.sites",
    "simulate_federation": "oncofusion.federated.simulate",
    "run_server": "oncofusion.federated.network",
    "run_client": "oncofusion.federated.network",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'oncofusion.federated' has no attribute {name!r}")
