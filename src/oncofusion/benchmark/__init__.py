"""Benchmarks that show whether a model earns its complexity (DMA-Net §2.6, §3).

Every model and every classical comparator runs on identical patient-level splits with the
same seeds and the same censoring-aware metrics; the harness writes paper-ready tables with
confidence intervals, figures, per-cell caches (resume) and wall times.

* :func:`run_benchmark` (:mod:`.harness`): static prediction from baseline data
  (Table 3 / Table 4 shapes, mean ± SD over seeds, paired bootstrap against a reference);
* :func:`run_dynamic_benchmark` (:mod:`.dynamic`): landmark prediction
  :math:`S(s + \\Delta t \\mid T > s, \\text{data up to } s)`;
* :data:`MODEL_RUNNERS` (:mod:`.runners`): models by name; :func:`register_runner` adds one;
* :class:`BenchmarkConfig` (:mod:`.config`): the fields of ``oncofusion benchmark`` and
  ``bench.yaml``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BenchmarkConfig": "oncofusion.benchmark.config",
    "ModelSpec": "oncofusion.benchmark.config",
    "load_benchmark_config": "oncofusion.benchmark.config",
    "MODEL_RUNNERS": "oncofusion.benchmark.runners",
    "RunnerUnavailable": "oncofusion.benchmark.runners",
    "register_runner": "oncofusion.benchmark.runners",
    "ResultCache": "oncofusion.benchmark.cache",
    "BenchmarkResult": "oncofusion.benchmark.harness",
    "make_folds": "oncofusion.benchmark.harness",
    "run_benchmark": "oncofusion.benchmark.harness",
    "run_dynamic_benchmark": "oncofusion.benchmark.dynamic",
}

__all__ = [
    "MODEL_RUNNERS",
    "BenchmarkConfig",
    "BenchmarkResult",
    "ModelSpec",
    "ResultCache",
    "RunnerUnavailable",
    "load_benchmark_config",
    "make_folds",
    "register_runner",
    "run_benchmark",
    "run_dynamic_benchmark",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'oncofusion.benchmark' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
