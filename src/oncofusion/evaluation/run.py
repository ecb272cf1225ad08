"""Evaluate a saved run: predictions on its test split (or another cohort) -> tables, figures.

Thresholds are locked on the run's validation split; censoring weights come from its
training split; the test split touches nothing but the final metrics.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import CohortError

__all__ = ["predictions_for", "evaluate_run", "usable_horizon"]

#: how far before the end of follow-up a horizon at that end is evaluated
END_OF_FOLLOW_UP_OFFSET = 1e-6


def usable_horizon(horizon: float, time: np.ndarray) -> float:
    """``horizon``, or just before it when follow-up ends exactly there.

    With administrative censoring at the horizon (everyone event-free is followed to
    exactly 12 months, as in DMA-Net), no patient has :math:`T > 12`, so the
    cumulative/dynamic AUC and the IPCW Brier score at 12 are undefined; at
    :math:`12 - 10^{-6}` they are defined and, since no event lies in between, equal the
    intended "12-month" values. The simulators' oracle metrics use the same rule.
    """
    tmax = float(np.max(time))
    if abs(float(horizon) - tmax) <= 1e-9 * max(1.0, tmax):
        return float(horizon) - END_OF_FOLLOW_UP_OFFSET
    return float(horizon)


def predictions_for(model: Any, cohort: Any, ids: list[str], *, name: str, train: Any | None) -> Any:
    """A :class:`PredictionSet` of ``model`` on the patients ``ids`` of ``cohort``."""
    from oncofusion.evaluation import PredictionSet

    sub = cohort.subset(ids)
    pred = model.predict(sub)
    pts = sub.patients.set_index("patient_id").loc[pred.patient_ids]
    return PredictionSet(
        model=name,
        patient_ids=pred.patient_ids,
        time=pts["time"].to_numpy(float),
        event=pts["event"].to_numpy(int),
        surv=pred.surv,
        grid=pred.cuts[1:],
        train_time=None if train is None else train["time"].to_numpy(float),
        train_event=None if train is None else train["event"].to_numpy(int),
        horizons=[usable_horizon(h, pts["time"].to_numpy(float)) for h in pred.horizons],
        time_unit=pred.time_unit,
    )


def evaluate_run(
    run_dir: str | Path,
    cohort_dir: str | Path | None = None,
    *,
    out_dir: str | Path | None = None,
    n_resamples: int | None = None,
    overwrite: bool = True,
) -> Any:
    """Evaluate the model of ``run_dir`` and write ``evaluation/`` and ``metrics.json`` into it.

    Parameters
    ----------
    run_dir
        A run directory written by ``oncofusion train``.
    cohort_dir
        Another cohort (external validation): every patient is a test patient. Default:
        the training cohort's test split.
    out_dir
        Where the tables and figures go (default ``run_dir/evaluation`` or
        ``run_dir/evaluation-<cohort name>``).
    """
    import oncofusion
    from oncofusion.data import load_cohort
    from oncofusion.evaluation import evaluate_predictions
    from oncofusion.models.artifacts import write_model_card
    from oncofusion.models.run import read_json, write_json

    run_dir = Path(run_dir)
    model = oncofusion.load(run_dir)
    info = read_json(run_dir / "run.json")
    splits = read_json(run_dir / "splits.json")
    train_cohort = None
    origin = Path(info.get("cohort_dir", ""))
    if origin.is_dir():
        train_cohort = load_cohort(origin, check_images=False)
    if cohort_dir is None:
        if train_cohort is None:
            raise CohortError(
                f"the training cohort '{origin}' of this run is not available, so its test split cannot be evaluated.",
                fix="pass the cohort to evaluate with --cohort.",
            )
        cohort, test_ids = train_cohort, splits["test"]
        default_out = run_dir / "evaluation"
    else:
        cohort = load_cohort(cohort_dir, check_images=False)
        test_ids = cohort.patient_ids
        default_out = run_dir / f"evaluation-{cohort.schema.name}"
    train = None
    if train_cohort is not None:
        train = train_cohort.subset(splits["train"]).patients
    name = model.config.name
    test = predictions_for(model, cohort, test_ids, name=name, train=train)
    val = None
    if train_cohort is not None and splits.get("val"):
        val = {name: predictions_for(model, train_cohort, splits["val"], name=name, train=train)}
    cfg = model.config.evaluation
    horizons = model.horizons
    horizon = usable_horizon(float(max(h for h in horizons if h <= model.cuts[-1])), test.time)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate_predictions(
            {name: test},
            horizon=horizon,
            val_predsets=val,
            threshold_horizon=cfg.threshold_horizon,
            out_dir=out_dir or default_out,
            n_resamples=n_resamples or cfg.n_resamples,
            seed=cfg.seed,
            overwrite=overwrite,
        )
    summary = report.tables["summary"].iloc[0].to_dict()
    metrics = {k: _plain(v) for k, v in summary.items() if k != "model"}
    context = {
        "cohort": cohort.schema.name, "split": "test" if cohort_dir is None else "external",
        "horizon": round(horizon, 6), "time_unit": cohort.schema.time_unit, "ci_level": 0.95,
        "bootstrap_resamples": n_resamples or cfg.n_resamples, "bootstrap_seed": cfg.seed,
    }
    out = {**context, "summary": metrics}
    if val is not None:
        out["risk_tiers"] = _risk_tiers(val[name], horizon)
    write_json(run_dir / "metrics.json", out)
    card = read_json(run_dir / "model_card.json")
    card["metrics"] = {**context, **{k: v for k, v in metrics.items() if isinstance(v, (int, float))}}
    write_model_card(run_dir, card)
    return report


def _risk_tiers(val: Any, horizon: float) -> dict[str, Any]:
    """Low / intermediate / high risk cut at the tertiles of the validation patients'
    predicted risk at ``horizon`` (fixed on validation, never on test)."""
    from oncofusion.evaluation import surv_at

    risk = 1.0 - np.asarray(surv_at(val, [horizon]))[:, 0]
    low, high = np.quantile(risk, [1 / 3, 2 / 3])
    return {"low_below": float(low), "high_from": float(high), "horizon": float(horizon), "n_validation": int(len(risk))}


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v
