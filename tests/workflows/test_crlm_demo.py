"""The main demo end to end, at a tiny size (the real size runs in `make demo`)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from oncofusion.cli import app


def test_demo_runs_end_to_end_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--n", "60", "--epochs", "1", "--resamples", "20", "--frames", "4", "--size", "16", "--no-reports"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("full", "imaging_only", "markers_only", "clinical_only"):
        assert (out / "runs" / name / "checksums.json").is_file()
    tables = out / "evaluation" / "tables"
    for name in ("summary", "ablation", "time", "threshold", "dynamic_update"):
        assert (tables / f"{name}.csv").is_file(), name
    summary = (tables / "summary.csv").read_text()
    for model in ("full", "cox_clinical", "oracle"):
        assert model in summary
    assert not (out / "reports").exists()  # patient reports are tested in tests/report
    assert "Table 3" in result.output and str(out / "evaluation") in result.output.replace("\n", "")
    # a second run reuses the finished runs (resumable) and rewrites the evaluation
    stamp = (out / "runs" / "full" / "weights.pt").stat().st_mtime_ns
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (out / "runs" / "full" / "weights.pt").stat().st_mtime_ns == stamp


def test_demo_with_the_tri_modal_model_only(tmp_path: Path) -> None:
    from oncofusion.workflows.crlm_demo import run_crlm_demo

    out = tmp_path / "demo"
    result = run_crlm_demo(out, n=60, max_epochs=1, n_resamples=20, frames=4, size=16, reports=False, variants=("full",))
    assert set(result.runs) == {"full"}
    assert not (out / "runs" / "imaging_only").exists()
    summary = result.tables["summary"]
    assert {"full", "cox_clinical", "oracle"} <= set(summary["model"])
    assert "dmanet" in set(result.tables["dynamic_update"]["model"])


def test_demo_variants_must_include_the_full_model(tmp_path: Path) -> None:
    import pytest

    from oncofusion.workflows.crlm_demo import run_crlm_demo

    for bad in (("imaging_only",), ("full", "no_such_variant")):
        with pytest.raises(ValueError, match="variants must include 'full'"):
            run_crlm_demo(tmp_path / "demo", n=60, variants=bad)
    assert not (tmp_path / "demo").exists()  # rejected before anything is written
