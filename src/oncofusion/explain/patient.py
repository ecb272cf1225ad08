"""One patient's explanation, bundled for the report: maps, SHAP, attention, contributions.

:func:`explain_patient` works on a network and a collated one-patient batch;
:func:`explain_with_predictor` is the thin wrapper for a fitted predictor (an object with
``network``, ``preprocessor``, ``make_dataset(cohort)`` and, to place a target by time,
``discretizer.cuts``).
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
from oncofusion.explain.targets import Target, make_target

__all__ = ["PatientExplanation", "explain_patient", "explain_with_predictor"]


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
    target: Target
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
    target: Target,
    feature_names: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    background: Mapping[str, Any] | None = None,
    preprocessor: Any = None,
    cam_method: str = "gradcam++",
    cam_layer: str | nn.Module | None = None,
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
        The explained scalar (:func:`~oncofusion.explain.targets.make_target`).
    feature_names
        ``{"clinical": [...], "genomics": [...]}`` or the clinical column names; default
        from ``preprocessor``.
    background
        Collated batch of training patients for SHAP; None: no SHAP values.
    preprocessor
        Optional fitted ``TabularPreprocessor`` (names, raw-unit display values).
    cam_method, cam_layer
        Grad-CAM variant (``"gradcam++"`` or ``"gradcam"``) and layer (default the encoder's).
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
        result = grad_cam(network, batch, target, method=cam_method, layer=cam_layer)
        cam, method = result.maps[0], result.method
        image = batch["imaging"][0].detach().cpu().numpy()
        while image.ndim > cam.ndim and image.shape[0] == 1:
            image = image[0]
        frames = representative_frames(cam, image, k=min(int(n_frames), cam.shape[0]))

    shap_table = base = None
    if background is not None:
        explainable = [
            m for m in ("clinical", "genomics") if m in getattr(network, "modalities", ())
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


def explain_with_predictor(
    predictor: Any,
    cohort: Any,
    patient_id: str,
    *,
    target: Target | str,
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
        and, when ``target`` is a kind name, ``discretizer.cuts``.
    cohort, patient_id
        The patient to explain.
    target
        A :class:`Target`, or a kind (``"risk"``, ``"survival"``, ...) placed at ``time``
        on the predictor's grid (and ``arm`` for a per-arm model).
    background
        A cohort of training patients for SHAP (None: no SHAP).
    **kwargs
        Passed to :func:`explain_patient`.
    """
    from oncofusion.data import collate_patients

    if isinstance(target, str):
        if time is None:
            raise ConfigError("a target kind needs time= (in the cohort's time unit).")
        target = make_target(target, time=time, cuts=predictor.discretizer.cuts, arm=arm)
    dataset = predictor.make_dataset(cohort)
    batch = collate_patients([dataset[dataset.index_of(str(patient_id))]])
    bg = None
    if background is not None:
        ids = list(background.patient_ids)
        if len(ids) > 50:  # the SHAP background cap; spare reading 50+ images
            rng = np.random.default_rng(int(kwargs.get("seed", 0)))
            ids = sorted(rng.choice(ids, size=50, replace=False).tolist())
            background = background.subset(ids)
        bg_set = predictor.make_dataset(background)
        bg = collate_patients([bg_set[i] for i in range(len(bg_set))])
    kwargs.setdefault("preprocessor", predictor.preprocessor)
    return explain_patient(predictor.network, batch, target=target, background=bg, **kwargs)
