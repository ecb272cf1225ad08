"""Evaluate a saved MM-Care run: per-arm OS/LC tables, calibration, recommendation value.

``evaluate_mmcare_run(run_dir)`` predicts for the run's test patients (or another cohort)
and writes, as Markdown + CSV (and PNG figures) into ``run_dir/evaluation``:

* ``summary``: the headline numbers (3-year OS C-index and td-AUC under the arm received,
  3-year LC AUC and accuracy, agreement with the optimal arm and share of the oracle's value
  when the truth is known, IPW policy value, test Dice of the segmenter);
* ``os`` (paper Table 4 and Figure 4 per arm): C-index and td-AUC at 1/3/5 years;
* ``lc`` (Tables 3 and 5): AUC, accuracy, sensitivity, specificity at 1/3 years, the
  threshold locked on the validation patients of the arm;
* ``calibration``: Hosmer-Lemeshow (known status) and D'Agostino-Nam tests;
* ``recommendation`` (Table 7): the model's policy against everyone-surgery,
  everyone-SBRT (every arm), the FEV1/Charlson guideline (when the cohort has those columns
  and the arms are surgery and SBRT) and random choice: agreement with the true optimal arm,
  true value and its share of the oracle's where ``truth/potential_outcomes.csv`` exists
  (simulated cohorts), and the IPW estimate of the event-free probability at the decision
  horizon with a bootstrap interval (observed outcomes; arm shares as propensities for a
  randomised trial, ``decision.randomised``, else the model's propensity model);
* ``patients``: each test patient's per-arm probabilities and recommendation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import CohortError

__all__ = ["MMCareReport", "evaluate_mmcare", "evaluate_mmcare_run", "policy_table", "true_utility"]


@dataclass
class MMCareReport:
    """Tables, figures and notes of an MM-Care evaluation."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    out_dir: Path | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def to_markdown(self) -> str:
        from oncofusion.evaluation import markdown_table

        parts = []
        for name in ("summary", "os", "lc", "calibration", "recommendation"):
            if name in self.tables:
                parts += [f"## {name}", "", markdown_table(self.tables[name])]
        return "\n".join(parts)


def true_utility(
    cohort_root: Path,
    patient_ids: list[str],
    arms: list[str],
    *,
    alpha: float,
    beta: float,
    horizon: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    """True utilities :math:`\\alpha P_{OS}(\\tau) + \\beta P_{LC}(\\tau)` (n, A) and the optimal
    arm from ``truth/potential_outcomes.csv`` of a simulated cohort, or None without truth."""
    path = Path(cohort_root) / "truth" / "potential_outcomes.csv"
    if not path.is_file():
        return None
    po = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id").loc[patient_ids]
    cols_os = [f"os_{a}_{horizon:g}" for a in arms]
    cols_lc = [f"lc_{a}_{horizon:g}" for a in arms]
    if all(c in po for c in cols_os + cols_lc):
        u = alpha * po[cols_os].to_numpy(float) + beta * po[cols_lc].to_numpy(float)
    elif all(f"score_{a}" in po for a in arms):
        u = po[[f"score_{a}" for a in arms]].to_numpy(float)
    else:
        return None
    return u, np.asarray(arms, dtype=object)[u.argmax(axis=1)]


def _guideline(patients: pd.DataFrame, train: pd.DataFrame, arms: list[str]) -> np.ndarray | None:
    """FEV1 >= 80% and Charlson <= 2 -> surgery, else SBRT; missing values get the training median."""
    from oncofusion.decide import guideline_policy

    fev1 = next((c for c in ("fev1_pct", "fev1") if c in patients), None)
    cci = next((c for c in ("charlson", "cci") if c in patients), None)
    if fev1 is None or cci is None or not {"surgery", "sbrt"} <= set(arms):
        return None
    df = patients[[fev1, cci]].apply(pd.to_numeric, errors="coerce")
    df = df.fillna(train[[fev1, cci]].apply(pd.to_numeric, errors="coerce").median())
    return guideline_policy(df, fev1, cci)


def policy_table(
    rec: pd.DataFrame,
    preds: Any,
    outcomes: Any,
    *,
    cohort_root: Path,
    train: pd.DataFrame,
    alpha: float,
    beta: float,
    horizon: float,
    randomised: bool,
    seed: int,
    n_resamples: int,
    notes: list[str],
) -> pd.DataFrame | None:
    """MM-Care Table 7: the recommended policy against the comparators (see module doc)."""
    from oncofusion.decide import value_table

    arms = list(preds.arms)
    truth = true_utility(
        cohort_root, list(preds.patient_ids), arms, alpha=alpha, beta=beta, horizon=horizon
    )
    kwargs: dict[str, Any] = {}
    if truth is not None:
        kwargs.update(true_utility=truth[0], optimal=truth[1])
    idx = preds.received_index()
    if (idx >= 0).all() and outcomes.time.max() >= horizon:
        prop = None if randomised else np.clip(preds.propensity, 0.01, 0.99)
        if prop is not None:
            prop = prop / prop.sum(axis=1, keepdims=True)
        kwargs.update(
            time=outcomes.time,
            event=outcomes.event,
            received=idx,
            horizon=float(horizon),
            propensity=prop,
        )
    if not kwargs:
        notes.append(
            "recommendation: no truth and no observed arms/outcomes to evaluate the policy against"
        )
        return None
    guide = _guideline(outcomes.patients, train, arms)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return value_table(
                rec["recommended"].to_numpy(),
                arms,
                model_name="MM-Care",
                guideline=guide,
                seed=seed,
                n_resamples=n_resamples,
                **kwargs,
            )
    except (CohortError, ValueError) as e:
        notes.append(f"recommendation: {e}")
        return None


def evaluate_mmcare(
    model: Any,
    cohort: Any,
    test_ids: list[str],
    *,
    train_ids: list[str] | None,
    val_ids: list[str] | None,
    out_dir: str | Path | None = None,
    n_resamples: int | None = None,
    mc_samples: int | None = None,
    lc_model: Any | None = None,
) -> MMCareReport:
    """Evaluate ``model`` on the patients ``test_ids`` of ``cohort`` (see the module doc);
    ``train_ids`` give the censoring reference and the guideline's imputation, ``val_ids``
    the locked LC thresholds. With ``out_dir`` the tables and figures are written there.

    ``lc_model``, a second fitted MM-Care, supplies the local-control predictions (the
    "without dual-task learning" ablation: separate OS and LC models)."""
    from dataclasses import replace

    from oncofusion.models.mmcare_metrics import (
        Outcomes,
        calibration_table,
        lc_table,
        lc_thresholds,
        os_table,
    )

    notes: list[str] = []
    cfg = model.config
    pts = cohort.patients
    train = pts[pts["patient_id"].isin(train_ids)] if train_ids else pts.iloc[0:0]
    tt = train["time"].to_numpy(float) if len(train) else None
    te = train["event"].to_numpy(int) if len(train) else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        preds = model.predict_arms(cohort.subset(test_ids), mc_samples=mc_samples)
        if lc_model is not None:
            lp = lc_model.predict_arms(cohort.subset(test_ids), mc_samples=mc_samples)
            preds = replace(preds, lc_control=lp.lc_control, lc_control_draws=lp.lc_control_draws)
    notes += [str(w.message) for w in caught]
    out = Outcomes(pts, preds.patient_ids)
    tau = model.decision_horizon
    os_h = [h for h in model.horizons if h <= float(model.cuts[-1])]
    tables = {"os": os_table(preds, out, train_time=tt, train_event=te, horizons=os_h, notes=notes)}
    if len(preds.lc_horizons):
        thresholds: dict[tuple[str, float], float] = {}
        if val_ids:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                vp = (lc_model or model).predict_arms(cohort.subset(val_ids), mc_samples=0)
            thresholds = lc_thresholds(vp, Outcomes(pts, vp.patient_ids), notes)
        has_lc = (
            train["lc_time"].notna().to_numpy()
            if "lc_time" in train
            else np.zeros(len(train), bool)
        )
        ltt = train["lc_time"].to_numpy(float)[has_lc] if has_lc.any() else None
        lte = train["lc_event"].to_numpy(float)[has_lc].astype(int) if has_lc.any() else None
        tables["lc"] = lc_table(
            preds, out, thresholds=thresholds, train_time=ltt, train_event=lte, notes=notes
        )
    tables["calibration"] = calibration_table(
        preds, out, os_horizon=tau if tau <= model.cuts[-1] else os_h[-1], notes=notes
    )
    rec = preds.recommend(
        alpha=cfg.decision.alpha, beta=cfg.decision.beta, horizon=tau, ci=cfg.decision.ci
    )
    policy = policy_table(
        rec,
        preds,
        out,
        cohort_root=Path(cohort.root),
        train=train,
        alpha=cfg.decision.alpha,
        beta=cfg.decision.beta,
        horizon=tau,
        randomised=cfg.decision.randomised,
        seed=cfg.evaluation.seed,
        n_resamples=n_resamples or cfg.evaluation.n_resamples,
        notes=notes,
    )
    if policy is not None:
        tables["recommendation"] = policy
    tables["summary"] = _summary(cfg.name, tables, rec, preds, tau, model.training_summary)
    patients = rec.copy()
    patients.insert(1, "received_arm", preds.received)
    tables["patients"] = patients
    for t in tables.values():
        t.attrs["time_unit"] = model.time_unit
    report = MMCareReport(tables=tables, notes=notes)
    if out_dir is not None:
        report.out_dir = Path(out_dir)
        _write(report, preds, out, tau)
    return report


def _summary(
    name: str,
    tables: dict[str, pd.DataFrame],
    rec: pd.DataFrame,
    preds: Any,
    tau: float,
    training: dict[str, Any],
) -> pd.DataFrame:
    os_t = tables["os"]
    row: dict[str, Any] = {"model": name, "n_test": len(preds.patient_ids), "horizon": tau}
    pick = os_t[(os_t["arm"] == "received arm") & np.isclose(os_t["horizon"], tau)]
    if len(pick):
        row.update(
            os_c_index=float(pick["c_index"].iloc[0]), os_td_auc=float(pick["td_auc"].iloc[0])
        )
    if "lc" in tables:
        lc = tables["lc"]
        pick = lc[(lc["arm"] == "received arm") & np.isclose(lc["horizon"], lc["horizon"].max())]
        if len(pick):
            row.update(
                lc_auc=float(pick["auc"].iloc[0]), lc_accuracy=float(pick["accuracy"].iloc[0])
            )
    if "recommendation" in tables:
        t = tables["recommendation"].set_index("policy")
        for col, key in (
            ("agreement", "agreement"),
            ("value_share", "value_share"),
            ("ipw_value", "ipw_value"),
        ):
            if col in t:
                row[key] = float(t.loc["MM-Care", col])
    row["no_clear_preference"] = (
        float((rec["preference"] == "no clear preference").mean()) if len(rec) else np.nan
    )
    row["outside_support"] = float(np.mean(preds.outside_support)) if len(rec) else np.nan
    if "segmentation" in training:
        row["test_dice"] = float(training["segmentation"]["test_dice_mean"])
    return pd.DataFrame([row])


def _write(report: MMCareReport, preds: Any, out: Any, tau: float) -> None:
    from oncofusion.evaluation import write_tables
    from oncofusion.models.mmcare_figures import write_figures

    assert report.out_dir is not None
    report.out_dir.mkdir(parents=True, exist_ok=True)
    write_tables(report.tables, report.out_dir)
    report.figures = write_figures(report.tables, preds, out, tau, report.out_dir, report.notes)
    (report.out_dir / "notes.txt").write_text(
        "\n".join(report.notes) + ("\n" if report.notes else "")
    )


def evaluate_mmcare_run(
    run_dir: str | Path,
    cohort_dir: str | Path | None = None,
    *,
    out_dir: str | Path | None = None,
    n_resamples: int | None = None,
    overwrite: bool = True,
) -> MMCareReport:
    """Evaluate the MM-Care run in ``run_dir`` and write ``evaluation/`` and ``metrics.json``.

    The same arguments and outputs as :func:`oncofusion.evaluation.run.evaluate_run` (which
    dispatches here for runs of model ``"mmcare"``): without ``cohort_dir`` the training
    cohort's test split is evaluated; with it, every patient of that cohort.
    """
    import oncofusion
    from oncofusion.data import load_cohort
    from oncofusion.models.artifacts import write_model_card
    from oncofusion.models.run import read_json, write_checksums, write_json
    from oncofusion.utils.io import atomic_directory

    run_dir = Path(run_dir)
    model = oncofusion.load(str(run_dir))
    info = read_json(run_dir / "run.json")
    splits = read_json(run_dir / "splits.json")
    origin = Path(info.get("cohort_dir", ""))
    train_cohort = load_cohort(origin, check_images=False) if origin.is_dir() else None
    if cohort_dir is None:
        if train_cohort is None:
            raise CohortError(
                f"the training cohort '{origin}' of this run is not available, so its test split "
                "cannot be evaluated.",
                fix="pass the cohort to evaluate with --cohort.",
            )
        cohort, test_ids, default = train_cohort, splits["test"], run_dir / "evaluation"
        train_ids, val_ids = splits["train"], splits.get("val")
    else:
        cohort = load_cohort(cohort_dir, check_images=False)
        test_ids, default = cohort.patient_ids, run_dir / f"evaluation-{cohort.schema.name}"
        train_ids, val_ids = None, None
    target = Path(out_dir) if out_dir is not None else default
    with atomic_directory(target, overwrite=overwrite) as tmp:  # complete or absent
        report = evaluate_mmcare(
            model, cohort, test_ids, train_ids=train_ids, val_ids=val_ids, out_dir=tmp,
            n_resamples=n_resamples,
        )  # fmt: skip
    report.out_dir = target
    report.figures = {k: target / p.name for k, p in report.figures.items()}
    summary = {
        k: _plain(v) for k, v in report.tables["summary"].iloc[0].to_dict().items() if k != "model"
    }
    write_json(run_dir / "metrics.json", {"cohort": cohort.schema.name, "summary": summary})
    card = read_json(run_dir / "model_card.json")
    card["metrics"] = {k: v for k, v in summary.items() if isinstance(v, float) and np.isfinite(v)}
    write_model_card(run_dir, card)
    write_checksums(run_dir)
    return report


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v
