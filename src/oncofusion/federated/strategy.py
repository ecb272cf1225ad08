"""The server side: Flower's FedAvg / FedProx, plus what oncofusion adds around them.

:class:`Coordinator` holds the federation's state on the server: it asks every site once for
its preprocessing statistics and schema (Flower ``get_properties``), builds the global
preprocessing, the shared time grid and the initial network, signs every instruction,
checks every reply, logs per-site and pooled metrics each round to ``rounds.csv`` and keeps
the weights of the best round. :func:`build_strategy` mixes it into Flower's own strategy
class, so aggregation is Flower's (``FedAvg``: example-weighted mean of the site weights;
``FedProx``: the same, with ``proximal_mu`` sent to the sites).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import CohortError, OncofusionError
from oncofusion.federated.auth import (
    MAC_KEY,
    NONCE_KEY,
    AuthenticationError,
    new_nonce,
    sign,
    verify,
)
from oncofusion.federated.config import FederatedConfig
from oncofusion.models.config import ModelConfig

__all__ = ["ROUND_COLUMNS", "Coordinator", "build_strategy"]

log = logging.getLogger("oncofusion.federated")

ROUND_COLUMNS = ["round", "scope", "site", "n", "events", "auc", "ibs", "train_loss"]


class Coordinator:
    """Server-side state of a federation (see the module docstring).

    Parameters
    ----------
    config
        The model config (the same at every site).
    fed
        The federated config.
    log_path
        ``rounds.csv`` (rewritten as rounds finish).
    secret
        The shared secret (None: unauthenticated).
    evaluate_fn
        Optional central evaluation ``(round, weights) -> list of rows`` (simulation: pooled
        validation and a held-out test set).
    extra_levels
        Categorical levels to know beyond the sites' (simulation: the held-out test set's).
    """

    def __init__(self, config: ModelConfig, fed: FederatedConfig, log_path: Path, *, secret: bytes | None = None,
                 evaluate_fn: Any = None, extra_levels: dict[str, list[str]] | None = None) -> None:
        self.config, self.fed, self.secret, self.evaluate_fn = config, fed, secret, evaluate_fn
        self.extra_levels = extra_levels
        self.log_path = Path(log_path)
        self.rows: list[dict[str, Any]] = []
        self.sites: dict[str, dict[str, Any]] = {}
        self.nonces: dict[tuple[str, str, int], str] = {}
        self.rejected: list[str] = []
        self.latest: list[np.ndarray] | None = None
        self.best: list[np.ndarray] | None = None
        self.best_round, self.best_ibs = 0, math.inf
        self._fit_metrics: dict[str, dict[str, Any]] = {}

    # -- messages ---------------------------------------------------------------------------
    def instruct(self, kind: str, cid: str, server_round: int, config: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        """``config`` with the round, a fresh nonce and (with a secret) the server's MAC."""
        nonce = new_nonce()
        self.nonces[(kind, cid, server_round)] = nonce
        out = {**config, "round": int(server_round), NONCE_KEY: nonce}
        if self.secret is not None:
            out[MAC_KEY] = sign(self.secret, "server", kind, out, arrays)
        return out

    def accept(self, kind: str, cid: str, server_round: int, fields: dict[str, Any], arrays: list[np.ndarray]) -> bool:
        """Check a site's reply; log and refuse it when authentication fails."""
        if self.secret is None:
            return True
        try:
            verify(self.secret, "site", kind, fields, arrays, nonce=self.nonces.get((kind, cid, server_round)))
        except AuthenticationError as e:
            self.rejected.append(f"round {server_round} {kind} from {fields.get('site', cid)!s}: {e}")
            log.warning("rejected: %s", self.rejected[-1])
            return False
        return True

    def members(self, pairs: list) -> list:
        """Only sites admitted at initialisation (authenticated) get the global weights."""
        cids = {s["cid"] for s in self.sites.values()}
        return [(proxy, ins) for proxy, ins in pairs if proxy.cid in cids]

    # -- initialisation: federated preprocessing, grid, network -------------------------------
    def initialise(self, client_manager: Any, timeout: float | None) -> list[np.ndarray]:
        """Collect every site's statistics and build the initial global model."""
        import torch
        from flwr.common import GetPropertiesIns

        from oncofusion.data.schema import CohortSchema
        from oncofusion.federated.local import (
            build_network,
            config_digest,
            get_weights,
            shared_discretizer,
        )
        from oncofusion.federated.preprocessing import merge_statistics

        if not client_manager.wait_for(self.fed.min_sites, timeout=int(timeout or 86_400)):
            raise CohortError(f"fewer than {self.fed.min_sites} sites connected in time.",
                              fix="start the site clients, or lower min_sites.")
        stats, schemas = [], []
        for cid, proxy in sorted(client_manager.all().items()):
            config = self.instruct("properties", cid, 0, {}, [])
            try:
                res = proxy.get_properties(GetPropertiesIns(config=config), timeout=timeout, group_id=0)
            except Exception as e:  # noqa: BLE001 - a site that cannot answer (or refuses our MAC) stays out
                self.rejected.append(f"site {cid} did not answer the properties request: {e}")
                log.warning("%s", self.rejected[-1])
                continue
            props = dict(res.properties)
            if not self.accept("properties", cid, 0, props, []):
                continue
            name = str(props["site"])
            if name in self.sites:
                raise CohortError(f"two sites call themselves '{name}'.", fix="give every site its own name.")
            self.sites[name] = {"cid": cid, "n_train": int(props["n_train"]), "n_val": int(props["n_val"]),
                                "events_train": int(props["events_train"])}
            stats.append(json.loads(str(props["stats"])))
            schemas.append((name, json.loads(str(props["schema"]))))
        if len(self.sites) < self.fed.min_sites:
            raise CohortError(f"only {len(self.sites)} site(s) passed authentication; {self.fed.min_sites} needed.",
                              fix="check that every site uses the federation's secret.")
        ref = schemas[0][1]
        for name, schema in schemas[1:]:
            if schema != ref:
                raise CohortError(f"site '{name}' has another cohort format than site '{schemas[0][0]}'.",
                                  file="cohort.yaml", fix="every site must use the same cohort.yaml columns and units.")
        self.schema = CohortSchema.model_validate({**ref, "name": "federation", "extra": []})
        data = self.config.data
        self.pre = merge_statistics(stats, log_biomarkers=data.log_biomarkers, categorical_missing=data.categorical_missing,
                                    extra_levels=self.extra_levels)
        self.disc = shared_discretizer(self.config, list(self.schema.horizons))
        self.horizon = float(self.disc.cuts[-1])  # metrics "at the horizon": the end of the shared grid
        torch.manual_seed(self.fed.seed)
        self.net, self.sizes = build_network(self.config, self.pre, self.disc.n_intervals)
        self.latest = get_weights(self.net)
        self.shared = {"preprocessing": self.pre.to_json(), "cuts": json.dumps([float(c) for c in self.disc.cuts]),
                       "horizon": self.horizon, "config_sha256": config_digest(self.config)}
        log.info("federation of %d sites: %s", len(self.sites), ", ".join(sorted(self.sites)))
        return self.latest

    # -- per-round bookkeeping ----------------------------------------------------------------
    def record_fit(self, server_round: int, metrics: list[dict[str, Any]], weights: list[np.ndarray]) -> None:
        self.latest = weights
        self._fit_metrics = {str(m["site"]): m for m in metrics}

    def record_central(self, server_round: int, weights: list[np.ndarray]) -> None:
        if self.evaluate_fn is None:
            return
        for row in self.evaluate_fn(server_round, weights):
            self._write({"round": server_round, **row})

    def record_evaluate(self, server_round: int, metrics: list[tuple[int, dict[str, Any]]]) -> tuple[float, dict[str, float]]:
        for n, m in sorted(metrics, key=lambda x: str(x[1]["site"])):
            site = str(m["site"])
            self._write({"round": server_round, "scope": "site", "site": site, "n": n, "events": int(m["events"]),
                         "auc": m["auc"], "ibs": m["ibs"], "train_loss": self._fit_metrics.get(site, {}).get("train_loss")})
        summary = {k: _weighted([(n, float(m[k])) for n, m in metrics]) for k in ("auc", "ibs")}
        self._write({"round": server_round, "scope": "weighted", "site": "all", "n": sum(n for n, _ in metrics),
                     "events": sum(int(m["events"]) for _, m in metrics), **summary})
        if math.isfinite(summary["ibs"]) and summary["ibs"] < self.best_ibs and self.latest is not None:
            self.best_ibs, self.best_round, self.best = summary["ibs"], server_round, [a.copy() for a in self.latest]
        return summary["ibs"], summary

    def final_weights(self) -> tuple[list[np.ndarray], int]:
        """The selected weights (``fed.select``) and their round."""
        if self.fed.select == "best" and self.best is not None:
            return self.best, self.best_round
        assert self.latest is not None
        return self.latest, self.fed.rounds

    def _write(self, row: dict[str, Any]) -> None:
        self.rows.append({c: row.get(c) for c in ROUND_COLUMNS})
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.log_path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=ROUND_COLUMNS)
            w.writeheader()
            w.writerows(self.rows)
        tmp.replace(self.log_path)


def _weighted(pairs: list[tuple[int, float]]) -> float:
    ok = [(n, v) for n, v in pairs if math.isfinite(v) and n > 0]
    total = sum(n for n, _ in ok)
    return float(sum(n * v for n, v in ok) / total) if total else float("nan")


def _site(res: Any) -> str:
    return str(res.metrics.get("site", ""))


class _Coordinated:
    """Mixed in front of Flower's FedAvg/FedProx: initialisation, signing, checks, logging."""

    coordinator: Coordinator

    def initialize_parameters(self, client_manager: Any) -> Any:
        from flwr.common import ndarrays_to_parameters

        return ndarrays_to_parameters(self.coordinator.initialise(client_manager, self.coordinator.fed.round_timeout))

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        from flwr.common import FitIns, parameters_to_ndarrays

        c = self.coordinator
        arrays = parameters_to_ndarrays(parameters)
        pairs = c.members(super().configure_fit(server_round, parameters, client_manager))  # type: ignore[misc]
        base = {**c.shared, "local_epochs": c.fed.local_epochs}
        return [(proxy, FitIns(ins.parameters, c.instruct("fit", proxy.cid, server_round, {**ins.config, **base}, arrays)))
                for proxy, ins in pairs]

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        from flwr.common import EvaluateIns, parameters_to_ndarrays

        c = self.coordinator
        arrays = parameters_to_ndarrays(parameters)
        pairs = c.members(super().configure_evaluate(server_round, parameters, client_manager))  # type: ignore[misc]
        return [(proxy, EvaluateIns(ins.parameters, c.instruct("evaluate", proxy.cid, server_round,
                                                                {**ins.config, **c.shared}, arrays)))
                for proxy, ins in pairs]

    def aggregate_fit(self, server_round: int, results: list, failures: list) -> Any:
        from flwr.common import parameters_to_ndarrays

        c = self.coordinator
        kept = []
        for proxy, res in results:
            if c.accept("fit", proxy.cid, server_round, dict(res.metrics), parameters_to_ndarrays(res.parameters)):
                kept.append((proxy, res))
            else:
                failures.append(AuthenticationError(f"fit result of {_site(res)} rejected"))
        if not kept:
            reasons = "; ".join(str(f) if isinstance(f, BaseException) else f"{_site(f[1])}: {f[1].status.message}"
                                for f in failures) or "no site answered"
            raise OncofusionError(f"round {server_round}: no site returned weights ({reasons}). Fix: see the sites' output.")
        kept.sort(key=lambda pr: _site(pr[1]))  # a fixed order: the same seed gives the same weights
        params, metrics = super().aggregate_fit(server_round, kept, failures)  # type: ignore[misc]
        if params is not None:
            c.record_fit(server_round, [dict(r.metrics) for _, r in kept], parameters_to_ndarrays(params))
        return params, metrics

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        from flwr.common import parameters_to_ndarrays

        self.coordinator.record_central(server_round, parameters_to_ndarrays(parameters))
        return None

    def aggregate_evaluate(self, server_round: int, results: list, failures: list) -> Any:
        c = self.coordinator
        kept = [(r.num_examples, dict(r.metrics)) for proxy, r in results
                if c.accept("evaluate", proxy.cid, server_round, dict(r.metrics), [])]
        if not kept:
            return None, {}
        return c.record_evaluate(server_round, kept)


def build_strategy(coordinator: Coordinator) -> Any:
    """Flower's ``FedAvg`` (or ``FedProx`` with ``proximal_mu = fed.mu``) driven by ``coordinator``."""
    from flwr.server.strategy import FedAvg, FedProx

    fed = coordinator.fed
    base = FedProx if fed.strategy == "fedprox" else FedAvg
    cls = type(f"Oncofusion{base.__name__}", (_Coordinated, base), {})
    kwargs: dict[str, Any] = {
        "fraction_fit": 1.0, "fraction_evaluate": 1.0, "min_fit_clients": fed.min_sites,
        "min_evaluate_clients": fed.min_sites, "min_available_clients": fed.min_sites, "accept_failures": True,
        "fit_metrics_aggregation_fn": lambda m: {}, "evaluate_metrics_aggregation_fn": lambda m: {},
    }
    if base is FedProx:
        kwargs["proximal_mu"] = fed.mu
    strategy = cls(**kwargs)
    strategy.coordinator = coordinator
    return strategy
