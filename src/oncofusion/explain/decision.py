"""Why a treatment was recommended: Grad-CAM and SHAP of MM-Care's per-arm predictions.

MM-Care (seed paper 002, §3.5) recommends the arm :math:`a` with the larger utility
:math:`U = \\alpha P_{OS}(\\tau) + \\beta P_{LC}(\\tau)` (:func:`oncofusion.decide.recommend`).
:func:`explain_decision` explains, for one patient, the quantities that decision rests on
(:func:`~oncofusion.explain.targets.decision_targets`):

* :math:`P_{OS}(\\tau)` under every arm, :math:`P_{LC}(\\tau)` under every arm when the model
  predicts local control at :math:`\\tau`;
* the expected benefit :math:`B = U_a - U_b` of the recommended arm :math:`a` over the
  runner-up :math:`b`.

Each gets a Grad-CAM(++) map on the CT (:func:`~oncofusion.explain.gradcam.grad_cam`), its
modality contributions (masking) and, with a background of training patients, SHAP values
of the clinical and genomic variables (:func:`~oncofusion.explain.shap_values.shap_attributions_many`:
the benefit and :math:`P_{OS}` under each arm from the same coalitions; each is additive:
:math:`\\phi_0 + \\sum_i \\phi_i = f(x)`).

The input is what the model predicts from: the predictor's ``model_inputs`` (MM-Care: the
3D U-Net segmentation -> ROI step when the run was trained with ``roi.enabled``, as in
``predict_arms``), and the targets read the per-arm output exactly as the per-arm predictions
and the recommendation do, so the explained values are the reported ones. A patient without
genomics has the genomic modality masked (as in training): no genomic attributions, and the
explanation says so.

The Grad-CAM layer is, by default, the deepest stage of the imaging encoder whose feature
map still has at least ``min_cam_size`` voxels along every axis (the last stage of a small
CT patch is 2 x 2 x 2, too coarse to say where in the tumour the evidence lies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from oncofusion.errors import ConfigError
from oncofusion.explain._batch import evaluating
from oncofusion.explain.patient import (
    PatientExplanation,
    background_ids,
    explain_patient,
    predictor_batch,
)
from oncofusion.explain.targets import DecisionTarget, decision_targets

__all__ = ["DecisionExplanation", "explain_decision", "tumour_slices"]

_SHAP_KINDS = ("benefit", "os", "lc")


@dataclass
class DecisionExplanation:
    """One patient's treatment decision, explained.

    Attributes
    ----------
    patient_id, arms
        Who, and the model's arms.
    recommended, versus
        The arm whose advantage is explained and the arm it is compared with.
    horizon, lc_horizon, alpha, beta, time_unit
        The decision horizon :math:`\\tau`, the LC horizon used (None without LC), the utility
        weights (``beta`` is 0 when LC does not enter the utility) and the time unit.
    targets, values
        ``os_<arm>``, ``lc_<arm>``, ``benefit`` -> the
        :class:`~oncofusion.explain.targets.DecisionTarget` and its value for the patient.
    explanations
        The same keys -> :class:`~oncofusion.explain.patient.PatientExplanation` (Grad-CAM
        map, SHAP table where computed, modality contributions).
    image, roi_mask
        The CT as the model reads it (D, H, W), before the ROI masking, and the ROI mask the
        imaging encoder multiplies it by (the segmenter's mask with the ROI step, else the
        cohort's mask); None without them.
    slices
        Indices (axis 0) of the slices to show: those with the largest tumour (ROI mask) area,
        in increasing order; the most attributed slices when there is no mask.
    slice_basis
        ``"tumour area"`` or ``"attribution"``: how ``slices`` were chosen.
    cam_layer
        The imaging encoder layer of the maps.
    present
        Modality -> whether the model had it for this patient.
    notes
        Plain-language remarks (missing modalities, SHAP background).
    """

    patient_id: str
    arms: list[str]
    recommended: str
    versus: str
    horizon: float
    lc_horizon: float | None
    alpha: float
    beta: float
    time_unit: str
    targets: dict[str, DecisionTarget]
    values: dict[str, float]
    explanations: dict[str, PatientExplanation]
    image: np.ndarray | None
    roi_mask: np.ndarray | None
    slices: np.ndarray | None
    slice_basis: str | None
    cam_layer: str | None
    present: dict[str, bool]
    notes: list[str] = field(default_factory=list)

    @property
    def benefit(self) -> float:
        """:math:`U_a - U_b` for this patient."""
        return self.values["benefit"]

    @property
    def has_shap(self) -> bool:
        return self.explanations["benefit"].shap is not None

    def cam(self, key: str = "benefit") -> np.ndarray | None:
        """The Grad-CAM map (D, H, W) in [0, 1] of target ``key`` (None without a CT)."""
        return self.explanations[key].cam

    def inside_share(self, key: str = "benefit") -> float | None:
        """Share of the map's total attribution that lies inside the ROI mask (None without
        a map or a mask); compare with :meth:`roi_volume_share`."""
        cam = self.cam(key)
        if cam is None or self.roi_mask is None or not self.roi_mask.any():
            return None
        total = float(cam.sum())
        return float(cam[self.roi_mask > 0].sum() / total) if total > 0 else None

    def roi_volume_share(self) -> float | None:
        """Share of the volume inside the ROI mask."""
        return None if self.roi_mask is None else float((self.roi_mask > 0).mean())

    def contribution(self, modality: str, key: str = "benefit") -> float | None:
        """Change of target ``key`` when ``modality`` is masked out (None if absent)."""
        df = self.explanations[key].contributions
        row = df[df["modality"] == modality]
        if not len(row) or not bool(row["present"].iloc[0]):
            return None
        return float(row["contribution"].iloc[0])

    def shap_table(self, *, top: int | None = None, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
        """The SHAP values side by side: ``variable``, ``label``, ``modality``, ``value``,
        ``missing`` and one column per explained target (``benefit``, ``os_<arm>``, ...),
        sorted by :math:`|\\phi|` of the benefit; ``top`` keeps the first rows.

        ``labels`` maps a variable (column or gene name) to words (``cohort.yaml``
        ``labels:``); a variable without one keeps its name.
        """
        base = self.explanations["benefit"].shap
        if base is None:
            raise ConfigError("this explanation has no SHAP values (no background was given).")
        out = base[["variable", "modality", "value", "missing"]].copy()
        words = dict(labels or {})
        out.insert(1, "label", [words.get(v, v) for v in out["variable"]])
        for key, expl in self.explanations.items():
            if expl.shap is not None:
                out[key] = out["variable"].map(expl.shap.set_index("variable")["shap"]).astype(float)
        out = out.iloc[np.argsort(-out["benefit"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
        return out if top is None else out.head(int(top))

    def shap_keys(self) -> list[str]:
        """The targets with SHAP values, benefit first."""
        return [k for k, e in self.explanations.items() if e.shap is not None]


def tumour_slices(mask: np.ndarray, k: int = 3) -> np.ndarray:
    """The ``k`` slices (axis 0) with the largest mask area, in increasing order (ties: the
    earlier slice); only slices that hold some of the mask."""
    m = np.asarray(mask) > 0
    area = m.reshape(m.shape[0], -1).sum(1)
    order = np.argsort(-area, kind="stable")[: max(int(k), 1)]
    return np.sort(order[area[order] > 0])


def _auto_cam_layer(encoder: torch.nn.Module, batch: Mapping[str, Any], min_size: int) -> str | None:
    """The deepest ``stages.i`` whose output has >= ``min_size`` voxels per axis (the first
    stage when none has); None for an encoder without stages (its own ``target_layer``)."""
    stages = getattr(encoder, "stages", None)
    stem = getattr(encoder, "stem", None)
    if stages is None or stem is None:
        return None
    x = batch["imaging"]
    if getattr(encoder, "use_segmentation", False) and "imaging_seg" in batch:
        x = x * batch["imaging_seg"]
    sizes = []
    with evaluating(encoder), torch.no_grad():
        h = stem(x)
        for stage in stages:
            h = stage(h)
            sizes.append(min(h.shape[2:]))
    fine = [i for i, s in enumerate(sizes) if s >= int(min_size)]
    return f"stages.{fine[-1] if fine else 0}"


def _utilities(values: Mapping[str, float], arms: Sequence[str], alpha: float, beta: float,
               has_lc: bool) -> dict[str, float]:
    return {a: alpha * values[f"os_{a}"] + (beta * values[f"lc_{a}"] if has_lc and beta > 0 else 0.0)
            for a in arms}  # fmt: skip


def explain_decision(
    predictor: Any,
    cohort: Any,
    patient_id: str,
    *,
    background: Any = None,
    recommended: str | None = None,
    versus: str | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    horizon: float | None = None,
    shap_targets: Sequence[str] = ("benefit", "os"),
    shap_nsamples: int | str = "auto",
    n_slices: int = 3,
    cam_method: str = "gradcam++",
    cam_layer: str | None = None,
    min_cam_size: int = 4,
    seed: int = 0,
) -> DecisionExplanation:
    """Explain one patient's per-arm predictions and the recommendation (see the module docs).

    Parameters
    ----------
    predictor
        A fitted per-arm model with ``model_inputs``, ``explain_network``, ``arms``,
        ``cuts``, ``lc_horizons``, ``decision_horizon``, ``preprocessor`` and
        ``config.decision`` (:class:`~oncofusion.models.mmcare_predictor.MMCarePredictor`).
    cohort, patient_id
        The patient (a :class:`~oncofusion.errors.CohortError` names an unknown id).
    background
        A cohort of training patients for SHAP (at most 50, drawn with ``seed``); None: no
        SHAP values.
    recommended, versus
        The arm to explain and the arm it is compared with; default: the arms with the
        highest and second-highest utility for this patient (what the recommendation picks).
    alpha, beta, horizon
        Utility weights and decision horizon; default the model's ``decision:`` block.
    shap_targets
        Which targets get SHAP values: ``"benefit"``, ``"os"`` (every arm), ``"lc"`` (every
        arm, when predicted).
    shap_nsamples
        Kernel SHAP coalitions (``"auto"``: ``2 M + 2048``).
    n_slices
        CT slices to show.
    cam_method, cam_layer, min_cam_size
        Grad-CAM variant and layer (default: chosen as the module docs say).
    seed
        Seed of the background draw and of Kernel SHAP.
    """
    from oncofusion.explain.shap_values import shap_attributions_many

    unknown = [k for k in shap_targets if k not in _SHAP_KINDS]
    if unknown:
        raise ConfigError(f"shap_targets {unknown} unknown; choose from {list(_SHAP_KINDS)}.")
    pid = str(patient_id)
    batch = predictor_batch(predictor, cohort, [pid])
    network = predictor.explain_network
    arms = [str(a) for a in predictor.arms]
    d = predictor.config.decision
    alpha = float(d.alpha if alpha is None else alpha)
    beta = float(d.beta if beta is None else beta)
    tau = float(predictor.decision_horizon if horizon is None else horizon)
    lc_h = [float(h) for h in getattr(predictor, "lc_horizons", [])]
    cuts = [float(c) for c in predictor.cuts]
    present = {m: bool(v[0]) for m, v in batch["modality_mask"].items()}

    # the per-arm probabilities first: they fix the recommended arm and the runner-up
    probe = decision_targets(arms, cuts=cuts, horizon=tau, lc_horizons=lc_h, recommended=arms[0],
                             alpha=alpha, beta=beta)  # fmt: skip
    has_lc = any(k.startswith("lc_") for k in probe)
    beta_used = beta if has_lc else 0.0
    with evaluating(network), torch.no_grad():
        output = network(batch)
        probs = {k: float(t(output)[0]) for k, t in probe.items() if k != "benefit"}
    utility = _utilities(probs, arms, alpha, beta_used, has_lc)
    if recommended is None:
        recommended = arms[int(np.argmax([utility[a] for a in arms]))]
    if versus is None:
        others = [a for a in arms if a != str(recommended)]
        versus = others[int(np.argmax([utility[a] for a in others]))] if others else None
    targets = decision_targets(arms, cuts=cuts, horizon=tau, lc_horizons=lc_h, recommended=str(recommended),
                               versus=versus, alpha=alpha, beta=beta_used)  # fmt: skip
    with evaluating(network), torch.no_grad():
        values = {k: float(t(output)[0]) for k, t in targets.items()}

    notes: list[str] = []
    layer = cam_layer
    if present.get("imaging") and layer is None and "imaging" in getattr(network, "encoders", {}):
        layer = _auto_cam_layer(network.encoders["imaging"], batch, min_cam_size)
    if not present.get("imaging"):
        notes.append("No CT for this patient: the imaging branch was masked and there is no Grad-CAM map.")
    explanations = {
        key: explain_patient(network, batch, target=t, preprocessor=predictor.preprocessor,
                             cam_method=cam_method, cam_layer=layer, n_frames=n_slices, seed=seed)
        for key, t in targets.items()
    }  # fmt: skip

    if not present.get("genomics", False) and "genomics" in getattr(network, "modalities", ()):
        notes.append("Genomics are not available for this patient: the genomic branch was masked, "
                     "as for such patients in training, so there are no genomic attributions.")  # fmt: skip
    if background is not None:
        mods = [m for m in ("clinical", "genomics")
                if m in getattr(network, "modalities", ()) and present.get(m, False)]  # fmt: skip
        wanted = {k: t for k, t in targets.items() if t.kind in shap_targets}
        if not mods:
            notes.append("No SHAP values: the patient has neither clinical nor genomic data.")
        elif wanted:
            ids = background_ids(background, seed)
            bg = predictor_batch(predictor, background.subset(ids), ids, imaging=False)
            res = shap_attributions_many(network, batch, wanted, background=bg, modalities=mods,
                                         preprocessor=predictor.preprocessor, nsamples=shap_nsamples,
                                         seed=seed)  # fmt: skip
            for key, r in res.items():
                explanations[key] = replace(explanations[key], shap=r.table(pid),
                                            shap_base_value=float(r.base_values.iloc[0]))  # fmt: skip

    image = roi = slices = basis = None
    cam_name = None
    bench = explanations["benefit"]
    if bench.cam is not None and bench.image is not None:
        image = bench.image
        cam_name = layer or getattr(network.encoders["imaging"], "target_layer_name", None)
        if "imaging_seg" in batch and bool(batch.get("has_seg", torch.ones(1))[0]):
            seg = batch["imaging_seg"][0].detach().cpu().numpy()
            while seg.ndim > image.ndim and seg.shape[0] == 1:
                seg = seg[0]
            roi = (seg > 0).astype(np.uint8) if seg.shape == image.shape else None
        if roi is not None and roi.any() and not roi.all():
            slices, basis = tumour_slices(roi, n_slices), "tumour area"
        else:
            slices, basis = np.asarray(bench.frames.indices), "attribution"  # type: ignore[union-attr]
            notes.append(
                "The ROI mask covers the whole CT patch (with the ROI step: the segmentation found no tumour, "
                "so the model read the whole patch); the slices shown are those with the most attribution."
                if roi is not None and roi.all() else
                "No tumour mask for this CT: the slices shown are those with the most attribution.")  # fmt: skip
    return DecisionExplanation(
        patient_id=pid, arms=arms, recommended=str(recommended), versus=str(versus), horizon=tau,
        lc_horizon=float(lc_h[targets["benefit"].lc_index]) if targets["benefit"].lc_index is not None else None,
        alpha=alpha, beta=beta_used, time_unit=str(getattr(getattr(predictor, "schema", None), "time_unit", "")),
        targets=targets, values=values, explanations=explanations, image=image, roi_mask=roi, slices=slices,
        slice_basis=basis, cam_layer=cam_name, present=present, notes=notes,
    )  # fmt: skip
