"""``oncofusion ablate``: retrain variants under identical splits and seeds, compare on test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncofusion.data.cohort import Cohort
from oncofusion.models.config import ModelConfig

__all__ = ["train_variants", "ablation_report"]


def train_variants(
    cohort: Cohort,
    config: ModelConfig,
    variants: list[str],
    out_dir: str | Path,
    *,
    splits: dict[str, list[str]] | None = None,
    progress: Any = None,
) -> dict[str, Path]:
    """Train each variant on the same split with the same seed; save each as a run.

    Returns ``{variant: run_dir}``. ``progress`` is an optional callable(name) called
    before each variant.
    """
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.pipeline import make_splits, train_model
    from oncofusion.workflows.variants import make_variant

    out_dir = Path(out_dir)
    splits = splits or make_splits(cohort, config)
    runs: dict[str, Path] = {}
    for name in variants:
        if progress is not None:
            progress(name)
        cfg = make_variant(config, name)
        run_dir = out_dir / name
        if (run_dir / "checksums.json").exists():  # finished earlier: resume by skipping it
            runs[name] = run_dir
            continue
        work = out_dir / f".{name}.work"
        run = train_model(cohort, cfg, work_dir=work, splits=splits)
        save_run(run, cohort, run_dir, overwrite=True)
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        runs[name] = run_dir
    return runs


def ablation_report(
    runs: dict[str, Path], cohort: Cohort, *, reference: str = "full", out_dir: str | Path | None = None,
    n_resamples: int = 1000, extra_predsets: dict[str, Any] | None = None,
) -> Any:
    """Evaluate every run on the common test split: Table 3 (summary), Table 5 (ablation)."""
    import oncofusion
    from oncofusion.evaluation import evaluate_predictions
    from oncofusion.evaluation.run import predictions_for, usable_horizon
    from oncofusion.models.run import read_json

    predsets, val = {}, {}
    splits = None
    horizon = None
    threshold_horizon = None
    for name, run_dir in runs.items():
        model = oncofusion.load(run_dir)
        s = read_json(Path(run_dir) / "splits.json")
        if splits is None:
            splits = s
        elif s["test"] != splits["test"]:
            raise ValueError(f"run '{name}' was trained on another split; ablations need identical splits.")
        train = cohort.subset(s["train"]).patients
        predsets[name] = predictions_for(model, cohort, s["test"], name=name, train=train)
        val[name] = predictions_for(model, cohort, s["val"], name=name, train=train)
        horizon = horizon or usable_horizon(
            max(h for h in model.horizons if h <= model.cuts[-1]), predsets[name].time
        )
        threshold_horizon = threshold_horizon or model.config.evaluation.threshold_horizon
    if extra_predsets:
        predsets.update(extra_predsets)
    return evaluate_predictions(
        predsets, reference=reference if reference in predsets else None, horizon=float(horizon),
        val_predsets=val, threshold_horizon=threshold_horizon, out_dir=out_dir, n_resamples=n_resamples, overwrite=True,
    )
