"""Cohorts: the directory format, reading and validation, datasets, splits and readers.

``load_cohort``, ``Cohort`` and ``CohortSchema`` are imported here; the rest (torch
datasets, image readers, splits, summaries) load on first use, so ``import oncofusion.data``
does not import torch or the imaging libraries.
"""

from __future__ import annotations

from oncofusion.data.cohort import Cohort
from oncofusion.data.load import load_cohort
from oncofusion.data.schema import CohortSchema
from oncofusion.utils.lazy import lazy_exports

#: public names defined in submodules that are imported on first access
_LAZY = {
    "PatientDataset": "dataset",
    "collate_patients": "dataset",
    "split_patients": "splits",
    "read_image": "readers",
    "ImageData": "readers",
    "summarise": "summary",
}

__all__ = [
    "Cohort",
    "CohortSchema",
    "ImageData",
    "PatientDataset",
    "collate_patients",
    "load_cohort",
    "read_image",
    "split_patients",
    "summarise",
]


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
