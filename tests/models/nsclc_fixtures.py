"""Tiny simulated NSCLC cohort, MM-Care config and a collated batch, and the Kernel SHAP
shortcut check, shared by the MM-Care unit tests (imported by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


def tiny_nsclc(root: Path, *, n: int, seed: int, batch_size: int, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """``simulate_nsclc(n, seed)`` under ``root`` -> cohort, ``mmcare-cpu`` (+ overrides),
    fitted preprocessor, input sizes and the first ``batch_size`` patients collated."""
    from oncofusion.data import load_cohort
    from oncofusion.data.collate import collate_patients
    from oncofusion.data.dataset import PatientDataset
    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.pipeline import input_sizes

    simulate_nsclc(n, seed, str(root), size=16)
    cohort = load_cohort(root, check_images=False)
    cfg = load_mmcare_config("mmcare-cpu", overrides or {})
    pre = TabularPreprocessor().fit(cohort, cohort.patient_ids)
    ds = PatientDataset(cohort, pre, image_shape=(16, 16, 16))
    batch = collate_patients([ds[i] for i in range(batch_size)])
    return {"cohort": cohort, "root": root, "cfg": cfg, "pre": pre, "sizes": input_sizes(cohort, pre, cfg), "batch": batch}


def shap_shortcut_and_full_pass(shortcut: Any, row: dict[str, Any], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets of ``n`` perturbed copies of ``row``'s clinical values, through the
    cached-encoder shortcut and through full forward passes (``shortcut.fast`` off)."""
    g = torch.Generator().manual_seed(1)
    clin = row["clinical"].repeat(n, 1) + torch.randn(n, row["clinical"].shape[1], generator=g)
    miss = row["clinical_missing"].repeat(n, 1)
    gen = row["genomics"].repeat(n, *([1] * (row["genomics"].dim() - 1)))
    fast = shortcut(clin, miss, gen)
    shortcut.fast = False
    return fast, shortcut(clin, miss, gen)
