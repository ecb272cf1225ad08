"""Dynamic (landmark) benchmark: :math:`S(s + \\Delta t \\mid T > s, \\text{data up to } s)`.

For each landmark :math:`s` and horizon :math:`\\Delta t` the evaluation set is the test
patients still event-free and uncensored at :math:`s` (:math:`T_i > s`); a model sees
their data up to :math:`s` only (biomarker visits after :math:`s` are removed before
prediction) and predicts :math:`\\hat S_i(s + \\Delta t \\mid s)`, the risk being
:math:`1 - \\hat S_i`. On the residual time scale :math:`T_i - s`:

* Harrell's C among those at risk, with follow-up truncated at :math:`\\Delta t`
  (administrative censoring at :math:`s + \\Delta t`);
* Uno's C truncated at :math:`\\tau = \\Delta t`;
* the cumulative/dynamic AUC and the IPCW Brier score at :math:`\\Delta t`.

The IPCW censoring reference is the residual follow-up of all cohort patients at risk at
:math:`s` (with cross-validation every patient trains K - 1 of the K fold models). Folds
come from :func:`~oncofusion.benchmark.harness.make_folds` (5-fold CV by default, one
repeat per seed); each repeat pools the out-of-fold predictions, and tables give each
repeat and the mean ± SD over repeats.

References
----------
van Houwelingen HC. Dynamic prediction by landmarking in event history analysis. Scand J
Stat 2007;34:70-85. Rizopoulos D et al. Dynamic predictions with time-dependent
covariates in survival analysis using joint modeling and landmarking. Biom J 2017;59:1261-1276.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.benchmark.aggregate import mean_sd, model_status, timings_tables
from oncofusion.benchmark.cache import ResultCache
from oncofusion.benchmark.config import BenchmarkConfig
from oncofusion.benchmark.harness import (
    BenchmarkResult,
    ProgressHook,
    check_models,
    make_folds,
    model_options,
    run_cells,
)
from oncofusion.errors import OncofusionError
from oncofusion.utils.io import atomic_write

__all__ = [
    "DYNAMIC_METRICS",
    "cohort_up_to",
    "dynamic_metrics",
    "landmark_frame",
    "run_dynamic_benchmark",
]

DYNAMIC_METRICS = ("c_harrell", "c_uno", "auc", "brier")


def cohort_up_to(cohort: Any, s: float) -> Any:
    """The cohort with the biomarker visits after time ``s`` removed (data up to ``s`` only)."""
    import dataclasses

    if cohort.biomarkers is None:
        return cohort
    kept = cohort.biomarkers[cohort.biomarkers["time"] <= s].reset_index(drop=True)
    return dataclasses.replace(cohort, biomarkers=kept)


def landmark_frame(
    model: Any, test: Any, landmarks: list[float], windows: list[float]
) -> pd.DataFrame:
    """Predictions of one fitted model: rows (patient at risk at ``s``, ``s``), one column per Δt."""
    parts = []
    w = np.asarray(windows, dtype=np.float64)
    for s in landmarks:
        ids = test.patients.loc[test.patients["time"] > s, "patient_id"].tolist()
        if not ids:
            continue
        sub = cohort_up_to(test.subset(ids), s)
        surv = np.asarray(model.predict_survival(sub, w, landmark=s), dtype=np.float64)
        if surv.shape != (len(ids), w.size) or not np.isfinite(surv).all():
            raise ValueError(
                f"predict_survival at landmark {s:g} returned shape {surv.shape} (non-finite: "
                f"{int((~np.isfinite(surv)).sum())}); expected ({len(ids)}, {w.size}) finite values."
            )
        df = pd.DataFrame(np.clip(surv, 0.0, 1.0), columns=[f"w{j}" for j in range(w.size)])
        df.insert(0, "landmark", float(s))
        df.insert(0, "patient_id", list(sub.patient_ids))
        parts.append(df)
    cols = ["patient_id", "landmark", *[f"w{j}" for j in range(w.size)]]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def _metric(notes: list[str], label: str, fn: Any, *args: Any, **kwargs: Any) -> float:
    """``fn(*args, **kwargs)`` as a float; NaN (with a note) when the metric is undefined."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = fn(*args, **kwargs)
            value = getattr(value, "value", getattr(value, "auc", value))
        notes.extend(f"{label}: {w.message}" for w in caught if issubclass(w.category, UserWarning))
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except OncofusionError as e:
        notes.append(f"{label}: not computed ({e})")
        return float("nan")


def dynamic_metrics(
    time: np.ndarray,
    event: np.ndarray,
    surv: np.ndarray,
    s: float,
    windows: list[float],
    train_time: np.ndarray,
    train_event: np.ndarray,
    notes: list[str] | None = None,
    label: str = "",
) -> list[dict[str, float]]:
    """Metrics at ``s + Δt`` for each Δt in ``windows`` among the patients at risk at ``s``.

    ``time``, ``event``: outcomes (absolute scale) of the patients at risk (:math:`T > s`);
    ``surv[:, j]``: :math:`\\hat S(s + \\Delta t_j \\mid s)`; ``train_*``: the censoring
    reference (absolute scale, patients at risk at ``s``).
    """
    from oncofusion.metrics import (
        brier_score,
        concordance_index,
        concordance_index_uno,
        time_dependent_auc,
    )

    notes = notes if notes is not None else []
    res, ev = np.asarray(time, float) - s, np.asarray(event).astype(bool)
    ref = {
        "train_time": np.asarray(train_time, float) - s,
        "train_event": np.asarray(train_event).astype(bool),
    }
    rows = []
    for j, w in enumerate(windows):
        risk = 1.0 - surv[:, j]
        lab = f"{label} s={s:g}, Δt={w:g}"
        t_tr, e_tr = np.minimum(res, w), ev & (res <= w)
        rows.append(
            {
                "n_at_risk": int(res.size),
                "n_events": int(e_tr.sum()),
                "c_harrell": _metric(notes, lab, concordance_index, t_tr, e_tr, risk),
                "c_uno": _metric(notes, lab, concordance_index_uno, res, ev, risk, tau=w, **ref),
                "auc": _metric(notes, lab, time_dependent_auc, res, ev, risk, [w], **ref),
                "brier": _metric(notes, lab, brier_score, res, ev, surv[:, j : j + 1], [w], **ref),
            }
        )
    return rows


def _evaluate(result: BenchmarkResult, cohort: Any, folds: list[Any]) -> None:
    cfg = result.config
    lms, wins = list(cfg.landmarks or []), list(cfg.windows or [])
    p = cohort.patients.set_index("patient_id")
    n_folds = {r: sum(f.replicate == r for f in folds) for r in {f.replicate for f in folds}}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for r in sorted(n_folds):
        seed = cfg.seed_list[r]
        for spec in cfg.models:
            mine = [c for c in result.cells if c.model == spec.name and c.replicate == r]
            if len(mine) != n_folds[r] or any(c.status != "ok" or c.frame is None for c in mine):
                continue
            frame = pd.concat([c.frame for c in mine], ignore_index=True)
            for s in lms:
                f = frame[frame["landmark"] == s].sort_values("patient_id")
                if f.empty:
                    continue
                ids = f["patient_id"].astype(str).to_numpy()
                ref = p[p["time"] > s]
                surv = f[[f"w{j}" for j in range(len(wins))]].to_numpy(np.float64)
                metrics = dynamic_metrics(
                    p.loc[ids, "time"].to_numpy(),
                    p.loc[ids, "event"].to_numpy(),
                    surv,
                    s,
                    wins,
                    ref["time"].to_numpy(),
                    ref["event"].to_numpy(),
                    notes,
                    f"seed {seed}, {spec.name},",
                )
                rows += [
                    {"seed": seed, "model": spec.name, "landmark": s, "window": w, **m}
                    for w, m in zip(wins, metrics, strict=True)
                ]
    unit = cohort.schema.time_unit
    long = pd.DataFrame(
        rows,
        columns=["seed", "model", "landmark", "window", "n_at_risk", "n_events", *DYNAMIC_METRICS],
    )
    agg = mean_sd(long, ["model", "landmark", "window"], DYNAMIC_METRICS)
    counts = long.groupby(["model", "landmark", "window"], sort=False)[
        ["n_at_risk", "n_events"]
    ].first()
    agg.insert(3, "n_at_risk", counts["n_at_risk"].to_numpy() if len(agg) else [])
    agg.insert(4, "n_events", counts["n_events"].to_numpy() if len(agg) else [])
    status = model_status(result)
    missing = [m for m in status["model"] if m not in set(agg["model"])]
    lookup = status.set_index("model")
    if missing:
        extra = [
            {"model": m, "landmark": s, "window": w, "n_seeds": 0}
            for m in missing
            for s in lms
            for w in wins
        ]
        agg = pd.concat([agg, pd.DataFrame(extra)], ignore_index=True)
    agg["status"] = [
        "ok"
        if lookup.loc[m, "status"] == "ok"
        else f"{lookup.loc[m, 'status']}: {lookup.loc[m, 'message']}"
        for m in agg["model"]
    ]
    for t, kind in ((long, "dynamic"), (agg, "dynamic_seeds")):
        for col in ("landmark", "window"):
            if len(t) and np.all(np.mod(t[col].to_numpy(float), 1.0) == 0):
                t[col] = t[col].astype(int)
        t.attrs.update({"kind": kind, "time_unit": unit})
    result.tables.update({"dynamic": long, "dynamic_seeds": agg, "models": status})
    result.tables["timings"], result.tables["timings_by_model"] = timings_tables(result.cells)
    result.notes = list(dict.fromkeys(notes))


def _write(result: BenchmarkResult, cohort: Any) -> None:
    from oncofusion.benchmark.report import design_text, write_meta
    from oncofusion.evaluation import markdown_table, write_tables

    cfg, t, out = result.config, result.tables, result.out_dir
    assert out is not None
    write_tables(t, out / "tables")
    unit = cohort.schema.time_unit
    lines = [
        f"# Dynamic benchmark: {cohort.name}",
        "",
        (
            f"Cohort `{cfg.cohort}`: {len(cohort)} patients, "
            f"{int(cohort.patients['event'].sum())} events; time in {unit}. Landmarks s = "
            f"{', '.join(f'{s:g}' for s in cfg.landmarks or [])}; horizons Δt = "
            f"{', '.join(f'{w:g}' for w in cfg.windows or [])} {unit}; among patients alive and "
            "uncensored at s, from data up to s."
        ),
        f"Design: {design_text(cfg.model_copy(update={'cv': cfg.cv or 5}))}.",
        "",
        "## Models",
        "",
        markdown_table(t["models"]),
        "## Mean ± SD over repeats",
        "",
        markdown_table(t["dynamic_seeds"]),
        "## Wall time per model",
        "",
        markdown_table(t["timings_by_model"]),
    ]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    with atomic_write(out / "report.md", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines).rstrip() + "\n")
    write_meta(result, cohort, None)


def run_dynamic_benchmark(
    config: BenchmarkConfig, *, progress: ProgressHook | None = None
) -> BenchmarkResult:
    """Run a landmark benchmark (``config.landmarks`` x ``config.windows``); write its outputs.

    Models must be dynamic runners (``landmark_cox``, ``landmark_rsf``,
    ``landmark_supermodel``, ``dynamic_deephit``, ``dmanet``, ...). Landmark models are fitted
    at the benchmark's landmarks with a window equal to the largest horizon.

    Returns
    -------
    BenchmarkResult
        ``tables["dynamic"]`` (per repeat: ``seed, model, landmark, window, n_at_risk,
        n_events, c_harrell, c_uno, auc, brier``), ``tables["dynamic_seeds"]`` (mean ± SD
        over repeats, with ``status``), ``models``, ``timings``, ``timings_by_model``.
    """
    from oncofusion.data import load_cohort

    if not config.dynamic:
        raise OncofusionError(
            "run_dynamic_benchmark needs 'landmarks' and 'windows' in the config."
        )
    check_models(config, dynamic=True)
    cohort = load_cohort(config.cohort)
    lms, wins = [float(s) for s in config.landmarks or []], [float(w) for w in config.windows or []]
    folds = make_folds(cohort, config)
    opts = {
        s.name: {**model_options(s, config, cohort), "landmarks": lms, "window": max(wins)}
        for s in config.models
    }
    cache = ResultCache(Path(config.out) / "cache", enabled=config.cache)
    cells = run_cells(
        cohort,
        config,
        folds,
        lambda m, test: landmark_frame(m, test, lms, wins),
        {"landmarks": lms, "windows": wins},
        cache,
        options=opts,
        progress=progress,
    )
    result = BenchmarkResult(config=config, cells=cells, options=opts, out_dir=Path(config.out))
    _evaluate(result, cohort, folds)
    _write(result, cohort)
    return result
