"""MM-Care evaluation figures (PNG, matplotlib imported lazily).

* ``os_by_arm.png``: mean predicted OS curve per arm against the Kaplan-Meier curve of the
  test patients who received that arm (calibration-in-the-large over time);
* ``calibration.png``: predicted vs observed 3-year OS by risk quintile, per arm;
* ``benefit.png``: each patient's predicted benefit of the recommended arm with its
  interval, coloured by the recommended arm (grey: no clear preference);
* ``policy.png``: true value (simulation) or IPW value (observed data) of the recommended
  policy and of the comparators (paper Table 7).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["write_figures"]


def _km(time: np.ndarray, event: np.ndarray, grid: np.ndarray) -> np.ndarray:
    from oncofusion.survival.nonparametric import kaplan_meier

    km = kaplan_meier(time, event.astype(bool))
    return np.asarray(km(grid))


def _os_by_arm(fig: Any, preds: Any, out: Any) -> None:
    ax = fig.subplots()
    grid = np.asarray(preds.cuts, float)
    idx = preds.received_index()
    surv = np.concatenate([np.ones((*preds.os_surv.shape[:2], 1)), preds.os_surv], axis=-1)
    for j, a in enumerate(preds.arms):
        m = idx == j
        if not m.any():
            continue
        line = ax.plot(grid, surv[m, j].mean(axis=0), label=f"{a}: predicted (n={int(m.sum())})")[0]
        ax.step(
            grid,
            _km(out.time[m], out.event[m], grid),
            where="post",
            ls="--",
            color=line.get_color(),
            label=f"{a}: Kaplan-Meier",
        )
    ax.set(
        xlabel=f"time ({preds.time_unit})",
        ylabel="overall survival",
        ylim=(0, 1.02),
        title="Predicted vs observed OS, by arm received",
    )
    ax.legend(frameon=False)


def _calibration(fig: Any, preds: Any, out: Any, tau: float) -> None:
    axes = fig.subplots(1, len(preds.arms), squeeze=False)[0]
    p_os = preds.os_at([tau])[..., 0]
    idx = preds.received_index()
    for j, (a, ax) in enumerate(zip(preds.arms, axes)):
        m = np.flatnonzero(idx == j)
        ax.plot([0, 1], [0, 1], color="0.7", lw=1)
        if m.size >= 10:
            groups = np.array_split(m[np.argsort(p_os[m, j])], 5)
            pred = [p_os[g, j].mean() for g in groups]
            obs = [float(_km(out.time[g], out.event[g], np.array([tau]))[0]) for g in groups]
            ax.plot(pred, obs, "o-")
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel=f"predicted OS at {tau:g}",
            ylabel="observed (Kaplan-Meier)",
            title=a,
        )


def _benefit(fig: Any, rec: pd.DataFrame) -> None:
    ax = fig.subplots()
    r = rec.sort_values("benefit").reset_index(drop=True)
    arms = list(r.attrs.get("arms", sorted(r["recommended"].unique())))
    colors = {a: f"C{i}" for i, a in enumerate(arms)}
    x = np.arange(len(r))
    unclear = r["preference"] == "no clear preference"
    col = [("0.6" if u else colors.get(a, "C0")) for a, u in zip(r["recommended"], unclear)]
    if r["low"].notna().any():
        ax.vlines(x, r["low"], r["high"], colors=col, lw=1, alpha=0.6)
    ax.scatter(x, r["benefit"], c=col, s=8)
    ax.axhline(0, color="0.3", lw=0.8)
    for a in arms:
        ax.scatter([], [], c=colors[a], label=f"recommend {a}")
    ax.scatter([], [], c="0.6", label="no clear preference")
    ax.set(
        xlabel="patients (sorted)",
        ylabel="expected benefit of the recommended arm",
        title="Recommendation",
    )
    ax.legend(frameon=False)


def _policy(fig: Any, table: pd.DataFrame) -> None:
    col = "value" if "value" in table else "ipw_value"
    t = table.dropna(subset=[col])
    ax = fig.subplots()
    ax.barh(t["policy"], t[col], color=["C3" if p == "MM-Care" else "C0" for p in t["policy"]])
    if col == "ipw_value" and "ipw_low" in t:
        ax.errorbar(
            t[col],
            t["policy"],
            xerr=[t[col] - t["ipw_low"], t["ipw_high"] - t[col]],
            fmt="none",
            color="k",
        )
    lo = float(t[col].min())
    ax.set(
        xlim=(max(0.0, lo - 0.1), min(1.0, float(t[col].max()) + 0.05)),
        xlabel="true policy value" if col == "value" else "IPW event-free probability",
        title="Policy value",
    )
    ax.invert_yaxis()


def write_figures(
    tables: dict[str, pd.DataFrame],
    preds: Any,
    out: Any,
    tau: float,
    out_dir: Path,
    notes: list[str],
) -> dict[str, Path]:
    """Write the figures of the module docstring into ``out_dir``; returns name -> path."""
    from oncofusion.evaluation._figure_base import DPI, png_figure

    paths: dict[str, Path] = {}
    jobs: list[tuple[str, tuple[float, float], Any]] = [
        ("os_by_arm", (6.5, 4.0), lambda f: _os_by_arm(f, preds, out)),
        ("calibration", (3.2 * len(preds.arms), 3.2), lambda f: _calibration(f, preds, out, tau)),
        ("benefit", (6.5, 3.6), lambda f: _benefit(f, tables["patients"])),
    ]
    if "recommendation" in tables:
        jobs.append(("policy", (6.0, 3.2), lambda f: _policy(f, tables["recommendation"])))
    for name, size, draw in jobs:
        path = out_dir / f"{name}.png"
        try:
            with png_figure(size, path, DPI) as fig:
                draw(fig)
        except (ValueError, KeyError, IndexError) as e:
            notes.append(f"figure {name}: {e}")
            continue
        paths[name] = path
    return paths
