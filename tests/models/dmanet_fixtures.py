"""Tiny DMA-Net configuration and cohort path shared by tests (imported by name)."""

from __future__ import annotations

from pathlib import Path

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"

TINY_OVERRIDES = {
    "data": {"image_shape": [6, 16, 16], "split": [0.5, 0.25, 0.25], "stratify": ["event"], "landmarks": [1, 2, 3]},
    "network": {
        "encoders": {
            "imaging": {"name": "resnet3d", "args": {"layers": [1, 1, 1, 1], "width": 4, "temporal_tokens": 12,
                                                      "temporal_downsample": False, "out_features": 16}},
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 16}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [16], "out_features": 16}},
        },
        "fusion": {"name": "cross_attention", "args": {"d_model": 16, "heads": 2, "align": "softdtw",
                                                        "align_kwargs": {"gamma": 0.1, "bandwidth": 4}}},
    },
    "train": {"max_epochs": 2, "batch_size": 4, "progress": False, "patience": 50},
    "evaluation": {"n_resamples": 50},
}


def tiny_config(**extra):
    from oncofusion.models.config import _merge, load_config

    return load_config("dmanet-cpu", _merge(TINY_OVERRIDES, extra))


