"""The Fong clinical risk score on hand-made patients, and the score/stage baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from oncofusion.baselines.fong import FongBaseline, TNMStageBaseline, fong_score
from oncofusion.errors import CohortError, ConfigError, UnknownOptionError

#: (node, dfi months, tumours, largest cm, CEA) -> expected score, each row checked by hand
HAND = pd.DataFrame(
    [
        ("p0", "no", 24.0, 1, 3.0, 10.0, 0),  # nothing
        ("p1", "yes", 24.0, 1, 3.0, 10.0, 1),  # node-positive
        ("p2", "N0", 11.9, 1, 3.0, 10.0, 1),  # DFI < 12
        ("p3", "negative", 12.0, 1, 5.0, 200.0, 0),  # every threshold exactly at its cut: no point
        ("p4", "0", 12.0, 2, 5.1, 200.1, 3),  # > 1 tumour, > 5 cm, CEA > 200
        ("p5", "positive", 0.0, 4, 9.0, 1000.0, 5),  # all five
    ],
    columns=["patient_id", "nodes", "dfi", "count", "size", "cea", "expected"],
)
MAP = {
    "node_positive": "nodes",
    "dfi_months": "dfi",
    "n_tumours": "count",
    "largest_tumour_cm": "size",
    "cea_ng_ml": "cea",
}


def test_fong_score_on_hand_made_patients():
    np.testing.assert_array_equal(fong_score(HAND, MAP), HAND["expected"].to_numpy())


def test_missing_mapping_names_what_to_map():
    with pytest.raises(ConfigError) as e:
        fong_score(HAND, {"node_positive": "nodes", "dfi_months": "dfi"})
    msg = str(e.value)
    for crit in ("n_tumours", "largest_tumour_cm", "cea_ng_ml"):
        assert f"'{crit}'" in msg
    assert "column_map=" in msg and "available columns" in msg
    with pytest.raises(UnknownOptionError, match="Did you mean 'cea_ng_ml'"):
        fong_score(HAND, {**MAP, "cea_ng_m": "cea"})


def test_missing_and_unreadable_values():
    df = HAND.copy()
    df.loc[2, "cea"] = np.nan
    with pytest.raises(CohortError, match=r"column 'cea'.*p2.*missing"):
        fong_score(df, MAP)
    # missing='zero': the missing criterion is not met (p2 keeps its DFI point only)
    assert fong_score(df, MAP, missing="zero")[2] == 1
    df.loc[1, "nodes"] = "maybe"
    with pytest.raises(CohortError, match=r"'maybe'.*nodal status"):
        fong_score(df, MAP, missing="zero")


def test_fong_cox_equals_lifelines_on_the_score(synth_cohort):
    m = FongBaseline().fit(synth_cohort)
    p = synth_cohort.patients
    k = fong_score(p)
    ref = CoxPHFitter().fit(pd.DataFrame({"k": k, "T": p["time"], "E": p["event"]}), "T", "E")
    assert m.cox_.coef[0] == pytest.approx(ref.params_["k"], abs=1e-8)
    assert m.cox_.coef[0] > 0  # the synthetic hazard rises with the score
    S = m.predict_survival(synth_cohort, [12.0])[:, 0]
    assert (np.diff(S[np.argsort(k, kind="stable")]) <= 1e-15).all()


def test_fong_km_is_the_kaplan_meier_of_each_score_group(synth_cohort):
    m = FongBaseline(method="km").fit(synth_cohort)
    p = synth_cohort.patients
    k = fong_score(p)
    times = [3.0, 12.0, 24.0]
    S = m.predict_survival(synth_cohort, times)
    for g in np.unique(k):
        sel = k == g
        km = KaplanMeierFitter().fit(p["time"][sel], p["event"][sel])
        np.testing.assert_allclose(
            S[sel],
            np.tile(km.survival_function_at_times(times).to_numpy(), (sel.sum(), 1)),
            atol=1e-12,
        )


def test_tnm_is_cox_on_stage_and_rejects_unseen_stages(synth_cohort):
    m = TNMStageBaseline().fit(synth_cohort)
    assert m.cox_.features == ["stage=II", "stage=III"]
    p = synth_cohort.patients
    d = pd.get_dummies(p["stage"], prefix="stage", drop_first=True, dtype=float)
    ref = CoxPHFitter().fit(d.assign(T=p["time"], E=p["event"]), "T", "E")
    np.testing.assert_allclose(
        m.cox_.coef, ref.params_[["stage_II", "stage_III"]].to_numpy(), atol=1e-8
    )
    odd = synth_cohort.subset(synth_cohort.patient_ids[:3])
    odd.patients.loc[1, "stage"] = "IV"
    with pytest.raises(CohortError, match=r"column 'stage', row\(s\) P001: value\(s\) \['IV'\]"):
        m.predict_survival(odd, [12.0])
    with pytest.raises(UnknownOptionError, match="Did you mean 'stage'"):
        TNMStageBaseline(stage_column="stge").fit(synth_cohort)
