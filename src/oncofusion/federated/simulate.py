"""Simulated federation in one process: every site of a cohort as a Flower client.

The sites are the values of the cohort's site column. Flower's ``Server`` drives the rounds
with the same strategy as the client/server mode; the clients are called in-process
(:class:`InProcessClientProxy`, one at a time, in a fixed order, so the same seed gives the
same model) instead of over gRPC, which needs neither Ray nor a network. Because the
simulation holds every site's data, it can also report what a real federation cannot: the
global model on the *pooled* validation patients of all sites, and on a held-out test set.
"""

from __future__ import annotations

import logging
import time as _time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.common import DisconnectRes
from flwr.server.client_proxy import ClientProxy

from oncofusion.data.cohort import Cohort
from oncofusion.errors import ConfigError
from oncofusion.federated.client import SiteClient
from oncofusion.federated.config import FederatedConfig
from oncofusion.federated.local import SiteTrainer, image_shape, predict_survival, survival_metrics
from oncofusion.federated.result import FederatedResult, save_federated_run
from oncofusion.federated.sites import site_cohorts
from oncofusion.federated.strategy import Coordinator, build_strategy
from oncofusion.models.config import ModelConfig

__all__ = ["InProcessClientProxy", "simulate_federation"]


class InProcessClientProxy(ClientProxy):
    """A Flower ``ClientProxy`` that calls a client object directly (no transport)."""

    def __init__(self, cid: str, client: Any) -> None:
        super().__init__(cid)
        self.client = client

    def get_properties(self, ins: Any, timeout: float | None, group_id: int | None) -> Any:
        return self.client.get_properties(ins)

    def get_parameters(self, ins: Any, timeout: float | None, group_id: int | None) -> Any:
        return self.client.get_parameters(ins)

    def fit(self, ins: Any, timeout: float | None, group_id: int | None) -> Any:
        return self.client.fit(ins)

    def evaluate(self, ins: Any, timeout: float | None, group_id: int | None) -> Any:
        return self.client.evaluate(ins)

    def reconnect(self, ins: Any, timeout: float | None, group_id: int | None) -> Any:
        return DisconnectRes(reason="simulation finished")


class _PooledEvaluation:
    """The global model on every site's validation patients together (and a test set)."""

    def __init__(self, coordinator: Coordinator, trainers: dict[str, SiteTrainer], test: Cohort | None) -> None:
        self.c, self.trainers, self.test = coordinator, trainers, test
        self._sets: list[tuple[str, Any, np.ndarray, np.ndarray]] | None = None

    def _build(self) -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
        from oncofusion.data.dataset import PatientDataset

        cfg = self.c.config
        shape = image_shape(cfg)
        first = next(iter(self.trainers.values())).cohort
        pooled = Cohort(first.root, first.schema, *_concat([t.cohort.subset(t.val_ids) for t in self.trainers.values()]))
        sets = [("pooled", pooled)] + ([("test", self.test)] if self.test is not None else [])
        return [(scope, PatientDataset(c, self.c.pre, image_shape=shape, max_visit_time=cfg.data.baseline), *_outcomes(c))
                for scope, c in sets]

    def __call__(self, server_round: int, weights: list[np.ndarray]) -> list[dict[str, Any]]:
        if self._sets is None:
            self._sets = self._build()
        tt = np.concatenate([t.train_time for t in self.trainers.values()])
        te = np.concatenate([t.train_event for t in self.trainers.values()])
        rows = []
        for scope, ds, time, event in self._sets:
            surv = predict_survival(self.c.net, weights, ds)
            m = survival_metrics(time, event, surv, self.c.disc.cuts[1:], horizon=self.c.horizon,
                                 train_time=tt, train_event=te)
            rows.append({"scope": scope, "site": "all", "n": len(time), "events": int(event.sum()), **m})
        return rows


def _concat(parts: list[Cohort]) -> tuple[Any, ...]:
    import pandas as pd

    def cat(name: str) -> Any:
        tables = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        return pd.concat(tables, ignore_index=True) if tables else None

    return (cat("patients"), cat("biomarkers"), cat("genomics"), parts[0].gene_graph, cat("imaging"))


def _outcomes(cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
    return cohort.patients["time"].to_numpy(float), cohort.patients["event"].to_numpy(int)


def simulate_federation(
    cohort: Cohort,
    config: ModelConfig,
    fed: FederatedConfig,
    out: str | Path,
    *,
    test_ids: list[str] | None = None,
    overwrite: bool = False,
) -> FederatedResult:
    """Train ``config`` across the sites of ``cohort`` (column ``fed.site_column``) with Flower.

    Parameters
    ----------
    cohort
        A cohort with a site column (``extra`` in ``cohort.yaml``).
    config
        The model config; its ``train:`` block is each site's local training.
    fed
        Rounds, local epochs, strategy (FedAvg / FedProx and mu), validation share, seed.
    out
        Output directory: ``rounds.csv`` (per-site, site-weighted, pooled and test metrics
        per round) and ``run/`` (the federated model, loadable with ``oncofusion.load``).
    test_ids
        Patients held out from every site and evaluated each round (scope ``test``).
    """
    from flwr.server import Server, SimpleClientManager

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"output directory '{out}' exists and is not empty. Fix: choose another --out or pass --overwrite.")
    held = set(map(str, test_ids or []))
    train_part = cohort.subset([p for p in cohort.patient_ids if p not in held])
    parts = site_cohorts(train_part, fed.site_column)
    if len(parts) < 2:
        raise ConfigError(f"the cohort has {len(parts)} site(s) in '{fed.site_column}'; a federation needs at least 2.")
    fed = fed.model_copy(update={"min_sites": len(parts)})
    trainers = {name: SiteTrainer(name, sub, config, val_fraction=fed.val_fraction, seed=fed.seed)
                for name, sub in parts.items()}
    secret = fed.auth.secret()
    test = cohort.subset(sorted(held)) if held else None
    out.mkdir(parents=True, exist_ok=True)
    levels = None
    if test is not None:  # values only, as central training's vocabulary covers its test split
        from oncofusion.data.preprocess import _level

        levels = {col: sorted({lv for lv in map(_level, test.patients[col]) if lv is not None})
                  for col in cohort.schema.clinical.categorical}
    coordinator = Coordinator(config, fed, out / "rounds.csv", secret=secret, extra_levels=levels)
    coordinator.evaluate_fn = _PooledEvaluation(coordinator, trainers, test)
    manager = SimpleClientManager()
    for k, (name, trainer) in enumerate(trainers.items()):
        manager.register(InProcessClientProxy(f"{k:03d}-{name}", SiteClient(trainer, secret).to_client()))
    server = Server(client_manager=manager, strategy=build_strategy(coordinator))
    server.set_max_workers(1)  # one site at a time, in a fixed order: reproducible
    start = _time.perf_counter()
    quiet = logging.getLogger("flwr")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        server.fit(num_rounds=fed.rounds, timeout=fed.round_timeout)
        server.disconnect_all_clients(timeout=fed.round_timeout)
    finally:
        quiet.setLevel(level)
    return save_federated_run(coordinator, out / "run", seconds=_time.perf_counter() - start,
                              schema=cohort.schema, overwrite=overwrite)
