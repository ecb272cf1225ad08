"""Shared pieces of the federated tests: a tiny network config and small cohorts."""

from __future__ import annotations

from pathlib import Path

import oncofusion

TINY = Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"

#: biomarkers + clinical, a few hundred weights: seconds per federated round on one core
CONFIG = {
    "name": "tiny-fed",
    "data": {"n_intervals": 6, "horizon": 12},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 4, "out_features": 4}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [8], "out_features": 4}},
        },
        "fusion": {"name": "concat", "args": {}},
    },
    "train": {"batch_size": 16, "lr": 0.01, "progress": False, "accelerator": "cpu"},
}


def tiny_config():  # type: ignore[no-untyped-def]
    from oncofusion.models.config import config_from_dict

    return config_from_dict(CONFIG)
