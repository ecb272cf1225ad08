"""Attention summaries and modality contributions, as long tables (one row per patient x item).

* **Temporal attention** over biomarker visits (DMA-Net §2.3): the BiLSTM's
  :math:`\\alpha_t = \\mathrm{softmax}_t(q^\\top \\tanh(W_h h_t))`; its peaks are the "critical
  windows", the visits with the largest :math:`\\alpha_t`, reported with their times.
* **Cross-modal attention**: the fusion's weights over ``["null", *key_modalities]`` per time
  slice :math:`k`, averaged over the :math:`K` slices,
  :math:`\\bar a_m = \\frac1K \\sum_k a_{k,m}`, and likewise the temporal gates
  :math:`\\bar g_m = \\frac1K \\sum_k g_{k,m}`.
* **Clinical gate**: the gated MLP's :math:`g = \\sigma(W_g c + b_g)` per clinical column.
* **Modality contributions** by masking: :math:`\\Delta_m = f(x) - f(x_{-m})`, the change of
  the target when modality :math:`m` is marked missing (its ``modality_mask`` False), the
  model's own way to predict without it (0 for a modality the patient does not have).

Attention weights say where the model looked, not why; the masking contributions and SHAP
values (:mod:`oncofusion.explain.shap_values`) measure effects on the prediction.
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
from oncofusion.explain._batch import evaluating, patient_ids, with_modality_masked
from oncofusion.explain.targets import AnyTarget

__all__ = ["AttentionTables", "attention_tables", "critical_windows", "modality_contributions"]


@dataclass
class AttentionTables:
    """Attention read off one forward pass (None where the network has no such attention).

    Attributes
    ----------
    visits
        ``patient_id, visit, time, alpha, rank, critical``: one row per real visit;
        ``rank`` 1 is the largest :math:`\\alpha`, ``critical`` marks the top ``k``.
    cross
        ``patient_id, key, weight, present``: slice-averaged cross-modal attention over
        ``null`` and the key modalities (a missing modality has weight 0).
    gates
        ``patient_id, modality, gate, present``: slice-averaged temporal gates.
    clinical_gate
        ``patient_id, feature, variable, gate``: the clinical feature gate (patients with
        clinical data only).
    cross_slices
        (B, K, 1 + n) the per-slice cross-modal weights, columns ``cross_keys``.
    cross_keys
        ``["null", *key_modalities]``.
    """

    visits: pd.DataFrame | None
    cross: pd.DataFrame | None
    gates: pd.DataFrame | None
    clinical_gate: pd.DataFrame | None
    cross_slices: np.ndarray | None
    cross_keys: list[str] | None


def _visits(alpha: torch.Tensor, batch: Mapping[str, Any], ids: list[str], k: int) -> pd.DataFrame:
    valid = batch["biomarker_valid"].bool() & batch["modality_mask"]["biomarkers"].bool()[:, None]
    times = batch["biomarker_times"]
    rows = []
    for i, pid in enumerate(ids):
        idx = np.flatnonzero(valid[i].numpy())
        a = alpha[i, idx].numpy().astype(float)
        order = np.argsort(-a, kind="stable")
        rank = np.empty(len(a), dtype=int)
        rank[order] = np.arange(1, len(a) + 1)
        rows.append(
            pd.DataFrame(
                {
                    "patient_id": pid,
                    "visit": idx,
                    "time": times[i, idx].numpy().astype(float),
                    "alpha": a,
                    "rank": rank,
                    "critical": rank <= k,
                }
            )
        )
    cols = ["patient_id", "visit", "time", "alpha", "rank", "critical"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=cols)


def critical_windows(visits: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The ``k`` visits with the largest temporal attention per patient, largest first.

    Parameters
    ----------
    visits
        :attr:`AttentionTables.visits`.
    k
        Windows per patient (fewer when a patient has fewer visits).
    """
    if int(k) < 1:
        raise ConfigError(f"k must be >= 1, got {k}.")
    top = visits[visits["rank"] <= int(k)]
    return top.sort_values(["patient_id", "rank"], kind="stable").reset_index(drop=True)


def attention_tables(
    network: nn.Module,
    batch: Mapping[str, Any],
    *,
    feature_names: Sequence[str] | None = None,
    k: int = 3,
    output: Mapping[str, Any] | None = None,
) -> AttentionTables:
    """Temporal, cross-modal and gate attention of every patient of ``batch``.

    Parameters
    ----------
    network
        A ``MultimodalSurvivalNet``; the fusion's ``key_modalities`` name the cross keys.
    batch
        Collated batch.
    feature_names
        Clinical column names (``TabularPreprocessor.clinical_feature_names``) for the gate
        table; default ``clinical_0, ...``.
    k
        Number of critical windows (top-:math:`\\alpha` visits) flagged per patient.
    output
        The network's output on ``batch`` if already computed (evaluation mode).
    """
    if output is None:
        with evaluating(network), torch.no_grad():
            output = network(batch)
    att = {key: v.detach().cpu() for key, v in dict(output.get("attention", {})).items()}
    ids = patient_ids(batch)
    visits = (
        _visits(att["biomarkers_attention"], batch, ids, int(k))
        if "biomarkers_attention" in att
        else None
    )

    cross = gates = slices = None
    keys: list[str] | None = None
    fusion_keys = list(getattr(getattr(network, "fusion", None), "key_modalities", ()) or ())
    if "cross" in att and fusion_keys:
        keys = ["null", *fusion_keys]
        slices = att["cross"].numpy().astype(float)
        if slices.shape[-1] != len(keys):
            raise ConfigError(
                f"cross attention has {slices.shape[-1]} keys but the fusion names {keys}."
            )
        present = {m: batch["modality_mask"][m].bool().numpy() for m in fusion_keys}
        mean = slices.mean(1)
        cross = pd.DataFrame(
            [
                {
                    "patient_id": pid,
                    "key": key,
                    "weight": float(mean[i, j]),
                    "present": True if key == "null" else bool(present[key][i]),
                }
                for i, pid in enumerate(ids)
                for j, key in enumerate(keys)
            ]
        )
        if "gate" in att:
            g = att["gate"].numpy().astype(float).mean(1)
            gates = pd.DataFrame(
                [
                    {
                        "patient_id": pid,
                        "modality": m,
                        "gate": float(g[i, j]),
                        "present": bool(present[m][i]),
                    }
                    for i, pid in enumerate(ids)
                    for j, m in enumerate(fusion_keys)
                ]
            )

    clinical_gate = None
    if "clinical_gate" in att:
        gate = att["clinical_gate"].numpy().astype(float)
        names = (
            list(feature_names)
            if feature_names is not None
            else [f"clinical_{j}" for j in range(gate.shape[1])]
        )
        if len(names) != gate.shape[1]:
            raise ConfigError(
                f"{len(names)} clinical feature names for a gate over {gate.shape[1]} columns."
            )
        has = batch["modality_mask"]["clinical"].bool().numpy()
        clinical_gate = pd.DataFrame(
            [
                {
                    "patient_id": pid,
                    "feature": name,
                    "variable": name.split("=", 1)[0],
                    "gate": float(gate[i, j]),
                }
                for i, pid in enumerate(ids)
                if has[i]
                for j, name in enumerate(names)
            ],
            columns=["patient_id", "feature", "variable", "gate"],
        )
    return AttentionTables(
        visits=visits,
        cross=cross,
        gates=gates,
        clinical_gate=clinical_gate,
        cross_slices=slices,
        cross_keys=keys,
    )


def modality_contributions(
    network: nn.Module,
    batch: Mapping[str, Any],
    target: AnyTarget,
    *,
    modalities: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Change of the target when each modality is masked out, per patient.

    .. math:: \\Delta_m = f(x) - f(x_{-m})

    Parameters
    ----------
    network
        The network (evaluation mode, no gradients).
    batch
        Collated batch.
    target
        The explained scalar.
    modalities
        Modalities to mask one at a time (default: the network's ``modalities``).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, modality, present, target_full, target_without, contribution``
        (``contribution`` = :math:`\\Delta_m`; positive: the modality raises the target).
    """
    mods = list(modalities) if modalities is not None else list(getattr(network, "modalities", []))
    if not mods:
        raise ConfigError("no modality to mask: pass modalities= or a network with .modalities.")
    ids = patient_ids(batch)
    rows = []
    with evaluating(network), torch.no_grad():
        full = target(network(batch)).double().numpy()
        for m in mods:
            without = target(network(with_modality_masked(batch, m))).double().numpy()
            present = batch["modality_mask"][m].bool().numpy()
            # masking an absent modality is a no-op by contract: report exactly 0, not round-off
            without = np.where(present, without, full)
            for i, pid in enumerate(ids):
                rows.append(
                    {
                        "patient_id": pid,
                        "modality": m,
                        "present": bool(present[i]),
                        "target_full": float(full[i]),
                        "target_without": float(without[i]),
                        "contribution": float(full[i] - without[i]),
                    }
                )
    return pd.DataFrame(rows)
