"""Paper-ready rendering of the evaluation tables: Markdown, and CSV + Markdown files.

The tables keep machine-readable snake_case columns (written as they are to CSV). For
Markdown, a metric and its interval ``x, x_low, x_high`` become one cell ``0.918
(0.860–0.970)``, a median with its quartiles ``0.031 (0.018–0.051)``, a mean over seeds with
its SD ``0.912 ± 0.010``, and headers name the horizon and time unit ("AUC (12 months)").
No third-party table formatter is needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import ConfigError
from oncofusion.utils.io import atomic_write

__all__ = ["format_table", "markdown_table", "write_tables"]

_DASH = "—"
_LABELS: dict[str, str] = {
    "model": "Model",
    "n": "N",
    "n_events": "Events by {h}",
    "time": "Time ({u})",
    "auc": "AUC ({h})",
    "iauc": "iAUC ({iauc})",
    "uno_c": "Uno's C (τ = {h})",
    "brier": "Brier ({h})",
    "ibs": "IBS ({ibs})",
    "ace_median": "Absolute calibration error, median (IQR)",
    "cal_slope": "Calibration slope",
    "cal_intercept": "Calibration intercept",
    "delta_iauc": "Δ iAUC vs {ref}",
    "delta_auc": "Δ AUC vs {ref}",
    "delta_brier": "Δ Brier vs {ref}",
    "description": "Description",
    "reference": "Reference",
    "metric": "Metric",
    "estimate": "Estimate",
    "reference_estimate": "Reference estimate",
    "diff": "Difference",
    "p_value": "p",
    "horizon": "Horizon ({u})",
    "threshold": "Threshold",
    "youden_j_validation": "Youden J (validation)",
    "n_validation": "N (validation)",
    "tp": "TP",
    "fp": "FP",
    "tn": "TN",
    "fn": "FN",
    "n_excluded": "Censored before horizon",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "lr_positive": "LR+",
    "lr_negative": "LR−",
    "net_benefit": "Net benefit (model)",
    "treat_all": "Net benefit (treat all)",
    "treat_none": "Net benefit (treat none)",
    "group": "Risk group",
    "predicted": "Mean predicted risk",
    "observed": "Observed risk (Kaplan-Meier)",
    "n_seeds": "Seeds",
}
_COUNTS = {
    "n",
    "n_events",
    "n_validation",
    "tp",
    "fp",
    "tn",
    "fn",
    "n_excluded",
    "n_seeds",
    "group",
}
_TIMES = {"time", "horizon"}
_PER_TIME = {"n_events": "Events by t", "auc": "AUC(t)", "brier": "Brier(t)"}
_METRIC_NAMES = {"auc": "AUC", "iauc": "iAUC", "uno_c": "Uno's C", "brier": "Brier", "ibs": "IBS"}


def _span(rng: Any, h: str, u: str) -> str:
    if isinstance(rng, (list, tuple)) and len(rng) == 2:
        lo, hi = rng
        return f"{lo:g}–{hi:g} {u}" if lo != hi else f"{hi:g} {u}"
    return f"up to {h}"


def _label(col: str, attrs: Mapping[str, Any]) -> str:
    u = str(attrs.get("time_unit", ""))
    h = f"{attrs['horizon']:g} {u}" if "horizon" in attrs else "horizon"
    if attrs.get("kind") == "time" and col in _PER_TIME:
        return _PER_TIME[col]
    template = _LABELS.get(col, col)
    return template.format(
        h=h,
        u=u,
        ref=attrs.get("reference", "reference"),
        iauc=_span(attrs.get("iauc_range"), h, u),
        ibs=_span(attrs.get("ibs_range"), h, u),
    )


def _num(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return _DASH
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{x:.{digits}f}"
    return str(x)


def _interval(est: Any, low: Any, high: Any, digits: int) -> str:
    """``est (low–high)``; ``est (low to high)`` when a bound is negative."""
    if not np.isfinite(est):
        return _DASH
    if not (np.isfinite(low) and np.isfinite(high)):
        return _num(est, digits)
    sep = " to " if min(low, high) < 0 else "–"
    return f"{_num(est, digits)} ({_num(low, digits)}{sep}{_num(high, digits)})"


def _p(x: Any) -> str:
    if not np.isfinite(x):
        return _DASH
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _integral(s: pd.Series) -> bool:
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    return bool(pd.api.types.is_numeric_dtype(s)) and v.size > 0 and bool(np.all(v == np.round(v)))


def format_table(df: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """A copy of an evaluation table with merged interval cells and human headers (strings)."""
    attrs = dict(df.attrs)
    ci = attrs.get("ci")
    ci_txt = f" ({100 * ci:g}% CI)" if ci else ""
    cols = list(df.columns)
    used: set[str] = set()
    out: dict[str, list[str]] = {}
    for c in cols:
        if c in used:
            continue
        lo, hi = f"{c}_low", f"{c}_high"
        if lo in cols and hi in cols:
            used |= {lo, hi}
            out[_label(c, attrs) + ci_txt] = [
                _interval(e, a, b, digits) for e, a, b in zip(df[c], df[lo], df[hi], strict=True)
            ]
        elif c == "ace_median" and {"ace_q25", "ace_q75"} <= set(cols):
            used |= {"ace_q25", "ace_q75"}
            out[_label(c, attrs)] = [
                _interval(m, a, b, digits)
                for m, a, b in zip(df[c], df["ace_q25"], df["ace_q75"], strict=True)
            ]
        elif c.endswith("_mean") and f"{c[:-5]}_sd" in cols:
            base = c[:-5]
            used.add(f"{base}_sd")
            out[_label(base, attrs) + " (mean ± SD)"] = [
                _DASH if not np.isfinite(m) else f"{_num(m, digits)} ± {_num(s, digits)}"
                for m, s in zip(df[c], df[f"{base}_sd"], strict=True)
            ]
        elif c == "p_value":
            out[_label(c, attrs)] = [_p(float(x)) for x in df[c]]
        elif c == "metric":
            out[_label(c, attrs)] = [_METRIC_NAMES.get(str(x), str(x)) for x in df[c]]
        elif c in _TIMES:
            out[_label(c, attrs)] = [_DASH if not np.isfinite(x) else f"{x:g}" for x in df[c]]
        elif c in _COUNTS and _integral(df[c]):
            out[_label(c, attrs)] = [
                _num(int(x), digits) if np.isfinite(x) else _DASH for x in df[c]
            ]
        else:
            out[_label(c, attrs)] = [_num(x, digits) for x in df[c]]
    return pd.DataFrame(out, index=range(len(df)))


def _cell(x: str) -> str:
    return x.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame, *, digits: int = 3) -> str:
    """The table as a GitHub-flavoured Markdown pipe table (see :func:`format_table`)."""
    f = format_table(df, digits=digits)
    if f.shape[1] == 0:
        return "_(empty table)_\n"
    lines = [
        "| " + " | ".join(_cell(str(c)) for c in f.columns) + " |",
        "| " + " | ".join("---" for _ in f.columns) + " |",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in f.itertuples(index=False)]
    if len(f) == 0:
        lines.append("| " + " | ".join(_DASH for _ in f.columns) + " |")
    return "\n".join(lines) + "\n"


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def write_tables(
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike[str],
    *,
    digits: int = 3,
) -> dict[str, dict[str, Path]]:
    """Write each table as ``<name>.csv`` (all columns, full precision) and ``<name>.md``.

    Each file is written atomically (complete or absent).

    Returns
    -------
    dict
        ``{name: {"csv": path, "md": path}}``.
    """
    out = Path(out_dir)
    paths: dict[str, dict[str, Path]] = {}
    for name, df in tables.items():
        if not _NAME.match(name):
            raise ConfigError(
                f"table name {name!r} is not a safe file name; use letters, digits, '_', '-', '.'."
            )
        if not isinstance(df, pd.DataFrame):
            raise ConfigError(
                f"table {name!r} must be a pandas DataFrame, got {type(df).__name__}."
            )
        csv, md = out / f"{name}.csv", out / f"{name}.md"
        with atomic_write(csv, "w", newline="", encoding="utf-8") as fh:
            df.to_csv(fh, index=False)
        with atomic_write(md, "w", encoding="utf-8") as fh:
            fh.write(markdown_table(df, digits=digits))
        paths[name] = {"csv": csv, "md": md}
    return paths
