"""Markdown rendering and CSV/Markdown files of the evaluation tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.errors import ConfigError
from oncofusion.evaluation import format_table, markdown_table, write_tables


def _summary() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "model": ["Tri-modal", "Cox"],
            "n": [60, 60],
            "n_events": [17, 17],
            "auc": [0.918, np.nan],
            "auc_low": [0.860, np.nan],
            "auc_high": [0.970, np.nan],
            "brier": [0.123, 0.177],
            "brier_low": [0.1, 0.15],
            "brier_high": [0.15, 0.2],
        }
    )
    df.attrs.update(kind="summary", horizon=12.0, time_unit="months", ci=0.95)
    return df


def test_intervals_merge_into_one_cell_with_a_labelled_header() -> None:
    f = format_table(_summary())
    assert list(f.columns) == [
        "Model",
        "N",
        "Events by 12 months",
        "AUC (12 months) (95% CI)",
        "Brier (12 months) (95% CI)",
    ]
    assert f.iloc[0, 3] == "0.918 (0.860–0.970)"
    assert f.iloc[1, 3] == "—"  # missing, never "nan"
    assert f.iloc[0, 1] == "60"


def test_negative_bounds_quartiles_seeds_and_p_values() -> None:
    cmp = pd.DataFrame(
        {
            "model": ["a"],
            "metric": ["iauc"],
            "diff": [-0.05],
            "diff_low": [-0.09],
            "diff_high": [-0.01],
            "p_value": [0.0004],
        }
    )
    f = format_table(cmp)
    assert f.loc[0, "Difference"] == "-0.050 (-0.090 to -0.010)"
    assert f.loc[0, "p"] == "<0.001" and f.loc[0, "Metric"] == "iAUC"
    t = pd.DataFrame(
        {
            "model": ["a"],
            "time": [3.0],
            "ace_median": [0.031],
            "ace_q25": [0.018],
            "ace_q75": [0.051],
            "auc_mean": [0.9],
            "auc_sd": [0.01],
        }
    )
    t.attrs.update(kind="time", time_unit="months")
    f = format_table(t)
    assert f.loc[0, "Time (months)"] == "3"
    assert f.loc[0, "Absolute calibration error, median (IQR)"] == "0.031 (0.018–0.051)"
    assert f.loc[0, "AUC(t) (mean ± SD)"] == "0.900 ± 0.010"


def test_markdown_pipe_table() -> None:
    md = markdown_table(_summary())
    lines = md.strip().splitlines()
    assert len(lines) == 4 and lines[1].startswith("| --- |")
    assert "| Tri-modal | 60 | 17 | 0.918 (0.860–0.970) |" in lines[2]
    odd = pd.DataFrame({"model": ["a|b"]})
    assert "a\\|b" in markdown_table(odd)


def test_write_tables_round_trip(tmp_path: Path) -> None:
    df = _summary()
    paths = write_tables({"summary": df}, tmp_path / "tables")
    back = pd.read_csv(paths["summary"]["csv"])
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert paths["summary"]["md"].read_text(encoding="utf-8") == markdown_table(df)
    assert not list((tmp_path / "tables").glob(".*"))  # no temporary files left
    with pytest.raises(ConfigError, match="safe file name"):
        write_tables({"../evil": df}, tmp_path)
