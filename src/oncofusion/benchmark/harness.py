"""The benchmark harness: every model on identical splits, seeds and metrics.

:func:`run_benchmark` does, for a :class:`~oncofusion.benchmark.config.BenchmarkConfig`:

1. **Splits** (:func:`make_folds`): one stratified patient-level train/validation/test split
   per seed, or with ``cv = K`` one K-fold partition per seed (each training fold gives up
   ``val_fraction`` of its patients as validation). The same folds serve every model.
2. **Cells** (:func:`run_cells`): for each fold and model, the model's runner fits on the
   development patients and predicts :math:`S(t)` on the fold's test patients on a common
   time grid. Each finished cell is cached (:mod:`oncofusion.benchmark.cache`), so an
   interrupted benchmark resumes where it stopped; wall times are logged per cell.
3. **Evaluation**: per seed one :class:`~oncofusion.evaluation.PredictionSet` per model
   (with ``cv``: the pooled out-of-fold predictions of all patients), evaluated by
   :func:`~oncofusion.evaluation.evaluate_predictions` (Table 3 with bootstrap intervals,
   Table 4, paired bootstrap against the reference), then mean ± SD over seeds
   (:mod:`oncofusion.benchmark.aggregate`).

The censoring reference of the IPCW metrics is the development patients of the split (with
``cv``: the whole cohort, each patient being a training patient in K - 1 folds), the same
for every model, so paired comparisons are valid.
"""

from __future__ import annotations

import tempfile
import time as _time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from oncofusion.benchmark.cache import ResultCache, cell_key, cohort_fingerprint
from oncofusion.benchmark.config import BenchmarkConfig, ModelSpec
from oncofusion.benchmark.runners import MODEL_RUNNERS, RunnerUnavailable, runner_info
from oncofusion.errors import ConfigError

__all__ = [
    "BenchmarkResult",
    "CellResult",
    "Fold",
    "ProgressHook",
    "default_use",
    "make_folds",
    "model_options",
    "prediction_grid",
    "run_benchmark",
    "run_cells",
]


@dataclass(frozen=True)
class Fold:
    """One split of the patients: ``replicate`` (seed index), ``fold`` (0 without CV)."""

    replicate: int
    seed: int
    fold: int
    train: list[str]
    val: list[str]
    test: list[str]

    @property
    def ids(self) -> dict[str, list[str]]:
        return {"train": self.train, "val": self.val, "test": self.test}


@dataclass
class CellResult:
    """One model on one fold.

    ``status``: ``"ok"``, ``"not available"`` (the runner's code is not installed) or
    ``"failed"`` (``message`` says why). ``frame``: the predictions (``patient_id``,
    optional ``landmark``, one column per prediction time).
    """

    model: str
    runner: str
    replicate: int
    seed: int
    fold: int
    test_ids: list[str]
    status: str = "ok"
    message: str = ""
    from_cache: bool = False
    fit_seconds: float = float("nan")
    predict_seconds: float = float("nan")
    key: str = ""
    frame: pd.DataFrame | None = None


class ProgressHook(Protocol):
    """What the harness reports while it runs (the CLI draws a progress bar from it)."""

    def start(self, total: int) -> None: ...

    def begin(self, model: str, seed: int, fold: int) -> None: ...

    def end(self, cell: CellResult) -> None: ...


@dataclass
class BenchmarkResult:
    """Everything a benchmark produced (also written under ``out``)."""

    config: BenchmarkConfig
    cells: list[CellResult]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    predictions: dict[int, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]


# -- plan -------------------------------------------------------------------------------------


def make_folds(cohort: Any, config: BenchmarkConfig) -> list[Fold]:
    """The splits of every repeat, identical for all models (see the module docstring)."""
    from oncofusion.data.splits import kfold_patients, split_patients

    patients = cohort.patients
    strat = [c for c in config.stratify if c in patients.columns]
    missing = sorted(set(config.stratify) - set(strat))
    if missing:
        raise ConfigError(
            f"stratify column(s) {missing} are not in patients.csv. Fix: choose from "
            f"{sorted(map(str, patients.columns))}."
        )
    folds: list[Fold] = []
    k = config.cv if config.cv is not None else (5 if config.dynamic else None)
    for r, seed in enumerate(config.seed_list):
        if k is None:
            parts = split_patients(patients, sizes=tuple(config.sizes), stratify=strat, seed=seed)
            folds.append(Fold(r, seed, 0, parts["train"], parts["val"], parts["test"]))
            continue
        for f, (dev, test) in enumerate(kfold_patients(patients, k, stratify=strat, seed=seed)):
            table = patients[patients["patient_id"].isin(set(dev))]
            vf = config.val_fraction
            parts = split_patients(
                table, sizes=(1.0 - vf, vf), stratify=strat, seed=seed + 7919 * f
            )
            folds.append(Fold(r, seed, f, parts["train"], parts["test"], test))
    return folds


def default_use(cohort: Any) -> list[str]:
    """Every modality the cohort declares (clinical, biomarkers, genomics, imaging).

    Each runner keeps the ones its model can ingest (tabular comparators drop imaging).
    """
    s = cohort.schema
    out = ["clinical"] if s.clinical.all else []
    out += ["biomarkers"] if s.biomarkers else []
    out += ["genomics"] if s.genomics else []
    out += ["imaging"] if s.imaging is not None else []
    return out


def model_options(spec: ModelSpec, config: BenchmarkConfig, cohort: Any) -> dict[str, Any]:
    """The options a runner receives: the spec's options plus the resolved ``use``."""
    use = spec.use if spec.use is not None else config.use
    return {**spec.options, "use": list(use) if use is not None else default_use(cohort)}


def prediction_grid(horizons: Sequence[float], n: int) -> np.ndarray:
    """``n`` equally spaced times up to the last horizon, plus the horizons (sorted, unique)."""
    last = float(max(horizons))
    return np.unique(np.round(np.r_[np.linspace(0.0, last, n + 1)[1:], list(horizons)], 10))


def check_models(config: BenchmarkConfig, *, dynamic: bool = False) -> None:
    """Every model names a registered runner (did-you-mean otherwise) of the right kind."""
    for spec in config.models:
        MODEL_RUNNERS.get(spec.runner_name)  # raises UnknownOptionError with close matches
        if dynamic and not runner_info(spec.runner_name).dynamic:
            dyn = [n for n in MODEL_RUNNERS.names() if runner_info(n).dynamic]
            raise ConfigError(
                f"model '{spec.name}' (runner '{spec.runner_name}') does not predict from a "
                f"landmark, so it cannot take part in a dynamic benchmark. Dynamic models: "
                f"{', '.join(dyn)}."
            )


# -- cells ------------------------------------------------------------------------------------

Predictor = Callable[[Any, Any], pd.DataFrame]


def _keyed_options(runner: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options as hashed into the cache key, plus the runner's fingerprint of them."""
    try:
        fp = runner_info(runner).fingerprint
    except Exception:  # an unknown runner is reported by check_models / the cell itself
        fp = None
    return options if fp is None else {**options, "_resolved": fp(options)}


def run_cells(
    cohort: Any,
    config: BenchmarkConfig,
    folds: Sequence[Fold],
    predict: Predictor,
    target: dict[str, Any],
    cache: ResultCache,
    *,
    options: dict[str, dict[str, Any]] | None = None,
    progress: ProgressHook | None = None,
) -> list[CellResult]:
    """Fit and predict every model on every fold (or load the cell from the cache).

    ``predict(model, test_cohort)`` turns a fitted model into the cell's prediction frame.
    A runner that raises :class:`RunnerUnavailable` is not called again; any other error
    marks that cell as failed (with a warning) and the benchmark goes on.
    """
    fingerprint = cohort_fingerprint(cohort)
    opts = options or {s.name: model_options(s, config, cohort) for s in config.models}
    cells: list[CellResult] = []
    unavailable: dict[str, str] = {}
    if progress is not None:
        progress.start(len(folds) * len(config.models))
    for fold in folds:
        train, val, test = (cohort.subset(ids) for ids in (fold.train, fold.val, fold.test))
        for spec in config.models:
            cell = CellResult(
                spec.name,
                spec.runner_name,
                fold.replicate,
                fold.seed,
                fold.fold,
                list(test.patient_ids),
            )
            if progress is not None:
                progress.begin(spec.name, fold.seed, fold.fold)
            key, desc = cell_key(
                cohort=fingerprint,
                split=fold.ids,
                runner=spec.runner_name,
                options=_keyed_options(spec.runner_name, opts[spec.name]),
                seed=fold.seed,
                target=target,
            )
            cell.key = key
            if spec.name in unavailable:
                cell.status, cell.message = "not available", unavailable[spec.name]
            elif (hit := cache.load(key)) is not None:
                cell.frame, cell.from_cache = hit.frame, True
                cell.fit_seconds = float(hit.meta.get("fit_seconds", np.nan))
                cell.predict_seconds = float(hit.meta.get("predict_seconds", np.nan))
            else:
                _compute(cell, spec, train, val, test, opts[spec.name], predict)
                if cell.status == "not available":
                    unavailable[spec.name] = cell.message
                elif cell.status == "ok" and cell.frame is not None:
                    meta = {
                        **desc,
                        "model": spec.name,
                        "replicate": fold.replicate,
                        "fold": fold.fold,
                        "test_ids": cell.test_ids,
                        "fit_seconds": cell.fit_seconds,
                        "predict_seconds": cell.predict_seconds,
                    }
                    cache.save(key, cell.frame, meta)
            cells.append(cell)
            if progress is not None:
                progress.end(cell)
    return cells


def _compute(
    cell: CellResult,
    spec: ModelSpec,
    train: Any,
    val: Any,
    test: Any,
    options: dict[str, Any],
    predict: Predictor,
) -> None:
    runner = MODEL_RUNNERS.get(spec.runner_name)
    with tempfile.TemporaryDirectory(prefix="oncofusion-bench-") as work:
        try:
            t0 = _time.perf_counter()
            model = runner(train, val, cell.seed, {**options, "work_dir": Path(work)})
            t1 = _time.perf_counter()
            frame = predict(model, test)
            t2 = _time.perf_counter()
        except RunnerUnavailable as e:
            cell.status, cell.message = "not available", str(e)
            return
        except Exception as e:  # noqa: BLE001 - one failing model must not end the benchmark
            cell.status, cell.message = "failed", f"{type(e).__name__}: {e}"
            warnings.warn(
                f"model '{spec.name}' failed on seed {cell.seed}, fold {cell.fold}: {cell.message}",
                UserWarning,
                stacklevel=3,
            )
            return
    cell.frame, cell.fit_seconds, cell.predict_seconds = frame, t1 - t0, t2 - t1


def surv_frame(model: Any, test: Any, grid: np.ndarray) -> pd.DataFrame:
    """A static cell's predictions: ``patient_id`` and :math:`S(t)` at each grid time."""
    surv = np.asarray(model.predict_survival(test, grid), dtype=np.float64)
    if surv.shape != (len(test), grid.size) or not np.isfinite(surv).all():
        raise ValueError(
            f"predict_survival returned shape {surv.shape} with non-finite values "
            f"{int((~np.isfinite(surv)).sum())}; expected ({len(test)}, {grid.size}) finite."
        )
    frame = pd.DataFrame(np.clip(surv, 0.0, 1.0), columns=[f"t{i}" for i in range(grid.size)])
    frame.insert(0, "patient_id", list(test.patient_ids))
    return frame


# -- evaluation -------------------------------------------------------------------------------


def resolve_horizons(cohort: Any, config: BenchmarkConfig) -> tuple[list[float], float]:
    """``(horizons, primary horizon)`` from the config or the cohort's ``horizons``."""
    hz = list(config.horizons or cohort.schema.horizons)
    if config.horizon is not None and config.horizon not in hz:
        hz = sorted({*hz, float(config.horizon)})
    if not hz:
        raise ConfigError(
            f"cohort '{cohort.name}' declares no horizons and none were given. Fix: pass "
            "--horizon H or set 'horizons' in the benchmark config."
        )
    h = float(config.horizon) if config.horizon is not None else float(hz[-1])
    return [float(x) for x in hz], h


def run_benchmark(
    config: BenchmarkConfig, *, progress: ProgressHook | None = None
) -> BenchmarkResult:
    """Run the benchmark described by ``config`` and write its outputs under ``config.out``.

    A dynamic config (``landmarks`` and ``windows``) is handed to
    :func:`oncofusion.benchmark.dynamic.run_dynamic_benchmark`.

    Returns
    -------
    BenchmarkResult
        Cells, prediction sets per seed, tables and figure paths.
    """
    if config.dynamic:
        from oncofusion.benchmark.dynamic import run_dynamic_benchmark

        return run_dynamic_benchmark(config, progress=progress)
    from oncofusion.benchmark.aggregate import evaluate_replicates, prediction_sets, write_outputs
    from oncofusion.data import load_cohort

    check_models(config)
    cohort = load_cohort(config.cohort)
    horizons, h = resolve_horizons(cohort, config)
    grid = prediction_grid(horizons, config.grid_points)
    folds = make_folds(cohort, config)
    cache = ResultCache(Path(config.out) / "cache", enabled=config.cache)
    opts = {s.name: model_options(s, config, cohort) for s in config.models}
    cells = run_cells(
        cohort,
        config,
        folds,
        lambda m, t: surv_frame(m, t, grid),
        {"grid": grid.tolist()},
        cache,
        options=opts,
        progress=progress,
    )
    result = BenchmarkResult(config=config, cells=cells, options=opts, out_dir=Path(config.out))
    result.predictions = prediction_sets(cohort, config, cells, folds, grid, horizons, h)
    evaluate_replicates(result, cohort, h)
    write_outputs(result, cohort, h)
    return result
