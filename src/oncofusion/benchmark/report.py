"""A benchmark's figures (PNG + the data behind each as CSV and Markdown) and ``report.md``.

Figures (``out/figures``), drawn by :mod:`oncofusion.evaluation.figures`:

* ``heatmap``: the mean of each Table 3 metric over seeds (DMA-Net Figure 3);
* ``auc_forest``: the AUC at the primary horizon with its bootstrap interval, one row per
  model and seed (Figure 4);
* ``time_curves``: td-AUC and Brier score over time; band: ± 1 SD over seeds (the bootstrap
  interval with one seed) (Figure 5);
* ``calibration_error``: absolute calibration error over time, median and IQR across
  patients, averaged over seeds (Figure 7).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.utils.io import atomic_write

__all__ = ["design_text", "draw_figures", "write_meta", "write_report"]

_CAPTIONS = {
    "heatmap": "Mean over seeds of each metric (colour: scaled per column, 1 = best; Brier/IBS inverted)",
    "auc_forest": "AUC at the primary horizon with its 95% bootstrap interval, per model and seed",
    "time_curves": "td-AUC and IPCW Brier score over time (mean over seeds; band ± 1 SD over seeds, "
    "or the bootstrap interval with one seed)",
    "calibration_error": "Absolute calibration error over time (median and IQR over patients, "
    "averaged over seeds)",
}


def _figure_data(result: Any, horizon: float) -> dict[str, pd.DataFrame]:
    t = result.tables
    unit = t["summary"].attrs.get("time_unit", "")
    attrs = {"horizon": horizon, "time_unit": unit, "ci": 0.95}
    out: dict[str, pd.DataFrame] = {}
    seeds = t["seeds"]
    heat = pd.DataFrame({"model": seeds["model"]})
    for m in ("auc", "iauc", "uno_c", "brier", "ibs"):
        heat[m] = seeds.get(f"{m}_mean", pd.Series(np.nan, index=seeds.index)).to_numpy(float)
    heat.attrs.update(attrs, kind="summary")
    out["heatmap"] = heat
    s = t["summary"]
    many = s["seed"].nunique() > 1
    forest = s[["model", "seed", "auc", "auc_low", "auc_high"]].copy()
    forest["label"] = [
        f"{m} (seed {k})" if many else str(m)
        for m, k in zip(forest["model"], forest["seed"], strict=True)
    ]
    forest.attrs.update(attrs, kind="summary")
    out["auc_forest"] = forest
    time = t["time"]
    if many:
        ts = t["time_seeds"]
        curves = pd.DataFrame({"model": ts["model"], "time": ts["time"]})
        for m in ("auc", "brier"):
            mu, sd = ts[f"{m}_mean"].to_numpy(float), np.nan_to_num(ts[f"{m}_sd"].to_numpy(float))
            curves[m], curves[f"{m}_low"], curves[f"{m}_high"] = mu, mu - sd, mu + sd
    else:
        curves = time[
            ["model", "time", "auc", "auc_low", "auc_high", "brier", "brier_low", "brier_high"]
        ].copy()
    curves.attrs.update(attrs, kind="time")
    out["time_curves"] = curves
    cal = (
        time.groupby(["model", "time"], sort=False)[["ace_median", "ace_q25", "ace_q75"]]
        .mean()
        .reset_index()
    )
    cal.attrs.update(attrs, kind="time")
    out["calibration_error"] = cal
    return out


def draw_figures(result: Any, horizon: float, fig_dir: Path) -> dict[str, Path]:
    """Draw the four figures (when matplotlib is installed) and write their data tables."""
    from oncofusion.evaluation import write_tables

    if result.tables.get("summary") is None or result.tables["summary"].empty:
        result.notes.append("no model produced predictions, so no figure was drawn.")
        return {}
    data = _figure_data(result, horizon)
    write_tables(data, fig_dir)
    if importlib.util.find_spec("matplotlib") is None:
        result.notes.append(
            "matplotlib is not installed, so no figure was drawn (data tables written)."
        )
        return {}
    from oncofusion.evaluation import figures as figs

    models = list(result.tables["seeds"]["model"])
    colors = figs.model_colors(models)
    forest = data["auc_forest"]
    fcol = {lab: colors[m] for lab, m in zip(forest["label"], forest["model"], strict=True)}
    return {
        "heatmap": figs.metric_heatmap(data["heatmap"], fig_dir / "heatmap.png"),
        "auc_forest": figs.auc_forest_plot(
            forest.drop(columns="model").rename(columns={"label": "model"}),
            fig_dir / "auc_forest.png",
            colors=fcol,
        ),
        "time_curves": figs.time_curves_plot(
            data["time_curves"], fig_dir / "time_curves.png", colors=colors
        ),
        "calibration_error": figs.calibration_error_plot(
            data["calibration_error"], fig_dir / "calibration_error.png", colors=colors
        ),
    }


def design_text(cfg: Any) -> str:
    seeds = ", ".join(map(str, cfg.seed_list))
    if cfg.cv is not None:
        return (
            f"{len(cfg.seed_list)} repeat(s) of stratified {cfg.cv}-fold cross-validation (seeds {seeds}); "
            f"{100 * cfg.val_fraction:g}% of each training fold is the validation set; metrics on the "
            "pooled out-of-fold predictions of each repeat, censoring reference = the whole cohort"
        )
    tr, va, te = (f"{100 * x:g}%" for x in cfg.sizes)
    return (
        f"{len(cfg.seed_list)} stratified patient-level split(s) {tr}/{va}/{te} train/validation/test "
        f"(seeds {seeds}); censoring reference = the development (train + validation) patients"
    )


def write_report(result: Any, cohort: Any, horizon: float) -> Path:
    """``report.md``: design, the headline tables, figures, model status, notes."""
    from oncofusion.evaluation import markdown_table

    cfg, t = result.config, result.tables
    unit = cohort.schema.time_unit
    ev = int(cohort.patients["event"].sum())
    lines = [
        f"# Benchmark: {cohort.name}",
        "",
        f"Cohort `{cfg.cohort}`: {len(cohort)} patients, {ev} events; time in {unit}.",
        (
            f"Design: {design_text(cfg)}. Every model sees the same patients, seeds and "
            "metrics; preprocessing is fitted on each model's training patients only."
        ),
        f"Primary horizon {horizon:g} {unit}; bootstrap: {cfg.n_resamples} patient-level resamples.",
        "",
        "## Models",
        "",
        markdown_table(t["models"]),
        f"## Table 3: mean ± SD over seeds at {horizon:g} {unit}",
        "",
        markdown_table(t["seeds"]),
    ]
    if "comparison_seeds" in t:
        title = (
            "## Paired bootstrap against the reference (difference mean ± SD over seeds; "
            "n_significant: seeds with p < 0.05)"
        )
        lines += [title, "", markdown_table(t["comparison_seeds"])]
    if len(t.get("time_seeds", [])):
        lines += [
            "## Table 4: by time point (mean ± SD over seeds)",
            "",
            markdown_table(t["time_seeds"]),
        ]
    if len(t["summary"]):
        lines += ["## Table 3 per seed (95% bootstrap intervals)", "", markdown_table(t["summary"])]
    if "comparison" in t:
        lines += ["## Paired bootstrap per seed", "", markdown_table(t["comparison"])]
    lines += ["## Wall time per model", "", markdown_table(t["timings_by_model"])]
    if result.figures:
        lines += ["## Figures", ""]
        for name, path in result.figures.items():
            rel = Path(os.path.relpath(path, result.out_dir)).as_posix()
            caption = _CAPTIONS.get(name, name)
            lines += [f"![{caption}]({rel})", "", f"*{caption}* (data: `figures/{name}.csv`).", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    path = result.out_dir / "report.md"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    return path


def write_meta(result: Any, cohort: Any, horizon: float | None) -> Path:
    """``benchmark.json``: the resolved config, the cohort fingerprint, versions, statuses."""
    from importlib import metadata

    from oncofusion.benchmark.cache import cohort_fingerprint

    versions = {}
    for pkg in (
        "oncofusion",
        "numpy",
        "pandas",
        "scikit-survival",
        "lifelines",
        "xgboost-cpu",
        "torch",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    meta = {
        "config": json.loads(result.config.model_dump_json()),
        "seeds": result.config.seed_list,
        "primary_horizon": horizon,
        "cohort": {
            "name": cohort.name,
            "patients": len(cohort),
            "fingerprint": cohort_fingerprint(cohort),
        },
        "models": result.tables["models"].to_dict(orient="records")
        if "models" in result.tables
        else [],
        "cells": {
            "total": len(result.cells),
            "from_cache": sum(c.from_cache for c in result.cells),
        },
        "python": platform.python_version(),
        "versions": versions,
        "notes": result.notes,
    }
    path = result.out_dir / "benchmark.json"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=2, default=str)
    return path
