"""Registry of fitted-model classes. Each class has ``load(run_dir)``."""

from __future__ import annotations

from oncofusion.registry import Registry

MODELS: Registry = Registry("model")
