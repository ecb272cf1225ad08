"""MM-Care run directories and the command-line entry points (train, evaluate).

``oncofusion train COHORT --config mmcare-cpu --out RUN`` dispatches to
:func:`train_mmcare_command` when the config declares ``model: mmcare``
(:func:`~oncofusion.models.mmcare_config.is_mmcare_config`); ``oncofusion evaluate RUN``
dispatches to :func:`~oncofusion.models.mmcare_eval.evaluate_mmcare_run` when ``run.json``
names the model ``mmcare`` (:func:`is_mmcare_run`). ``oncofusion predict`` needs nothing
special: :meth:`MMCarePredictor.predict` returns a prediction whose rows carry the per-arm
outcomes and the recommendation.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncofusion.errors import OncofusionError

__all__ = [
    "INTENDED_USE",
    "LIMITATIONS",
    "is_mmcare_run",
    "save_mmcare_run",
    "train_mmcare_command",
]

INTENDED_USE = (
    "Research decision support for choosing between treatment arms (MM-Care: SBRT or surgery "
    "for early-stage NSCLC): each patient's probabilities of overall survival and local control "
    "under every arm, the arm with the higher weighted prognosis and the uncertainty of that "
    "choice. Not a diagnostic device; recommendations must be weighed by the treating team "
    "together with patient preferences and the full clinical picture."
)
LIMITATIONS = [
    (
        "Per-arm outcomes are counterfactual for the arm not received: they rely on no unmeasured "
        "confounding given the model's inputs, on the propensity model (IPTW) and on overlap; "
        "patients flagged outside the common support get extrapolated predictions."
    ),
    (
        "Validated only on the held-out split of the training cohort; external validation across "
        "sites, scanners and treatment eras is required before any clinical use."
    ),
    (
        "Local control is treated as censored by death (the net, cause-specific probability), and "
        "censoring is assumed independent of the outcome given the inputs."
    ),
    (
        "The interval on the expected benefit comes from MC dropout: it reflects model uncertainty "
        "only approximately and not the sampling variability of the training cohort."
    ),
]


def is_mmcare_run(run_dir: str | Path) -> bool:
    """True when ``run_dir/run.json`` names the model ``"mmcare"``."""
    from oncofusion.models.run import read_json

    path = Path(run_dir) / "run.json"
    return path.is_file() and read_json(path).get("model") == "mmcare"


def save_mmcare_run(run: Any, cohort: Any, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``run`` with :func:`oncofusion.models.artifacts.save_run`, then give its model
    card MM-Care's intended use, limitations and training summary (Dice, overlap, IPTW)."""
    from oncofusion.models.artifacts import save_run, write_model_card
    from oncofusion.models.run import read_json, write_checksums

    out = save_run(run, cohort, out_dir, overwrite=overwrite)
    card = read_json(out / "model_card.json")
    card["intended_use"] = INTENDED_USE
    card["limitations"] = LIMITATIONS
    card["training_summary"] = run.model.training_summary
    write_model_card(out, card)
    write_checksums(out)
    return out


def train_mmcare_command(
    cohort: str | Path,
    config: str | Path,
    out: str | Path,
    *,
    seed: int | None = None,
    epochs: int | None = None,
    overwrite: bool = False,
    evaluate: bool = True,
    echo: Callable[[str], Any] = print,
) -> Path:
    """``oncofusion train COHORT --config <mmcare config> --out RUN`` (then ``evaluate``).

    Parameters
    ----------
    cohort
        Cohort directory with treatment arms.
    config
        Packaged config name (``mmcare-cpu``, ``mmcare-gpu``) or YAML path.
    out
        Run directory to create.
    seed, epochs
        Override ``train.seed`` / ``train.max_epochs``.
    overwrite
        Replace a non-empty ``out``.
    evaluate
        Evaluate on the test split afterwards (``out/evaluation``).
    echo
        Where progress lines go (the CLI passes its console's ``print``).
    """
    from oncofusion.data import load_cohort
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_pipeline import train_mmcare

    out = Path(out)
    overrides: dict[str, Any] = {}
    if seed is not None or epochs is not None:
        overrides["train"] = {
            k: v for k, v in (("seed", seed), ("max_epochs", epochs)) if v is not None
        }
    cfg = load_mmcare_config(config, overrides)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OncofusionError(
            f"run directory '{out}' exists and is not empty. Fix: choose another --out or pass --overwrite."
        )
    data = load_cohort(cohort, require_events=True)
    echo(
        f"training {cfg.name} on {data.schema.name} ({len(data)} patients, arms {list(data.schema.arms)})"
    )
    work = out.parent / f".{out.name}.work"
    run = train_mmcare(data, cfg, work_dir=work)
    save_mmcare_run(run, data, out, overwrite=overwrite)
    shutil.rmtree(work, ignore_errors=True)
    echo(f"run written to {out} (best epoch {run.best_epoch}, {run.seconds:.0f} s)")
    if evaluate:
        from oncofusion.models.mmcare_eval import evaluate_mmcare_run

        report = evaluate_mmcare_run(out)
        echo(report.tables["summary"].to_string(index=False))
        echo(f"evaluation written to {out / 'evaluation'}")
    return out
