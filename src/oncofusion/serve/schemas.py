"""Response models of the scoring service (pydantic, unknown fields forbidden).

Probabilities are in [0, 1]. ``survival`` is :math:`S(t)` (higher is better),
``cumulative_risk`` is :math:`1 - S(t)` and ``hazard`` the conditional probability of the
event in each interval given survival to its start (both higher is worse). Times are in
the model's time unit (``time_unit``), on the grid ``cuts``: value ``k`` of a curve
belongs to the end of interval ``(cuts[k], cuts[k+1]]``. A value the model cannot give
(e.g. the curve under the received arm of a patient whose arm is unknown) is ``null``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ArmOutcome",
    "ErrorDetail",
    "ErrorResponse",
    "HealthResponse",
    "HistoryEntry",
    "HistoryResponse",
    "HorizonValue",
    "ModelRef",
    "ModelResponse",
    "PatientPrediction",
    "PredictResponse",
    "Recommendation",
    "StoredVisit",
    "VisitsResponse",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HorizonValue(_Out):
    """A probability at one time."""

    time: float = Field(description="time in the model's time unit")
    value: float | None = Field(description="probability at that time")


class ArmOutcome(_Out):
    """Predicted outcomes if the patient were treated with one arm."""

    arm: str
    survival: list[float | None] = Field(description="overall survival S(t) at the end of each interval")
    survival_at_horizons: list[HorizonValue]
    local_control: list[HorizonValue] = Field(description="probability of local control (higher is better)")
    propensity: float | None = Field(None, description="probability of this arm given the patient's data")


class Recommendation(_Out):
    """The arm with the higher utility alpha P_OS + beta P_LC at the decision horizon."""

    recommended: str
    preference: str = Field(description="the recommended arm, or 'no clear preference' when its interval includes 0")
    benefit: float | None = Field(description="utility of the recommended arm minus the best other arm")
    benefit_low: float | None
    benefit_high: float | None
    interval: str | None = Field(None, description="how the interval was obtained, or 'unavailable'")
    horizon: float | None = None
    utilities: dict[str, float | None] = Field(default_factory=dict)
    outside_support: bool | None = Field(None, description="some arm's propensity lies outside the overlap bounds")


class PatientPrediction(_Out):
    """The risk curve of one patient (conditional on being event-free at ``landmark``)."""

    patient_id: str
    landmark: float = Field(description="data up to this time were used; the curve is conditional on surviving to it")
    time_unit: str
    cuts: list[float] = Field(description="interval boundaries c_0 < ... < c_K")
    hazard: list[float | None]
    survival: list[float | None]
    cumulative_risk: list[float | None]
    horizons: list[HorizonValue] = Field(description="cumulative risk 1 - S(t) at the model's horizons after the landmark")
    arms: list[ArmOutcome] | None = Field(None, description="per-arm outcomes, for models with treatment arms")
    recommendation: Recommendation | None = None


class ModelRef(_Out):
    """Which model answered."""

    name: str
    version: str
    checksum: str = Field(description="SHA-256 of the run directory's checksums.json")


class PredictResponse(_Out):
    request_id: str
    model: ModelRef
    predictions: list[PatientPrediction]


class StoredVisit(_Out):
    time: float
    values: dict[str, float | None]


class VisitsResponse(_Out):
    request_id: str
    model: ModelRef
    patient_id: str
    visits_added: int = Field(description="visits that were new (a resent identical visit is not added twice)")
    visits_total: int
    prediction: PatientPrediction


class HistoryEntry(_Out):
    """One stored prediction of the patient."""

    created_at: datetime
    route: str
    landmark: float
    horizons: list[HorizonValue]
    client: str
    model: ModelRef


class HistoryResponse(_Out):
    patient_id: str
    registered_at: datetime
    updated_at: datetime
    visits: list[StoredVisit]
    trajectory: list[HistoryEntry] = Field(description="predictions oldest first: the risk trajectory over time")


class ModelResponse(_Out):
    name: str
    family: str = Field(description="registered model type, e.g. dmanet or mmcare")
    version: str = Field(description="when the run was trained (ISO 8601), from run.json")
    checksum: str
    format_version: int
    oncofusion_version: str | None
    time_unit: str
    horizons: list[float]
    cuts: list[float]
    modalities: list[str]
    arms: list[str]
    has_arm_outcomes: bool
    supports_update: bool
    record_schema: dict[str, Any] = Field(description="the cohort schema patient records are validated against")
    limits: dict[str, int]


class HealthResponse(_Out):
    status: Literal["ok", "unavailable"]
    model: bool
    database: bool


class ErrorDetail(_Out):
    field: str | None = Field(None, description="the offending field, e.g. records[0].clinical.age")
    message: str


class ErrorResponse(_Out):
    error: str = Field(description="machine-readable kind, e.g. validation_error")
    message: str
    errors: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None
