"""``oncofusion simulate crlm | nsclc | oracle-metrics`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from oncofusion.cli import app
from oncofusion.data import load_cohort


def test_simulate_crlm_writes_a_valid_cohort_and_scores_its_oracles(tmp_path: Path) -> None:
    out = tmp_path / "crlm"
    args = [
        "simulate",
        "crlm",
        "--n",
        "60",
        "--seed",
        "2",
        "--frames",
        "2",
        "--size",
        "8",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "60 patients" in result.stdout and "truth" in result.stdout
    cohort = load_cohort(out)
    assert len(cohort) == 60 and cohort.imaging is not None
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(cohort.patient_ids[:40]) + "\n")
    scored = CliRunner().invoke(app, ["simulate", "oracle-metrics", str(out), "--ids", str(ids)])
    assert scored.exit_code == 0, scored.output
    for word in ("clinical", "imaging", "markers", "auc_12", "ibs", "40 patients"):
        assert word in scored.stdout, word


def test_simulate_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    result = CliRunner().invoke(
        app, ["simulate", "crlm", "--n", "5", "--no-images", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "not empty" in result.output and "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_simulate_nsclc_without_images(tmp_path: Path) -> None:
    out = tmp_path / "nsclc"
    result = CliRunner().invoke(
        app, ["simulate", "nsclc", "--n", "50", "--no-images", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    cohort = load_cohort(out)
    assert cohort.imaging is None and set(cohort.patients["arm"]) <= {"sbrt", "surgery"}
    truth = pd.read_csv(out / "truth" / "potential_outcomes.csv")
    assert len(truth) == 50 and set(truth["optimal_arm"]) <= {"sbrt", "surgery"}


def test_oracle_metrics_needs_a_simulated_crlm_cohort(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "oracle-metrics", str(tmp_path)])
    assert result.exit_code == 2
    assert "simulated CRLM cohort" in result.output
