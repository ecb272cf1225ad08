"""Evaluation of fitted models on a test set: the tables, figures and report of a paper.

From one :class:`PredictionSet` per model (survival curves on a grid for the test patients,
their outcomes and the training outcomes as censoring reference) this package builds

* tables (:mod:`.tables`, :mod:`.clinical`): overall performance with bootstrap intervals
  (DMA-Net Table 3), performance over time (Table 4), ablation (Table 5), paired bootstrap
  comparisons, a threshold locked on validation data, decision curves, calibration groups
  and mean ± SD over seeds;
* figures (:mod:`.figures`, matplotlib imported lazily): Figures 3-7, calibration and
  decision curves;
* :func:`evaluate_predictions`, which computes all of them and writes CSV, Markdown and PNG
  files atomically.
"""

from __future__ import annotations

from oncofusion.evaluation._compute import EvaluationWarning
from oncofusion.evaluation.evaluate import EvaluationReport, evaluate_predictions
from oncofusion.evaluation.markdown import format_table, markdown_table, write_tables
from oncofusion.evaluation.predictions import PredictionSet, align_predictions, surv_at
from oncofusion.evaluation.tables import (
    ablation_table,
    calibration_curve_table,
    comparison_table,
    decision_table,
    seeds_table,
    summary_table,
    threshold_table,
    time_table,
)

__all__ = [
    "EvaluationReport",
    "EvaluationWarning",
    "PredictionSet",
    "ablation_table",
    "align_predictions",
    "calibration_curve_table",
    "comparison_table",
    "decision_table",
    "evaluate_predictions",
    "format_table",
    "markdown_table",
    "seeds_table",
    "summary_table",
    "surv_at",
    "threshold_table",
    "time_table",
    "write_tables",
]
