"""The ``cohort.yaml`` schema: names, units, horizons and column roles of a cohort.

See ``docs/cohort-format.md``. Unknown keys are rejected so typos surface.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ClinicalColumns", "CohortSchema", "TIME_UNITS_IN_DAYS", "RESERVED_PATIENT_COLUMNS"]

TIME_UNITS_IN_DAYS: dict[str, float] = {"days": 1.0, "months": 365.25 / 12.0, "years": 365.25}

#: columns of ``patients.csv`` that are not clinical features
RESERVED_PATIENT_COLUMNS = ("patient_id", "time", "event", "arm", "lc_time", "lc_event")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClinicalColumns(_Strict):
    """Clinical feature columns of ``patients.csv`` by type."""

    continuous: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @property
    def all(self) -> list[str]:
        return [*self.continuous, *self.categorical]


class CohortSchema(_Strict):
    """The parsed ``cohort.yaml``."""

    name: str
    time_unit: Literal["days", "months", "years"]
    horizons: list[float] = Field(default_factory=list)
    clinical: ClinicalColumns
    biomarkers: list[str] = Field(default_factory=list)
    genomics: list[str] = Field(default_factory=list)
    arms: list[str] = Field(default_factory=list)
    imaging: Literal["video", "volume"] | None = None
    extra: list[str] = Field(default_factory=list)
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("horizons")
    @classmethod
    def _positive_increasing(cls, v: list[float]) -> list[float]:
        if any(h <= 0 for h in v):
            raise ValueError("horizons must be positive")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("horizons must be strictly increasing")
        return v

    @model_validator(mode="after")
    def _no_duplicate_columns(self) -> CohortSchema:
        cols = [*self.clinical.all, *self.extra]
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise ValueError(f"columns declared twice in clinical/extra: {dup}")
        reserved = sorted(set(cols) & set(RESERVED_PATIENT_COLUMNS))
        if reserved:
            raise ValueError(f"reserved patients.csv columns cannot be clinical or extra: {reserved}")
        for key, names in (("biomarkers", self.biomarkers), ("genomics", self.genomics), ("arms", self.arms)):
            d = sorted({c for c in names if names.count(c) > 1})
            if d:
                raise ValueError(f"{key} lists duplicates: {d}")
        known = {*self.clinical.all, *self.biomarkers, *self.genomics}
        unknown = sorted(set(self.labels) - known)
        if unknown:
            raise ValueError(f"labels name columns that are not declared features: {unknown}")
        empty = sorted(k for k, v in self.labels.items() if not str(v).strip())
        if empty:
            raise ValueError(f"labels must be non-empty words, got an empty label for {empty}")
        return self

    def label(self, name: str) -> str:
        """The words for a feature (``labels:``, e.g. ``fev1_pct`` -> "FEV1 (% predicted)"),
        else its name."""
        return self.labels.get(name, name)

    @property
    def has_arms(self) -> bool:
        return len(self.arms) > 0
