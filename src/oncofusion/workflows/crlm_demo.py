"""The main demo: the DMA-Net study end to end on a simulated CRLM cohort.

simulate (n = 300) -> validate -> split 180/60/60 (stratified by event, stage, EMVI) ->
train DMA-Net and its unimodal variants -> a clinical Cox model and the oracle on the same
test patients -> Tables 3-5 with bootstrap CIs, figures -> the dynamic update check.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["VARIANTS", "DemoResult", "baseline_predset", "oracle_predset", "run_crlm_demo"]

#: the DMA-Net variants the demo trains: the tri-modal model and its unimodal ablations
VARIANTS = ("full", "imaging_only", "markers_only", "clinical_only")

#: relative cost of each step, for the running time estimate
_STEPS = {
    "simulate": 1, "full": 8, "imaging_only": 6, "markers_only": 1, "clinical_only": 1, "baselines": 1,
    "evaluate": 2, "reports": 2,
}


@dataclass
class DemoResult:
    out_dir: Path
    cohort_dir: Path
    runs: dict[str, Path]
    evaluation_dir: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    reports: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def oracle_predset(cohort_dir: Path, cohort: Any, ids: list[str], train: pd.DataFrame, grid: np.ndarray) -> Any:
    """The best possible prediction from baseline data (simulator truth) as a PredictionSet."""
    from oncofusion.evaluation import PredictionSet
    from oncofusion.evaluation.run import usable_horizon

    risk = pd.read_csv(cohort_dir / "truth" / "oracle_risk.csv", dtype={"patient_id": str}).set_index("patient_id")
    cols = [f"all_{int(t):02d}" for t in grid]
    pts = cohort.subset(ids).patients
    surv = 1.0 - risk.loc[pts["patient_id"], cols].to_numpy(float)
    time = pts["time"].to_numpy(float)
    return PredictionSet(
        model="oracle", patient_ids=pts["patient_id"].tolist(), time=time, event=pts["event"].to_numpy(int),
        surv=surv, grid=np.asarray(grid, float), train_time=train["time"].to_numpy(float),
        train_event=train["event"].to_numpy(int), horizons=[usable_horizon(h, time) for h in cohort.schema.horizons],
        time_unit=cohort.schema.time_unit,
    )


def baseline_predset(name: str, model: Any, cohort: Any, ids: list[str], train: pd.DataFrame, grid: np.ndarray) -> Any:
    """A fitted classical baseline's test predictions on ``grid`` as a PredictionSet."""
    from oncofusion.evaluation import PredictionSet
    from oncofusion.evaluation.run import usable_horizon

    sub = cohort.subset(ids)
    pts = sub.patients
    time = pts["time"].to_numpy(float)
    return PredictionSet(
        model=name, patient_ids=pts["patient_id"].tolist(), time=time, event=pts["event"].to_numpy(int),
        surv=model.predict_survival(sub, grid), grid=np.asarray(grid, float), train_time=train["time"].to_numpy(float),
        train_event=train["event"].to_numpy(int), horizons=[usable_horizon(h, time) for h in cohort.schema.horizons],
        time_unit=cohort.schema.time_unit,
    )


def run_crlm_demo(
    out_dir: str | Path, *, n: int = 300, seed: int = 0, config: str = "dmanet-cpu", frames: int = 8, size: int = 32,
    max_epochs: int | None = None, n_resamples: int = 1000, console: Any = None, reports: bool = True,
    variants: tuple[str, ...] = VARIANTS,
) -> DemoResult:
    """Run the whole DMA-Net story; everything goes under ``out_dir`` (resumable).

    ``variants`` are the DMA-Net variants trained (``"full"`` must be one of them); the
    unimodal ones can be left out where only the tri-modal model matters (large cohorts).
    """
    if "full" not in variants or set(variants) - set(VARIANTS):
        raise ValueError(f"variants must include 'full' and come from {list(VARIANTS)}; got {list(variants)}.")
    import warnings

    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    import oncofusion
    from oncofusion.baselines import build_baseline
    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_crlm
    from oncofusion.models.config import load_config
    from oncofusion.models.pipeline import make_splits
    from oncofusion.models.run import write_json
    from oncofusion.workflows.ablation import ablation_report, train_variants
    from oncofusion.workflows.dynamic import landmark_update_table

    start = _time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cohort_dir = out_dir / "cohort"
    overrides = {"train": {"seed": seed, **({"max_epochs": max_epochs} if max_epochs else {})}, "data": {"split": [180, 60, 60]}}
    cfg = load_config(config, overrides)
    cols = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    if console is None:
        # a console of its own: on rich's global one the trainer's live progress bar would
        # stop this one's live display (IndexError on exit)
        from rich.console import Console

        console = Console()
    with Progress(*cols, console=console, transient=False) as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = {k: v for k, v in _STEPS.items() if k not in VARIANTS or k in variants}
        task = bar.add_task("simulating the CRLM cohort", total=sum(steps.values()))
        if not (cohort_dir / "cohort.yaml").exists():
            simulate_crlm(n=n, seed=seed, out=cohort_dir, frames=frames, size=size)
        cohort = load_cohort(cohort_dir, require_events=True)
        bar.advance(task, _STEPS["simulate"])
        splits_file = out_dir / "splits.json"
        if splits_file.exists():
            from oncofusion.models.run import read_json

            splits = read_json(splits_file)
        else:
            splits = make_splits(cohort, cfg)
            write_json(splits_file, splits)
        runs: dict[str, Path] = {}
        for variant in variants:
            bar.update(task, description=f"training DMA-Net ({variant.replace('_', ' ')})")
            runs.update(train_variants(cohort, cfg, [variant], out_dir / "runs", splits=splits))
            bar.advance(task, _STEPS[variant])
        bar.update(task, description="clinical Cox model and oracle")
        train_c = cohort.subset(splits["train"])
        train = train_c.patients
        grid = np.arange(1, 13, dtype=float)
        # a small ridge keeps the screened multivariable Cox stable with 35 collinear clinical
        # variables (stage with N stage, missing-value indicators); as in the PBC2 benchmark
        cox = build_baseline("cox", use=("clinical",), penalizer=0.01).fit(train_c)
        extra = {
            "cox_clinical": baseline_predset("cox_clinical", cox, cohort, splits["test"], train, grid),
            "oracle": oracle_predset(cohort_dir, cohort, splits["test"], train, grid),
        }
        bar.advance(task, _STEPS["baselines"])
        bar.update(task, description="evaluating on the test split (bootstrap CIs)")
        eval_dir = out_dir / "evaluation"
        report = ablation_report(runs, cohort, reference="full", out_dir=eval_dir, n_resamples=n_resamples, extra_predsets=extra)
        dyn_truth = pd.read_csv(cohort_dir / "truth" / "dynamic_risk.csv", dtype={"patient_id": str})
        oracle_dyn = pd.DataFrame({"patient_id": dyn_truth["patient_id"], "baseline": np.nan, "updated": dyn_truth["m04"]})
        base_truth = pd.read_csv(cohort_dir / "truth" / "oracle_risk.csv", dtype={"patient_id": str})
        f4, f12 = base_truth["all_04"].to_numpy(), base_truth["all_12"].to_numpy()
        oracle_dyn["baseline"] = ((f12 - f4) / np.clip(1 - f4, 1e-12, None))
        dynamic = landmark_update_table(
            {"dmanet": oncofusion.load(runs["full"])}, cohort, splits["test"], landmark=4.0, horizon=12.0,
            oracle=oracle_dyn, train=train,
        )
        from oncofusion.evaluation import write_tables

        write_tables({"dynamic_update": dynamic}, eval_dir / "tables")
        bar.advance(task, _STEPS["evaluate"])
        bar.update(task, description="patient and cohort reports")
        report_paths = _reports(runs["full"], cohort, splits["test"], out_dir / "reports") if reports else []
        bar.advance(task, _STEPS["reports"])
        bar.update(task, description="done")
    tables = dict(report.tables)
    tables["dynamic_update"] = dynamic
    return DemoResult(out_dir, cohort_dir, runs, eval_dir, tables, report_paths, _time.perf_counter() - start)


def _reports(run_dir: Path, cohort: Any, test_ids: list[str], out: Path) -> list[Path]:
    """The cohort report and the reports of two test patients (one with an event, one without)."""
    from oncofusion.evaluation.run import evaluate_run
    from oncofusion.report import cohort_report, patient_report

    out.mkdir(parents=True, exist_ok=True)
    evaluate_run(run_dir, n_resamples=200)  # the run's own evaluation, read by the cohort report
    pts = cohort.subset(test_ids).patients
    chosen = []
    for has_event in (1, 0):
        rows = pts[(pts["event"] == has_event)]
        if cohort.biomarkers is not None:
            visits = cohort.biomarkers.groupby("patient_id").size()
            rows = rows.assign(v=rows["patient_id"].map(visits).fillna(0)).sort_values("v", ascending=False)
        if len(rows):
            chosen.append(str(rows.iloc[0]["patient_id"]))
    paths = [out / "cohort.html"]
    cohort_report(run_dir, out=paths[0])
    for pid in chosen:
        html, pdf = out / f"patient-{pid}.html", out / f"patient-{pid}.pdf"
        patient_report(run_dir, cohort, pid, out=html, pdf=pdf)
        paths += [html, pdf]
    return paths
