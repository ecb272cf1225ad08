"""Breast cancer cohorts: GBSG2 (clinical), GSE7390 (76 genes) and NKI70 (70 genes).

- ``gbsg2``: German Breast Cancer Study Group 2 trial, 686 node-positive patients with
  complete data, recurrence-free survival; shipped by scikit-survival (from R
  ``TH.data::GBSG2``). Hormonal therapy (tamoxifen) is the arm (``none``/``tamoxifen``).
  The trial's 2x2 design also randomised 3 vs 6 chemotherapy cycles, which these data
  do not record; whether ``horTh`` was randomised for every one of the 686 patients is
  not stated by the source, so treat per-arm estimates with care.
- ``gse7390``: TRANSBIG validation series of the 76-gene signature (GEO GSE7390), 198
  node-negative untreated patients, time to distant metastasis; shipped by scikit-survival.
  Gene columns are Affymetrix probe ids (scikit-survival's leading ``X`` removed).
  ``grade`` ``unkown`` (2 patients) is written as missing.
- ``nki70``: 144 lymph-node positive patients of the NKI cohort with the 70 genes of the
  MammaPrint signature, metastasis-free survival (event: metastasis or death); R
  ``penalized::nki70`` shipped by SurvSet. penalized documents ``time`` in months, but the
  values (up to 17.7, median 7.0) are years, as in van de Vijver et al.;
  they are exported as years.

References
----------
Schumacher M, Bastert G, Bojar H, et al. Randomized 2 x 2 trial evaluating hormonal treatment
and the duration of chemotherapy in node-positive breast cancer patients. J Clin Oncol
12(10):2086-2093, 1994.
Desmedt C, Piette F, Loi S, et al. Strong time dependence of the 76-gene prognostic signature
for node-negative breast cancer patients in the TRANSBIG multicenter independent
validation series. Clin Cancer Res 13(11):3207-3214, 2007.
van de Vijver MJ, He YD, van't Veer LJ, et al. A gene-expression signature as a predictor of
survival in breast cancer. N Engl J Med 347(25):1999-2009, 2002.
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["GBSG2", "GSE7390", "NKI70"]

_GBSG2_ARMS = {"no": "none", "yes": "tamoxifen"}


def _row_ids(n: int):
    import pandas as pd

    return pd.DataFrame({"patient_id": [str(i) for i in range(1, n + 1)]})


def _build_gbsg2() -> CohortTables:
    from sksurv.datasets import load_gbsg2

    x, y = load_gbsg2()
    x = x.reset_index(drop=True)
    patients = _row_ids(len(x))
    patients["time"] = y["time"].astype(float)
    patients["event"] = y["cens"].astype(int)  # sksurv's "cens" is True when the event occurred
    patients["arm"] = codes(x["horTh"], _GBSG2_ARMS)
    for col in ["age", "tsize", "pnodes", "progrec", "estrec"]:
        patients[col] = x[col].astype(float)
    patients["menostat"] = codes(x["menostat"])
    patients["tgrade"] = codes(x["tgrade"])
    schema = make_schema(
        "gbsg2",
        description=(
            "German Breast Cancer Study Group 2 trial, node-positive patients (scikit-survival "
            "load_gbsg2, from R TH.data::GBSG2; patient ids are row numbers). Event: recurrence or "
            "death (recurrence-free survival). Arm: hormonal therapy. Licence: GPL-3."
        ),
        time_unit="days",
        horizons=[365, 1095, 1826],
        continuous=["age", "tsize", "pnodes", "progrec", "estrec"],
        categorical=["menostat", "tgrade"],
        arms=tuple(_GBSG2_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients)


def _build_gse7390() -> CohortTables:
    from sksurv.datasets import load_breast_cancer

    x, y = load_breast_cancer()
    x = x.reset_index(drop=True)
    clinical = ["age", "er", "grade", "size"]
    genes = [c for c in x.columns if c not in clinical]
    patients = _row_ids(len(x))
    patients["time"] = y["t.tdm"].astype(float)
    patients["event"] = y["e.tdm"].astype(int)
    patients["age"] = x["age"].astype(float)
    patients["size"] = x["size"].astype(float)  # tumour size (cm)
    patients["er"] = codes(x["er"])
    patients["grade"] = codes(x["grade"].astype(object).where(x["grade"] != "unkown"))
    names = [g.removeprefix("X") for g in genes]
    genomics = _row_ids(len(x))
    for g, n in zip(genes, names):
        genomics[n] = x[g].astype(float)
    schema = make_schema(
        "gse7390",
        description=(
            "TRANSBIG validation series of the 76-gene signature, GEO GSE7390: node-negative "
            "untreated breast cancer (scikit-survival load_breast_cancer; patient ids are row "
            "numbers). Event: distant metastasis. Licence: GPL-3.0-or-later (scikit-survival); "
            "GEO data are public."
        ),
        time_unit="days",
        horizons=[1095, 1826, 3652],
        continuous=["age", "size"],
        categorical=["er", "grade"],
        genomics=names,
    )
    return CohortTables(schema=schema, patients=patients, genomics=genomics)


_NKI70_CLINICAL = {"fac_Diam": "diam", "fac_N": "nodes", "fac_ER": "er", "fac_Grade": "grade"}


def _build_nki70() -> CohortTables:
    from SurvSet.data import SurvLoader

    df = (
        SurvLoader()
        .load_dataset("nki70")["df"]
        .sort_values("pid", kind="stable")
        .reset_index(drop=True)
    )
    genes = [c for c in df.columns if c.startswith("num_") and c != "num_Age"]
    patients = df[["pid"]].rename(columns={"pid": "patient_id"}).astype({"patient_id": str})
    patients["time"] = df["time"].astype(float)
    patients["event"] = df["event"].astype(int)
    patients["age"] = df["num_Age"].astype(float)
    for src, dst in _NKI70_CLINICAL.items():
        patients[dst] = codes(df[src])
    genomics = patients[["patient_id"]].copy()
    names = [g.removeprefix("num_") for g in genes]
    for g, n in zip(genes, names):
        genomics[n] = df[g].astype(float)
    schema = make_schema(
        "nki70",
        description=(
            "NKI breast cancer cohort, 144 lymph-node positive patients with the 70 MammaPrint "
            "genes (R penalized::nki70 via SurvSet). Event: metastasis or death (metastasis-free "
            "survival). Licence: GPL (>= 2)."
        ),
        time_unit="years",
        horizons=[3, 5, 10],
        continuous=["age"],
        categorical=list(_NKI70_CLINICAL.values()),
        genomics=names,
    )
    return CohortTables(schema=schema, patients=patients, genomics=genomics)


GBSG2 = PublicDataset(
    name="gbsg2",
    title="German Breast Cancer Study Group 2 trial, recurrence-free survival (arm: hormonal therapy)",
    endpoint="recurrence or death (recurrence-free survival)",
    package="scikit-survival",
    module="sksurv",
    origin="R TH.data::GBSG2",
    licence="GPL-3",
    time_unit="days",
    patients=686,
    events=299,
    arms=tuple(_GBSG2_ARMS.values()),
    build=_build_gbsg2,
)

GSE7390 = PublicDataset(
    name="gse7390",
    title="TRANSBIG 76-gene signature validation series (GEO GSE7390), distant metastasis",
    endpoint="distant metastasis",
    package="scikit-survival",
    module="sksurv",
    origin="GEO GSE7390",
    licence="GPL-3.0-or-later",
    time_unit="days",
    patients=198,
    events=51,
    genes=76,
    build=_build_gse7390,
)

NKI70 = PublicDataset(
    name="nki70",
    title="NKI node-positive breast cancer with the 70-gene MammaPrint signature",
    endpoint="metastasis or death (metastasis-free survival)",
    package="survset",
    module="SurvSet",
    origin="R penalized::nki70",
    licence="GPL (>= 2)",
    time_unit="years",
    patients=144,
    events=48,
    genes=70,
    build=_build_nki70,
)
