"""Static (matplotlib) charts: the PDF's versions of the interactive charts, and the
Grad-CAM overlays shown in both the HTML and the PDF. Each returns a PNG data URI.

matplotlib is imported inside the functions and drawn on a bare ``Figure`` (no pyplot, no
global backend switch), as in :mod:`oncofusion.evaluation.figures`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.report._style import (
    DECREASE,
    INCREASE,
    RISK_COLOR,
    arm_color,
    direction_colors,
    pct,
    png_data_uri,
    signed_points,
)
from oncofusion.report.charts import critical_mask, risk_axis_max

__all__ = [
    "arms_png",
    "biomarker_png",
    "contribution_png",
    "decision_gradcam_png",
    "gradcam_overlay",
    "risk_curve_png",
    "shap_png",
    "updates_png",
]

_BAND = (142 / 255, 27 / 255, 61 / 255, 0.18)


def _figure(w: float, h: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    fig.set_layout_engine("constrained")
    return fig


def _axes_style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(alpha=0.25)


def gradcam_overlay(expl: Any, kind: str = "frame") -> str:
    """The representative frames/slices: the image alone (top) and with the Grad-CAM map
    laid over it (bottom), so the reader sees both the anatomy and the attribution."""
    fr = expl.frames
    k = len(fr.indices)
    n_total = expl.cam.shape[0]
    fig = _figure(2.3 * k + 0.9, 4.9)
    axes = fig.subplots(2, k, squeeze=False)
    im = None
    for j, (idx, share, img, cam) in enumerate(zip(fr.indices, fr.share, fr.images, fr.cams, strict=True)):
        lo, hi = np.percentile(img, [1, 99])
        for ax in axes[:, j]:
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        # opacity follows the map: low attribution leaves the image visible
        im = axes[1, j].imshow(cam, cmap="jet", alpha=np.clip(0.15 + 0.6 * cam, 0, 1), vmin=0, vmax=1,
                               interpolation="nearest")
        axes[0, j].set_title(f"{kind} {int(idx) + 1} of {n_total}", fontsize=9)
        axes[1, j].set_title(f"{100 * share:.0f}% of the attribution", fontsize=8)
    axes[0, 0].set_ylabel("image", fontsize=9)
    axes[1, 0].set_ylabel("Grad-CAM overlay", fontsize=9)
    if im is not None:
        cb = fig.colorbar(im, ax=list(axes[1]), shrink=0.9)
        cb.set_label("attribution (0–1)", fontsize=8)
    return png_data_uri(fig)


def risk_curve_png(data: Any) -> str:
    c = data.curve
    fig = _figure(7.0, 3.0)
    ax = fig.add_subplot()
    if c.low is not None:
        ax.fill_between(c.times, 100 * c.low, 100 * c.high, color=_BAND, lw=0, label="MC-dropout band")
    ax.plot(c.times, 100 * c.risk, "-o", color=RISK_COLOR, lw=2.2, ms=3, label="predicted risk")
    for h, r, _, _ in data.horizon_risks:
        ax.axvline(h, ls=":", color="#888", lw=1)
        ax.annotate(f"{pct(r)} by {h:g}", (h, 100 * r), xytext=(-40, 8), textcoords="offset points", fontsize=8)
    ax.set_ylim(0, risk_axis_max(c.high if c.high is not None else c.risk))
    ax.set_xlabel(f"Time since baseline ({data.time_unit})")
    ax.set_ylabel("Cumulative risk (%)")
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    _axes_style(ax)
    return png_data_uri(fig)


def updates_png(data: Any) -> str:
    fig = _figure(7.0, 2.8)
    a1, a2 = fig.subplots(1, 2)
    pts = [u for u in data.updates if u.risk is not None]
    a1.plot([u.time for u in pts], [100 * u.risk for u in pts], "-o", color=RISK_COLOR, lw=2)
    a1.set_title(f"Risk by {data.horizon:g} {data.time_unit} after each visit", fontsize=9)
    a1.set_xlabel(f"Visit time ({data.time_unit})")
    a1.set_ylabel("Risk (%)")
    n = max(len(data.updates), 1)
    for i, u in enumerate(data.updates):
        a2.plot(u.curve.times, 100 * u.curve.risk, color=RISK_COLOR, alpha=0.35 + 0.65 * (i + 1) / n,
                label=f"after {u.time:g}")
    a2.set_title("Risk curve after each visit", fontsize=9)
    a2.set_xlabel(f"Time since baseline ({data.time_unit})")
    if len(data.updates) <= 8:
        a2.legend(fontsize=7, frameon=False)
    top = risk_axis_max([u.risk for u in pts], *[u.curve.risk for u in data.updates])
    for ax in (a1, a2):
        ax.set_ylim(0, top)
        _axes_style(ax)
    return png_data_uri(fig)


def arms_png(data: Any) -> str:
    view = data.arms
    has_lc = any(v is not None for v in view.lc.values())
    fig = _figure(7.0, 2.8)
    axes = fig.subplots(1, 2 if has_lc else 1, squeeze=False)[0]
    for arm in view.arms:
        c, col = view.os_curves[arm], arm_color(view.arms, arm)
        if c.low is not None:
            axes[0].fill_between(c.times, 100 * (1 - c.high), 100 * (1 - c.low), color=col, alpha=0.15, lw=0)
        axes[0].plot(c.times, 100 * (1 - c.risk), "-o", ms=3, color=col, lw=2, label=arm)
        lc = view.lc[arm]
        if has_lc and lc is not None:
            times, p, lo, hi = lc
            yerr = None if lo is None else [100 * (p - lo), 100 * (hi - p)]
            axes[1].errorbar(times, 100 * p, yerr=yerr, fmt="-o", color=col, lw=2, capsize=3, label=arm)
    axes[0].axvline(view.decision_horizon, ls=":", color="#888")
    axes[0].set_title("Overall survival P_OS(t)", fontsize=9)
    axes[0].set_ylabel("Probability (%)")
    if has_lc:
        axes[1].set_title("Local control P_LC(t)", fontsize=9)
    for ax in axes:
        ax.set_ylim(0, 100)
        ax.set_xlabel(f"Time since baseline ({data.time_unit})")
        ax.legend(fontsize=8, frameon=False)
        _axes_style(ax)
    return png_data_uri(fig)


def shap_png(expl: Any, names: dict[str, str] | None = None) -> str:
    from oncofusion.report.charts import shap_rows, target_value_text

    rows = shap_rows(expl.shap, names=names).iloc[::-1]
    fig = _figure(7.0, 0.32 * len(rows) + 1.2)
    ax = fig.add_subplot()
    vals = 100 * rows["shap"].to_numpy(float)
    up, down = direction_colors(expl.target)
    ax.barh(rows["label"], vals, color=[up if v > 0 else down for v in vals])
    for y, v in enumerate(vals):
        ax.annotate(signed_points(v / 100), (v, y), xytext=(3 if v >= 0 else -3, 0), textcoords="offset points",
                    ha="left" if v >= 0 else "right", va="center", fontsize=7)
    ax.axvline(0, color="#555", lw=0.8)
    ax.set_xlabel(f"SHAP value (percentage points of {expl.target.label}); average "
                  f"{target_value_text(expl.target, expl.shap_base_value)} → this patient "
                  f"{target_value_text(expl.target, expl.prediction)}", fontsize=8)
    ax.tick_params(labelsize=8)
    _axes_style(ax)
    return png_data_uri(fig)


def biomarker_png(data: Any) -> str:
    bm, att = data.biomarkers, data.attention
    markers = [m for m in data.ctx.model.schema.biomarkers if m in bm]
    rows = len(markers) + (1 if att is not None and len(att) else 0)
    fig = _figure(7.0, 1.3 * rows + 0.6)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    for ax, m in zip(axes, markers, strict=False):
        sub = bm[["time", m]].dropna()
        ax.plot(sub["time"], sub[m], "-", color="#1f5fa8", lw=1.5)
        crit = critical_mask(sub["time"], att)
        ax.plot(sub["time"][~crit], sub[m][~crit], "o", color="#1f5fa8", ms=4)
        ax.plot(sub["time"][crit], sub[m][crit], "o", color="#c62828", ms=7)
        ax.set_ylabel(m, fontsize=8)
        _axes_style(ax)
    if rows > len(markers):
        ax = axes[-1]
        gaps = np.diff(np.sort(att["time"].to_numpy(float)))
        span = max(float(att["time"].max() - att["time"].min()), 1.0)
        width = float(min(0.6 * gaps[gaps > 0].min(), 0.03 * span)) if (gaps > 0).any() else 0.03 * span
        ax.bar(att["time"], att["alpha"], width=width, color=["#c62828" if c else "#9fb7d3" for c in att["critical"]])
        ax.set_ylim(0, min(1.0, 1.25 * float(att["alpha"].max())))
        ax.set_ylabel("attention α", fontsize=8)
        _axes_style(ax)
    axes[-1].set_xlabel(f"Time since baseline ({data.time_unit})")
    return png_data_uri(fig)


def contribution_png(expl: Any) -> str:
    df = expl.contributions
    fig = _figure(5.0, 2.2)
    ax = fig.add_subplot()
    vals = 100 * df["contribution"].to_numpy(float)
    ax.bar(df["modality"], vals, color=[INCREASE if v > 0 else DECREASE for v in vals])
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_ylabel("Contribution (points of risk)", fontsize=8)
    _axes_style(ax)
    return png_data_uri(fig)



def decision_gradcam_png(dec: Any, kind: str = "slice") -> str:
    """MM-Care decision report: the CT slices through the tumour (largest ROI area; the ROI
    outlined) and, below, the Grad-CAM map of the expected benefit and of :math:`P_{OS}`
    under each arm laid over them (each map scaled to its own maximum)."""
    keys = ["benefit"] + [f"os_{a}" for a in dec.arms]
    keys = [k for k in keys if dec.cam(k) is not None]
    names = {"benefit": f"benefit of {dec.recommended}\nover {dec.versus}",
             **{f"os_{a}": f"P_OS under {a}" for a in dec.arms}}
    idx = [int(i) for i in dec.slices]
    k, n_total = len(idx), dec.image.shape[0]
    fig = _figure(2.15 * k + 1.3, 1.95 * (len(keys) + 1) + 0.3)
    axes = fig.subplots(len(keys) + 1, k, squeeze=False)
    im = None
    for j, s in enumerate(idx):
        img = dec.image[s]
        lo, hi = np.percentile(img, [1, 99])
        for ax in axes[:, j]:
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        title = f"{kind} {s + 1} of {n_total}"
        if dec.roi_mask is not None:
            m = dec.roi_mask[s] > 0
            if m.any() and not m.all():
                axes[0, j].contour(m.astype(float), levels=[0.5], colors="#00c8ff", linewidths=1.2)
            title += f"\nROI {int(m.sum())} voxels"
        axes[0, j].set_title(title, fontsize=8)
        for r, key in enumerate(keys, start=1):
            cam = dec.cam(key)[s]
            im = axes[r, j].imshow(cam, cmap="jet", alpha=np.clip(0.15 + 0.6 * cam, 0, 1), vmin=0, vmax=1,
                                   interpolation="nearest")
    axes[0, 0].set_ylabel("CT (ROI outlined)", fontsize=8)
    for r, key in enumerate(keys, start=1):
        axes[r, 0].set_ylabel(names[key], fontsize=8)
    if im is not None:
        cb = fig.colorbar(im, ax=list(axes[1:, -1]), shrink=0.8)
        cb.set_label("attribution (0–1)", fontsize=8)
    return png_data_uri(fig)
