"""The fitted discrete-time multimodal model (DMA-Net and its variants).

It predicts monthly hazards, :math:`S(t)` and cumulative risk for a cohort or single
patient records, refreshes the risk curve when a follow-up visit arrives (landmark
conditional: risk over :math:`(s, \\tau]` given survival to :math:`s` and all data up to
:math:`s`), and saves/loads itself as a run directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError, ModelLoadError
from oncofusion.models.base import FittedSurvivalModel, check_schema_matches, check_times
from oncofusion.models.config import ModelConfig, config_from_dict
from oncofusion.models.prediction import Prediction
from oncofusion.models.registry import MODELS

__all__ = ["DiscreteTimePredictor"]

WEIGHTS = "weights.pt"


@MODELS.register("dmanet")
class DiscreteTimePredictor(FittedSurvivalModel):
    """A trained :class:`~oncofusion.models.network.MultimodalSurvivalNet` with its state.

    Parameters
    ----------
    network
        The trained network (eval mode is set here).
    config
        The model config it was trained with.
    preprocessor
        The fitted :class:`~oncofusion.data.preprocess.TabularPreprocessor`.
    discretizer
        The fitted time grid.
    schema
        The training cohort's schema (new cohorts and records must match it).
    """

    name = "dmanet"

    def __init__(self, network: torch.nn.Module, config: ModelConfig, preprocessor: Any, discretizer: Any, schema: Any) -> None:
        self.network = network.eval()
        self.config = config
        self.preprocessor = preprocessor
        self.discretizer = discretizer
        self.schema = schema
        self.time_unit = schema.time_unit
        self.cuts = np.asarray(discretizer.cuts, dtype=np.float64)

    # -------------------------------------------------------------------- data
    @property
    def horizons(self) -> list[float]:
        h = self.config.evaluation.horizons or self.schema.horizons or [float(self.cuts[-1])]
        return [float(x) for x in h]

    def make_dataset(self, cohort: Cohort, *, max_visit_time: float | None = None) -> Any:
        """The :class:`~oncofusion.data.PatientDataset` of ``cohort`` as this model reads it."""
        from oncofusion.data.dataset import PatientDataset

        self._check_schema(cohort)
        shape = self.config.data.image_shape
        return PatientDataset(
            cohort,
            self.preprocessor,
            image_shape=tuple(shape) if shape and "imaging" in self.config.network.modalities else None,
            max_visit_time=self.config.data.baseline if max_visit_time is None else max_visit_time,
        )

    def _check_schema(self, cohort: Cohort) -> None:
        check_schema_matches(self.schema, cohort.schema, ("clinical columns", "biomarkers", "genomics", "time unit"))

    # -------------------------------------------------------------------- prediction
    @torch.no_grad()
    def _hazards(self, dataset: Any, batch_size: int = 64) -> tuple[list[str], np.ndarray]:
        from torch.utils.data import DataLoader

        from oncofusion.data.collate import collate_patients

        ids: list[str] = []
        out: list[np.ndarray] = []
        self.network.eval()
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_patients):
            ids.extend(batch["patient_id"])
            out.append(self.network(batch)["hazard"].float().cpu().numpy())
        return ids, np.concatenate(out) if out else np.zeros((0, len(self.cuts) - 1))

    def predict(self, cohort: Cohort, *, landmark: float | None = None, batch_size: int = 64) -> Prediction:
        """Predict for every patient of ``cohort``.

        Without ``landmark``: the baseline prediction from data up to the configured
        baseline. With ``landmark=s``: data up to ``s`` and survival conditional on being
        event-free at ``s``, :math:`S(t \\mid T > s) = S(t) / S(s)` on the grid after ``s``.
        """
        from oncofusion.survival.transforms import hazard_from_survival, landmark_conditional

        base = self.config.data.baseline
        s = base if landmark is None else float(landmark)
        if s < base:
            raise CohortError(f"landmark {s:g} is before the model's baseline {base:g}.", fix="use a later landmark.")
        ids, hazard = self._hazards(self.make_dataset(cohort, max_visit_time=s), batch_size)
        surv = np.cumprod(1.0 - hazard, axis=1)
        if s <= max(base, float(self.cuts[0])):
            return Prediction(ids, self.cuts, hazard, surv, landmark=s, horizons=self.horizons, time_unit=self.time_unit)
        if s >= self.cuts[-1]:
            raise CohortError(
                f"landmark {s:g} is at or past the end of the model's time grid ({self.cuts[-1]:g} {self.time_unit}).",
                fix="update with visits before the horizon.",
            )
        cond, grid = landmark_conditional(surv, self.cuts, s)
        cond = np.asarray(cond)
        cond_h = np.asarray(hazard_from_survival(cond))
        return Prediction(ids, np.asarray(grid), cond_h, cond, landmark=s, horizons=self.horizons, time_unit=self.time_unit)

    def predict_survival(self, cohort: Cohort, times: Sequence[float] | np.ndarray, landmark: float | None = None) -> np.ndarray:
        """:math:`S(t)` at ``times``; with ``landmark=s``, ``times`` are horizons after ``s``
        and the result is :math:`S(s + \\Delta \\mid T > s)`."""
        t = check_times(times)
        pred = self.predict(cohort, landmark=landmark)
        offset = 0.0 if landmark is None else float(landmark)
        return pred.surv_at(t + offset)

    def update(self, patient: Cohort | Mapping[str, Any], new_visits: Sequence[Mapping[str, Any]] | None = None, *,
               root: str | Path | None = None) -> Prediction:
        """The refreshed risk curve after new follow-up visits.

        Parameters
        ----------
        patient
            A one-patient :class:`Cohort` or a patient record (see
            :mod:`oncofusion.data.records`), holding the history so far.
        new_visits
            Visits to append (``{"time": ..., "<marker>": ...}``).

        Returns
        -------
        Prediction
            Conditional on survival to the last visit ``s``: risk over ``(s, horizon]``.
        """
        from oncofusion.data.records import cohort_from_records

        if isinstance(patient, Cohort):
            record = _record_of(patient)
            root = patient.root if root is None else root
        else:
            record = dict(patient)
        visits = list(record.get("visits") or []) + list(new_visits or [])
        record["visits"] = visits
        record.pop("time", None)
        record.pop("event", None)
        cohort = cohort_from_records([record], self.schema, root=root, source=f"patient {record.get('patient_id')}")
        s = max((float(v["time"]) for v in visits), default=self.config.data.baseline)
        return self.predict(cohort, landmark=max(s, self.config.data.baseline))

    # -------------------------------------------------------------------- persistence
    def save(self, run_dir: str | Path) -> None:
        from oncofusion.models.run import write_json

        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(self.config.to_yaml())
        torch.save(self.network.state_dict(), run_dir / WEIGHTS)
        (run_dir / "preprocess.json").write_text(self.preprocessor.to_json())
        write_json(run_dir / "discretizer.json", self.discretizer.to_dict())
        write_json(run_dir / "schema.json", self.schema.model_dump(mode="json"))
        write_json(run_dir / "input_sizes.json", self._input_sizes)

    @classmethod
    def load(cls, run_dir: str | Path) -> DiscreteTimePredictor:
        import yaml

        from oncofusion.data.preprocess import TabularPreprocessor
        from oncofusion.data.schema import CohortSchema
        from oncofusion.models.network import MultimodalSurvivalNet
        from oncofusion.models.run import read_json
        from oncofusion.survival.discretize import Discretizer

        run_dir = Path(run_dir)
        config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), source=str(run_dir / "config.yaml"))
        schema = CohortSchema.model_validate(read_json(run_dir / "schema.json"))
        pre = TabularPreprocessor.from_json((run_dir / "preprocess.json").read_text())
        disc = Discretizer.from_dict(read_json(run_dir / "discretizer.json"))
        sizes = read_json(run_dir / "input_sizes.json")
        net = MultimodalSurvivalNet(config.network, sizes["input_sizes"], disc.n_intervals, sizes.get("extra_encoder_args"))
        try:
            state = torch.load(run_dir / WEIGHTS, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except (RuntimeError, FileNotFoundError) as e:
            raise ModelLoadError(f"weights in '{run_dir / WEIGHTS}' do not fit the configured network: {e}") from e
        model = cls(net, config, pre, disc, schema)
        model._input_sizes = sizes
        return model

    _input_sizes: dict[str, Any] = {}


def _record_of(cohort: Cohort) -> dict[str, Any]:
    """The one patient of ``cohort`` as a record."""
    if len(cohort) != 1:
        raise CohortError(f"update needs one patient, got {len(cohort)}.", fix="pass cohort.subset([patient_id]).")
    row = cohort.patients.iloc[0]
    schema = cohort.schema
    rec: dict[str, Any] = {
        "patient_id": str(row["patient_id"]),
        "clinical": {c: (None if _missing(row[c]) else _plain(row[c])) for c in schema.clinical.all},
    }
    if schema.extra:
        rec["extra"] = {c: (None if _missing(row[c]) else _plain(row[c])) for c in schema.extra}
    if schema.arms and "arm" in row:
        rec["arm"] = row["arm"]
    if cohort.biomarkers is not None:
        rec["visits"] = [
            {k: (None if _missing(v) else _plain(v)) for k, v in r.items() if k != "patient_id"}
            for r in cohort.biomarkers.to_dict("records")
        ]
    if cohort.genomics is not None and len(cohort.genomics):
        g = cohort.genomics.iloc[0]
        rec["genomics"] = {c: _plain(g[c]) for c in schema.genomics}
    if cohort.imaging is not None:
        rec["images"] = [
            {k: v for k, v in r.items() if k != "patient_id" and not _missing(v)} for r in cohort.imaging.to_dict("records")
        ]
    return json.loads(json.dumps(rec, default=_plain))


def _missing(v: Any) -> bool:
    try:
        return bool(v != v) or v is None
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v
