"""Registry of fitted-model classes. Each class has ``load(run_dir)``."""

from __future__ import annotations

import importlib

from oncofusion.registry import Registry

MODELS: Registry = Registry("model")

#: modules whose import registers fitted-model classes in :data:`MODELS`
_BUILTIN_MODULES = (
    "oncofusion.models.predictor",
    "oncofusion.models.deepsurv",
    "oncofusion.models.deephit",
    "oncofusion.models.dynamic_deephit",
    "oncofusion.models.mmcare",
    "oncofusion.baselines.registry",
)


def register_builtin_models() -> None:
    """Import every module that registers a model (heavy, so done only when loading)."""
    for name in _BUILTIN_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
