"""One seed for every source of randomness."""

from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["make_rng", "seed_everything"]


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; ask torch for deterministic algorithms where available."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    import torch

    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def make_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy ``Generator`` from a seed (or pass one through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
