"""Copenhagen Study Group for Liver Diseases trial (CSL1): prednisone vs placebo in cirrhosis.

446 patients with liver cirrhosis randomised to prednisone or placebo, with the
prothrombin index measured at entry and at follow-up visits. The data are R
``timereg::csl`` as shipped offline by the ``SurvSet`` package. (JM's ``prothro``, 488
patients of the same trial, is not shipped offline by any package we could find.)

How the visits are rebuilt
--------------------------
timereg stores one row per interval ``(lt, rt]``: ``prot`` is the value measured at
``rt``, ``prot.prev`` the one at ``lt`` and ``prot.base`` the one at entry (time 0).
SurvSet dropped timereg's measurement-time column and set the last interval's ``rt``
to the death/censoring time ``eventT``. So this export writes, per patient, the entry
value at time 0 and each ``prot`` at its interval's ``rt`` **except the last one**, whose
measurement time SurvSet no longer holds (it lies somewhere in the last interval). This
reproduces JM's ``prothro`` series for the same patients, e.g. patient 1: 38 at 0, 31 at
0.244 years, death at 0.414 years (JM also has 27 at 0.381, the dropped last value).

Treatment labels
----------------
timereg documents ``treat`` 0 = prednisone, 1 = placebo, giving 226 prednisone and 220
placebo patients with 131 and 139 deaths. JM's ``prothro`` and joineR's ``liver`` label the
same patients the other way round. This export follows timereg, the source of these data;
its labelling agrees with the trial report that prothrombin index rose in the first months
under prednisone (Christensen et al. 1985): the mean change from entry within 6 months is
about +15 in the arm labelled prednisone and about +1 under placebo.

References
----------
Schlichting P, Christensen E, Andersen PK, et al. Prognostic factors in cirrhosis
identified by Cox's regression model. Hepatology 3(6):889-895, 1983.
Christensen E, et al. Changes of laboratory variables with time in cirrhosis: prognostic
and therapeutic significance. Hepatology 5:843-853, 1985 (PubMed 2411649).
Andersen PK, Borgan O, Gill RD, Keiding N. Statistical Models Based on Counting
Processes. Springer, 1993.
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["CSL"]

#: timereg::csl codes treat 0 = prednisone, 1 = placebo; sex 0 = female, 1 = male
_ARMS = {0: "prednisone", 1: "placebo"}
_SEX = {0: "female", 1: "male"}
#: timereg::csl stores age at inclusion minus 60 years
_AGE_OFFSET = 60.0


def _build_csl() -> CohortTables:
    import pandas as pd
    from SurvSet.data import SurvLoader

    df = SurvLoader().load_dataset("csl")["df"]
    df = df.sort_values(["pid", "time"], kind="stable").reset_index(drop=True)
    df["pid"] = df["pid"].astype(str)
    is_last = ~df["pid"].duplicated(keep="last")
    first = df[~df["pid"].duplicated(keep="first")].reset_index(drop=True)
    last = df[is_last].reset_index(drop=True)

    patients = pd.DataFrame({"patient_id": first["pid"]})
    patients["time"] = last["time2"].astype(float)
    patients["event"] = last["event"].astype(int)
    patients["arm"] = codes(first["fac_treat"], _ARMS)
    patients["age"] = first["num_age"].astype(float) + _AGE_OFFSET
    patients["sex"] = codes(first["fac_sex"], _SEX)

    entry = pd.DataFrame(
        {"patient_id": first["pid"], "time": 0.0, "prothrombin": first["num_prot_base"]}
    )
    follow = df.loc[~is_last, ["pid", "time2", "num_prot"]]
    follow.columns = ["patient_id", "time", "prothrombin"]
    markers = pd.concat([entry, follow], ignore_index=True)
    markers["prothrombin"] = markers["prothrombin"].astype(float)
    markers["order"] = markers["patient_id"].astype(int)
    markers = markers.sort_values(["order", "time"], kind="stable").drop(columns="order")
    schema = make_schema(
        "csl",
        description=(
            "CSL1 trial of prednisone vs placebo in liver cirrhosis with serial prothrombin index "
            "(R timereg::csl via SurvSet; each patient's last value is dropped because its "
            "measurement time is not in the source). Event: death. Licence: GPL (>= 2)."
        ),
        time_unit="years",
        horizons=[1, 3, 5, 10],
        continuous=["age"],
        categorical=["sex"],
        biomarkers=["prothrombin"],
        arms=tuple(_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients, biomarkers=markers.reset_index(drop=True))


CSL = PublicDataset(
    name="csl",
    title="Prednisone vs placebo in liver cirrhosis with serial prothrombin index (timereg csl)",
    endpoint="death",
    package="survset",
    module="SurvSet",
    origin="R timereg::csl",
    licence="GPL (>= 2)",
    time_unit="years",
    patients=446,
    events=270,
    visits=2481,
    arms=tuple(_ARMS.values()),
    build=_build_csl,
)
