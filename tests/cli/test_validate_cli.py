"""``oncofusion validate`` and ``oncofusion demo`` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import oncofusion
from oncofusion.cli import app
from oncofusion.data import load_cohort
from oncofusion.data.summary import summarise

TINY = Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"
ONCOFUSION = Path(sys.executable).parent / "oncofusion"


def test_validate_prints_the_summary(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", str(TINY)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Cohort 'tiny': valid" in out
    assert "5 (58.3% censored)" in out
    assert "median 11 (reverse Kaplan-Meier), range 1.3 to 26.4" in out
    assert "horizon 12 (months)" in out and "4 at risk, 4 events by then" in out
    assert "10 patients with the outcome, 2 events" in out  # local control
    for word in ("biomarkers", "genomics", "imaging", "surgery", "cea", "16.7"):
        assert word in out, word
    assert list(tmp_path.iterdir()) == []


def test_validate_json_is_the_summary() -> None:
    result = CliRunner().invoke(app, ["validate", str(TINY), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(summarise(load_cohort(TINY))))


def test_validate_rejects_a_cohort_without_events(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    patients = pd.read_csv(root / "patients.csv", dtype=str, keep_default_na=False)
    patients.assign(event="0").to_csv(root / "patients.csv", index=False)
    result = CliRunner().invoke(app, ["validate", str(root), "--json"])
    assert result.exit_code == 2
    assert "column 'event': no patient has an event" in result.stderr
    assert result.stdout == ""


def test_real_process_exit_status_and_stderr(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    (root / "cohort.yaml").write_text((root / "cohort.yaml").read_text().replace("months", "weeks"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [str(ONCOFUSION), "validate", str(root)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(
        "error: file 'cohort.yaml': key 'time_unit' (line 4) must be one of"
    )
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort"]


def test_cli_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, oncofusion.cli.validate, oncofusion.cli.demo; "
        "heavy = sorted(m for m in ('torch', 'pandas', 'oncofusion.data.load') if m in sys.modules); "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "validate" in result.stdout and "demo" in result.stdout
    result = CliRunner().invoke(app, ["validate", "--help"])
    assert "--no-images" in result.stdout and "--json" in result.stdout
