"""SHAP: additivity, exact Shapley values by enumeration, grouping, missing values, dummies."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch
from _explain_factories import dmanet, rows_with, tiny_data
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.explain import ShapResult, Target, feature_groups, select_rows, shap_attributions
from oncofusion.models.network import MultimodalSurvivalNet

TARGET = Target("risk", 3)


def test_feature_groups_join_one_hot_columns() -> None:
    names = ["age", "cea", "sex=F", "sex=M", "stage=I", "stage=II", "emvi=yes", "x=a=b"]
    variables, groups = feature_groups(names)
    assert variables == ["age", "cea", "sex", "stage", "emvi", "x"]
    assert groups == [[0], [1], [2, 3], [4, 5], [6], [7]]


@pytest.fixture(scope="module")
def cohort_shap() -> ShapResult:
    _, prep, batch = tiny_data()
    return shap_attributions(dmanet(), batch, TARGET, background=batch, preprocessor=prep)


def test_values_add_up_to_prediction_minus_base_for_the_cohort(cohort_shap: ShapResult) -> None:
    _, _, batch = tiny_data()
    res = cohort_shap
    assert res.additivity_error.max() < 1e-6
    with torch.no_grad():
        np.testing.assert_allclose(res.predictions, TARGET(dmanet()(batch)).numpy(), rtol=1e-5)
    assert list(res.values.columns) == [
        "age",
        "cea",
        "sex",
        "stage",
        "emvi",
        "egfr",
        "kras",
        "tp53",
        "braf",
    ]
    assert res.values.abs().to_numpy().max() > 1e-4  # not trivially zero
    assert set(res.modality.values()) == {"clinical", "genomics"}
    mean_abs = res.mean_abs()
    assert list(mean_abs) == sorted(mean_abs, reverse=True)


def _exact_shapley(
    net: nn.Module, row: dict[str, Any], background: dict[str, Any], names: list[str]
) -> tuple[np.ndarray, float]:
    """Brute-force interventional Shapley values of the clinical variables (MM-Care eq. 21)
    with full forward passes of the network (no cached encoders)."""
    variables, groups = feature_groups(names)
    m, n_bg = len(variables), len(background["patient_id"])

    def value(subset: tuple[int, ...]) -> float:
        cols = [c for j in subset for c in groups[j]]
        rep = select_rows(row, [0] * n_bg)
        clinical, missing = background["clinical"].clone(), background["clinical_missing"].clone()
        clinical[:, cols], missing[:, cols] = (
            row["clinical"][0, cols],
            row["clinical_missing"][0, cols],
        )
        with torch.no_grad():
            return float(
                TARGET(net({**rep, "clinical": clinical, "clinical_missing": missing}))
                .double()
                .mean()
            )

    cache = {s: value(s) for r in range(m + 1) for s in itertools.combinations(range(m), r)}
    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for r in range(m):
            for s in itertools.combinations(others, r):
                w = math.factorial(r) * math.factorial(m - r - 1) / math.factorial(m)
                phi[i] += w * (cache[tuple(sorted((*s, i)))] - cache[s])
    return phi, cache[()]


@pytest.mark.parametrize(
    "patient", ["001", "003"]
)  # with an image; with a missing cea and no genes
def test_kernel_shap_equals_exact_shapley_values(patient: str) -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    i = batch["patient_id"].index(patient)
    row, background = select_rows(batch, [i]), select_rows(batch, [2, 5, 6, 9, 11])
    res = shap_attributions(
        net, row, TARGET, background=background, preprocessor=prep, modalities=["clinical"]
    )
    phi, base = _exact_shapley(net, row, background, prep.clinical_feature_names)
    np.testing.assert_allclose(res.values.loc[patient].to_numpy(), phi, atol=1e-6)
    assert res.base_values[patient] == pytest.approx(base, abs=1e-6)
    assert np.abs(phi).max() > 1e-4


def test_missing_values_and_absent_modalities(cohort_shap: ShapResult) -> None:
    _, prep, _ = tiny_data()
    res = cohort_shap
    # patient 003: cea missing (imputed with the training median), no genomics
    assert bool(res.missing.loc["003", "cea"]) and not bool(res.missing.loc["003", "age"])
    median = prep.to_dict()["continuous"]["cea"]["median"]
    assert res.features.loc["003", "cea"] == pytest.approx(median, rel=1e-5)
    genes = ["egfr", "kras", "tp53", "braf"]
    assert (res.values.loc["003", genes] == 0.0).all() and res.missing.loc["003", genes].all()
    assert res.features.loc["003", genes].isna().all()
    # raw units and levels for display
    assert res.features.loc["001", "age"] == pytest.approx(65.0, abs=1e-3)
    assert res.features.loc["001", "sex"] == "F" and res.features.loc["002", "stage"] == "I"
    table = res.table("003")
    assert list(table.columns) == ["variable", "modality", "value", "missing", "shap", "rank"]
    assert list(table["rank"]) == list(range(1, 10))
    assert np.all(np.diff(table["shap"].abs().to_numpy()) <= 0)
    with pytest.raises(ConfigError, match="not in this SHAP result"):
        res.table("999")


def test_a_variable_the_network_ignores_gets_zero() -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    enc = net.encoders["clinical"]
    first = next(m for m in enc.mlp.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        enc.gate.weight[:, 0] = 0.0  # 'age' neither gates nor passes
        first.weight[:, 0] = 0.0
    rows = rows_with(batch, clinical=True)
    res = shap_attributions(
        net, select_rows(batch, rows), TARGET, background=batch, preprocessor=prep
    )
    assert res.values["age"].abs().max() < 1e-7
    assert res.values["cea"].abs().max() > 1e-4


def test_sampled_coalitions_are_seeded_additive_and_leave_numpy_alone() -> None:
    _, prep, batch = tiny_data()
    net, rows = dmanet(), select_rows(batch, [0, 1])
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    a = shap_attributions(
        net, rows, TARGET, background=batch, preprocessor=prep, nsamples=40, seed=3
    )
    assert np.random.rand() == expected
    b = shap_attributions(
        net, rows, TARGET, background=batch, preprocessor=prep, nsamples=40, seed=3
    )
    np.testing.assert_array_equal(a.values.to_numpy(), b.values.to_numpy())
    assert a.additivity_error.max() < 1e-6


class _Shifted(MultimodalSurvivalNet):
    """A network whose forward is not encoders -> fusion -> head alone."""

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = super().forward(batch)
        return {
            **out,
            "logit_hazard": out["logit_hazard"] + 0.5,
            "hazard": torch.sigmoid(out["logit_hazard"] + 0.5),
        }


def test_falls_back_to_full_forward_passes_when_the_shortcut_differs() -> None:
    _, prep, batch = tiny_data()
    base = dmanet()
    net = _Shifted(base.config, {"imaging": 1, "biomarkers": 2, "clinical": 8, "genomics": 4}, 4)
    net.load_state_dict(base.state_dict())
    net.eval()
    row = select_rows(batch, [0])
    with pytest.warns(RuntimeWarning, match="falling back"):
        res = shap_attributions(
            net, row, TARGET, background=batch, preprocessor=prep, modalities=["clinical"]
        )
    with torch.no_grad():
        assert res.predictions.iloc[0] == pytest.approx(float(TARGET(net(row))[0]), rel=1e-5)
    assert res.additivity_error.max() < 1e-6


def test_errors() -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    with pytest.raises(ConfigError, match="3 clinical feature names for 8"):
        shap_attributions(net, batch, TARGET, background=batch, feature_names=["a", "b", "c"])
    no_clinical = {
        **batch,
        "modality_mask": {**batch["modality_mask"], "clinical": torch.zeros(12, dtype=torch.bool)},
    }
    with pytest.raises(ConfigError, match="background has no patient with clinical"):
        shap_attributions(net, batch, TARGET, background=no_clinical, preprocessor=prep)
    with pytest.raises(ConfigError, match="nothing to explain"):
        shap_attributions(net, batch, TARGET, background=batch, modalities=["imaging"])
