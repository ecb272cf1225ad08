"""Session fixtures of the report tests: one tiny trained + evaluated run, a two-arm model
built on it, and the reports (HTML + PDF) that the content, browser and PDF tests read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"
#: patient 005 has an image and four biomarker visits; 008 an image and two visits
PATIENT, ARM_PATIENT = "005", "008"
N_DRAWS = 24


def tiny_config() -> Any:
    from oncofusion.models.config import load_config

    encoders = {
        "imaging": {"name": "resnet3d", "args": {"layers": [1, 1, 1, 1], "width": 4, "temporal_tokens": 12,
                                                 "temporal_downsample": False, "out_features": 16}},
        "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 16}},
        "clinical": {"name": "gated_mlp", "args": {"hidden": [16], "out_features": 16}},
    }
    return load_config("dmanet-cpu", overrides={
        "data": {"image_shape": [6, 16, 16], "split": [0.5, 0.25, 0.25], "stratify": ["event"]},
        "network": {"encoders": encoders, "fusion": {"name": "cross_attention", "args": {"d_model": 16, "heads": 2}}},
        "train": {"max_epochs": 2, "batch_size": 4},
        "evaluation": {"n_resamples": 50},
    })


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained, saved and evaluated run of the tiny example cohort."""
    from oncofusion.data import load_cohort
    from oncofusion.evaluation.run import evaluate_run
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.pipeline import train_model

    base = tmp_path_factory.mktemp("report-run")
    cohort = load_cohort(TINY)
    run = train_model(cohort, tiny_config(), work_dir=base / "work")
    save_run(run, cohort, base / "run")
    evaluate_run(base / "run")
    return base / "run"


@pytest.fixture(scope="session")
def two_arm_model(tiny_run: Path) -> Any:
    from _two_arm import TwoArmPredictor

    import oncofusion

    return TwoArmPredictor(oncofusion.load(str(tiny_run)))


@dataclass
class Reports:
    out: Path
    patient_html: Path
    patient_pdf: Path
    arms_html: Path
    arms_pdf: Path
    cohort_html: Path
    cohort_pdf: Path


@pytest.fixture(scope="session")
def reports(tiny_run: Path, two_arm_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Reports:
    """The patient report (single outcome), the patient report of the two-arm model and the
    cohort report, each as HTML and PDF."""
    from oncofusion.report import cohort_report, patient_report

    out = tmp_path_factory.mktemp("reports")
    r = Reports(out, out / "patient.html", out / "patient.pdf", out / "arms.html", out / "arms.pdf",
                out / "cohort.html", out / "cohort.pdf")
    patient_report(tiny_run, None, PATIENT, out=r.patient_html, pdf=r.patient_pdf, n_draws=N_DRAWS)
    patient_report(two_arm_model, None, ARM_PATIENT, run_dir=tiny_run, out=r.arms_html, pdf=r.arms_pdf,
                   n_draws=N_DRAWS)
    cohort_report(tiny_run, out=r.cohort_html, pdf=r.cohort_pdf)
    return r


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots and page images go: ``$ONCOFUSION_TEST_ARTIFACTS`` (CI uploads it)
    or a temporary folder."""
    where = os.environ.get("ONCOFUSION_TEST_ARTIFACTS")
    path = Path(where) / "report" if where else tmp_path_factory.mktemp("report-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
