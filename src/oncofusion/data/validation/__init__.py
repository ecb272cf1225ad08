"""The rules a cohort directory must follow, one module per table.

:func:`oncofusion.data.load_cohort` applies them in order: ``cohort.yaml``
(:mod:`.cohort_yaml`), patients (:mod:`.patients`), biomarkers (:mod:`.biomarkers`),
genomics and the gene graph (:mod:`.genomics`), imaging (:mod:`.imaging`). Each raises
:class:`~oncofusion.errors.CohortError` for the first rule broken; ``docs/errors.md`` lists
every message.
"""

from __future__ import annotations

from oncofusion.data.validation._checks import Table
from oncofusion.data.validation.biomarkers import validate_biomarkers
from oncofusion.data.validation.cohort_yaml import SCHEMA_FILE, read_schema
from oncofusion.data.validation.genomics import validate_gene_graph, validate_genomics
from oncofusion.data.validation.imaging import check_image_files, validate_imaging
from oncofusion.data.validation.patients import check_has_events, validate_patients

__all__ = [
    "SCHEMA_FILE",
    "Table",
    "check_has_events",
    "check_image_files",
    "read_schema",
    "validate_biomarkers",
    "validate_gene_graph",
    "validate_genomics",
    "validate_imaging",
    "validate_patients",
]
