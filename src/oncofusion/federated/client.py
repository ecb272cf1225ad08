"""The Flower client of a site: statistics once, then local training and evaluation per round.

Importing this module imports Flower; :mod:`oncofusion.federated` imports it only when a
federated command runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from flwr.client import NumPyClient

from oncofusion.errors import ConfigError
from oncofusion.federated.auth import MAC_KEY, NONCE_KEY, sign, verify
from oncofusion.federated.local import SiteTrainer, config_digest

__all__ = ["SiteClient"]

log = logging.getLogger("oncofusion.federated")


class SiteClient(NumPyClient):
    """A site in the federation. Only weights and aggregate numbers leave it.

    Parameters
    ----------
    trainer
        The site's data and local trainer.
    secret
        The federation's shared secret (None: no message authentication, insecure mode).
    config_sha256
        Digest of the site's own model config; instructions for another config are refused.
    """

    def __init__(self, trainer: SiteTrainer, secret: bytes | None = None, *, config_sha256: str | None = None) -> None:
        self.trainer = trainer
        self.secret = secret
        self.config_sha256 = config_sha256 or config_digest(trainer.config)

    # -- authentication -------------------------------------------------------------------
    def _check(self, kind: str, config: dict[str, Any], arrays: list[np.ndarray]) -> None:
        if self.secret is not None:
            verify(self.secret, "server", kind, config, arrays)
        theirs = config.get("config_sha256")
        if theirs is not None and theirs != self.config_sha256:
            raise ConfigError(
                f"site {self.trainer.site}: the server trains another model config than this site's --config. "
                "Fix: use the same config file (network, loss, train) at the server and every site."
            )

    def _sign(self, kind: str, config: dict[str, Any], fields: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        fields = {**fields, NONCE_KEY: config.get(NONCE_KEY, ""), "round": int(config.get("round", 0)),
                  "site": self.trainer.site}
        if self.secret is not None:
            fields[MAC_KEY] = sign(self.secret, "site", kind, fields, arrays)
        return fields

    # -- Flower API -----------------------------------------------------------------------
    def get_properties(self, config: dict[str, Any]) -> dict[str, Any]:
        """The site's name, schema and preprocessing statistics (aggregates only)."""
        self._check("properties", config, [])
        schema = self.trainer.cohort.schema.model_dump(mode="json", exclude={"name", "description", "extra", "labels"})
        fields = {"stats": json.dumps(self.trainer.statistics()), "schema": json.dumps(schema),
                  "n_train": self.trainer.n_train, "n_val": len(self.trainer.val_ids),
                  "events_train": int(self.trainer.train_event.sum())}
        return self._sign("properties", config, fields, [])

    def get_parameters(self, config: dict[str, Any]) -> list[np.ndarray]:
        raise RuntimeError("the server initialises the global model; sites never send theirs unasked")

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        self._check("fit", config, parameters)
        self.trainer.prepare(str(config["preprocessing"]), json.loads(str(config["cuts"])))
        mu = float(config.get("proximal_mu", 0.0))
        weights, metrics = self.trainer.train(parameters, server_round=int(config["round"]),
                                              epochs=int(config["local_epochs"]), mu=mu)
        log.info("site %s: round %s trained (%d patients, loss %.4f)", self.trainer.site, config["round"],
                 self.trainer.n_train, metrics["train_loss"])
        fields = self._sign("fit", config, {**metrics, "n": self.trainer.n_train}, weights)
        return weights, self.trainer.n_train, fields

    def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
        self._check("evaluate", config, parameters)
        self.trainer.prepare(str(config["preprocessing"]), json.loads(str(config["cuts"])))
        m = self.trainer.evaluate(parameters, horizon=float(config["horizon"]))
        n = int(m["n"])
        loss = float(m["ibs"]) if np.isfinite(m["ibs"]) else float("nan")
        fields = self._sign("evaluate", config, {**m, "loss": loss}, [])
        return loss, n, fields
