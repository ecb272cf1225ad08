"""The in-memory simulated cohort and its writer (cohort directory format + ``truth/``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from oncofusion.data.schema import CohortSchema
from oncofusion.utils.io import atomic_directory

__all__ = ["SimulatedCohort", "write_cohort"]

_TABLES = ("patients", "biomarkers", "genomics", "gene_graph", "imaging")


@dataclass
class SimulatedCohort:
    """A simulated cohort: the tables a cohort directory holds, plus the ground truth.

    Attributes
    ----------
    name
        The cohort name (``cohort.yaml: name``).
    schema
        The content of ``cohort.yaml``.
    patients, biomarkers, genomics, gene_graph, imaging
        The tables, with exactly the columns ``schema`` declares (``None``: no such table).
    truth
        File stem -> table, written as ``truth/<stem>.csv``: what a perfect model would know
        (latent factors, true hazards, oracle risks, potential outcomes).
    truth_readme
        ``truth/README.md``: what each truth file holds.
    params
        The model parameters, written as ``truth/params.json``.
    render
        ``render(patient_id) -> {relative path: array}``: the image files of one patient
        (images are drawn on demand, deterministically, so a cohort never holds them all).
    path
        Where the cohort was written, if it was.
    """

    name: str
    schema: dict
    patients: pd.DataFrame
    biomarkers: pd.DataFrame | None = None
    genomics: pd.DataFrame | None = None
    gene_graph: pd.DataFrame | None = None
    imaging: pd.DataFrame | None = None
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)
    truth_readme: str = ""
    params: dict = field(default_factory=dict)
    render: Callable[[str], dict[str, np.ndarray]] | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.patients)

    @property
    def patient_ids(self) -> list[str]:
        return self.patients["patient_id"].tolist()

    def images(self, patient_id: str) -> dict[str, np.ndarray]:
        """The image arrays of one patient, keyed by their path in ``imaging.csv``."""
        if self.render is None or self.imaging is None:
            return {}
        if patient_id not in set(self.imaging["patient_id"]):
            return {}
        return self.render(patient_id)

    def write(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the cohort directory (see :func:`write_cohort`)."""
        return write_cohort(self, out, overwrite=overwrite)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def write_cohort(
    cohort: SimulatedCohort, out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``cohort`` as a cohort directory; nothing appears at ``out`` unless all of it is written.

    Layout: ``cohort.yaml``, ``patients.csv`` and the other tables that are not ``None``,
    the image files named in ``imaging.csv`` (and its ``mask_path``), and ``truth/`` (CSV
    tables, ``README.md``, ``params.json``), which the cohort loader does not read.

    Parameters
    ----------
    cohort
        The simulated cohort.
    out
        The directory to create. It must not exist or be empty unless ``overwrite``.
    overwrite
        Replace an existing, non-empty directory.

    Returns
    -------
    pathlib.Path
        ``out``; also stored in ``cohort.path``.
    """
    CohortSchema(**cohort.schema)  # internal invariant: the simulator writes a valid schema
    out = Path(out)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        with open(tmp / "cohort.yaml", "w", encoding="utf-8") as fh:
            yaml.safe_dump(cohort.schema, fh, sort_keys=False, default_flow_style=None, width=100)
        for name in _TABLES:
            table = getattr(cohort, name)
            if table is not None:
                _write_csv(table, tmp / f"{name}.csv")
        if cohort.imaging is not None and cohort.render is not None:
            for pid in pd.unique(cohort.imaging["patient_id"]):
                for rel, arr in cohort.render(str(pid)).items():
                    target = tmp / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    np.save(target, arr, allow_pickle=False)
        truth = tmp / "truth"
        truth.mkdir()
        for stem, table in cohort.truth.items():
            _write_csv(table, truth / f"{stem}.csv")
        (truth / "README.md").write_text(cohort.truth_readme, encoding="utf-8")
        (truth / "params.json").write_text(
            json.dumps(cohort.params, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    cohort.path = out
    return out
