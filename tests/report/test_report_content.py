"""What the reports say: numbers against the model, tiers against validation, flags, the
recommendation, self-containment, the CLI and the Python API's errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import ARM_PATIENT, N_DRAWS, PATIENT, TINY
from oncofusion.errors import CohortError, ConfigError

_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _assert_self_contained(html: str) -> None:
    """No markup loads anything from elsewhere (script bodies, i.e. plotly.js's own source
    text, are code, not markup: the browser test checks that they fetch nothing)."""
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE), "a <script src> would load code from a file or host"
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", html, flags=re.DOTALL | re.IGNORECASE)
    assert not _EXTERNAL.findall(markup), "an src/href points to another host"
    assert not re.search(r"<link[^>]+stylesheet", html, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?https?:", markup, re.IGNORECASE)
    assert not re.search(r"@import", markup)
    for src in re.findall(r"<img[^>]+src=\"([^\"]+)\"", markup):
        assert src.startswith("data:image/png;base64,"), src[:60]


def test_patient_html_is_self_contained_with_plotly_inlined(reports: Any) -> None:
    from plotly.offline import get_plotlyjs

    html = reports.patient_html.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert get_plotlyjs()[:2000] in html  # plotly.js itself, not a CDN <script src>
    assert html.count("Plotly.newPlot(") >= 4  # risk, updates, biomarkers, SHAP, contributions
    for section in ("Risk summary", "How the risk changed after each follow-up visit", "Why this prediction",
                    "Biomarker trajectories", "Data quality", "About the model", "Intended use"):
        assert section in html


def test_report_numbers_are_the_models(tiny_run: Path) -> None:
    """The curve, the horizon risks and the visit updates equal DiscreteTimePredictor.predict."""
    from oncofusion.report.context import run_context
    from oncofusion.report.outcomes import risk_at
    from oncofusion.report.patient_data import build_patient_data

    ctx = run_context(tiny_run)
    cohort = ctx.training_cohort()
    data = build_patient_data(ctx, cohort, PATIENT, n_draws=N_DRAWS, explain=False)
    pred = ctx.model.predict(cohort.subset([PATIENT]))
    np.testing.assert_allclose(data.curve.risk[1:], pred.risk[0], atol=1e-6)
    for h, r, lo, hi in data.horizon_risks:
        assert r == pytest.approx(float(pred.risk_at(h)[0]), abs=1e-6)
        assert lo <= r <= hi  # the band holds the point prediction
    visits = sorted(set(cohort.biomarkers.loc[cohort.biomarkers["patient_id"] == PATIENT, "time"]))
    assert [u.time for u in data.updates] == visits
    for u in data.updates[1:]:
        landmark = ctx.model.predict(cohort.subset([PATIENT]), landmark=u.time)
        assert u.risk == pytest.approx(float(landmark.risk_at(data.horizon)[0]), abs=1e-6)
        assert risk_at(u.curve.times, u.curve.risk, data.horizon) == pytest.approx(u.risk)


def test_band_is_seeded_and_labelled(tiny_run: Path) -> None:
    from oncofusion.report.context import run_context
    from oncofusion.report.patient_data import build_patient_data

    ctx = run_context(tiny_run)
    a = build_patient_data(ctx, ctx.training_cohort(), PATIENT, n_draws=N_DRAWS, explain=False, seed=3)
    b = build_patient_data(ctx, ctx.training_cohort(), PATIENT, n_draws=N_DRAWS, explain=False, seed=3)
    np.testing.assert_array_equal(a.curve.low, b.curve.low)
    assert np.all(a.curve.high[1:] - a.curve.low[1:] > 0)  # dropout is active: the band has width
    assert "Monte-Carlo-dropout" in a.band_text and "not a confidence interval" in a.band_text
    none = build_patient_data(ctx, ctx.training_cohort(), PATIENT, n_draws=0, explain=False)
    assert none.curve.low is None


def test_tiers_are_validation_tertiles(tiny_run: Path) -> None:
    from oncofusion.report.context import run_context
    from oncofusion.report.tiers import assign_tier, tier_thresholds

    ctx = run_context(tiny_run)
    val = ctx.split("val")
    risk = ctx.model.predict(val).risk_at(ctx.horizon)
    th = tier_thresholds(ctx)
    assert th.n_validation == len(val)
    assert (th.low_below, th.high_from) == pytest.approx(tuple(np.quantile(risk, [1 / 3, 2 / 3])))
    assert assign_tier(th.low_below - 1e-9, th).name == "low"
    assert assign_tier(th.low_below, th).name == "intermediate"
    assert assign_tier(th.high_from, th).name == "high"


def test_quality_flags_name_each_problem(tiny_run: Path) -> None:
    """An impossible age, a stage training never saw and no image: each is flagged, and the
    report is still written (the unseen stage treated as missing)."""
    from oncofusion.data import load_cohort
    from oncofusion.report import patient_report
    from oncofusion.report.context import run_context
    from oncofusion.report.patient_data import build_patient_data

    cohort = load_cohort(TINY)
    pts = cohort.patients.copy()
    pts.loc[pts["patient_id"] == PATIENT, ["age", "stage"]] = [150, "IV"]
    cohort.patients = pts
    cohort.imaging = cohort.imaging[cohort.imaging["patient_id"] != PATIENT].reset_index(drop=True)
    data = build_patient_data(run_context(tiny_run), cohort, PATIENT, n_draws=0, explain=False)
    warnings = [f for f in data.flags if f.severity == "warning"]
    by_cat = {f.category: f.message for f in warnings}
    assert "age" in by_cat["outside training range"] and "150 is above the training range" in by_cat[
        "outside training range"]
    assert "'IV'" in by_cat["unseen category"] and "imputed 'III'" in by_cat["unseen category"]
    assert "no imaging data" in by_cat["missing modality"]
    assert 0 <= data.curve.risk[-1] <= 1
    html = patient_report(tiny_run, cohort, PATIENT, n_draws=0, explain=False)
    assert f"{len(warnings)} data-quality warnings" in html and "IV" in html


def test_treatment_support_flags(tiny_run: Path) -> None:
    """A treatment no training patient received, an arm the model does not know, and a
    propensity outside the common support (hand-made ranges and overlap values)."""
    import oncofusion
    from oncofusion.data import load_cohort
    from oncofusion.report.quality import quality_flags

    model = oncofusion.load(str(tiny_run))
    patient = load_cohort(TINY).subset([PATIENT])  # received sbrt
    present = {"imaging": True, "biomarkers": True, "clinical": True}
    flags = quality_flags(model, patient, present, {"arms": {"surgery": 6}})
    assert [f.category for f in flags if f.severity == "warning"] == ["treatment out of support"]
    assert "no training patient received 'sbrt'" in flags[-1].message
    flags = quality_flags(model, patient, present, {"arms": {"sbrt": 3, "surgery": 3}}, arms=["surgery", "chemo"],
                          outside_support=True, propensity={"surgery": 0.98, "chemo": 0.02})
    messages = [f.message for f in flags if f.category == "treatment out of support"]
    assert len(messages) == 2 and "'sbrt' is not one of the model's arms" in messages[0]
    assert "propensity of 'chemo' is 0.02" in messages[1]


def test_two_arm_report_recommends_like_decide(tiny_run: Path, two_arm_model: Any, reports: Any) -> None:
    from oncofusion.decide import recommend
    from oncofusion.report.context import run_context
    from oncofusion.report.outcomes import surv_at
    from oncofusion.report.patient_data import build_patient_data

    ctx = run_context(two_arm_model, run_dir=tiny_run)
    data = build_patient_data(ctx, ctx.training_cohort(), ARM_PATIENT, n_draws=0, explain=False)
    view = data.arms
    assert view.arms == ["sbrt", "surgery"] and view.received == "surgery" and view.reference == "surgery"
    dh = view.decision_horizon
    p_os = np.array([[view.p_os[a][0] for a in view.arms]])
    p_lc = np.array([[view.p_lc[a][0] for a in view.arms]])
    expected = recommend(p_os, p_lc, view.arms, alpha=0.7, beta=0.3).iloc[0]
    assert view.recommendation["recommended"] == expected["recommended"]
    assert view.recommendation["benefit"] == pytest.approx(expected["benefit"])
    curve = view.os_curves["surgery"]
    assert view.p_os["surgery"][0] == pytest.approx(float(surv_at((1 - curve.risk[1:])[None], curve.times, dh)[0]))
    html = reports.arms_html.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert html.count('class="arm-tab') == 2 and 'id="chart-os"' in html and 'id="chart-lc"' in html
    assert "Expected benefit over the next best arm" in html


def test_cohort_report(reports: Any, tiny_run: Path) -> None:
    from oncofusion.report import cohort_report

    html = reports.cohort_html.read_text(encoding="utf-8")
    _assert_self_contained(html)
    for text in ("Overall performance on the test set", "Decision curve analysis", "Calibration by risk group",
                 "Model card", "Intended use", 'id="chart-calibration"', 'id="chart-decision"'):
        assert text in html
    assert html.count("<img") >= 6  # the evaluation's figures, inlined
    with pytest.raises(ConfigError, match="oncofusion evaluate"):
        cohort_report(tiny_run, cohort="elsewhere")


def test_cli(tiny_run: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from oncofusion.cli import app

    runner = CliRunner()
    out = tmp_path / "c.html"
    res = runner.invoke(app, ["report", str(tiny_run), "--cohort", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Cohort report" in out.read_text(encoding="utf-8")
    out = tmp_path / "p.html"
    res = runner.invoke(app, ["report", str(tiny_run), "--patient", PATIENT, "--cohort", str(TINY), "--out",
                              str(out), "--draws", "0", "--no-explain"])
    assert res.exit_code == 0, res.output
    assert f"Patient report · {PATIENT}" in out.read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(tiny_run), "--out", str(out)])
    assert res.exit_code == 2 and "--patient ID" in res.output
    res = runner.invoke(app, ["report", str(tiny_run), "--patient", "0005", "--out", str(out)])
    assert res.exit_code == 2 and "Did you mean '005'" in res.output


def test_api_errors(tiny_run: Path) -> None:
    from oncofusion.report import patient_report

    with pytest.raises(CohortError, match="not in cohort 'tiny'"):
        patient_report(tiny_run, None, "999", explain=False)
    with pytest.raises(ConfigError, match="patient_id"):
        patient_report(tiny_run, None, None)
    with pytest.raises(ConfigError, match="fitted multimodal model"):
        patient_report(object(), None, PATIENT)


def test_formats_and_gauge() -> None:
    from oncofusion.report._style import pct, pct_pair, signed_points
    from oncofusion.report.patient import gauge_position

    assert [pct(0.234), pct(0.042), pct(0.99996), pct(0.00001), pct(1.0)] == ["23%", "4.2%", ">99.9%", "<0.1%",
                                                                             "100.0%"]
    assert pct_pair(0.18, 0.35) == ("18%", "35%")
    assert pct_pair(0.99938, 0.99953) == ("99.94%", "99.95%")  # never a rounded-up "100%"
    assert pct_pair(0.89, 0.91, 0.8899) == ("89.00%", "91.00%", "88.99%")  # below the cut stays below
    assert signed_points(0.012) == "+1.2" and signed_points(-0.00021) == "-0.021"
    assert gauge_position(0.18, 0.18, 0.35) == pytest.approx(100 / 3)
    assert gauge_position(0.35, 0.18, 0.35) == pytest.approx(200 / 3)
    assert gauge_position(0.09, 0.18, 0.35) == pytest.approx(50 / 3)


def test_shap_rows_lump_the_rest() -> None:
    from oncofusion.report.charts import shap_rows

    shap = pd.DataFrame({"variable": list("abcdefghijkl"), "modality": "clinical", "value": list(range(12)),
                         "missing": [False] * 11 + [True], "shap": np.linspace(0.12, 0.01, 12),
                         "rank": range(1, 13)})
    rows = shap_rows(shap, top=10)
    assert len(rows) == 11 and rows["label"].iloc[-1] == "2 other variables"
    assert rows["shap"].sum() == pytest.approx(shap["shap"].sum())
