"""Patient records (JSON-like, as the scoring service receives them) -> a validated Cohort."""

from pathlib import Path

import pytest

from oncofusion.data import load_cohort
from oncofusion.data.records import cohort_from_records
from oncofusion.errors import CohortError

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"


def _record(**over):
    rec = {
        "patient_id": "n1",
        "arm": "sbrt",
        "clinical": {"age": 61, "cea": 4.2, "sex": "F", "stage": "II", "emvi": "no"},
        "visits": [{"time": 0, "ezh2": 1.1, "cd10": 0.4}, {"time": 2, "ezh2": 1.3, "cd10": 0.5}],
        "genomics": {"egfr": 0.2, "kras": -0.1, "tp53": 1.0, "braf": 0.0},
    }
    rec.update(over)
    return rec


@pytest.fixture(scope="module")
def schema():
    return load_cohort(TINY).schema


def test_a_record_becomes_one_patient_with_its_visits_and_genes(schema):
    cohort = cohort_from_records([_record()], schema, source="request")
    assert cohort.patient_ids == ["n1"]
    assert len(cohort.biomarkers) == 2
    assert cohort.genomics.loc[0, "tp53"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("over", "what", "name"),
    [
        ({"visits": [{"time": 0, "ezh2": 1.0, "EZH2_typo": 2.0}]}, "visit", "EZH2_typo"),
        ({"genomics": {"egfr": 0.1, "myc": 2.0}}, "genomics", "myc"),
        ({"clinical": {"age": 61, "weight": 70}}, "clinical", "weight"),
    ],
)
def test_fields_the_model_does_not_know_are_errors_not_dropped(schema, over, what, name):
    with pytest.raises(CohortError) as err:
        cohort_from_records([_record(**over)], schema, source="request")
    msg = str(err.value)
    assert f"{what} field(s) ['{name}']" in msg and "request" in msg and "n1" in msg
