"""Veterans' Administration lung cancer trial: standard vs test chemotherapy.

137 men with advanced inoperable lung cancer randomised to standard or test
chemotherapy; 128 died. The data are those shipped offline by scikit-survival
(``sksurv.datasets.load_veterans_lung_cancer``; R's ``survival::veteran`` is the same
table).

References
----------
Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data. Wiley, 1980
(2nd ed. 2002).
"""

from __future__ import annotations

from oncofusion.data.public._base import CohortTables, PublicDataset, codes, make_schema

__all__ = ["VETERANS"]

_ARMS = {"standard": "standard", "test": "test"}


def _build_veterans() -> CohortTables:
    import pandas as pd
    from sksurv.datasets import load_veterans_lung_cancer

    x, y = load_veterans_lung_cancer()
    patients = pd.DataFrame({"patient_id": [str(i) for i in range(1, len(x) + 1)]})
    patients["time"] = y["Survival_in_days"].astype(float)
    patients["event"] = y["Status"].astype(int)
    x = x.reset_index(drop=True)
    patients["arm"] = codes(x["Treatment"], _ARMS)
    patients["age"] = x["Age_in_years"].astype(float)
    patients["karnofsky"] = x["Karnofsky_score"].astype(float)
    patients["months_from_diagnosis"] = x["Months_from_Diagnosis"].astype(float)
    patients["celltype"] = codes(x["Celltype"])
    patients["prior_therapy"] = codes(x["Prior_therapy"])
    schema = make_schema(
        "veterans",
        description=(
            "Veterans' Administration lung cancer trial, standard vs test chemotherapy "
            "(scikit-survival load_veterans_lung_cancer; patient ids are row numbers). "
            "Event: death. Licence: GPL-3.0-or-later (scikit-survival)."
        ),
        time_unit="days",
        horizons=[30, 90, 180, 365],
        continuous=["age", "karnofsky", "months_from_diagnosis"],
        categorical=["celltype", "prior_therapy"],
        arms=tuple(_ARMS.values()),
    )
    return CohortTables(schema=schema, patients=patients)


VETERANS = PublicDataset(
    name="veterans",
    title="Veterans' Administration lung cancer trial (standard vs test chemotherapy)",
    endpoint="death",
    package="scikit-survival",
    module="sksurv",
    origin="Kalbfleisch & Prentice (R survival::veteran)",
    licence="GPL-3.0-or-later",
    time_unit="days",
    patients=137,
    events=128,
    arms=tuple(_ARMS.values()),
    build=_build_veterans,
)
