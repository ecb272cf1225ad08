"""Federated preprocessing equals pooled preprocessing (medians: site-weighted)."""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.errors import CohortError
from oncofusion.federated.preprocessing import merge_statistics, site_statistics
from oncofusion.federated.sites import site_cohorts


@pytest.mark.parametrize("log_biomarkers", [False, True])
def test_merged_statistics_equal_a_fit_on_the_pooled_patients(crlm_sites, log_biomarkers) -> None:
    parts = site_cohorts(crlm_sites)
    stats = [site_statistics(c, log_biomarkers=log_biomarkers) for c in parts.values()]
    merged = merge_statistics(stats, log_biomarkers=log_biomarkers).to_dict()
    pooled = TabularPreprocessor(log_biomarkers=log_biomarkers).fit(crlm_sites).to_dict()
    assert merged["n_train_patients"] == pooled["n_train_patients"] == len(crlm_sites)
    assert merged["categorical"] == pooled["categorical"]  # levels (union) and modes
    for block in ("biomarkers", "genomics"):
        assert merged[block].keys() == pooled[block].keys()
        for name, st in pooled[block].items():
            for key, value in st.items():
                assert merged[block][name][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (block, name, key)
    for col, st in pooled["continuous"].items():
        m = merged["continuous"][col]
        assert m["mean"] == pytest.approx(st["mean"], rel=1e-9) and m["sd"] == pytest.approx(st["sd"], rel=1e-9)
        # the count-weighted mean of site medians
        meds = [(len(c), float(np.nanmedian(c.patients[col].astype(float)))) for c in parts.values()]
        n_obs = [int(c.patients[col].notna().sum()) for c in parts.values()]
        want = sum(k * m_ for k, (_, m_) in zip(n_obs, meds, strict=True)) / sum(n_obs)
        assert m["median"] == pytest.approx(want, rel=1e-9)
    # transforms run with the merged state, and give the pooled z-scores
    x_m, _ = TabularPreprocessor.from_dict(merged).transform_biomarkers(crlm_sites.biomarkers)
    x_p, _ = TabularPreprocessor.from_dict(pooled).transform_biomarkers(crlm_sites.biomarkers)
    np.testing.assert_allclose(x_m, x_p, rtol=1e-5, atol=1e-6)


def test_statistics_hold_no_patient_values(crlm_sites) -> None:
    stats = site_statistics(next(iter(site_cohorts(crlm_sites).values())))
    ids = set(crlm_sites.patient_ids)
    text = repr(stats)
    assert not any(pid in text for pid in ids)
    assert set(stats["continuous"]["cea"]) == {"n", "sum", "sumsq", "median"}


def test_sites_with_other_columns_are_refused(crlm_sites) -> None:
    a, b = (site_statistics(c) for c in list(site_cohorts(crlm_sites).values())[:2])
    b["continuous"].pop("cea")
    with pytest.raises(CohortError, match="columns differ"):
        merge_statistics([a, b])


def test_a_column_missing_at_one_site_is_imputed_from_the_others(crlm_sites) -> None:
    parts = list(site_cohorts(crlm_sites).values())
    first = parts[0]
    first.patients["cea"] = np.nan
    merged = merge_statistics([site_statistics(c) for c in parts]).to_dict()
    rest = np.concatenate([c.patients["cea"].astype(float).to_numpy() for c in parts[1:]])
    assert merged["continuous"]["cea"]["mean"] == pytest.approx(np.nanmean(rest), rel=1e-9)
