"""Registry of fitted-model classes. Each class has ``load(run_dir)``."""

from __future__ import annotations

import importlib

from oncofusion.registry import Registry

MODELS: Registry = Registry("model")

#: model name -> module whose import registers it (imported only when that model is loaded)
_MODULE_OF = {
    "dmanet": "oncofusion.models.predictor",
    "deepsurv": "oncofusion.models.deepsurv",
    "deephit": "oncofusion.models.deephit",
    "dynamic_deephit": "oncofusion.models.dynamic_deephit",
    "mmcare": "oncofusion.models.mmcare",
}
_BASELINES = "oncofusion.baselines.registry"


def register_builtin_models(name: str | None = None) -> None:
    """Import the module that registers model ``name`` (all known modules when None)."""
    if name is not None and name in MODELS:
        return
    modules = [_MODULE_OF[name]] if name in _MODULE_OF else [*_MODULE_OF.values(), _BASELINES]
    if name is not None and name not in _MODULE_OF:
        modules = [_BASELINES]
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
