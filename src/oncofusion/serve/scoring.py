"""The model behind the service: loaded once, verified, and turned into response objects.

:meth:`ScoringModel.load` refuses a run directory whose files differ from their recorded
SHA-256 (:func:`oncofusion.models.run.verify_checksums`), whose format version this
oncofusion does not read, whose cohort schema does not parse, or whose run checksum is
not the one the operator pinned (``ONCOFUSION_MODEL_CHECKSUM``).

Models are duck-typed: every fitted model has ``predict(cohort) -> Prediction``; a model
with ``update`` refreshes the curve after follow-up visits; a prediction that carries
``per_arm`` (:class:`~oncofusion.models.mmcare_outputs.ArmPredictions`) and
``recommendation`` (MM-Care) adds per-arm outcomes and the recommended arm; a model with
``predict_records`` and ``recommend`` (MM-Care) also scores patients without an arm (not
treated yet: the decision they are scored for).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import CohortError, ModelLoadError
from oncofusion.serve.db.repository import PredictionFields
from oncofusion.serve.schemas import (
    ArmOutcome,
    HorizonValue,
    ModelRef,
    ModelResponse,
    PatientPrediction,
    Recommendation,
)

__all__ = ["ModelInfo", "ScoringModel"]


@dataclass(frozen=True)
class ModelInfo:
    """Identity of the loaded run."""

    name: str
    family: str
    version: str
    checksum: str
    format_version: int
    oncofusion_version: str | None
    run_dir: Path

    def ref(self) -> ModelRef:
        return ModelRef(name=self.name, version=self.version, checksum=self.checksum)


def _num(x: Any) -> float | None:
    """A JSON-safe float: None for NaN/inf."""
    v = float(x)
    return v if math.isfinite(v) else None


def _nums(a: Any) -> list[float | None]:
    return [_num(x) for x in np.asarray(a, dtype=float).ravel()]


class ScoringModel:
    """A loaded model and what the service asks of it. Thread-safe (one call at a time)."""

    def __init__(self, model: Any, info: ModelInfo) -> None:
        self.model = model
        self.info = info
        self.schema = model.schema
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, run_dir: str | Path, *, expected_checksum: str | None = None) -> ScoringModel:
        """Verify and load the run at ``run_dir``.

        Raises
        ------
        ModelLoadError
            Changed or missing files, unknown format version, an unreadable schema, or a
            run checksum other than ``expected_checksum``.
        """
        from pydantic import ValidationError

        from oncofusion.models.run import check_format_version, load_run, run_checksum

        run_dir = Path(run_dir).expanduser().resolve()
        if not (run_dir / "checksums.json").is_file():
            raise ModelLoadError(f"'{run_dir}' is not a run directory (no checksums.json). Fix: pass the --out of 'oncofusion train'.")
        before = run_checksum(run_dir)
        if expected_checksum is not None and before != expected_checksum:
            raise ModelLoadError(
                f"run '{run_dir}' has checksum {before}, not the expected {expected_checksum} "
                "(ONCOFUSION_MODEL_CHECKSUM). Fix: deploy the approved run or update the pinned checksum."
            )
        try:
            model = load_run(run_dir)
        except ValidationError as e:
            raise ModelLoadError(
                f"run '{run_dir}': its schema or config is not one this oncofusion reads ({e.error_count()} "
                "problem(s), first: " + e.errors()[0]["msg"] + "). Fix: use the oncofusion version that wrote it."
            ) from None
        info = check_format_version(run_dir)
        if run_checksum(run_dir) != before:
            raise ModelLoadError(f"run '{run_dir}' changed while it was being loaded. Fix: restart the service.")
        for attr in ("predict", "schema"):
            if not hasattr(model, attr):
                raise ModelLoadError(f"model '{info.get('model')}' cannot be served: it has no '{attr}'.")
        config = getattr(model, "config", None)
        name = str(getattr(config, "name", None) or info.get("model"))
        return cls(
            model,
            ModelInfo(
                name=name,
                family=str(info.get("model")),
                version=str(info.get("created") or "unknown"),
                checksum=before,
                format_version=int(info["format_version"]),
                oncofusion_version=(info.get("versions") or {}).get("oncofusion"),
                run_dir=run_dir,
            ),
        )

    # ------------------------------------------------------------------ facts
    @property
    def supports_update(self) -> bool:
        return callable(getattr(self.model, "update", None))

    @property
    def horizons(self) -> list[float]:
        return [float(h) for h in getattr(self.model, "horizons", None) or self.schema.horizons]

    @property
    def cuts(self) -> list[float]:
        return [float(c) for c in np.asarray(getattr(self.model, "cuts", []), dtype=float)]

    @property
    def has_arm_outcomes(self) -> bool:
        return callable(getattr(self.model, "predict_arms", None))

    def describe(self, limits: Mapping[str, int]) -> ModelResponse:
        config = getattr(self.model, "config", None)
        network = getattr(config, "network", None)
        modalities = list(getattr(network, "modalities", None) or [])
        return ModelResponse(
            name=self.info.name, family=self.info.family, version=self.info.version, checksum=self.info.checksum,
            format_version=self.info.format_version, oncofusion_version=self.info.oncofusion_version,
            time_unit=self.schema.time_unit, horizons=self.horizons, cuts=self.cuts, modalities=modalities,
            arms=list(self.schema.arms), has_arm_outcomes=self.has_arm_outcomes, supports_update=self.supports_update,
            record_schema=self.schema.model_dump(mode="json"), limits=dict(limits),
        )

    # ------------------------------------------------------------------ scoring
    def predict(self, records: Sequence[Mapping[str, Any]], *, root: Path, landmark: float | None = None) -> list[PatientPrediction]:
        """Validate ``records`` (the cohort validators) and score them, in request order.

        Raises
        ------
        oncofusion.errors.CohortError
            A record breaks the cohort format (the message names field and patient).
        """
        from oncofusion.data.records import cohort_from_records

        if landmark is None and self._scores_untreated:
            pred = self._predict_arms(records, root)
        else:
            cohort = cohort_from_records(list(records), self.schema, root=root, source="request")
            with self._lock:
                pred = self.model.predict(cohort) if landmark is None else self.model.predict(cohort, landmark=landmark)
        _check_finite(pred)
        out = self._outputs(pred)
        order = {p.patient_id: p for p in out}
        return [order[str(r["patient_id"])] for r in records]

    @property
    def _scores_untreated(self) -> bool:
        """Whether the model scores records without an arm (MM-Care's ``predict_records``)."""
        return all(callable(getattr(self.model, m, None)) for m in ("predict_records", "recommend"))

    def _predict_arms(self, records: Sequence[Mapping[str, Any]], root: Path) -> Any:
        """Per-arm outcomes and the recommendation, also for patients not treated yet (no
        ``arm``: their curve under the received arm is unknown, null in the answer)."""
        import warnings

        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the overlap flag is part of the answer
            arms = self.model.predict_records(list(records), root=root)
            pred = arms.received_prediction()
            pred.recommendation = self.model.recommend(arms)
        return pred

    def refresh(self, record: Mapping[str, Any], *, root: Path) -> PatientPrediction:
        """The curve after the record's last visit (``model.update`` with its whole history)."""
        rec = {k: v for k, v in record.items()}
        visits = list(rec.pop("visits", []) or [])
        with self._lock:
            pred = self.model.update({**rec, "visits": []}, visits, root=root)
        _check_finite(pred)
        return self._outputs(pred)[0]

    def exclusive(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` while no prediction runs (e.g. a report whose MC-dropout
        passes switch the network's dropout layers on)."""
        with self._lock:
            return fn(*args, **kwargs)

    # ------------------------------------------------------------------ conversion
    def _outputs(self, pred: Any) -> list[PatientPrediction]:
        cuts = np.asarray(pred.cuts, dtype=float)
        hs = [h for h in self.horizons if cuts[0] < h <= cuts[-1]]
        surv_h = np.asarray(pred.surv_at(hs)) if hs else np.zeros((len(pred.patient_ids), 0))
        per_arm = getattr(pred, "per_arm", None)
        rec = getattr(pred, "recommendation", None)
        arms_rows = _arm_rows(per_arm, hs) if per_arm is not None else {}
        rec_rows = _recommendation_rows(rec) if rec is not None else {}
        unit = getattr(pred, "time_unit", self.schema.time_unit)
        out = []
        for i, pid in enumerate(pred.patient_ids):
            surv = np.asarray(pred.surv[i], dtype=float)
            out.append(PatientPrediction(
                patient_id=str(pid), landmark=float(getattr(pred, "landmark", cuts[0])), time_unit=unit,
                cuts=[float(c) for c in cuts], hazard=_nums(pred.hazard[i]), survival=_nums(surv), cumulative_risk=_nums(1.0 - surv),
                horizons=[HorizonValue(time=h, value=_num(1.0 - surv_h[i, j])) for j, h in enumerate(hs)],
                arms=arms_rows.get(str(pid)), recommendation=rec_rows.get(str(pid)),
            ))  # fmt: skip
        return out

    def audit_fields(self, p: PatientPrediction) -> PredictionFields:
        """What the audit trail keeps of ``p``."""
        arms = None
        if p.arms is not None or p.recommendation is not None:
            arms = {
                "arms": [a.model_dump(mode="json") for a in p.arms or []],
                "recommendation": p.recommendation.model_dump(mode="json") if p.recommendation else None,
            }
        return PredictionFields(
            landmark=p.landmark,
            risks={f"{h.time:g}": h.value for h in p.horizons},  # type: ignore[misc]
            curve={"cuts": p.cuts, "hazard": p.hazard, "survival": p.survival},
            arms=arms, model_name=self.info.name, model_version=self.info.version, model_checksum=self.info.checksum,
        )


def _check_finite(pred: Any) -> None:
    """Refuse a prediction the network could not compute (values overflowing float32).

    Rows of a per-arm prediction for patients without a received arm are NaN on purpose
    and pass (their curve is reported as null).
    """
    hazard = np.asarray(pred.hazard, dtype=float)
    bad = ~np.isfinite(hazard).all(axis=1)
    if getattr(pred, "per_arm", None) is not None:
        bad &= ~np.isnan(hazard).all(axis=1)
    if bad.any():
        ids = [str(p) for p, b in zip(pred.patient_ids, bad, strict=True) if b]
        raise CohortError(
            "the model's prediction is not a finite number: some values are so far outside the training "
            "data that the network overflows.",
            file="request", rows=ids, fix="check the units and magnitudes of the values sent.",
        )


def _arm_rows(per_arm: Any, horizons: list[float]) -> dict[str, list[ArmOutcome]]:
    """Per-arm outcomes by patient id from an ``ArmPredictions``-like object."""
    arms = [str(a) for a in per_arm.arms]
    os_surv = np.asarray(per_arm.os_surv, dtype=float)
    os_h = np.asarray(per_arm.os_at(horizons), dtype=float) if horizons else np.zeros((*os_surv.shape[:2], 0))
    lc_h = [float(h) for h in np.asarray(getattr(per_arm, "lc_horizons", []), dtype=float)]
    lc = np.asarray(getattr(per_arm, "lc_control", np.zeros((*os_surv.shape[:2], 0))), dtype=float)
    prop = getattr(per_arm, "propensity", None)
    out: dict[str, list[ArmOutcome]] = {}
    for i, pid in enumerate(per_arm.patient_ids):
        out[str(pid)] = [
            ArmOutcome(
                arm=a, survival=_nums(os_surv[i, j]),
                survival_at_horizons=[HorizonValue(time=h, value=_num(os_h[i, j, t])) for t, h in enumerate(horizons)],
                local_control=[HorizonValue(time=h, value=_num(lc[i, j, t])) for t, h in enumerate(lc_h)],
                propensity=None if prop is None or len(prop) == 0 else _num(np.asarray(prop)[i, j]),
            )
            for j, a in enumerate(arms)
        ]  # fmt: skip
    return out


def _recommendation_rows(frame: Any) -> dict[str, Recommendation]:
    """Recommendations by patient id from the frame of :func:`oncofusion.decide.recommend`."""
    horizon = frame.attrs.get("horizon") if hasattr(frame, "attrs") else None
    out: dict[str, Recommendation] = {}
    for row in frame.to_dict("records"):
        utilities = {k.removeprefix("utility_"): _num(v) for k, v in row.items() if str(k).startswith("utility_")}
        outside = row.get("outside_support")
        out[str(row["patient_id"])] = Recommendation(
            recommended=str(row["recommended"]), preference=str(row["preference"]),
            benefit=_num(row["benefit"]), benefit_low=_num(row.get("low", float("nan"))),
            benefit_high=_num(row.get("high", float("nan"))), interval=row.get("interval"),
            horizon=None if horizon is None else float(horizon), utilities=utilities,
            outside_support=None if outside is None else bool(outside),
        )  # fmt: skip
    return out
