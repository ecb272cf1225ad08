"""Attention tables (critical windows, cross-modal weights, gates) and modality contributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _explain_factories import dmanet, tiny_data

from oncofusion.errors import ConfigError
from oncofusion.explain import Target, attention_tables, critical_windows, modality_contributions
from oncofusion.explain._batch import with_modality_masked

TARGET = Target("risk", 3)


def test_visit_attention_and_critical_windows() -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    tables = attention_tables(net, batch, feature_names=prep.clinical_feature_names, k=2)
    visits = tables.visits
    assert list(visits.columns) == ["patient_id", "visit", "time", "alpha", "rank", "critical"]
    has = batch["modality_mask"]["biomarkers"].numpy()
    n_visits = (batch["biomarker_valid"].numpy() & has[:, None]).sum(1)
    counts = visits.groupby("patient_id").size()
    for i, pid in enumerate(batch["patient_id"]):
        assert counts.get(pid, 0) == n_visits[i]
    sums = visits.groupby("patient_id")["alpha"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=1e-5)  # alpha is a softmax over visits
    row = batch["patient_id"].index("005")  # a patient with several visits
    mine = visits[visits.patient_id == "005"]
    np.testing.assert_allclose(mine["time"], batch["biomarker_times"][row, : len(mine)].numpy())
    assert len(mine) >= 3
    top = critical_windows(visits, k=2)
    assert (top.groupby("patient_id").size() <= 2).all()
    best = top[top.patient_id == "005"]
    assert list(best["alpha"]) == sorted(mine["alpha"], reverse=True)[:2]
    assert best["critical"].all() and mine["critical"].sum() == 2
    with pytest.raises(ConfigError, match="k must be"):
        critical_windows(visits, k=0)


def test_cross_modal_attention_gates_and_clinical_gate() -> None:
    _, prep, batch = tiny_data()
    net = dmanet()
    tables = attention_tables(net, batch, feature_names=prep.clinical_feature_names)
    assert tables.cross_keys == ["null", "imaging", "biomarkers", "clinical", "genomics"]
    assert tables.cross_slices.shape == (12, 4, 5)
    cross = tables.cross
    np.testing.assert_allclose(
        cross.groupby("patient_id")["weight"].sum().to_numpy(), 1.0, rtol=1e-5
    )
    absent = cross[~cross.present]
    assert len(absent) > 0 and (absent["weight"] == 0.0).all()  # a missing modality gets weight 0
    np.testing.assert_allclose(
        cross[cross.patient_id == "003"].set_index("key")["weight"].to_numpy(),
        tables.cross_slices[2].mean(0),
        rtol=1e-6,
    )
    gates = tables.gates
    assert ((gates["gate"] > 0) == gates["present"]).all()
    gate = tables.clinical_gate
    assert list(gate.columns) == ["patient_id", "feature", "variable", "gate"]
    assert len(gate) == 12 * len(prep.clinical_feature_names)
    assert set(gate["variable"]) == {"age", "cea", "sex", "stage", "emvi"}
    assert ((gate["gate"] > 0) & (gate["gate"] < 1)).all()
    with pytest.raises(ConfigError, match="3 clinical feature names"):
        attention_tables(net, batch, feature_names=["a", "b", "c"])


def test_modality_contributions_by_masking() -> None:
    _, _, batch = tiny_data()
    net = dmanet()
    table = modality_contributions(net, batch, TARGET)
    assert list(table.columns) == [
        "patient_id",
        "modality",
        "present",
        "target_full",
        "target_without",
        "contribution",
    ]
    assert len(table) == 12 * 4
    with torch.no_grad():
        full = TARGET(net(batch)).numpy()
        no_img = TARGET(net(with_modality_masked(batch, "imaging"))).numpy()
    img = table[table.modality == "imaging"]
    np.testing.assert_allclose(img["target_full"], full, rtol=1e-6)
    present = img["present"].to_numpy()
    np.testing.assert_allclose(img["contribution"][present], (full - no_img)[present], rtol=1e-5)
    assert (table.loc[~table.present, "contribution"] == 0.0).all()
    assert table.loc[table.present, "contribution"].abs().max() > 1e-4
    with pytest.raises(ConfigError, match="no modality 'imagin'"):
        modality_contributions(net, batch, TARGET, modalities=["imagin"])


def test_a_network_without_attention_gives_none() -> None:
    from _explain_factories import image_net

    _, _, batch = tiny_data()
    tables = attention_tables(image_net(), batch)
    assert tables.visits is None and tables.cross is None and tables.gates is None
    assert tables.clinical_gate is None and tables.cross_slices is None
