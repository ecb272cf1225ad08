"""Tiny hand-built batches (docs/internals.md) and component configs for the nn tests."""

from __future__ import annotations

from typing import Any

import torch

B, L, M, F, G, K = 4, 5, 2, 6, 5, 4
IMAGE = (1, 8, 16, 16)
D_IMG, D_MOL, D_CLI, D_GEN = 8, 6, 5, 7

# rows: imaging missing for patient 1, biomarkers for 2, clinical for 3, genomics for 0
MASKS = {
    "imaging": [True, False, True, True],
    "biomarkers": [True, True, False, True],
    "clinical": [True, True, True, False],
    "genomics": [False, True, True, True],
}
LENGTHS = [5, 3, 2, 1]  # valid visits per patient (row 2's biomarkers are masked anyway)
MODALITY_KEYS = {
    "imaging": ["imaging"],
    "biomarkers": ["biomarkers", "biomarker_times", "biomarker_observed"],
    "clinical": ["clinical"],
    "genomics": ["genomics"],
}


def make_batch(seed: int = 0, masks: dict[str, list[bool]] | None = None) -> dict[str, Any]:
    """A collated batch as ``collate_patients`` would produce it."""
    g = torch.Generator().manual_seed(seed)
    masks = masks or MASKS
    valid = torch.arange(L)[None] < torch.tensor(LENGTHS)[:, None]
    times = torch.cumsum(torch.rand(B, L, generator=g) + 0.5, 1) * valid
    return {
        "patient_id": [f"p{i}" for i in range(B)],
        "clinical": torch.randn(B, F, generator=g),
        "clinical_missing": torch.zeros(B, F, dtype=torch.bool),
        "biomarkers": torch.randn(B, L, M, generator=g) * valid[..., None],
        "biomarker_times": times,
        "biomarker_observed": (torch.rand(B, L, M, generator=g) > 0.3) & valid[..., None],
        "biomarker_valid": valid,
        "genomics": torch.randn(B, G, generator=g),
        "imaging": torch.randn(B, *IMAGE, generator=g),
        "modality_mask": {m: torch.tensor(v) for m, v in masks.items()},
        "time": torch.rand(B, generator=g) * 12,
        "event": torch.tensor([1.0, 0.0, 1.0, 0.0]),
        "arm": torch.tensor([0, 1, 1, 0]),
    }


def perturb_masked(batch: dict[str, Any], modality: str, seed: int = 99) -> dict[str, Any]:
    """Copy of ``batch`` whose masked-out rows of ``modality`` hold different data."""
    g = torch.Generator().manual_seed(seed)
    out = dict(batch)
    absent = ~batch["modality_mask"][modality]
    for key in MODALITY_KEYS[modality]:
        t = batch[key].clone()
        if t.dtype == torch.bool:
            t[absent] = ~t[absent]
        else:
            t[absent] = torch.randn(t[absent].shape, generator=g) * 100 + 7
        out[key] = t
    return out


ENCODER_SPECS: dict[str, dict[str, Any]] = {
    "resnet3d": {"config": {"in_channels": 1, "width": 8, "layers": (1, 1, 1, 1), "temporal_tokens": 2,
                            "out_features": D_IMG, "temporal_downsample": False},
                 "modality": "imaging", "tokens": 2},
    "bilstm_attention": {"config": {"n_markers": M, "hidden": 4, "out_features": D_MOL},
                         "modality": "biomarkers", "tokens": L},
    "gated_mlp": {"config": {"in_features": F, "hidden": (8,), "out_features": D_CLI},
                  "modality": "clinical", "tokens": None},
    "mlp": {"config": {"in_features": F, "hidden": (8, 8, 8), "out_features": D_CLI},
            "modality": "clinical", "tokens": None},
    "gcn": {"config": {"n_genes": G, "edges": [(0, 1), (1, 2), (3, 4)], "hidden": 6, "out_features": D_GEN},
            "modality": "genomics", "tokens": None},
    "genomic_mlp": {"config": {"n_genes": G, "hidden": (8,), "out_features": D_GEN},
                    "modality": "genomics", "tokens": None},
}

DIMS = {"imaging": D_IMG, "biomarkers": D_MOL, "clinical": D_CLI}
FUSION_SPECS: dict[str, dict[str, Any]] = {
    "cross_attention": {"config": {"dims": DIMS, "n_slices": K, "d_model": 8, "heads": 2,
                                   "align_kwargs": {"gamma": 0.5}}, "tokens": K},
    "bidirectional_cross_attention": {"config": {"dims": {**DIMS, "genomics": D_GEN}, "d_model": 8,
                                                 "heads": 2, "steps": 2}, "tokens": None},
    "concat": {"config": {"dims": DIMS, "out_features": 8, "hidden": (8,)}, "tokens": None},
    "late": {"config": {"dims": DIMS, "out_features": 8}, "tokens": None},
    "weighted_sum": {"config": {"dims": {**DIMS, "genomics": D_GEN}, "out_features": 8}, "tokens": None},
    "kronecker": {"config": {"dims": DIMS, "out_features": 8, "factor_dim": 3}, "tokens": None},
}

HEAD_SPECS: dict[str, dict[str, Any]] = {
    "discrete_time": {"config": {"in_features": 8, "n_intervals": K}, "input": (B, 8),
                      "shapes": {"logit_hazard": (B, K), "hazard": (B, K)}},
    "cox": {"config": {"in_features": 8, "hidden": (4,)}, "input": (B, 8),
            "shapes": {"log_hazard": (B,), "risk": (B,)}},
    "per_arm": {"config": {"in_features": 8, "arms": ["sbrt", "surgery"], "n_intervals": K, "n_lc": 2},
                "input": (B, 8), "shapes": {"logit_hazard": (B, K), "hazard": (B, K), "lc_logit": (B, 2),
                                            "lc_risk": (B, 2)}},
}

ALIGNER_SPECS: dict[str, dict[str, Any]] = {
    "softdtw": {"config": {"gamma": 0.5, "bandwidth": 2}},
}


def fusion_features(seed: int = 0, dims: dict[str, int] | None = None) -> dict[str, Any]:
    """Encoder-like outputs: imaging with K slice tokens, biomarkers with visit tokens."""
    g = torch.Generator().manual_seed(seed)
    dims = dims or {**DIMS, "genomics": D_GEN}
    valid = torch.arange(L)[None] < torch.tensor(LENGTHS)[:, None]
    feats: dict[str, Any] = {}
    for m, d in dims.items():
        f: dict[str, Any] = {"embedding": torch.randn(B, d, generator=g)}
        if m == "imaging":
            f["tokens"] = torch.randn(B, K, d, generator=g)
        if m == "biomarkers":
            f["tokens"] = torch.randn(B, L, d, generator=g)
            f["token_mask"] = valid.clone()
        feats[m] = f
    return feats


def perturb_features(feats: dict[str, Any], mask: dict[str, torch.Tensor], modality: str,
                     value: float = 100.0) -> dict[str, Any]:
    """Replace the masked-out rows (and invalid tokens) of ``modality`` with ``value`` noise."""
    out = {m: dict(f) for m, f in feats.items()}
    absent = ~mask[modality]
    f = out[modality]
    g = torch.Generator().manual_seed(5)
    emb = f["embedding"].clone()
    emb[absent] = torch.randn(emb[absent].shape, generator=g) * value
    f["embedding"] = emb
    if "tokens" in f:
        tok = f["tokens"].clone()
        tm = f.get("token_mask", torch.ones(tok.shape[:2], dtype=torch.bool)) & ~absent[:, None]
        tok[~tm] = torch.randn(tok[~tm].shape, generator=g) * value
        f["tokens"] = tok
    return out
