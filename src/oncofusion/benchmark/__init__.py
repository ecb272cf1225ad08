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

from oncofusion.utils.lazy import lazy_exports

_LAZY = {
    "BenchmarkConfig": "config",
    "ModelSpec": "config",
    "load_benchmark_config": "config",
    "MODEL_RUNNERS": "runners",
    "RunnerUnavailable": "runners",
    "register_runner": "runners",
    "ResultCache": "cache",
    "BenchmarkResult": "harness",
    "make_folds": "harness",
    "run_benchmark": "harness",
    "run_dynamic_benchmark": "dynamic",
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


__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
