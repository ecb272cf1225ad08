"""MM-Care's explainable decision report: Grad-CAM and SHAP of the per-arm predictions and of
the recommendation's expected benefit, in the patient report (HTML, PDF, CLI).

One tiny MM-Care run per module (40 simulated NSCLC patients, 16^3 CT, ROI step with a
one-epoch U-Net, 2 epochs): its numbers mean nothing, the tests check contracts that could
fail: the explained values are the predicted ones (ROI step included), maps lie on the CT
and follow what the encoder reads, SHAP values add up, missing genomics are masked.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import oncofusion
from oncofusion.errors import CohortError
from oncofusion.explain import (
    explain_decision,
    explain_patient,
    explain_with_predictor,
    tumour_slices,
)
from oncofusion.models.mmcare_predictor import MMCarePredictor

SIZE = 16
NSAMPLES = 120  # Kernel SHAP coalitions (additivity holds for any number)
TOL = 2e-7  # float32 network vs the float64 reading of its outputs


@pytest.fixture(scope="module")
def mm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.mmcare_run import save_mmcare_run

    tmp = tmp_path_factory.mktemp("mmcare-decision")
    simulate_nsclc(40, 5, str(tmp / "cohort"), size=SIZE)
    cohort = load_cohort(tmp / "cohort", require_events=True)
    cfg = load_mmcare_config("mmcare-cpu", {
        "train": {"max_epochs": 2, "batch_size": 16, "patience": 2},
        "roi": {"enabled": True, "segmenter": {"channels": [4, 8], "strides": [2], "epochs": 1, "patience": 1}},
        "decision": {"mc_samples": 0}, "evaluation": {"n_resamples": 10},
    })  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train_mmcare(cohort, cfg, work_dir=tmp / "work")
        save_mmcare_run(run, cohort, tmp / "run")
    model = oncofusion.load(str(tmp / "run"))
    # the same network without the ROI step: the encoder reads CT x the cohort's own mask
    plain = MMCarePredictor(model.network, model.config, model.preprocessor, model.discretizer, model.schema,
                            model.propensity, lc_horizons=model.lc_horizons, input_sizes=model._input_sizes)
    splits = json.loads((tmp / "run" / "splits.json").read_text())
    with_gen = set(cohort.genomics["patient_id"])
    with_ct = set(cohort.imaging["patient_id"])
    ids = [p for p in cohort.patient_ids if p in with_ct]
    return {
        "dir": tmp, "cohort": cohort, "model": model, "plain": plain,
        "background": cohort.subset(splits["train"][:12]),
        "gen": next(p for p in ids if p in with_gen), "no_gen": next(p for p in ids if p not in with_gen),
    }  # fmt: skip


def _predicted(model: Any, cohort: Any, pid: str) -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arms = model.predict_arms(cohort.subset([pid]), mc_samples=0)
        return arms, model.recommend(arms)


def test_explained_values_are_the_predicted_ones_after_the_roi_step(mm: dict[str, Any]) -> None:
    model, cohort, pid = mm["model"], mm["cohort"], mm["gen"]
    arms, rec = _predicted(model, cohort, pid)
    dec = explain_decision(model, cohort, pid)
    tau = model.decision_horizon
    assert dec.recommended == rec["recommended"].iloc[0] and dec.versus != dec.recommended
    for j, arm in enumerate(model.arms):
        assert dec.values[f"os_{arm}"] == pytest.approx(arms.os_at([tau])[0, j, 0], abs=TOL)
        assert dec.values[f"lc_{arm}"] == pytest.approx(arms.lc_at(tau)[0, j], abs=TOL)
    assert dec.values["benefit"] == pytest.approx(rec["benefit"].iloc[0], abs=TOL)
    # the generic entry point explains MM-Care too (same input, per-arm targets by name)
    e = explain_with_predictor(model, cohort, pid, target="survival", time=tau, arm=model.arms[1])
    assert e.prediction == pytest.approx(arms.os_at([tau])[0, 1, 0], abs=TOL) and e.cam is not None
    # without the ROI step the encoder reads another mask and the values move well past TOL,
    # so the match above is evidence that the step was applied
    no_roi = explain_decision(mm["plain"], cohort, pid)
    seg = [m.model_inputs(cohort, [pid])["imaging_seg"] for m in (model, mm["plain"])]
    assert not torch.equal(*seg)
    assert max(abs(no_roi.values[k] - v) for k, v in dec.values.items()) > 5 * TOL
    with pytest.raises(CohortError, match="not in cohort"):
        explain_decision(model, cohort, "NSCLC9999")


def test_gradcam_lies_on_the_ct_and_follows_what_the_encoder_reads(mm: dict[str, Any]) -> None:
    model, cohort, pid = mm["plain"], mm["cohort"], mm["gen"]
    dec = explain_decision(model, cohort, pid)
    assert dec.image.shape == dec.roi_mask.shape == (SIZE,) * 3
    for key in ("benefit", *(f"os_{a}" for a in model.arms), *(f"lc_{a}" for a in model.arms)):
        cam = dec.cam(key)
        assert cam.shape == dec.image.shape and cam.min() >= 0 and cam.max() <= 1 + 1e-6
    area = dec.roi_mask.reshape(SIZE, -1).sum(1)
    assert dec.slice_basis == "tumour area" and len(dec.slices) == 3
    np.testing.assert_array_equal(dec.slices, tumour_slices(dec.roi_mask, 3))
    assert area[dec.slices].min() >= np.delete(area, dec.slices).max() > 0
    assert dec.cam_layer == "stages.1"  # 4^3 map: the last stage (2^3) is too coarse
    # the encoder reads CT x ROI: the CT outside the ROI changes nothing, inside it does
    batch = model.model_inputs(cohort, [pid])
    net, target = model.explain_network, dec.targets["benefit"]
    seg = batch["imaging_seg"] > 0

    def explain(image: torch.Tensor) -> Any:
        return explain_patient(net, {**batch, "imaging": image}, target=target, cam_layer=dec.cam_layer)

    noise = torch.randn_like(batch["imaging"])
    outside = explain(torch.where(seg, batch["imaging"], noise))
    np.testing.assert_allclose(outside.cam, dec.cam(), atol=1e-5)
    assert outside.prediction == pytest.approx(dec.benefit, abs=1e-6)
    zeroed = explain(torch.zeros_like(batch["imaging"]))
    assert np.abs(zeroed.cam - dec.cam()).max() > 1e-3 and zeroed.prediction != pytest.approx(dec.benefit)


def test_shap_values_add_up_and_missing_genomics_has_no_attributions(mm: dict[str, Any]) -> None:
    model, cohort = mm["model"], mm["cohort"]
    dec = explain_decision(model, cohort, mm["gen"], background=mm["background"], shap_nsamples=NSAMPLES)
    assert dec.shap_keys() == ["os_sbrt", "os_surgery", "benefit"]
    _, rec = _predicted(model, cohort, mm["gen"])
    for key in dec.shap_keys():
        e = dec.explanations[key]
        assert e.shap_base_value + e.shap["shap"].sum() == pytest.approx(dec.values[key], abs=1e-6)
    e = dec.explanations["benefit"]
    assert e.shap_base_value + e.shap["shap"].sum() == pytest.approx(rec["benefit"].iloc[0], abs=1e-6)
    assert set(e.shap["modality"]) == {"clinical", "genomics"} and np.abs(e.shap["shap"]).sum() > 0
    table = dec.shap_table(labels=cohort.schema.labels)
    assert table.loc[table["variable"] == "fev1_pct", "label"].item() == "FEV1 (% predicted)"
    assert (np.diff(table["benefit"].abs().to_numpy()) <= 1e-12).all()

    miss = explain_decision(model, cohort, mm["no_gen"], background=mm["background"], shap_nsamples=NSAMPLES)
    assert not miss.present["genomics"] and miss.contribution("genomics") is None
    assert any("Genomics are not available" in n for n in miss.notes)
    for key in miss.shap_keys():
        e = miss.explanations[key]
        assert set(e.shap["modality"]) == {"clinical"}
        assert e.shap_base_value + e.shap["shap"].sum() == pytest.approx(miss.values[key], abs=1e-6)


def test_patient_report_shows_the_decision(mm: dict[str, Any], tmp_path: Path) -> None:
    from oncofusion.report import patient_report

    pid = mm["gen"]
    html = patient_report(mm["dir"] / "run", mm["cohort"], pid, out=tmp_path / "p.html", n_draws=0,
                          shap_nsamples=NSAMPLES)  # fmt: skip
    assert re.search(r'<img class="figure decision" src="data:image/png;base64,[A-Za-z0-9+/]{1000}', html)
    assert 'id="shap-table"' in html and html.count('class="shap-row"') == 10
    assert 'id="contribution-table"' in html and "Why this recommendation" in html
    sentence = re.search(r'id="decision-drivers"><p>(.*?)</p>', html, re.DOTALL).group(1)
    _, rec = _predicted(mm["model"], mm["cohort"], pid)
    best = rec["recommended"].iloc[0]
    assert f" {best} over " in sentence and "What drove the benefit" in sentence
    assert f"{100 * rec['benefit'].iloc[0]:+.1f} points higher" in sentence
    labels = set(mm["cohort"].schema.labels.values())
    rows = re.findall(r'<tr class="shap-row"><td>([^<]+)', html)
    assert all(r.strip() in labels for r in rows)  # variables in the cohort's clinical words
    with pytest.raises(CohortError, match="Did you mean"):
        patient_report(mm["dir"] / "run", mm["cohort"], pid[:-1] + "x", n_draws=0)


def test_cli_writes_html_and_pdf_for_a_patient_without_genomics(mm: dict[str, Any], tmp_path: Path) -> None:
    from oncofusion.cli import app

    out, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    args = ["report", str(mm["dir"] / "run"), "--patient", mm["no_gen"], "--cohort", str(mm["dir"] / "cohort"),
            "--out", str(out), "--pdf", str(pdf), "--draws", "0"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert pdf.read_bytes()[:5] == b"%PDF-" and 'id="gradcam-img"' in html and 'id="shap-table"' in html
    assert "Genomics were not available for this patient" in html and "(genomic)" not in html
    bad = CliRunner().invoke(app, [*args[:3], "NSCLC9999", *args[4:]])
    assert bad.exit_code == 2 and "not in cohort" in bad.output
