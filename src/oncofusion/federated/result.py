"""The federated model as a run directory: loadable with ``oncofusion.load``, like a central run."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oncofusion.federated.strategy import Coordinator

__all__ = ["FederatedResult", "save_federated_run"]


@dataclass
class FederatedResult:
    """Where the federated run went and how it ended."""

    run_dir: Path
    rounds_csv: Path
    best_round: int
    sites: dict[str, dict[str, Any]]
    rejected: list[str]
    seconds: float


def _card(c: Coordinator, selected_round: int, seconds: float, schema: Any) -> dict[str, Any]:
    from oncofusion.models.artifacts import INTENDED_USE, LIMITATIONS
    from oncofusion.models.run import run_info

    cfg = c.config
    n = sum(s["n_train"] + s["n_val"] for s in c.sites.values())
    return {
        "model": {"name": cfg.name, "family": cfg.model,
                  "description": f"{cfg.description or cfg.name} Trained by federated learning "
                                 f"({c.fed.strategy}, {len(c.sites)} sites, {c.fed.rounds} rounds)."},
        "data": {"cohort": schema.name, "cohort_dir": "(federated: data stayed at the sites)",
                 "time_unit": schema.time_unit, "patients": n,
                 "events": sum(s["events_train"] for s in c.sites.values()),
                 "modalities_used": list(cfg.network.modalities), "coverage": "per site, not shared"},
        "splits": {f"{name} train": {"patients": s["n_train"], "events": s["events_train"]}
                   for name, s in sorted(c.sites.items())},
        "training": {"seed": c.fed.seed, "best_epoch": selected_round, "epochs_run": c.fed.rounds,
                     "seconds": round(seconds, 1), "hyperparameters": cfg.model_dump(mode="json")},
        "software": run_info(cfg.model)["versions"],
        "metrics": {},
        "intended_use": INTENDED_USE,
        "limitations": [*LIMITATIONS,
                        ("Federated training: preprocessing medians are site-weighted means of site medians; "
                         "'epochs' in this card are federated rounds.")],
    }


def save_federated_run(c: Coordinator, out: str | Path, *, seconds: float, schema: Any = None,
                       overwrite: bool = False) -> FederatedResult:
    """Write the selected global model (``fed.select``) with the federation's log to ``out``."""
    from oncofusion.federated.local import set_weights
    from oncofusion.models.artifacts import write_model_card
    from oncofusion.models.predictor import DiscreteTimePredictor
    from oncofusion.models.run import run_info, write_checksums, write_json
    from oncofusion.utils.io import atomic_directory

    out = Path(out)
    schema = schema or c.schema
    weights, selected = c.final_weights()
    set_weights(c.net, weights)
    model = DiscreteTimePredictor(c.net, c.config, c.pre, c.disc, schema)
    model._input_sizes = c.sizes
    federation = {
        "strategy": c.fed.strategy, "mu": c.fed.mu if c.fed.strategy == "fedprox" else 0.0,
        "rounds": c.fed.rounds, "local_epochs": c.fed.local_epochs, "selected_round": selected,
        "select": c.fed.select, "best_weighted_val_ibs": c.best_ibs if selected == c.best_round else None,
        "sites": c.sites, "rejected_messages": c.rejected, "authenticated": c.secret is not None,
    }
    with atomic_directory(out, overwrite=overwrite) as tmp:
        model.save(tmp)
        write_json(tmp / "run.json", run_info(c.config.model, {"cohort": schema.name, "federated": True}))
        write_json(tmp / "federation.json", federation)
        shutil.copy2(c.log_path, tmp / "rounds.csv")
        write_model_card(tmp, _card(c, selected, seconds, schema))
        write_checksums(tmp)
    return FederatedResult(out, out / "rounds.csv", selected, c.sites, c.rejected, seconds)
