"""check_schema_matches: a fitted model refuses a cohort in another format."""

from pathlib import Path

import pytest

from oncofusion.data import load_cohort
from oncofusion.errors import CohortError
from oncofusion.models.base import check_schema_matches

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"


def test_same_schema_passes_and_a_changed_part_names_itself():
    schema = load_cohort(TINY, check_images=False).schema
    check_schema_matches(schema, schema, ("clinical columns", "biomarkers", "genomics", "arms", "time unit"))
    other = schema.model_copy(update={"time_unit": "days"})
    with pytest.raises(CohortError, match=r"time unit \['days'\] differ from the model's \['months'\]"):
        check_schema_matches(schema, other, ("clinical columns", "time unit"))
    check_schema_matches(schema, other, ("clinical columns", "arms"))  # unit not required
