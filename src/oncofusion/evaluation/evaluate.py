"""A complete evaluation of one or more models on a test set: tables, figures, a Markdown report.

This is what ``oncofusion evaluate`` and ``oncofusion benchmark`` call. The output directory
is written atomically: it appears complete (``report.md``, ``meta.json``, ``tables/*.csv``,
``tables/*.md``, ``figures/*.png``) or not at all.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import ConfigError
from oncofusion.evaluation import figures as figs
from oncofusion.evaluation._compute import METRICS, EvaluationWarning
from oncofusion.evaluation.markdown import markdown_table, write_tables
from oncofusion.evaluation.predictions import PredictionSet, align_predictions
from oncofusion.evaluation.tables import (
    ablation_table,
    calibration_curve_table,
    comparison_table,
    decision_table,
    summary_table,
    threshold_table,
    time_table,
)
from oncofusion.utils.io import atomic_directory, atomic_write

__all__ = ["EvaluationReport", "evaluate_predictions"]

_FINE_THRESHOLDS = np.round(np.arange(0.01, 0.96, 0.01), 2)
_SECTIONS = (
    ("summary", "Overall performance on the test set"),
    ("time", "Performance over follow-up time"),
    ("ablation", "Ablation: each model against the reference"),
    ("comparison", "Paired bootstrap comparison with the reference"),
    ("threshold", "Locked threshold (chosen on validation, applied to test)"),
    ("decision", "Decision curve analysis"),
    ("calibration", "Calibration by risk group"),
)
_FIGURE_TITLES = {
    "heatmap": "Normalised metric heatmap",
    "auc_forest": "AUC at the horizon with 95% CI",
    "time_curves": "td-AUC and Brier score over time",
    "ablation": "Ablation",
    "calibration_error": "Absolute calibration error over time",
    "calibration_curve": "Calibration curve",
    "decision_curve": "Decision curve",
}


@dataclass
class EvaluationReport:
    """The tables, figures and notes of an evaluation.

    Attributes
    ----------
    tables
        ``summary``, ``time``, ``decision``, ``calibration`` and, where they apply,
        ``ablation``, ``comparison`` (two or more models) and ``threshold`` (validation
        predictions given). See :mod:`oncofusion.evaluation.tables` for their columns.
    figures
        Figure name -> PNG path (empty when no ``out_dir`` was given).
    notes
        Every warning raised while computing (missing cells, dropped bootstrap resamples).
    """

    models: list[str]
    reference: str
    horizon: float
    time_unit: str
    n_resamples: int
    seed: int
    threshold_horizon: float | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    censoring: str = ""
    out_dir: Path | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def to_markdown(self) -> str:
        """All tables (and figure links, relative to ``out_dir``) as one Markdown document."""
        s = self.tables.get("summary")
        h, u = f"{self.horizon:g}", self.time_unit
        lines = ["# Evaluation report", ""]
        if s is not None and len(s):
            lines.append(
                f"Test set: N = {int(s['n'].iloc[0])}, events by {h} {u} = "
                f"{int(s['n_events'].iloc[0])}."
            )
        lines.append(
            f"Models: {', '.join(self.models)}; reference: {self.reference}; primary horizon "
            f"{h} {u}."
        )
        lines.append(
            f"Intervals: patient-level bootstrap, {self.n_resamples} resamples (seed "
            f"{self.seed}), 95% percentile intervals. Censoring weights (IPCW): {self.censoring}."
        )
        lines.append("")
        for key, title in _SECTIONS:
            if key not in self.tables:
                continue
            suffix = ""
            if key == "threshold" and self.threshold_horizon is not None:
                suffix = f" at {self.threshold_horizon:g} {u}"
            elif key in ("summary", "decision", "calibration", "ablation", "comparison"):
                suffix = f" at {h} {u}"
            lines += [f"## {title}{suffix}", "", markdown_table(self.tables[key])]
        if self.figures:
            lines += ["## Figures", ""]
            for name, path in self.figures.items():
                rel = Path(path)
                if self.out_dir is not None:
                    rel = Path(os.path.relpath(path, self.out_dir))
                lines += [f"![{_FIGURE_TITLES.get(name, name)}]({rel.as_posix()})", ""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        return "\n".join(lines).rstrip() + "\n"


def _named(predsets: Mapping[str, PredictionSet] | Sequence[PredictionSet]) -> list[PredictionSet]:
    if isinstance(predsets, Mapping):
        out = []
        for name, p in predsets.items():
            if not isinstance(p, PredictionSet):
                raise ConfigError(
                    f"predictions of {name!r} must be a PredictionSet, got {type(p).__name__}."
                )
            out.append(p if p.model == name else dataclasses.replace(p, model=str(name)))
        return out
    return list(predsets)


def _censoring(preds: Mapping[str, PredictionSet]) -> str:
    given = [p.train_time is not None for p in preds.values()]
    if all(given):
        return "Kaplan-Meier of the censoring in the training data"
    if not any(given):
        return "Kaplan-Meier of the censoring in the test data (no training outcomes given)"
    return "training data where given, else test data (mixed)"


def _compute(
    preds: dict[str, PredictionSet],
    ref: str,
    h: float,
    val: dict[str, PredictionSet] | None,
    th_h: float,
    n_resamples: int,
    seed: int,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    boot = {"n_resamples": n_resamples, "seed": seed}
    tables: dict[str, pd.DataFrame] = {"summary": summary_table(preds, h, **boot)}
    times = [time_table(p, **boot) for p in preds.values()]
    tables["time"] = pd.concat(times, ignore_index=True)
    tables["time"].attrs.update(times[0].attrs)
    if len(preds) > 1:
        tables["ablation"] = ablation_table(preds, ref, h)
        comps = [comparison_table(preds, ref, h, m, **boot) for m in METRICS]
        tables["comparison"] = pd.concat(comps, ignore_index=True)
        tables["comparison"].attrs.update(comps[0].attrs)
    if val:
        rows = []
        for name, p in preds.items():
            if name in val:
                rows.append(threshold_table(val[name], p, th_h))
            else:
                warnings.warn(
                    f"model {name!r} has no validation predictions, so no threshold "
                    "could be locked for it.",
                    EvaluationWarning,
                    stacklevel=3,
                )
        if rows:
            tables["threshold"] = pd.concat(rows, ignore_index=True)
            tables["threshold"].attrs.update(rows[0].attrs)
    dec = [decision_table(p, h) for p in preds.values()]
    tables["decision"] = pd.concat(dec, ignore_index=True)
    tables["decision"].attrs.update(dec[0].attrs)
    n = next(iter(preds.values())).n
    tables["calibration"] = calibration_curve_table(preds, h, n_groups=10 if n >= 300 else 5)
    fine = [decision_table(p, h, _FINE_THRESHOLDS) for p in preds.values()]
    curve = pd.concat(fine, ignore_index=True)
    curve.attrs.update(fine[0].attrs)
    return tables, curve


def _draw(
    tables: dict[str, pd.DataFrame], curve: pd.DataFrame, models: list[str], fig_dir: Path
) -> dict[str, Path]:
    colors = figs.model_colors(models)
    out = {
        "heatmap": figs.metric_heatmap(tables["summary"], fig_dir / "heatmap.png"),
        "auc_forest": figs.auc_forest_plot(
            tables["summary"], fig_dir / "auc_forest.png", colors=colors
        ),
        "time_curves": figs.time_curves_plot(
            tables["time"], fig_dir / "time_curves.png", colors=colors
        ),
    }
    if "ablation" in tables:
        out["ablation"] = figs.ablation_plot(
            tables["ablation"], fig_dir / "ablation.png", colors=colors
        )
    out["calibration_error"] = figs.calibration_error_plot(
        tables["time"], fig_dir / "calibration_error.png", colors=colors
    )
    out["calibration_curve"] = figs.calibration_curve_plot(
        tables["calibration"], fig_dir / "calibration_curve.png", colors=colors
    )
    out["decision_curve"] = figs.decision_curve_plot(
        curve, fig_dir / "decision_curve.png", colors=colors
    )
    return out


def evaluate_predictions(
    predsets: Mapping[str, PredictionSet] | Sequence[PredictionSet],
    *,
    reference: str | None = None,
    horizon: float,
    val_predsets: Mapping[str, PredictionSet] | Sequence[PredictionSet] | None = None,
    threshold_horizon: float | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    overwrite: bool = False,
) -> EvaluationReport:
    """Evaluate models on a common test set: the tables and figures of DMA-Net §3.2-3.5.

    Parameters
    ----------
    predsets
        Test-set predictions, keyed by model name (the key is the name shown), or a list.
        All models must cover the same patients with the same outcomes.
    reference
        The model others are compared with (ablation, paired bootstrap); default the first.
    horizon
        The primary horizon (e.g. 12 months) of the summary, ablation, comparison, decision
        and calibration tables.
    val_predsets
        Validation-set predictions of the same models; when given, a Youden threshold is
        locked on them at ``threshold_horizon`` and applied to the test set.
    threshold_horizon
        Horizon of the locked threshold (DMA-Net: 4 months); default ``horizon``.
    out_dir
        Where to write ``report.md``, ``meta.json``, ``tables/`` and ``figures/``
        (atomically; an existing non-empty directory is an error unless ``overwrite``).
        Without it nothing is written and no figure is drawn.
        The calibration table uses risk deciles from 300 test patients on, quintiles below.
    n_resamples, seed
        Patient-level bootstrap resamples and their seed (the same resamples for every
        metric and model).

    Returns
    -------
    EvaluationReport
        Tables, figure paths and notes; ``to_markdown()`` renders the report.
    """
    preds = align_predictions(_named(predsets))
    ref = next(iter(preds)) if reference is None else reference
    if ref not in preds:
        raise ConfigError(f"reference model {ref!r} is not among the models {list(preds)}.")
    val = align_predictions(_named(val_predsets)) if val_predsets else None
    h = float(horizon)
    th_h = h if threshold_horizon is None else float(threshold_horizon)
    first = preds[ref]
    report = EvaluationReport(
        models=list(preds),
        reference=ref,
        horizon=h,
        time_unit=first.time_unit,
        n_resamples=int(n_resamples),
        seed=int(seed),
        threshold_horizon=th_h if val else None,
        censoring=_censoring(preds),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if threshold_horizon is not None and not val:
            warnings.warn(
                "threshold_horizon was given without val_predsets, so no threshold was locked "
                "(a threshold is chosen on validation data only, never on the test set).",
                EvaluationWarning,
                stacklevel=2,
            )
        report.tables, curve = _compute(preds, ref, h, val, th_h, int(n_resamples), int(seed))
    report.notes = list(
        dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    )
    if out_dir is not None:
        final = Path(out_dir)
        report.out_dir = final
        with atomic_directory(final, overwrite=overwrite) as tmp:
            write_tables(report.tables, tmp / "tables")
            if importlib.util.find_spec("matplotlib") is None:
                report.notes.append(
                    "matplotlib is not installed, so no figure was drawn. Fix: "
                    "pip install 'oncofusion[explain]'."
                )
            else:
                drawn = _draw(report.tables, curve, report.models, tmp / "figures")
                report.figures = {k: final / v.relative_to(tmp) for k, v in drawn.items()}
            with atomic_write(tmp / "report.md", "w", encoding="utf-8") as fh:
                fh.write(report.to_markdown())
            with atomic_write(tmp / "meta.json", "w", encoding="utf-8") as fh:
                json.dump(_meta(report), fh, indent=2)
    for note in report.notes:
        warnings.warn(note, EvaluationWarning, stacklevel=2)
    return report


def _meta(report: EvaluationReport) -> dict[str, Any]:
    return {
        "models": report.models,
        "reference": report.reference,
        "horizon": report.horizon,
        "time_unit": report.time_unit,
        "threshold_horizon": report.threshold_horizon,
        "n_resamples": report.n_resamples,
        "seed": report.seed,
        "censoring": report.censoring,
        "tables": sorted(report.tables),
        "figures": {k: f"figures/{Path(v).name}" for k, v in report.figures.items()},
        "notes": report.notes,
    }
