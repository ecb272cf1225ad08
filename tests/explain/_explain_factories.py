"""Tiny networks and batches for the explain tests (the tiny example cohort, small encoders)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from oncofusion.data import PatientDataset, collate_patients, load_cohort
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.models.network import MultimodalSurvivalNet, NetworkConfig

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"
IMAGE_SHAPE = (8, 16, 16)
K = 4


@lru_cache(maxsize=1)
def tiny_data() -> tuple[Any, TabularPreprocessor, dict[str, Any]]:
    """The tiny cohort, its preprocessor (fitted on all 12) and the collated batch."""
    cohort = load_cohort(TINY)
    prep = TabularPreprocessor().fit(cohort)
    ds = PatientDataset(cohort, prep, image_shape=IMAGE_SHAPE)
    return cohort, prep, collate_patients([ds[i] for i in range(len(ds))])


def imaging_encoder(**extra: Any) -> dict[str, Any]:
    args = {
        "width": 4,
        "layers": [1, 1, 1, 1],
        "out_features": 8,
        "temporal_downsample": False,
        "stem_stride": 1,
        "max_pool": False,
        "attention_kernel": 3,
    }
    return {"name": "resnet3d", "args": {**args, **extra}}


def dmanet(
    seed: int = 0, *, genomics: bool = True, head: dict[str, Any] | None = None
) -> MultimodalSurvivalNet:
    """A DMA-Net-shaped network (cross-attention fusion, per-slice head) on the tiny cohort."""
    torch.manual_seed(seed)
    _, _, batch = tiny_data()
    modalities = ["imaging", "biomarkers", "clinical"] + (["genomics"] if genomics else [])
    encoders = {
        "imaging": imaging_encoder(temporal_tokens=K),
        "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 4, "out_features": 8}},
        "clinical": {"name": "gated_mlp", "args": {"hidden": [8], "out_features": 8}},
        "genomics": {"name": "genomic_mlp", "args": {"hidden": [8], "out_features": 8}},
    }
    cfg = NetworkConfig(
        modalities=modalities,
        encoders={m: encoders[m] for m in modalities},
        fusion={"name": "cross_attention", "args": {"d_model": 8, "heads": 2}},
        head=head or {"name": "discrete_time", "args": {"input": "per_slice"}},
    )
    sizes = {
        "imaging": 1,
        "biomarkers": batch["biomarkers"].shape[-1],
        "clinical": batch["clinical"].shape[-1],
        "genomics": batch["genomics"].shape[-1],
    }
    return MultimodalSurvivalNet(cfg, sizes, K).eval()


def image_net(seed: int = 0, *, tokens: int | None = None, **encoder: Any) -> MultimodalSurvivalNet:
    """Imaging + clinical with concat fusion; ``tokens=None``: the last stage is globally pooled."""
    torch.manual_seed(seed)
    _, _, batch = tiny_data()
    extra = {"temporal_tokens": tokens} if tokens else {}
    cfg = NetworkConfig(
        modalities=["imaging", "clinical"],
        encoders={
            "imaging": imaging_encoder(**extra, **encoder),
            "clinical": {"name": "mlp", "args": {"hidden": [8], "out_features": 8, "norm": None}},
        },
        fusion={"name": "concat", "args": {"out_features": 8}},
    )
    return MultimodalSurvivalNet(
        cfg, {"imaging": 1, "clinical": batch["clinical"].shape[-1]}, K
    ).eval()


def rows_with(batch: dict[str, Any], **present: bool) -> list[int]:
    """Row indices whose modality mask matches every ``modality=flag`` given."""
    n = len(batch["patient_id"])
    return [
        i
        for i in range(n)
        if all(bool(batch["modality_mask"][m][i]) == flag for m, flag in present.items())
    ]
