"""explain_patient bundles maps, SHAP, attention and contributions for one patient."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _explain_factories import IMAGE_SHAPE, dmanet, tiny_data

from oncofusion.data import PatientDataset
from oncofusion.errors import ConfigError
from oncofusion.explain import Target, explain_patient, explain_with_predictor, select_rows

TARGET = Target("risk", 3, time=12.0)


def _row(pid: str) -> dict:
    _, _, batch = tiny_data()
    return select_rows(batch, [batch["patient_id"].index(pid)])


def test_a_patient_with_every_modality() -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    row = _row("005")
    ex = explain_patient(net, row, target=TARGET, background=batch, preprocessor=prep, n_frames=2)
    with torch.no_grad():
        assert ex.prediction == pytest.approx(float(TARGET(net(row))[0]), rel=1e-6)
    assert ex.patient_id == "005" and ex.target is TARGET and ex.cam_method == "gradcam++"
    assert ex.cam.shape == IMAGE_SHAPE and ex.image.shape == IMAGE_SHAPE
    assert 0.0 <= ex.cam.min() and ex.cam.max() == pytest.approx(1.0)
    assert len(ex.frames.indices) == 2 and ex.frames.images.shape == (2, 16, 16)
    # SHAP table: one row per original variable, additive
    assert len(ex.shap) == 9 and set(ex.shap["modality"]) == {"clinical", "genomics"}
    assert ex.shap["shap"].sum() + ex.shap_base_value == pytest.approx(ex.prediction, abs=1e-6)
    # attention: four visits for 005, the two most attended flagged as critical windows
    assert list(ex.visits["time"]) == [0.0, 3.0, 6.0, 9.0]
    assert len(ex.critical_windows) == 3 and ex.critical_windows["alpha"].is_monotonic_decreasing
    assert list(ex.cross_attention["key"]) == [
        "null",
        "imaging",
        "biomarkers",
        "clinical",
        "genomics",
    ]
    assert ex.cross_attention_slices.shape == (4, 5)
    assert list(ex.clinical_gate["feature"]) == prep.clinical_feature_names
    contrib = ex.contributions.set_index("modality")
    assert contrib["present"].all()
    assert contrib["target_full"].iloc[0] == pytest.approx(ex.prediction, rel=1e-6)
    assert "patient_id" not in ex.visits.columns


def test_a_patient_without_image_or_background() -> None:
    _, prep, _ = tiny_data()
    ex = explain_patient(dmanet(), _row("004"), target=TARGET, preprocessor=prep)
    assert ex.cam is None and ex.frames is None and ex.image is None
    assert ex.shap is None and ex.shap_base_value is None
    assert ex.visits is not None and ex.visits.empty  # 004 has no biomarker visits
    contrib = ex.contributions.set_index("modality")
    assert not contrib.loc["imaging", "present"] and contrib.loc["imaging", "contribution"] == 0.0


def test_one_patient_only() -> None:
    _, _, batch = tiny_data()
    with pytest.raises(ConfigError, match="one patient"):
        explain_patient(dmanet(), select_rows(batch, [0, 1]), target=TARGET)


def test_explain_with_a_duck_typed_predictor() -> None:
    cohort, prep, batch = tiny_data()
    net = dmanet()

    def make_dataset(c):  # what a fitted predictor provides
        return PatientDataset(c, prep, image_shape=IMAGE_SHAPE)

    predictor = SimpleNamespace(
        network=net,
        preprocessor=prep,
        make_dataset=make_dataset,
        discretizer=SimpleNamespace(cuts=np.array([0.0, 3.0, 6.0, 9.0, 12.0])),
    )
    ex = explain_with_predictor(
        predictor, cohort, "008", target="risk", time=12.0, background=cohort
    )
    assert ex.target == Target("risk", 3, None, 12.0)
    direct = explain_patient(
        net, _row("008"), target=Target("risk", 3, None, 12.0), background=batch, preprocessor=prep
    )
    assert ex.prediction == pytest.approx(direct.prediction, rel=1e-6)
    np.testing.assert_allclose(ex.cam, direct.cam, atol=1e-6)
    np.testing.assert_allclose(ex.shap["shap"], direct.shap["shap"], atol=1e-9)
    with pytest.raises(ConfigError, match="needs time="):
        explain_with_predictor(predictor, cohort, "008", target="risk")
