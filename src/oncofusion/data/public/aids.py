"""AIDS trial of didanosine (ddI) vs zalcitabine (ddC) with serial CD4 counts (JM ``aids``).

467 patients with advanced HIV infection who were intolerant of or had failed zidovudine
(AZT), randomised to ddI or ddC; CD4 cell counts at 0, 2, 6, 12 and 18 months. The data
are R ``JM::aids`` as shipped offline by the ``SurvSet`` package (which stores it in
counting-process form: one row per CD4 measurement, ``time`` = the visit, ``time2`` = the
next visit or the end of follow-up, the death indicator on the last row).

The CD4 values are the **square root** of the CD4 count, as in JM (their squares are whole
counts); the biomarker column is named ``cd4_sqrt`` to say so.

References
----------
Abrams DI, Goldman AI, Launer C, et al. A comparative trial of didanosine or zalcitabine
after treatment with zidovudine in patients with HIV infection. N Engl J Med
330(10):657-662, 1994.
Guo X, Carlin BP. Separate and joint modeling of longitudinal and event time data using
standard computer packages. The American Statistician 58(1):16-24, 2004.
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["AIDS"]

_ARMS = {"ddC": "ddC", "ddI": "ddI"}


def _build_aids() -> CohortTables:
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("aids")["df"]
    df = df.assign(pid=df["pid"].astype(str))
    df = df.assign(order=df["pid"].astype(int)).sort_values(["order", "time"], kind="stable")
    df = df.reset_index(drop=True)
    first = df.drop_duplicates("pid", keep="first").reset_index(drop=True)
    last = df.drop_duplicates("pid", keep="last").set_index("pid").loc[first["pid"]].reset_index()

    patients = first[["pid"]].rename(columns={"pid": "patient_id"})
    patients["time"] = last["time2"].astype(float)  # end of the last interval = death or censoring
    patients["event"] = last["event"].astype(int)
    patients["arm"] = codes(first["fac_drug"], _ARMS)
    patients["gender"] = codes(first["fac_gender"])
    patients["prev_oi"] = codes(first["fac_prevOI"])  # AIDS diagnosis at study entry: AIDS / noAIDS
    patients["azt"] = codes(first["fac_AZT"])  # intolerance / failure of zidovudine

    markers = df[["pid", "time", "num_CD4"]].rename(
        columns={"pid": "patient_id", "num_CD4": "cd4_sqrt"}
    )
    markers["time"] = markers["time"].astype(float)
    schema = make_schema(
        "aids",
        description=(
            "ddI vs ddC trial in HIV patients after AZT intolerance or failure, square-root CD4 "
            "counts at 0, 2, 6, 12, 18 months (R JM::aids via SurvSet). Event: death. "
            "Licence: GPL (>= 2)."
        ),
        time_unit="months",
        horizons=[6, 12, 18],
        continuous=[],
        categorical=["gender", "prev_oi", "azt"],
        biomarkers=["cd4_sqrt"],
        arms=tuple(_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients, biomarkers=markers.reset_index(drop=True))


AIDS = PublicDataset(
    name="aids",
    title="ddI vs ddC in advanced HIV infection with serial CD4 counts (JM aids)",
    endpoint="death",
    package="survset",
    module="SurvSet",
    origin="R JM::aids",
    licence="GPL (>= 2)",
    time_unit="months",
    patients=467,
    events=188,
    visits=1405,
    arms=tuple(_ARMS.values()),
    build=_build_aids,
)
