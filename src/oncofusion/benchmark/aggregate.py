"""From finished cells to tables: prediction sets per seed, their evaluation, mean ± SD over
seeds, comparisons, timings and model statuses.

Table names (``out/tables/<name>.csv`` and ``.md``) and columns:

``summary``
    DMA-Net Table 3 per seed: ``seed, model, n, n_events, auc, auc_low, auc_high, iauc, ...,
    ibs_high`` (AUC and Brier at the primary horizon, iAUC and IBS up to it, Uno's C truncated
    there; patient-level bootstrap intervals).
``seeds``
    Mean ± SD (ddof = 1) over seeds: ``model, n_seeds, auc_mean, auc_sd, iauc_mean, iauc_sd,
    uno_c_mean, uno_c_sd, brier_mean, brier_sd, ibs_mean, ibs_sd, status``.
``time``
    Table 4 per seed: ``seed, model, time, n_events, auc(+CI), brier(+CI), ace_median,
    ace_q25, ace_q75, cal_slope, cal_intercept``.
``time_seeds``
    ``model, time, n_seeds, auc_mean, auc_sd, brier_mean, brier_sd, ace_median_mean,
    ace_median_sd``.
``comparison``
    Paired bootstrap against the reference per seed: ``seed, model, reference, metric,
    estimate, reference_estimate, diff, diff_low, diff_high, p_value``.
``comparison_seeds``
    ``model, reference, metric, n_seeds, diff_mean, diff_sd, n_significant`` (seeds with
    p < 0.05).
``timings`` / ``timings_by_model``
    Wall time per cell (``model, seed, fold, status, from_cache, fit_seconds,
    predict_seconds``) and per model (``model, cells, computed, fit_seconds_total,
    fit_seconds_mean, predict_seconds_total``).
``models``
    ``model, runner, use, source, status, cells_ok, cells, message``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.benchmark.runners import runner_info

__all__ = [
    "SUMMARY_METRICS",
    "evaluate_replicates",
    "evaluation_points",
    "mean_sd",
    "model_status",
    "prediction_sets",
    "timings_tables",
    "write_outputs",
]

SUMMARY_METRICS = ("auc", "iauc", "uno_c", "brier", "ibs")
_TIME_METRICS = ("auc", "brier", "ace_median")


def mean_sd(df: pd.DataFrame, by: Sequence[str], cols: Sequence[str]) -> pd.DataFrame:
    """Per group: ``n_seeds`` (rows) and ``<col>_mean``, ``<col>_sd`` (ddof = 1; NaN for one).

    Groups keep their order of first appearance; NaN cells are left out of their column's
    mean and SD.
    """
    by = list(by)
    if df.empty:
        return pd.DataFrame(
            columns=[*by, "n_seeds", *[f"{c}_{s}" for c in cols for s in ("mean", "sd")]]
        )
    grouped = df.groupby(by, sort=False)
    out = grouped.size().rename("n_seeds").reset_index()
    for c in cols:
        out[f"{c}_mean"] = grouped[c].mean().to_numpy()
        out[f"{c}_sd"] = grouped[c].std(ddof=1).to_numpy()
    return out


def _with_seed(tables: list[tuple[int, pd.DataFrame]]) -> pd.DataFrame:
    parts = [t.assign(seed=s)[["seed", *t.columns]] for s, t in tables if len(t)]
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(tables[0][1].attrs)
    return out


def prediction_sets(
    cohort: Any,
    config: Any,
    cells: Sequence[Any],
    folds: Sequence[Any],
    grid: np.ndarray,
    horizons: list[float],
    h: float,
) -> dict[int, dict[str, Any]]:
    """One :class:`~oncofusion.evaluation.PredictionSet` per model and seed.

    A model enters a seed only when all of that seed's folds succeeded; with ``cv`` the
    folds' test predictions are pooled (every patient once). Risk for the C-index is
    :math:`1 - S(h)` at the primary horizon ``h``; the censoring reference is the
    development patients (the whole cohort with ``cv``). A horizon where the test patients'
    follow-up ends (administrative censoring there: nobody is followed past it) is evaluated
    just before it (:func:`oncofusion.evaluation.run.usable_horizon`).
    """
    from oncofusion.evaluation import PredictionSet
    from oncofusion.evaluation.run import usable_horizon

    p = cohort.patients.set_index("patient_id")
    keep = evaluation_points(p["time"].to_numpy(dtype=np.float64), grid, horizons)
    out: dict[int, dict[str, Any]] = {}
    n_folds = {r: sum(f.replicate == r for f in folds) for r in {f.replicate for f in folds}}
    for r in sorted(n_folds):
        dev = sorted({i for f in folds if f.replicate == r for i in f.train + f.val})
        ref = p.index if config.cv is not None else pd.Index(dev)
        sets: dict[str, Any] = {}
        for spec in config.models:
            mine = [c for c in cells if c.model == spec.name and c.replicate == r]
            if len(mine) != n_folds[r] or any(c.status != "ok" or c.frame is None for c in mine):
                continue
            frame = pd.concat([c.frame for c in mine], ignore_index=True).sort_values("patient_id")
            ids = frame["patient_id"].astype(str).to_numpy()
            surv = frame[[f"t{i}" for i in np.flatnonzero(keep)]].to_numpy(dtype=np.float64)
            k = int(np.searchsorted(grid[keep], h))
            test_time = p.loc[ids, "time"].to_numpy(dtype=np.float64)
            sets[spec.name] = PredictionSet(
                model=spec.name,
                patient_ids=ids,
                time=p.loc[ids, "time"].to_numpy(),
                event=p.loc[ids, "event"].to_numpy(),
                surv=surv,
                grid=grid[keep],
                risk=1.0 - surv[:, k],
                train_time=p.loc[ref, "time"].to_numpy(),
                train_event=p.loc[ref, "event"].to_numpy(),
                horizons=[usable_horizon(x, test_time) for x in horizons],
                time_unit=cohort.schema.time_unit,
            )
        out[r] = sets
    return out


def evaluation_points(time: np.ndarray, grid: np.ndarray, horizons: Sequence[float]) -> np.ndarray:
    """Mask of the grid points evaluated: the horizons and the points from the 5th percentile
    of the cohort's follow-up on.

    The integrated Brier score integrates over these points; starting it where nearly every
    bootstrap resample still has follow-up keeps resamples from being dropped for an
    integration range outside their follow-up. The same points serve every model.
    """
    q = float(np.quantile(time, 0.05))
    return (grid >= q) | np.isin(grid, np.asarray(horizons, dtype=np.float64))


def evaluate_replicates(result: Any, cohort: Any, horizon: float) -> None:
    """Evaluate every seed's prediction sets and fill ``result.tables`` and ``result.notes``.

    Where the test patients' follow-up ends exactly at ``horizon`` (everyone event-free is
    censored there), the AUC and Brier score at it are undefined; they are evaluated at
    ``horizon - 1e-6`` instead (:func:`oncofusion.evaluation.run.usable_horizon`, as in
    ``oncofusion evaluate``), and a note says so.
    """
    from oncofusion.evaluation import evaluate_predictions
    from oncofusion.evaluation.run import usable_horizon

    cfg = result.config
    seeds = cfg.seed_list
    summaries, times, comps = [], [], []
    notes: list[str] = []
    for r, sets in result.predictions.items():
        if not sets:
            continue
        ref = cfg.reference if cfg.reference in sets else next(iter(sets))
        if cfg.reference is not None and cfg.reference not in sets:
            notes.append(
                f"seed {seeds[r]}: reference '{cfg.reference}' has no predictions; "
                f"comparisons use '{ref}'."
            )
        h = usable_horizon(horizon, next(iter(sets.values())).time)
        if h != horizon:
            notes.append(
                f"test follow-up ends at the primary horizon {horizon:g}, where the AUC and "
                f"Brier score are undefined: they are evaluated at {horizon:g} - "
                f"{horizon - h:.0e}."
            )
        out = None
        if cfg.replicate_reports:
            out = result.out_dir / "replicates" / f"seed_{seeds[r]}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = evaluate_predictions(
                sets,
                reference=ref,
                horizon=h,
                out_dir=out,
                n_resamples=cfg.n_resamples,
                seed=seeds[r],
                overwrite=True,
            )
        notes += [
            f"seed {seeds[r]}: {w.message}" for w in caught if issubclass(w.category, UserWarning)
        ]
        summaries.append((seeds[r], rep.tables["summary"]))
        times.append((seeds[r], rep.tables["time"]))
        if "comparison" in rep.tables:
            comps.append((seeds[r], rep.tables["comparison"]))
    t = result.tables
    t["summary"] = _with_seed(summaries)
    t["time"] = _with_seed(times)
    status = model_status(result)
    t["models"] = status
    seeds_t = (
        mean_sd(t["summary"], ["model"], SUMMARY_METRICS)
        if len(t["summary"])
        else mean_sd(pd.DataFrame(columns=["model", *SUMMARY_METRICS]), ["model"], SUMMARY_METRICS)
    )
    seeds_t = _add_missing_models(seeds_t, status)
    seeds_t.attrs.update({**t["summary"].attrs, "kind": "seeds"})
    t["seeds"] = seeds_t
    t["time_seeds"] = (
        mean_sd(t["time"], ["model", "time"], _TIME_METRICS) if len(t["time"]) else pd.DataFrame()
    )
    t["time_seeds"].attrs.update({**t["time"].attrs, "kind": "time"})
    if comps:
        t["comparison"] = _with_seed(comps)
        c = t["comparison"].assign(significant=lambda d: d["p_value"] < 0.05)
        cs = mean_sd(c, ["model", "reference", "metric"], ["diff"])
        cs["n_significant"] = (
            c.groupby(["model", "reference", "metric"], sort=False)["significant"].sum().to_numpy()
        )
        cs.attrs.update({**t["comparison"].attrs, "kind": "comparison_seeds"})
        t["comparison_seeds"] = cs
    t["timings"], t["timings_by_model"] = timings_tables(result.cells)
    result.notes = list(dict.fromkeys(notes))


def model_status(result: Any) -> pd.DataFrame:
    """One row per model: runner, modalities, source, status and message."""
    rows = []
    for spec in result.config.models:
        mine = [c for c in result.cells if c.model == spec.name]
        ok = sum(c.status == "ok" for c in mine)
        bad = [c for c in mine if c.status != "ok"]
        if not bad:
            status, msg = "ok", ""
        elif any(c.status == "not available" for c in bad):
            status, msg = "not available", bad[0].message
        else:
            status = "failed" if ok == 0 else "partly failed"
            msg = _summarise_messages(bad)
        use = result.options.get(spec.name, {}).get("use") or spec.use or result.config.use
        rows.append(
            {
                "model": spec.name,
                "runner": spec.runner_name,
                "use": ",".join(use) if use else "",
                "source": runner_info(spec.runner_name).source,
                "status": status,
                "cells_ok": ok,
                "cells": len(mine),
                "message": msg,
            }
        )
    return pd.DataFrame(rows)


def _summarise_messages(cells: Sequence[Any], limit: int = 240) -> str:
    """Distinct failure messages (shortened), each with the number of cells it ended."""
    counts: dict[str, int] = {}
    for c in cells:
        text = c.message if len(c.message) <= limit else c.message[: limit - 1] + "…"
        counts[text] = counts.get(text, 0) + 1
    return "; ".join(f"{n} cell(s): {m}" for m, n in counts.items())


def _add_missing_models(seeds_t: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """Models without any evaluated seed get a row of NaN; every row gets its ``status``."""
    have = set(seeds_t["model"])
    extra = [{"model": m, "n_seeds": 0} for m in status["model"] if m not in have]
    if extra:
        seeds_t = pd.concat([seeds_t, pd.DataFrame(extra)], ignore_index=True)
    order = {m: i for i, m in enumerate(status["model"])}
    seeds_t = seeds_t.sort_values("model", key=lambda s: s.map(order), kind="stable")
    lookup = status.set_index("model")
    seeds_t["status"] = [
        "ok"
        if lookup.loc[m, "status"] == "ok"
        else f"{lookup.loc[m, 'status']}: {lookup.loc[m, 'message']}"
        for m in seeds_t["model"]
    ]
    seeds_t["n_seeds"] = seeds_t["n_seeds"].astype(int)
    return seeds_t.reset_index(drop=True)


def timings_tables(cells: Sequence[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wall time per cell and per model (cells loaded from the cache keep their stored times)."""
    rows = [
        {
            "model": c.model,
            "seed": c.seed,
            "fold": c.fold,
            "status": c.status,
            "from_cache": c.from_cache,
            "fit_seconds": c.fit_seconds,
            "predict_seconds": c.predict_seconds,
        }
        for c in cells
    ]
    per_cell = pd.DataFrame(rows)
    if per_cell.empty:
        return per_cell, per_cell
    g = per_cell.groupby("model", sort=False)
    by_model = pd.DataFrame(
        {
            "model": g.size().index.to_list(),
            "cells": g.size().to_numpy(),
            "computed": g["from_cache"].apply(lambda s: int((~s.astype(bool)).sum())).to_numpy(),
            "fit_seconds_total": g["fit_seconds"].sum(min_count=1).to_numpy(),
            "fit_seconds_mean": g["fit_seconds"].mean().to_numpy(),
            "predict_seconds_total": g["predict_seconds"].sum(min_count=1).to_numpy(),
        }
    )
    return per_cell, by_model


def write_outputs(result: Any, cohort: Any, horizon: float) -> None:
    """Write tables, figures, ``report.md`` and ``benchmark.json`` under ``result.out_dir``."""
    from oncofusion.benchmark.report import draw_figures, write_meta, write_report
    from oncofusion.evaluation import write_tables

    out = result.out_dir
    write_tables(
        {k: v for k, v in result.tables.items() if isinstance(v, pd.DataFrame)}, out / "tables"
    )
    result.figures = draw_figures(result, horizon, out / "figures")
    write_report(result, cohort, horizon)
    write_meta(result, cohort, horizon)
