"""Figures are non-empty PNGs of the requested pixel size, also on degenerate tables."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _eval_cases import models

from oncofusion.evaluation import (
    ablation_table,
    calibration_curve_table,
    decision_table,
    summary_table,
    time_table,
)
from oncofusion.evaluation import figures as figs

matplotlib.use("Agg")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    preds = models()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = pd.concat([time_table(p, n_resamples=20) for p in preds], ignore_index=True)
        times.attrs.update(time_unit="months", kind="time")
        dec = pd.concat([decision_table(p, 12, np.arange(0.01, 0.9, 0.02)) for p in preds])
        dec.attrs.update(horizon=12.0, time_unit="months")
        return {
            "summary": summary_table(preds, 12, n_resamples=20),
            "time": times,
            "ablation": ablation_table(preds, "full", 12),
            "calibration": calibration_curve_table(preds, 12, n_groups=4),
            "decision": dec,
        }


CASES = [
    ("metric_heatmap", "summary", {}),
    ("auc_forest_plot", "summary", {}),
    ("time_curves_plot", "time", {}),
    ("ablation_plot", "ablation", {}),
    ("calibration_error_plot", "time", {}),
    ("calibration_curve_plot", "calibration", {}),
    ("decision_curve_plot", "decision", {}),
]


@pytest.mark.parametrize(("fn", "table", "kw"), CASES)
def test_figure_is_a_png_of_the_requested_size(
    tables, tmp_path: Path, fn: str, table: str, kw: dict
) -> None:
    path = tmp_path / "sub" / f"{fn}.png"
    out = getattr(figs, fn)(tables[table], path, figsize=(6.0, 4.0), dpi=100, **kw)
    assert out == path and path.stat().st_size > 5_000
    assert _png_size(path) == (600, 400)
    assert list(path.parent.iterdir()) == [path]  # written atomically, no leftovers


def test_default_sizes_and_colours(tables, tmp_path: Path) -> None:
    p = figs.metric_heatmap(tables["summary"], tmp_path / "h.png")
    assert _png_size(p) == (int(8.0 * figs.DPI), int((1.6 + 0.45 * 3) * figs.DPI))
    c1 = figs.model_colors(["full", "no_imaging", "cox"])
    c2 = figs.model_colors(["full", "no_imaging", "cox", "extra"])
    assert all(c1[m] == c2[m] for m in c1) and len(set(c1.values())) == 3


def test_degenerate_tables_still_draw(tables, tmp_path: Path) -> None:
    s = tables["summary"].iloc[:1].copy()
    s.attrs.update(tables["summary"].attrs)
    s[["auc", "auc_low", "auc_high"]] = np.nan  # e.g. horizon past follow-up
    for fn in ("metric_heatmap", "auc_forest_plot"):
        path = getattr(figs, fn)(s, tmp_path / f"{fn}.png")
        assert path.stat().st_size > 5_000
    empty = tables["calibration"].iloc[:0]
    assert figs.calibration_curve_plot(empty, tmp_path / "cal.png").stat().st_size > 5_000
