"""oncofusion: multimodal, dynamic survival modelling for oncology.

Heavy submodules (torch models, imaging readers, SHAP, the service) are imported lazily,
so ``import oncofusion`` stays fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load", "load_cohort"]


def load(run_dir: str) -> Any:
    """Load a fitted model from its run directory (see :mod:`oncofusion.models.run`)."""
    from oncofusion.models.run import load_run

    return load_run(run_dir)


def load_cohort(path: str) -> Any:
    """Load and validate a cohort directory (see :func:`oncofusion.data.load_cohort`)."""
    from oncofusion.data import load_cohort as _load

    return _load(path)
