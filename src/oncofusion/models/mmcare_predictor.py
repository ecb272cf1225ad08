"""The fitted MM-Care model: per-arm OS and LC, the recommendation, save/load.

``oncofusion.load(run_dir)`` returns an :class:`MMCarePredictor` for a run whose ``run.json``
names the model ``"mmcare"``. It predicts for a :class:`~oncofusion.data.cohort.Cohort` or
patient records (:meth:`predict_arms`, :meth:`predict_records`), recommends an arm with an
MC-dropout interval on the expected benefit (:meth:`recommend`), and, for the generic
evaluation, gives survival under the arm each patient received (:meth:`predict`,
:meth:`predict_survival`). When the run was trained with the segmentation -> ROI step, the
saved U-Net segments every new CT before the ROI is cut.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError, ModelLoadError, SurvivalInputError
from oncofusion.models.base import FittedSurvivalModel, check_schema_matches, check_times
from oncofusion.models.mmcare_config import MMCareConfig, mmcare_config_from_dict
from oncofusion.models.mmcare_data import forward_arms, image_shape, roi_step_cohort
from oncofusion.models.mmcare_outputs import ArmPredictions, MMCarePrediction
from oncofusion.models.registry import MODELS

__all__ = ["MMCarePredictor"]

WEIGHTS = "weights.pt"
SEGMENTER_DIR = "segmenter"


@MODELS.register("mmcare")
class MMCarePredictor(FittedSurvivalModel):
    """A trained :class:`~oncofusion.models.mmcare.MMCareNet` with its fitted state.

    Parameters
    ----------
    network
        The trained network (:class:`~oncofusion.models.mmcare.MMCareNet`, or
        :class:`~oncofusion.models.mmcare.MMCareEnsemble` for ``ensemble.members`` > 1).
    config
        The MM-Care config it was trained with.
    preprocessor, discretizer, schema
        Fitted preprocessing (training patients), OS grid and training cohort schema.
    propensity
        The :class:`~oncofusion.decide.PropensityModel` fitted on training patients.
    lc_horizons
        LC horizons (cohort time unit); empty when the cohort has no LC outcome.
    input_sizes
        ``{"input_sizes": ..., "extra_encoder_args": ...}`` the network was built with.
    segmenter
        The fitted 3D U-Net of the ROI step, or None.
    """

    name = "mmcare"

    def __init__(
        self,
        network: torch.nn.Module,
        config: MMCareConfig,
        preprocessor: Any,
        discretizer: Any,
        schema: Any,
        propensity: Any,
        *,
        lc_horizons: Sequence[float],
        input_sizes: dict[str, Any],
        segmenter: Any | None = None,
    ) -> None:
        self.network = network.eval()
        self.config = config
        self.preprocessor = preprocessor
        self.discretizer = discretizer
        self.schema = schema
        self.propensity = propensity
        self.lc_horizons = [float(h) for h in lc_horizons]
        self._input_sizes = input_sizes
        self.segmenter = segmenter
        self.time_unit = schema.time_unit
        self.cuts = np.asarray(discretizer.cuts, dtype=np.float64)
        self.arms = [str(a) for a in schema.arms]
        #: what training found out: test Dice of the ROI step, overlap, IPTW effective size
        self.training_summary: dict[str, Any] = {}

    # ------------------------------------------------------------------ settings
    @property
    def horizons(self) -> list[float]:
        """OS horizons (MM-Care: 1, 3 and 5 years)."""
        h = (
            self.config.decision.os_horizons
            or self.config.evaluation.horizons
            or self.schema.horizons
        )
        return [float(x) for x in (h or [float(self.cuts[-1])])]

    @property
    def decision_horizon(self) -> float:
        """:math:`\\tau` of the recommendation (default: the last LC horizon, else the last
        OS horizon on the grid)."""
        if self.config.decision.horizon is not None:
            return float(self.config.decision.horizon)
        if self.lc_horizons:
            return self.lc_horizons[-1]
        return float(max(h for h in self.horizons if h <= self.cuts[-1]))

    # ------------------------------------------------------------------ data
    def _check_schema(self, cohort: Cohort) -> None:
        check_schema_matches(self.schema, cohort.schema, ("clinical columns", "genomics", "arms", "time unit"))

    def _roi(self, cohort: Cohort, tmp: Path) -> Cohort:
        """The cohort as the imaging encoder reads it after the segmentation -> ROI step."""
        if self.segmenter is None:
            return cohort
        return roi_step_cohort(cohort, self.segmenter, self.config.roi, tmp)

    def _dataset(self, cohort: Cohort) -> Any:
        from oncofusion.data.dataset import PatientDataset

        return PatientDataset(cohort, self.preprocessor, image_shape=image_shape(self.config))

    # ------------------------------------------------------------------ explanation
    @property
    def explain_network(self) -> torch.nn.Module:
        """The module whose output the explanation targets read: the body of
        :class:`~oncofusion.models.mmcare.MMCareNet` (encoders -> fusion -> per-arm head),
        ``forward(batch) -> {arm: block, "attention": ...}``; unlike the full network it
        needs no received arm. See :mod:`oncofusion.explain.decision`."""
        return cast(torch.nn.Module, self.network.body)

    def model_inputs(
        self, cohort: Cohort, patient_ids: Sequence[str] | None = None, *, imaging: bool = True
    ) -> dict[str, Any]:
        """The collated batch the network reads for ``patient_ids`` (default: all) of ``cohort``,
        in that order: after the segmentation -> ROI step when the run has one, through the
        same steps as :meth:`predict_arms`, so explanations explain what is predicted.

        ``imaging=False`` leaves the images out (mask False; no segmentation is run): for a
        SHAP background, whose images are never read.

        Raises
        ------
        CohortError
            A patient id that is not in the cohort, or a cohort in another format.
        """
        from oncofusion.data.collate import collate_patients
        from oncofusion.data.dataset import PatientDataset

        self._check_schema(cohort)
        known = [str(p) for p in cohort.patient_ids]
        ids = known if patient_ids is None else [str(p) for p in patient_ids]
        unknown = sorted(set(ids) - set(known))
        if unknown:
            raise CohortError(
                f"patient(s) {unknown[:5]} are not in cohort '{cohort.name}' ({len(known)} patients).",
                file="patients.csv",
                column="patient_id",
                fix="pass ids from the cohort's patients.csv.",
            )
        if not ids:
            raise CohortError("no patient to read: the cohort (or the id list) is empty.",
                              file="patients.csv", fix="pass at least one patient.")  # fmt: skip
        part = cohort.subset(ids)
        if not imaging:
            ds = PatientDataset(part, self.preprocessor, image_shape=None)
            return collate_patients([ds[ds.index_of(p)] for p in ids])
        with tempfile.TemporaryDirectory(prefix="mmcare-roi-") as tmp:
            ds = self._dataset(self._roi(part, Path(tmp)))
            return collate_patients([ds[ds.index_of(p)] for p in ids])  # read before tmp goes

    # ------------------------------------------------------------------ prediction
    def predict_arms(
        self, cohort: Cohort, *, mc_samples: int | None = None, seed: int = 0, batch_size: int = 64
    ) -> ArmPredictions:
        """OS and LC under every arm for every patient of ``cohort``.

        Parameters
        ----------
        cohort
            Patients in the training cohort's format (the arm may be empty for new patients).
        mc_samples
            MC-dropout draws for intervals (default ``config.decision.mc_samples``; 0: none).
        seed
            Seed of the draws (the same seed gives the same draws).

        Warns
        -----
        UserWarning
            From :func:`oncofusion.decide.overlap_diagnostic` when patients lie outside the
            common support of the arms (their per-arm predictions are extrapolations).
        """
        from oncofusion.decide import overlap_diagnostic

        self._check_schema(cohort)
        draws = self.config.decision.mc_samples if mc_samples is None else int(mc_samples)
        if draws == 1:
            raise SurvivalInputError("mc_samples must be 0 (no interval) or >= 2.")
        with tempfile.TemporaryDirectory(prefix="mmcare-roi-") as tmp:
            data = self._roi(cohort, Path(tmp))
            res = forward_arms(
                self.network,
                self._dataset(data),
                self.arms,
                n_intervals=len(self.cuts) - 1,
                n_lc=len(self.lc_horizons),
                lc_mode=self.config.loss.lc_mode,
                mc_samples=draws,
                seed=seed,
                batch_size=batch_size,
            )
        pts = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))
        order = [str(p) for p in res["ids"]]
        x, _ = self.preprocessor.transform_clinical(pts.loc[order].reset_index(drop=True))
        prop = self.propensity.predict_proba(x) if len(order) else np.zeros((0, len(self.arms)))
        lo, hi = self.config.propensity.overlap_bounds
        overlap = (
            overlap_diagnostic(prop, self.arms, bounds=(lo, hi), patient_ids=order)
            if len(order)
            else None
        )
        received = (
            pts.loc[order, "arm"].fillna("").astype(str).to_numpy(dtype=object)
            if "arm" in pts and len(order)
            else np.full(len(order), "", dtype=object)
        )
        return ArmPredictions(
            patient_ids=order, arms=list(self.arms), cuts=self.cuts, os_hazard=res["hazard"],
            lc_horizons=np.asarray(self.lc_horizons, float), lc_control=res["lc"], received=received,
            propensity=prop, outside_support=(overlap["outside"].to_numpy(bool) if overlap is not None
                                              else np.zeros(0, bool)),
            os_horizons=self.horizons, time_unit=self.time_unit,
            os_surv_draws=res["surv_draws"], lc_control_draws=res["lc_draws"],
        )  # fmt: skip

    def predict_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        root: str | Path | None = None,
        mc_samples: int | None = None,
        seed: int = 0,
    ) -> ArmPredictions:
        """:meth:`predict_arms` for patient records (:mod:`oncofusion.data.records`).

        A record without ``arm`` is a patient still to be treated: it comes back with
        ``received == ""``.
        """
        from oncofusion.data.records import cohort_from_records

        cohort = cohort_from_records(list(records), self.schema, root=root, source="record")
        return self.predict_arms(cohort, mc_samples=mc_samples, seed=seed)

    def recommend(
        self,
        data: Cohort | ArmPredictions,
        *,
        alpha: float | None = None,
        beta: float | None = None,
        horizon: float | None = None,
        ci: float | None = None,
        mc_samples: int | None = None,
        seed: int = 0,
    ) -> Any:
        """The arm with the higher :math:`\\alpha P_{OS}(\\tau) + \\beta P_{LC}(\\tau)`, the
        expected benefit over the other arm with its MC-dropout interval, and "no clear
        preference" when the interval includes zero (:func:`oncofusion.decide.recommend`).

        Defaults come from the ``decision:`` block (MM-Care: :math:`\\alpha = 0.7`,
        :math:`\\beta = 0.3`, :math:`\\tau = 3` years).
        """
        d = self.config.decision
        preds = (
            data
            if isinstance(data, ArmPredictions)
            else self.predict_arms(data, mc_samples=mc_samples, seed=seed)
        )
        return preds.recommend(
            alpha=d.alpha if alpha is None else alpha,
            beta=d.beta if beta is None else beta,
            horizon=self.decision_horizon if horizon is None else horizon,
            ci=d.ci if ci is None else ci,
        )

    def predict(
        self, cohort: Cohort, *, landmark: float | None = None, batch_size: int = 64
    ) -> MMCarePrediction:
        """Survival under the arm each patient received (the generic view), with the per-arm
        outcomes and the recommendation attached (``to_frame()`` has all of them)."""
        if landmark is not None and float(landmark) > float(self.cuts[0]):
            raise CohortError(
                "MM-Care predicts from baseline data only; it has no landmark updates.",
                fix="drop --landmark.",
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the overlap flag is a column here
            arms = self.predict_arms(cohort, batch_size=batch_size)
            pred = arms.received_prediction()
            pred.recommendation = self.recommend(arms)
        return pred

    def predict_survival(self, cohort: Cohort, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """:math:`S(t)` under the arm each patient received, shape (n, len(times))."""
        t = check_times(times)
        arms = self.predict_arms(cohort, mc_samples=0)
        idx = arms.received_index()
        if (idx < 0).any():
            missing = [p for p, i in zip(arms.patient_ids, idx) if i < 0][:10]
            raise CohortError(
                "survival under the received arm needs each patient's arm.",
                file="patients.csv",
                column="arm",
                rows=missing,
                fix="give the arm, or use predict_arms for all arms.",
            )
        return arms.os_at(t)[np.arange(len(idx)), idx]

    # ------------------------------------------------------------------ persistence
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
        (run_dir / "propensity.json").write_text(self.propensity.to_json())
        write_json(
            run_dir / "mmcare.json",
            {
                "arms": self.arms,
                "lc_horizons": self.lc_horizons,
                "has_segmenter": self.segmenter is not None,
                "training_summary": self.training_summary,
            },
        )
        if self.segmenter is not None:
            self.segmenter.save(run_dir / SEGMENTER_DIR, overwrite=True)

    @classmethod
    def load(cls, run_dir: str | Path) -> MMCarePredictor:
        import yaml

        from oncofusion.data.preprocess import TabularPreprocessor
        from oncofusion.data.schema import CohortSchema
        from oncofusion.decide import PropensityModel
        from oncofusion.models.mmcare import MMCareEnsemble, MMCareNet
        from oncofusion.models.run import read_json
        from oncofusion.survival.discretize import Discretizer

        run_dir = Path(run_dir)
        config = mmcare_config_from_dict(
            yaml.safe_load((run_dir / "config.yaml").read_text()),
            source=str(run_dir / "config.yaml"),
        )
        schema = CohortSchema.model_validate(read_json(run_dir / "schema.json"))
        pre = TabularPreprocessor.from_json((run_dir / "preprocess.json").read_text())
        disc = Discretizer.from_dict(read_json(run_dir / "discretizer.json"))
        sizes = read_json(run_dir / "input_sizes.json")
        meta = read_json(run_dir / "mmcare.json")
        prop = PropensityModel.from_json((run_dir / "propensity.json").read_text())
        lc_h = [float(h) for h in meta["lc_horizons"]]
        nets = [
            MMCareNet(
                config.network,
                sizes["input_sizes"],
                disc.n_intervals,
                meta["arms"],
                n_lc=len(lc_h),
                lc=config.loss.lc_mode,
                extra_encoder_args=sizes.get("extra_encoder_args"),
            )
            for _ in range(config.ensemble.members)
        ]
        net: torch.nn.Module = MMCareEnsemble(nets) if len(nets) > 1 else nets[0]
        try:
            net.load_state_dict(
                torch.load(run_dir / WEIGHTS, map_location="cpu", weights_only=True)
            )
        except (RuntimeError, FileNotFoundError) as e:
            raise ModelLoadError(
                f"weights in '{run_dir / WEIGHTS}' do not fit the configured network: {e}"
            ) from e
        segmenter = None
        if meta.get("has_segmenter"):
            from oncofusion.models.segmentation import FittedSegmenter

            segmenter = FittedSegmenter.load(run_dir / SEGMENTER_DIR)
        model = cls(
            net,
            config,
            pre,
            disc,
            schema,
            prop,
            lc_horizons=lc_h,
            input_sizes=sizes,
            segmenter=segmenter,
        )
        model.training_summary = dict(meta.get("training_summary") or {})
        return model
