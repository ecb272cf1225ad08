"""Cohorts: the directory format, reading and validation, datasets, splits and readers.

``load_cohort``, ``Cohort`` and ``CohortSchema`` are imported here; the rest (torch
datasets, image readers, splits, summaries) load on first use, so ``import oncofusion.data``
does not import torch or the imaging libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

from oncofusion.data.cohort import Cohort
from oncofusion.data.load import load_cohort
from oncofusion.data.schema import CohortSchema

#: public names defined in submodules that are imported on first access
_LAZY = {
    "PatientDataset": "oncofusion.data.dataset",
    "collate_patients": "oncofusion.data.dataset",
    "split_patients": "oncofusion.data.splits",
    "read_image": "oncofusion.data.readers",
    "ImageData": "oncofusion.data.readers",
    "summarise": "oncofusion.data.summary",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oncofusion.data' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
