"""The in-memory cohort: typed, checked tables plus the schema they were checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from oncofusion.data.schema import CohortSchema

__all__ = ["Cohort"]


@dataclass
class Cohort:
    """A validated cohort. Build one with :func:`oncofusion.data.load_cohort`.

    Attributes
    ----------
    root
        The cohort directory (image paths are relative to it).
    schema
        The parsed ``cohort.yaml``.
    patients
        One row per patient, ``patient_id`` (str) as a column, then ``time`` (float),
        ``event`` (int 0/1), optional ``arm``/``lc_time``/``lc_event``, clinical and extra columns.
    biomarkers
        Long format: ``patient_id``, ``time`` (float, baseline 0), one column per marker;
        sorted by patient then time. ``None`` when the cohort has no such table.
    genomics
        ``patient_id`` plus one column per gene feature, or ``None``.
    gene_graph
        ``gene_a``, ``gene_b`` edges, or ``None``.
    imaging
        ``patient_id``, ``path`` (relative), optional ``phase`` and ``mask_path``, or ``None``.
    """

    root: Path
    schema: CohortSchema
    patients: pd.DataFrame
    biomarkers: pd.DataFrame | None = None
    genomics: pd.DataFrame | None = None
    gene_graph: pd.DataFrame | None = None
    imaging: pd.DataFrame | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.schema.name

    @property
    def patient_ids(self) -> list[str]:
        return self.patients["patient_id"].tolist()

    def __len__(self) -> int:
        return len(self.patients)

    def categorical_levels(self) -> dict[str, list[str]]:
        """The levels of every categorical clinical column in this cohort (or, for a subset,
        in the cohort it was cut from): the vocabulary, values only, no outcomes."""
        if "categorical_levels" in self.metadata:
            return dict(self.metadata["categorical_levels"])
        levels = {}
        for col in self.schema.clinical.categorical:
            if col in self.patients:
                values = self.patients[col].dropna().astype(str)
                levels[col] = sorted(set(values[values != ""]))
        return levels

    def subset(self, patient_ids: list[str] | pd.Index) -> Cohort:
        """A cohort restricted to ``patient_ids`` (side tables filtered the same way).

        The subset remembers the parent's categorical vocabulary
        (:meth:`categorical_levels`), so a model fitted on a training split knows the levels
        that the split put only in validation or test.
        """
        ids = set(map(str, patient_ids))

        def keep(df: pd.DataFrame | None) -> pd.DataFrame | None:
            if df is None:
                return None
            return df[df["patient_id"].isin(ids)].reset_index(drop=True)

        return Cohort(
            root=self.root,
            schema=self.schema,
            patients=keep(self.patients),  # type: ignore[arg-type]
            biomarkers=keep(self.biomarkers),
            genomics=keep(self.genomics),
            gene_graph=self.gene_graph,
            imaging=keep(self.imaging),
            metadata={**self.metadata, "categorical_levels": self.categorical_levels()},
        )
