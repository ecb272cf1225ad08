"""``patient_report``: one self-contained HTML page (and optionally a PDF) per patient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.report.patient_data import PatientReportData, build_patient_data

__all__ = ["patient_report", "patient_view", "render_patient"]


def _fmt_time(t: float) -> str:
    return f"{t:.4g}"


def patient_view(d: PatientReportData) -> dict[str, Any]:
    """Template values derived from the report data (formatting, no computation)."""
    from oncofusion.report._style import pct, pct_pair, signed_points
    from oncofusion.report.context import training_ranges
    from oncofusion.report.outcomes import risk_at

    ctx = d.ctx
    h_row = next((r for r in d.horizon_risks if np.isclose(r[0], d.horizon)), (d.horizon, 0.0, None, None))
    view: dict[str, Any] = {
        "model_name": ctx.model_name, "version": ctx.version, "card": ctx.card,
        "headline_risk": h_row[1], "headline_low": h_row[2], "headline_high": h_row[3],
        "n_warnings": sum(f.severity == "warning" for f in d.flags),
        "warning_categories": sorted({f.category for f in d.flags if f.severity == "warning"}),
    }
    if d.arms is not None:
        view["curve_caption"] = (f"Cumulative risk of death under {d.arms.reference} from baseline data "
                                 "(higher is worse; 100% minus overall survival).")
    else:
        view["curve_caption"] = "Cumulative risk of the event from baseline data (higher is worse)."
    hp = ctx.card.get("training", {}).get("hyperparameters")
    if hp:
        import yaml

        view["hyper_yaml"] = yaml.safe_dump(hp, sort_keys=False)
    else:
        view["hyper_yaml"] = ""
    if d.tier is not None:
        th = d.tier.thresholds
        view["tier_cuts"] = pct_pair(th.low_below, th.high_from, d.tier.risk)
        view["gauge_marker"] = round(gauge_position(d.tier.risk, th.low_below, th.high_from), 2)
    pts = [u for u in d.updates if u.risk is not None]
    followup = [u for u in pts if u.time > d.updates[0].time] if d.updates else []
    view["latest"] = followup[-1] if followup else None
    view["n_updates"] = len(followup)
    view["has_followup"] = any(u.time > d.updates[0].time for u in d.updates) if d.updates else False
    rows, prev = [], None
    for u in d.updates:
        rows.append({"time": _fmt_time(u.time),
                     "markers": ", ".join(f"{k} {v:g}" for k, v in u.measured.items()) or "—",
                     "risk": pct(u.risk) if u.risk is not None else "past the horizon",
                     "change": "—" if prev is None or u.risk is None else f"{signed_points(u.risk - prev)} points"})
        prev = u.risk if u.risk is not None else prev
    view["update_rows"] = rows
    if d.attention is not None and len(d.attention):
        crit = d.attention[d.attention["critical"]].sort_values("rank")
        view["critical"] = ", ".join(f"{_fmt_time(t)} {d.time_unit} (α = {a:.2f})"
                                     for t, a in zip(crit["time"], crit["alpha"], strict=True))
    else:
        view["critical"] = ""
    if d.arms is not None:
        rec = d.arms.recommendation
        view["initial_arm"] = str(rec["recommended"])
        arm_rows = []
        for arm in d.arms.arms:
            tags = []
            if arm == rec["recommended"]:
                tags.append("recommended" if rec["preference"] == arm else "best estimate")
            if arm == d.arms.received:
                tags.append("received")
            os_ = d.arms.p_os[arm]
            lc = d.arms.p_lc.get(arm)
            curve = d.arms.os_curves[arm]
            os_by_h = [(h, pct(1 - risk_at(curve.times, curve.risk, h))) for h in d.horizons]
            lc_by_h = []
            if d.arms.lc.get(arm) is not None:
                times, p_lc, _, _ = d.arms.lc[arm]  # type: ignore[misc]
                lc_by_h = [(float(t), pct(float(p))) for t, p in zip(times, p_lc, strict=True)]
            arm_rows.append({
                "arm": arm, "tags": ", ".join(tags), "os_by_h": os_by_h, "lc_by_h": lc_by_h,
                "p_os": f"{pct(os_[0])} {_range(os_)}",
                "p_lc": "—" if lc is None else f"{pct(lc[0])} {_range(lc)}",
                "utility": f"{float(rec[f'utility_{arm}']):.3f}",
            })
        view["arm_rows"] = arm_rows
    expl = d.explanation
    view["gradcam"] = None
    view["imaging_kind"] = "slice" if getattr(ctx.model.schema, "imaging", None) == "volume" else "frame"
    shape = getattr(getattr(getattr(ctx.model, "config", None), "data", None), "image_shape", None)
    view["image_shape"] = " × ".join(str(x) for x in shape) if shape else "the model's input size"
    view["cross"] = ""
    view["decision"] = None
    if d.decision is not None and d.arms is not None:
        from oncofusion.report.decision import decision_view

        view["decision"] = decision_view(d.decision, d.arms.recommendation, d.labels, d.time_unit,
                                         kind=view["imaging_kind"])
        view["decision"]["roi_step"] = getattr(ctx.model, "segmenter", None) is not None
    if expl is not None:
        if expl.frames is not None:
            from oncofusion.report.static import gradcam_overlay

            view["gradcam"] = gradcam_overlay(expl, view["imaging_kind"])
        if expl.cross_attention is not None:
            view["cross"] = ", ".join(f"{r.key} {r.weight:.2f}" for r in expl.cross_attention.itertuples()
                                      if r.present)
    ranges = training_ranges(ctx)
    view["ranges_source"] = (f"observed ranges of the {ranges.get('n_patients', '')} training patients, "
                             f"from the {ranges['source']}" if ranges else
                             "training range not available: values are compared with the training mean ± 4 SD")
    return view


def gauge_position(risk: float, low_below: float, high_from: float) -> float:
    """Where a risk sits on the tier gauge (percent of its width): three equal thirds,
    linear in risk inside each ([0, low) -> [0, 33.3), [low, high) -> [33.3, 66.7), ...)."""
    knots = [0.0, low_below, high_from, 1.0]
    pos = [0.0, 100 / 3, 200 / 3, 100.0]
    if high_from <= low_below:  # tied thresholds: no intermediate tier
        return 100 / 6 if risk < low_below else 500 / 6
    return float(min(max(np.interp(risk, knots, pos), 0.8), 99.2))


def _range(stat: tuple[float, float | None, float | None]) -> str:
    from oncofusion.report._style import pct_range

    return pct_range(stat[1], stat[2])


def _charts(d: PatientReportData, interactive: bool) -> dict[str, str | None]:
    expl = d.explanation
    if d.decision is not None and d.decision.has_shap:
        expl = d.decision.explanations["benefit"]  # the decision report charts the benefit's SHAP values
    has_shap = expl is not None and expl.shap is not None and len(expl.shap)
    contributions = expl is not None and d.decision is None  # the decision report has them as a table
    if interactive:
        from oncofusion.report import charts as c

        os_div, lc_div = c.arm_charts(d) if d.arms is not None else (None, None)
        return {
            "risk": c.risk_curve_chart(d), "updates": c.updates_chart(d) if d.updates else None,
            "biomarkers": c.biomarker_chart(d) if d.biomarkers is not None else None,
            "os": os_div, "lc": lc_div, "shap": c.shap_chart(expl, names=d.labels) if has_shap else None,
            "contributions": c.contribution_chart(expl) if contributions else None,
        }
    from oncofusion.report import static as s

    def img(uri: str, alt: str) -> str:
        return f'<img class="figure" src="{uri}" alt="{alt}">'

    return {
        "risk": img(s.risk_curve_png(d), "risk curve"),
        "updates": img(s.updates_png(d), "updates") if d.updates else None,
        "biomarkers": img(s.biomarker_png(d), "biomarkers") if d.biomarkers is not None else None,
        "os": img(s.arms_png(d), "outcomes per arm") if d.arms is not None else None, "lc": None,
        "shap": img(s.shap_png(expl, names=d.labels), "SHAP") if has_shap else None,
        "contributions": img(s.contribution_png(expl), "modality contributions") if contributions else None,
    }


def render_patient(d: PatientReportData, *, interactive: bool = True) -> str:
    """The patient page: ``interactive`` (plotly, arm tabs) or the print variant (PNG charts)."""
    from oncofusion.report.render import render_template

    view = patient_view(d)
    charts = _charts(d, interactive)
    if not interactive and d.arms is not None:
        charts["lc"] = None  # one static figure holds OS and LC side by side
    return render_template("patient.html", d=d, v=view, charts=charts, interactive=interactive,
                           generated=d.generated)


def patient_report(model_or_run_dir: Any, cohort: Any = None, patient_id: str | None = None, *,
                   out: str | Path | None = None, pdf: str | Path | None = None,
                   run_dir: str | Path | None = None, n_draws: int = 40, explain: bool = True,
                   seed: int = 0, shap_nsamples: int | str = "auto") -> str:
    """One patient's report: a self-contained interactive HTML page (and optionally a PDF).

    Parameters
    ----------
    model_or_run_dir
        A run directory of ``oncofusion train``, or a loaded model (then pass ``run_dir``
        for its model card, risk tiers and training ranges).
    cohort
        A :class:`~oncofusion.data.Cohort` or cohort directory holding the patient, in the
        model's format; default the run's training cohort.
    patient_id
        The patient.
    out
        Where to write the HTML (atomically); the HTML is returned either way.
    pdf
        Where to write the PDF (print variant with static charts, via WeasyPrint).
    run_dir
        The run directory of a model passed as an object.
    n_draws
        Monte-Carlo-dropout passes for the uncertainty bands (0: none).
    explain
        Compute Grad-CAM, SHAP and modality contributions (for MM-Care: of the treatment
        decision, :func:`oncofusion.explain.explain_decision`).
    seed
        Seed of the dropout passes and of SHAP: the same seed gives the same report.
    shap_nsamples
        Kernel SHAP coalitions (``"auto"``: every coalition up to 11 variables, else
        ``2 M + 2048`` for ``M`` variables).

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> html = patient_report("runs/dmanet", None, "P0042", out="P0042.html")  # doctest: +SKIP
    """
    from oncofusion.errors import ConfigError
    from oncofusion.report.context import run_context
    from oncofusion.report.render import write_html, write_pdf

    if patient_id is None:
        raise ConfigError("patient_report needs patient_id= (a patient_id of the cohort).")
    ctx = run_context(model_or_run_dir, run_dir=run_dir)
    if cohort is None:
        cohort = ctx.training_cohort()
        if cohort is None:
            raise ConfigError("no cohort was given and the run's training cohort is not available. "
                              "Fix: pass the cohort directory holding the patient (--cohort DIR).")
    elif isinstance(cohort, str | Path):
        from oncofusion.data import load_cohort

        cohort = load_cohort(cohort, check_images=False)
    data = build_patient_data(ctx, cohort, str(patient_id), n_draws=n_draws, explain=explain, seed=seed,
                              shap_nsamples=shap_nsamples)
    html = render_patient(data, interactive=True)
    if out is not None:
        write_html(html, out)
    if pdf is not None:
        write_pdf(render_patient(data, interactive=False), pdf)
    return html
