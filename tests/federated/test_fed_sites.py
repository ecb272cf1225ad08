"""Sites: case-mix assignment, per-site cohorts, writing them out."""

from __future__ import annotations

import numpy as np
import pytest
from fed_helpers import TINY

from oncofusion.data import load_cohort
from oncofusion.errors import CohortError, ConfigError
from oncofusion.federated.sites import assign_sites, site_cohorts, write_site_cohorts


def _stage_share(cohort, level: str) -> dict[str, float]:
    p = cohort.patients
    return p.groupby("site")["tnm_stage"].apply(lambda s: float((s == level).mean())).to_dict()


def test_assign_sites_skews_case_mix_by_stage(crlm_sites) -> None:
    c = crlm_sites
    assert "site" in c.schema.extra and c.metadata["case_mix_by"] == "tnm_stage"
    assert sorted(c.patients["site"].unique()) == ["site_1", "site_2", "site_3"]
    stage3 = _stage_share(c, "III")
    stage1 = _stage_share(c, "I")
    # the last site gets the most stage III, the first the most stage I
    assert stage3["site_3"] > stage3["site_2"] > stage3["site_1"]
    assert stage1["site_1"] > stage1["site_3"]


def test_assign_sites_is_seeded_and_skew_zero_is_balanced(crlm_sites) -> None:
    base = load_cohort(crlm_sites.root)
    a = assign_sites(base, 3, seed=7, skew=3.0)
    b = assign_sites(base, 3, seed=7, skew=3.0)
    assert a.patients["site"].tolist() == b.patients["site"].tolist()
    assert assign_sites(base, 3, seed=8, skew=3.0).patients["site"].tolist() != a.patients["site"].tolist()
    strong = _stage_share(a, "III")
    flat = _stage_share(assign_sites(base, 3, seed=7, skew=0.0), "III")
    assert np.ptp(list(strong.values())) > np.ptp(list(flat.values()))


def test_assign_sites_refuses_bad_requests(crlm_sites) -> None:
    with pytest.raises(ConfigError, match="already has a 'site'"):
        assign_sites(crlm_sites, 3)
    base = load_cohort(crlm_sites.root)
    with pytest.raises(ConfigError, match=">= 2"):
        assign_sites(base, 1)
    with pytest.raises(ConfigError, match="not a column"):
        assign_sites(base, 3, by="nope")


def test_site_cohorts_and_written_site_directories(tmp_path) -> None:
    tiny = load_cohort(TINY)
    parts = site_cohorts(tiny, "site")
    assert {k: len(v) for k, v in parts.items()} == {"site_a": 7, "site_b": 5}
    written = write_site_cohorts(tiny, tmp_path / "sites")
    back = {name: load_cohort(path) for name, path in written.items()}  # validates, images included
    assert sorted(p for c in back.values() for p in c.patient_ids) == sorted(tiny.patient_ids)
    a = back["site_a"]
    assert set(a.patients["site"]) == {"site_a"} and "site" in a.schema.extra
    assert set(a.imaging["patient_id"]) == {"001", "002", "005"}
    assert set(a.biomarkers["patient_id"]) <= set(a.patient_ids)
    assert a.genomics is not None and set(a.genomics["patient_id"]) <= set(a.patient_ids)


def test_missing_site_column_is_a_clear_error() -> None:
    tiny = load_cohort(TINY)
    with pytest.raises(CohortError, match="no 'hospital' column"):
        site_cohorts(tiny, "hospital")
