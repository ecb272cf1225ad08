"""Figures of an evaluation (DMA-Net Figures 3-7, calibration and decision curves) as PNG.

Each function draws from an evaluation table (:mod:`oncofusion.evaluation.tables`), writes one
PNG atomically and returns its path. matplotlib is imported inside the functions and drawn
with the Agg canvas directly (no pyplot, no global backend switch). A model keeps its colour
across figures: pass the same ``colors`` mapping (default :func:`model_colors` of the models
in table order). The PNG is exactly ``figsize * dpi`` pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.evaluation._figure_base import (
    DPI,
    PathLike,
    concat_tables,
    horizon_text,
    model_colors,
    not_available,
    per_model,
    png_figure,
    require_columns,
    resolve_colors,
    time_unit_of,
)

__all__ = [
    "DPI",
    "ablation_plot",
    "auc_forest_plot",
    "calibration_curve_plot",
    "calibration_error_plot",
    "decision_curve_plot",
    "metric_heatmap",
    "model_colors",
    "time_curves_plot",
]

_HEAT = (
    ("auc", "AUC ({h})", True),
    ("iauc", "iAUC", True),
    ("uno_c", "Uno's C", True),
    ("brier", "Brier ({h})", False),
    ("ibs", "IBS", False),
)


def metric_heatmap(
    summary: pd.DataFrame,
    path: PathLike,
    *,
    figsize: tuple[float, float] | None = None,
    dpi: int = DPI,
) -> Path:
    """Normalised metric heatmap across models (DMA-Net Figure 3).

    Colour is each column min-max scaled across models so that 1 is the best model (Brier
    and IBS inverted: lower is better); the raw values are printed in the cells. A column
    where all models tie is coloured 0.5; missing values are grey with "—".
    """
    require_columns(summary, ["model"] + [k for k, _, _ in _HEAT], "metric_heatmap")
    vals = summary[[k for k, _, _ in _HEAT]].to_numpy(dtype=float)
    scaled = np.full_like(vals, np.nan)
    for j, (_, _, higher) in enumerate(_HEAT):
        col = vals[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        lo, hi = col[ok].min(), col[ok].max()
        s = np.where(ok, 0.5 if hi == lo else (col - lo) / (hi - lo if hi > lo else 1.0), np.nan)
        scaled[:, j] = s if higher else 1.0 - s
    n = len(summary)
    figsize = figsize or (8.0, 1.6 + 0.45 * max(n, 1))
    with png_figure(figsize, path, dpi) as fig:
        ax = fig.add_subplot()
        from matplotlib import colormaps

        cmap = colormaps["YlGnBu"].with_extremes(bad="0.85")
        im = ax.imshow(np.ma.masked_invalid(scaled), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(
            range(len(_HEAT)), [lab.format(h=horizon_text(summary)) for _, lab, _ in _HEAT]
        )
        ax.set_yticks(range(n), summary["model"].astype(str).tolist())
        for i in range(n):
            for j in range(len(_HEAT)):
                v, c = vals[i, j], scaled[i, j]
                ax.text(
                    j,
                    i,
                    "—" if not np.isfinite(v) else f"{v:.3f}",
                    ha="center",
                    va="center",
                    color="white" if np.isfinite(c) and c > 0.6 else "black",
                )
        ax.spines[:].set_visible(False)
        ax.set_title("Test-set performance (colour: scaled, 1 = best; Brier/IBS inverted)")
        fig.colorbar(im, ax=ax, label="Scaled performance", shrink=0.9)
    return Path(path)


def auc_forest_plot(
    summary: pd.DataFrame,
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = DPI,
) -> Path:
    """Forest plot of the AUC at the horizon with its bootstrap interval (DMA-Net Figure 4)."""
    require_columns(summary, ["model", "auc", "auc_low", "auc_high"], "auc_forest_plot")
    models = summary["model"].astype(str).tolist()
    col = resolve_colors(models, colors)
    n = len(models)
    ci = summary.attrs.get("ci", 0.95)
    figsize = figsize or (7.0, 1.4 + 0.5 * max(n, 1))
    lows = summary["auc_low"].to_numpy(float)
    lows = lows[np.isfinite(lows)]
    left = min(0.45, float(lows.min()) - 0.03) if lows.size else 0.45
    with png_figure(figsize, path, dpi) as fig:
        ax = fig.add_subplot()
        labels = []
        for i, r in enumerate(summary.itertuples(index=False)):
            y = n - 1 - i
            if not np.isfinite(r.auc):
                labels.append("not available")
                continue
            has_ci = bool(np.isfinite(r.auc_low) and np.isfinite(r.auc_high))
            lo, hi = (r.auc_low, r.auc_high) if has_ci else (r.auc, r.auc)
            ax.errorbar(
                r.auc,
                y,
                xerr=[[r.auc - lo], [hi - r.auc]],
                fmt="s",
                ms=7,
                capsize=4,
                color=col[str(r.model)],
                lw=1.8,
            )
            labels.append(f"{r.auc:.3f} ({lo:.3f}–{hi:.3f})" if has_ci else f"{r.auc:.3f}")
        ax.axvline(0.5, color="0.5", ls="--", lw=1)
        ax.set_yticks(range(n), models[::-1])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(left, 1.0)
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        right.set_yticks(range(n), labels[::-1])
        right.tick_params(length=0)
        right.spines[:].set_visible(False)
        ax.set_xlabel(f"AUC at {horizon_text(summary)} ({100 * ci:g}% bootstrap CI)")
        ax.set_title(f"Time-dependent AUC at {horizon_text(summary)}")
    return Path(path)


def time_curves_plot(
    time_tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] = (10.0, 4.0),
    dpi: int = DPI,
) -> Path:
    """td-AUC (left) and IPCW Brier score (right) over time, one line per model (Figure 5).

    Shaded bands are the bootstrap intervals of :func:`~oncofusion.evaluation.time_table`.
    """
    df = concat_tables(time_tables)
    require_columns(
        df,
        ["model", "time", "auc", "auc_low", "auc_high", "brier", "brier_low", "brier_high"],
        "time_curves_plot",
    )
    col = resolve_colors(df["model"].astype(str).tolist(), colors)
    with png_figure(figsize, path, dpi) as fig:
        axes = fig.subplots(1, 2)
        for ax, key, name in (
            (axes[0], "auc", "Time-dependent AUC"),
            (axes[1], "brier", "IPCW Brier score"),
        ):
            for m, d in per_model(df):
                t = d["time"].to_numpy(float)
                ax.plot(t, d[key], "o-", color=col[m], label=m, lw=1.8, ms=5)
                ax.fill_between(
                    t,
                    d[f"{key}_low"].to_numpy(float),
                    d[f"{key}_high"].to_numpy(float),
                    color=col[m],
                    alpha=0.15,
                    lw=0,
                )
            ax.set_xlabel(f"Time since baseline ({time_unit_of(df)})")
            ax.set_ylabel(name + (" (higher is better)" if key == "auc" else " (lower is better)"))
            ax.set_title(name)
            ax.grid(alpha=0.3)
        axes[0].axhline(0.5, color="0.5", ls="--", lw=1)
        axes[0].legend(loc="lower left", frameon=False)
    return Path(path)


def ablation_plot(
    ablation: pd.DataFrame,
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] | None = None,
    dpi: int = DPI,
) -> Path:
    """Ablation bars: integrated AUC (left) and Brier score at the horizon (right) (Figure 6).

    The reference model is hatched; each bar is labelled with its value and the difference
    from the reference.
    """
    require_columns(
        ablation, ["model", "iauc", "delta_iauc", "brier", "delta_brier"], "ablation_plot"
    )
    models = ablation["model"].astype(str).tolist()
    col = resolve_colors(models, colors)
    ref = ablation.attrs.get("reference", models[0] if models else "")
    n = len(models)
    figsize = figsize or (10.0, 1.4 + 0.5 * max(n, 1))
    rng = ablation.attrs.get("iauc_range")
    span = (
        f"{rng[0]:g}–{rng[1]:g} {time_unit_of(ablation)}"
        if rng
        else f"up to {horizon_text(ablation)}"
    )
    with png_figure(figsize, path, dpi) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, key, label in (
            (axes[0], "iauc", f"Integrated AUC ({span})"),
            (axes[1], "brier", f"Brier score at {horizon_text(ablation)}"),
        ):
            v = ablation[key].to_numpy(float)
            y = np.arange(n)[::-1]
            ax.barh(
                y,
                np.nan_to_num(v),
                color=[col[m] for m in models],
                hatch=["//" if m == ref else "" for m in models],
                edgecolor="0.2",
                lw=0.6,
            )
            top = float(np.nanmax(v, initial=0.0)) if np.isfinite(v).any() else 1.0
            for yi, vi, d, m in zip(y, v, ablation[f"delta_{key}"], models, strict=True):
                txt = (
                    "—"
                    if not np.isfinite(vi)
                    else (f"{vi:.3f}" if m == ref or not np.isfinite(d) else f"{vi:.3f} ({d:+.3f})")
                )
                ax.text(np.nan_to_num(vi) + 0.01 * top, yi, txt, va="center", fontsize=9)
            ax.set_xlim(0, top * 1.35 if top > 0 else 1)
            ax.set_xlabel(label)
        axes[0].set_yticks(np.arange(n)[::-1], models)
        fig.suptitle(f"Ablation (hatched: reference '{ref}'; differences vs reference)")
    return Path(path)


def calibration_error_plot(
    time_tables: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] = (7.0, 4.0),
    dpi: int = DPI,
) -> Path:
    """Median absolute calibration error over time with its IQR, per model (Figure 7)."""
    df = concat_tables(time_tables)
    require_columns(
        df, ["model", "time", "ace_median", "ace_q25", "ace_q75"], "calibration_error_plot"
    )
    col = resolve_colors(df["model"].astype(str).tolist(), colors)
    models = list(dict.fromkeys(df["model"].astype(str)))
    times = np.unique(df["time"].to_numpy(float))
    step = float(np.min(np.diff(times))) if times.size > 1 else 1.0
    with png_figure(figsize, path, dpi) as fig:
        ax = fig.add_subplot()
        for k, (m, d) in enumerate(per_model(df)):
            dx = (k - (len(models) - 1) / 2) * 0.08 * step
            med = d["ace_median"].to_numpy(float)
            lo, hi = d["ace_q25"].to_numpy(float), d["ace_q75"].to_numpy(float)
            ax.errorbar(
                d["time"].to_numpy(float) + dx,
                med,
                yerr=[med - lo, hi - med],
                fmt="o-",
                color=col[m],
                capsize=4,
                lw=1.6,
                ms=5,
                label=m,
            )
        ax.set_xlabel(f"Time since baseline ({time_unit_of(df)})")
        ax.set_ylabel("Absolute calibration error |predicted − observed|")
        ax.set_title("Calibration error over follow-up (median with IQR)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    return Path(path)


def calibration_curve_plot(
    calibration: pd.DataFrame,
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] = (5.5, 5.5),
    dpi: int = DPI,
) -> Path:
    """Observed (Kaplan-Meier, with CI) versus mean predicted risk by risk group at a horizon."""
    require_columns(
        calibration,
        ["model", "predicted", "observed", "observed_low", "observed_high"],
        "calibration_curve_plot",
    )
    col = resolve_colors(calibration["model"].astype(str).tolist(), colors)
    with png_figure(figsize, path, dpi) as fig:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="Perfect calibration")
        for m, d in per_model(calibration):
            obs = d["observed"].to_numpy(float)
            ax.errorbar(
                d["predicted"].to_numpy(float),
                obs,
                yerr=[
                    obs - d["observed_low"].to_numpy(float),
                    d["observed_high"].to_numpy(float) - obs,
                ],
                fmt="o-",
                color=col[m],
                capsize=3,
                lw=1.4,
                ms=5,
                label=m,
            )
        if calibration.empty:
            not_available(ax)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xlabel(f"Predicted risk by {horizon_text(calibration)}")
        ax.set_ylabel(f"Observed risk by {horizon_text(calibration)} (Kaplan-Meier)")
        ax.set_title(f"Calibration at {horizon_text(calibration)}")
        ax.legend(loc="upper left", frameon=False)
    return Path(path)


def decision_curve_plot(
    decision: pd.DataFrame | Mapping[str, pd.DataFrame],
    path: PathLike,
    *,
    colors: Mapping[str, Any] | None = None,
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: int = DPI,
) -> Path:
    """Decision curve: net benefit against threshold probability, with treat-all / treat-none."""
    df = concat_tables(decision)
    require_columns(df, ["model", "threshold", "net_benefit", "treat_all"], "decision_curve_plot")
    col = resolve_colors(df["model"].astype(str).tolist(), colors)
    with png_figure(figsize, path, dpi) as fig:
        ax = fig.add_subplot()
        first = next(per_model(df), None)
        if first is not None:
            d0 = first[1]
            ax.plot(
                d0["threshold"], d0["treat_all"], color="0.45", ls="--", lw=1.4, label="Treat all"
            )
        ax.axhline(0.0, color="black", lw=1.2, label="Treat none")
        for m, d in per_model(df):
            ax.plot(d["threshold"], d["net_benefit"], color=col[m], lw=1.8, label=m)
        nb = df["net_benefit"].to_numpy(float)
        top = float(np.nanmax(np.r_[nb, df["treat_all"].to_numpy(float), 0.01]))
        ax.set_ylim(-0.05 * max(top, 0.1), top * 1.1)
        ax.set_xlim(float(df["threshold"].min()), float(df["threshold"].max()))
        ax.set_xlabel(f"Threshold probability of the event by {horizon_text(df)}")
        ax.set_ylabel("Net benefit")
        ax.set_title(f"Decision curve at {horizon_text(df)}")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    return Path(path)
