"""One patient's explanation, bundled for the report: maps, SHAP, attention, contributions.

:func:`explain_patient` works on a network and a collated one-patient batch;
:func:`explain_with_predictor` is the thin wrapper for a fitted predictor (an object with
``network``, ``preprocessor``, ``make_dataset(cohort)`` and, to place a target by time,
``discretizer.cuts``). A predictor whose input needs more than a dataset (MM-Care: the
segmentation -> ROI step) exposes ``model_inputs(cohort, patient_ids)`` (the collated batch
its network reads) and ``explain_network`` (the module whose output the targets read)
instead; :mod:`oncofusion.explain.decision` explains its treatment decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.explain._batch import batch_size, evaluating, patient_ids
from oncofusion.explain.attention import attention_tables, critical_windows, modality_contributions
from oncofusion.explain.gradcam import RepresentativeFrames, grad_cam, representative_frames
from oncofusion.explain.shap_values import shap_attributions
from oncofusion.explain.targets import AnyTarget, make_target

__all__ = [
    "PatientExplanation",
    "background_ids",
    "explain_patient",
    "explain_with_predictor",
    "predictor_batch",
]


@dataclass
class PatientExplanation:
    """Everything the report shows for one patient (None where it does not apply).

    Attributes
    ----------
    patient_id, target, prediction
        Who, what was explained (:class:`Target`, with its direction) and its value.
    cam, image, cam_method
        The Grad-CAM(++) map (T, H, W) in [0, 1] and the image (T, H, W); None without an
        image or an imaging encoder.
    frames
        The frames/slices with the most attribution (:func:`representative_frames`).
    shap, shap_base_value
        Per-variable SHAP table (``variable, modality, value, missing, shap, rank``, sorted
        by :math:`|\\phi|`) and :math:`\\phi_0`; None without a ``background``.
    visits, critical_windows
        Temporal attention per visit (``visit, time, alpha, rank, critical``) and the
        top-:math:`\\alpha` visits.
    cross_attention, cross_attention_slices, gates
        Slice-averaged cross-modal weights (``key, weight, present``), the per-slice
        weights (K, 1 + n) and slice-averaged gates (``modality, gate, present``).
    clinical_gate
        ``feature, variable, gate`` of the gated clinical encoder.
    contributions
        ``modality, present, target_full, target_without, contribution`` by masking.
    """

    patient_id: str
    target: AnyTarget
    prediction: float
    cam: np.ndarray | None
    image: np.ndarray | None
    cam_method: str | None
    frames: RepresentativeFrames | None
    shap: pd.DataFrame | None
    shap_base_value: float | None
    visits: pd.DataFrame | None
    critical_windows: pd.DataFrame | None
    cross_attention: pd.DataFrame | None
    cross_attention_slices: np.ndarray | None
    gates: pd.DataFrame | None
    clinical_gate: pd.DataFrame | None
    contributions: pd.DataFrame


def _drop_id(df: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if df is None else df.drop(columns="patient_id").reset_index(drop=True)


def explain_patient(
    network: nn.Module,
    batch: Mapping[str, Any],
    *,
    target: AnyTarget,
    feature_names: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    background: Mapping[str, Any] | None = None,
    preprocessor: Any = None,
    cam_method: str = "gradcam++",
    cam_layer: str | nn.Module | None = None,
    cam_score: str | None = None,
    shap_modalities: Sequence[str] | None = None,
    n_frames: int = 3,
    n_windows: int = 3,
    shap_nsamples: int | str = "auto",
    seed: int = 0,
) -> PatientExplanation:
    """Explain one patient's prediction of ``target``.

    Parameters
    ----------
    network
        The fitted ``MultimodalSurvivalNet``.
    batch
        A collated batch holding exactly this patient (``collate_patients([sample])``).
    target
        The explained scalar (:func:`~oncofusion.explain.targets.make_target`, or a
        :class:`~oncofusion.explain.targets.DecisionTarget`).
    feature_names
        ``{"clinical": [...], "genomics": [...]}`` or the clinical column names; default
        from ``preprocessor``.
    background
        Collated batch of training patients for SHAP; None: no SHAP values.
    preprocessor
        Optional fitted ``TabularPreprocessor`` (names, raw-unit display values).
    cam_method, cam_layer
        Grad-CAM variant (``"gradcam++"`` or ``"gradcam"``) and layer (default the encoder's).
    cam_score
        What Grad-CAM differentiates (:func:`~oncofusion.explain.gradcam.grad_cam`); default
        the log-odds of a probability target, the value of any other (the expected benefit).
    shap_modalities
        Which of ``clinical``/``genomics`` get SHAP values (default: those the network reads);
        a modality left out has no rows in the table.
    n_frames, n_windows
        Representative frames and critical windows to report.
    shap_nsamples, seed
        Kernel SHAP coalitions and seed.
    """
    if batch_size(batch) != 1:
        raise ConfigError(
            f"explain_patient takes a batch of one patient, got {batch_size(batch)}; "
            "select one with oncofusion.explain.select_rows(batch, [i])."
        )
    pid = patient_ids(batch)[0]
    if isinstance(feature_names, Mapping):
        clinical_names = feature_names.get("clinical")
    else:
        clinical_names = feature_names
    if clinical_names is None and preprocessor is not None:
        clinical_names = preprocessor.clinical_feature_names
    with evaluating(network), torch.no_grad():
        output = network(batch)
    prediction = float(target(output)[0])

    cam = image = frames = None
    method = None
    encoders = getattr(network, "encoders", {})
    if "imaging" in encoders and bool(batch["modality_mask"]["imaging"][0]):
        score = cam_score or ("log_odds" if getattr(target, "is_probability", True) else "value")
        result = grad_cam(network, batch, target, method=cam_method, layer=cam_layer, score=score)
        cam, method = result.maps[0], result.method
        image = batch["imaging"][0].detach().cpu().numpy()
        while image.ndim > cam.ndim and image.shape[0] == 1:
            image = image[0]
        frames = representative_frames(cam, image, k=min(int(n_frames), cam.shape[0]))

    shap_table = base = None
    if background is not None:
        explainable = [
            m
            for m in ("clinical", "genomics")
            if m in getattr(network, "modalities", ())
            and (shap_modalities is None or m in shap_modalities)
        ]
        if explainable:
            res = shap_attributions(
                network,
                batch,
                target,
                background=background,
                feature_names=feature_names,
                modalities=explainable,
                preprocessor=preprocessor,
                nsamples=shap_nsamples,
                seed=seed,
            )
            shap_table, base = res.table(pid), float(res.base_values.iloc[0])

    att = attention_tables(network, batch, feature_names=clinical_names, k=n_windows, output=output)
    windows = critical_windows(att.visits, n_windows) if att.visits is not None else None
    return PatientExplanation(
        patient_id=pid,
        target=target,
        prediction=prediction,
        cam=cam,
        image=image,
        cam_method=method,
        frames=frames,
        shap=shap_table,
        shap_base_value=base,
        visits=_drop_id(att.visits),
        critical_windows=_drop_id(windows),
        cross_attention=_drop_id(att.cross),
        cross_attention_slices=None if att.cross_slices is None else att.cross_slices[0],
        gates=_drop_id(att.gates),
        clinical_gate=_drop_id(att.clinical_gate),
        contributions=_drop_id(modality_contributions(network, batch, target)),
    )


def predictor_batch(
    predictor: Any, cohort: Any, patient_ids: Sequence[str], *, imaging: bool = True
) -> dict[str, Any]:
    """The collated batch a fitted predictor's network reads for ``patient_ids`` of ``cohort``.

    ``predictor.model_inputs(cohort, patient_ids, imaging=)`` when it has one (MM-Care: the
    segmentation -> ROI step first), else ``predictor.make_dataset(cohort)`` collated.
    ``imaging=False`` (honoured by ``model_inputs``) leaves the images out: a SHAP
    background reads no image.
    """
    from oncofusion.data import collate_patients

    ids = [str(p) for p in patient_ids]
    if hasattr(predictor, "model_inputs"):
        return dict(predictor.model_inputs(cohort, ids, imaging=imaging))
    dataset = predictor.make_dataset(cohort)
    return collate_patients([dataset[dataset.index_of(p)] for p in ids])


def background_ids(background: Any, seed: int, cap: int = 50) -> list[str]:
    """The SHAP background's patient ids, a seeded random ``cap`` of them when there are more
    (the background cap of :func:`~oncofusion.explain.shap_values.shap_attributions`; spares
    reading more patients than are used)."""
    ids = [str(p) for p in background.patient_ids]
    if len(ids) > cap:
        rng = np.random.default_rng(int(seed))
        ids = sorted(rng.choice(ids, size=cap, replace=False).tolist())
    return ids


def explain_with_predictor(
    predictor: Any,
    cohort: Any,
    patient_id: str,
    *,
    target: AnyTarget | str,
    time: float | None = None,
    arm: str | None = None,
    background: Any = None,
    **kwargs: Any,
) -> PatientExplanation:
    """:func:`explain_patient` for a fitted predictor and a patient of ``cohort``.

    Parameters
    ----------
    predictor
        Has ``network``, ``preprocessor``, ``make_dataset(cohort)`` (a ``PatientDataset``)
        or ``model_inputs(cohort, ids)`` (and then ``explain_network``), and, when ``target``
        is a kind name, ``discretizer.cuts`` (``lc_horizons`` for the LC kinds).
    cohort, patient_id
        The patient to explain.
    target
        A :class:`Target` (or :class:`~oncofusion.explain.targets.DecisionTarget`), or a
        kind (``"risk"``, ``"survival"``, ...) placed at ``time`` on the predictor's grid (and
        ``arm`` for a per-arm model).
    background
        A cohort of training patients for SHAP (None: no SHAP).
    **kwargs
        Passed to :func:`explain_patient`.
    """
    if isinstance(target, str):
        if time is None:
            raise ConfigError("a target kind needs time= (in the cohort's time unit).")
        cuts = (
            getattr(predictor, "lc_horizons", None)
            if target.startswith("lc_")
            else predictor.discretizer.cuts
        )
        target = make_target(target, time=time, cuts=cuts, arm=arm)
    batch = predictor_batch(predictor, cohort, [str(patient_id)])
    bg = None
    if background is not None:
        ids = background_ids(background, int(kwargs.get("seed", 0)))
        if len(ids) < len(background.patient_ids):
            background = background.subset(ids)
        if hasattr(predictor, "model_inputs"):
            bg = predictor_batch(predictor, background, ids, imaging=False)
        else:
            from oncofusion.data import collate_patients

            bg_set = predictor.make_dataset(background)
            bg = collate_patients([bg_set[i] for i in range(len(bg_set))])
    kwargs.setdefault("preprocessor", predictor.preprocessor)
    network = getattr(predictor, "explain_network", predictor.network)
    return explain_patient(network, batch, target=target, background=bg, **kwargs)
