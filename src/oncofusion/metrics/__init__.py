"""Censoring-aware metrics: discrimination, prediction error, calibration, decisions, bootstrap.

Direction of every score: ``risk`` is higher-is-worse (a hazard, a linear predictor,
``1 - S(t)``); ``surv`` is a survival probability :math:`P(T > t)` in [0, 1].

Core metrics (argument order ``time, event, prediction, times, train_time, train_event``):

* :func:`concordance_index` (Harrell) and :func:`concordance_index_uno` (IPCW, truncated)
* :func:`time_dependent_auc` (cumulative/dynamic AUC per time and its integrated mean)
* :func:`brier_score` and :func:`integrated_brier_score`
* :func:`bootstrap` and :func:`paired_bootstrap` (patient-level, vectorised for the above)

Calibration (:mod:`.calibration`), decision curves (:mod:`.decision`) and thresholds
(:mod:`.thresholds`) are re-exported from their modules when those are installed.

Names are imported on first use, so ``import oncofusion.metrics`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_CORE = {
    "ConcordanceResult": "concordance",
    "concordance_index": "concordance",
    "concordance_index_uno": "concordance",
    "AUCResult": "auc",
    "time_dependent_auc": "auc",
    "brier_score": "brier",
    "integrated_brier_score": "brier",
    "BootstrapResult": "resampling",
    "PairedBootstrapResult": "resampling",
    "bootstrap": "resampling",
    "paired_bootstrap": "resampling",
    "censoring_survival": "ipcw",
}

# Written by the calibration/decision/thresholds owners; each module's ``__all__`` is
# re-exported. A module that is not there yet is skipped (only that ImportError is caught).
_OPTIONAL = ("calibration", "decision", "thresholds")


def _optional_module(name: str) -> Any | None:
    full = f"{__name__}.{name}"
    try:
        return importlib.import_module(full)
    except ImportError as exc:
        if getattr(exc, "name", None) == full:
            return None
        raise


def _optional_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for mod_name in _OPTIONAL:
        mod = _optional_module(mod_name)
        if mod is not None:
            names.update({sym: mod_name for sym in getattr(mod, "__all__", ())})
    return names


def __getattr__(name: str) -> Any:
    mod_name = _CORE.get(name)
    if mod_name is None and not name.startswith("_"):
        mod_name = _optional_names().get(name)
    if mod_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_CORE) | set(_optional_names()))


__all__ = list(_CORE)  # plus the names of the optional modules, see __dir__
