"""``cohort_report``: the run's evaluation (tables, figures, calibration and decision curves)
and its model card, as one self-contained page (and optionally a PDF)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pandas as pd

from oncofusion.errors import ConfigError

__all__ = ["cohort_report", "evaluation_dir", "evaluation_html"]

_IMG = re.compile(r'<img src="([^"]+)" alt="([^"]*)"\s*/?>')


def evaluation_dir(run_dir: Path, cohort: str | Path | None = None) -> Path:
    """``run_dir/evaluation`` (the test split) or ``run_dir/evaluation-<cohort name>``."""
    if cohort is None:
        where = run_dir / "evaluation"
        fix = f"run 'oncofusion evaluate {run_dir}' first."
    else:
        name = Path(cohort).name
        if Path(cohort).is_dir():
            import yaml

            try:
                name = str(yaml.safe_load((Path(cohort) / "cohort.yaml").read_text())["name"])
            except (OSError, KeyError, TypeError, yaml.YAMLError):
                pass
        where = run_dir / f"evaluation-{name}"
        fix = f"run 'oncofusion evaluate {run_dir} --cohort {cohort}' first."
    if not where.is_dir() or not any(where.rglob("*.md")):
        raise ConfigError(f"the run '{run_dir}' has no evaluation in '{where}'. Fix: {fix}")
    return where


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _figure(path: Path, alt: str) -> str:
    return f'<img class="figure" src="{_data_uri(path)}" alt="{html_escape(alt)}">'


def evaluation_html(eval_dir: Path) -> str:
    """The evaluation as HTML: its ``report.md`` (tables, figures inlined as data URIs; a
    figure path that leaves the evaluation folder is dropped, never fetched) or, for an
    evaluation without one (MM-Care's), every Markdown table, PNG figure and note in it."""
    if not (eval_dir / "report.md").is_file():
        return _assembled_html(eval_dir)
    text = (eval_dir / "report.md").read_text(encoding="utf-8")
    text = re.sub(r"^# .*\n", "", text, count=1)  # the page has its own title
    html = _markdown().render(text)
    root = eval_dir.resolve()

    def inline(m: re.Match[str]) -> str:
        path = (eval_dir / m.group(1)).resolve()
        if root not in path.parents or not path.is_file():
            return f'<p class="note">[figure {m.group(2)} not available]</p>'
        return _figure(path, m.group(2))

    html = _IMG.sub(inline, html)
    return _wrap(html)


def _wrap(html: str) -> str:
    html = html.replace("<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")
    return html.replace("<h2>Figures</h2>", '<h2 class="pdf-page">Figures</h2>').replace(
        "<h2>Notes</h2>", '<h2 class="pdf-page">Notes</h2>')


_ACRONYMS = {"os": "OS", "lc": "LC", "auc": "AUC", "ipw": "IPW", "dca": "DCA", "roc": "ROC"}


def _title(stem: str) -> str:
    words = stem.replace("_", " ").replace("-", " ").split()
    words = [_ACRONYMS.get(w.lower(), w) for w in words]
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]]) if words else stem


def _assembled_html(eval_dir: Path) -> str:
    md = _markdown()
    parts = []
    for path in sorted(eval_dir.glob("*.md")) + sorted((eval_dir / "tables").glob("*.md")):
        parts.append(f"<h2>{html_escape(_title(path.stem))}</h2>")
        parts.append(md.render(path.read_text(encoding="utf-8")))
    figures = sorted(eval_dir.glob("*.png")) + sorted((eval_dir / "figures").glob("*.png"))
    if figures:
        parts.append("<h2>Figures</h2>")
        for path in figures:
            parts.append(f"<h3>{html_escape(_title(path.stem))}</h3>{_figure(path, _title(path.stem))}")
    notes = eval_dir / "notes.txt"
    if notes.is_file():
        lines = [x.strip().lstrip("-• ").strip() for x in notes.read_text(encoding="utf-8").splitlines() if x.strip()]
        if lines:
            parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html_escape(x)}</li>" for x in lines) + "</ul>")
    return _wrap("\n".join(parts))


def _csv(eval_dir: Path, name: str) -> pd.DataFrame | None:
    for path in (eval_dir / "tables" / f"{name}.csv", eval_dir / f"{name}.csv"):
        if path.is_file():
            return pd.read_csv(path)
    return None


_HEADLINE = (("auc", "AUC at the horizon", "higher is better"), ("uno_c", "Uno's C-index", "higher is better"),
             ("iauc", "integrated AUC", "higher is better"), ("ibs", "integrated Brier score", "lower is better"),
             ("os_c_index", "OS C-index", "higher is better"), ("os_td_auc", "OS td-AUC", "higher is better"),
             ("lc_auc", "LC AUC", "higher is better"),
             ("value_share", "policy value / oracle", "higher is better"))


def _headline(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    s = metrics.get("summary", {})
    rows: list[tuple[str, str, str]] = []
    for key, name, better in _HEADLINE:
        if isinstance(s.get(key), int | float) and len(rows) < 4:
            ci = ""
            if isinstance(s.get(f"{key}_low"), int | float):
                ci = f"95% CI {s[f'{key}_low']:.3f}–{s[f'{key}_high']:.3f} · "
            rows.append((name, f"{s[key]:.3f}", ci + better))
    return rows


def _meta(eval_dir: Path, metrics: dict[str, Any], card: dict[str, Any], name: str) -> dict[str, Any]:
    """``meta.json`` of the evaluation, completed from the metrics and the card."""
    meta = _read_json(eval_dir / "meta.json")
    summary = metrics.get("summary", {})
    meta.setdefault("models", [name])
    meta.setdefault("horizon", metrics.get("horizon", summary.get("horizon")))
    meta.setdefault("time_unit", card.get("data", {}).get("time_unit", ""))
    evaluation = card.get("training", {}).get("hyperparameters", {}).get("evaluation", {})
    meta.setdefault("n_resamples", evaluation.get("n_resamples", "—"))
    meta.setdefault("seed", evaluation.get("seed", "—"))
    return meta


def cohort_report(run_dir: str | Path, *, out: str | Path | None = None, pdf: str | Path | None = None,
                  cohort: str | Path | None = None) -> str:
    """The cohort report of a run: evaluation tables and figures, calibration and decision
    curves (interactive), and the model card.

    Parameters
    ----------
    run_dir
        A run directory evaluated by ``oncofusion evaluate`` (``evaluation/`` in it).
    out, pdf
        Where to write the HTML and the PDF (print variant, static figures); the HTML is
        returned either way.
    cohort
        The external cohort (directory or name) of an ``evaluate --cohort`` run, to report
        ``evaluation-<name>`` instead of the test split.

    Returns
    -------
    str
        The HTML page.
    """
    from oncofusion.report import cohort_charts as cc
    from oncofusion.report.render import render_template, write_html, write_pdf

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"run directory '{run_dir}' does not exist. Fix: pass the --out of 'oncofusion train'.")
    eval_dir = evaluation_dir(run_dir, cohort)
    card = _read_json(run_dir / "model_card.json")
    metrics = _read_json(run_dir / "metrics.json")
    info = _read_json(run_dir / "run.json")
    name = str(card.get("model", {}).get("name") or info.get("model") or run_dir.name)
    meta = _meta(eval_dir, metrics, card, name)
    from oncofusion.report.context import RunContext, checksum_of

    ctx = RunContext(model=None, run_dir=run_dir, card=card, metrics=metrics, info=info, checksum=checksum_of(run_dir))
    horizon, unit = float(meta.get("horizon") or 0), str(meta.get("time_unit", ""))
    hp = card.get("training", {}).get("hyperparameters")
    import yaml

    view = {
        "model_name": name,
        "version": ctx.version, "card": card, "meta": meta, "headline": _headline(metrics),
        "cohort_name": metrics.get("cohort") or card.get("data", {}).get("cohort", ""),
        "hyper_yaml": yaml.safe_dump(hp, sort_keys=False) if hp else "",
        "body": evaluation_html(eval_dir), "external": cohort is not None,
    }
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    charts: dict[str, str | None] = {"calibration": None, "decision": None, "time": None}
    cal, dec, tim = _csv(eval_dir, "calibration"), _csv(eval_dir, "decision"), _csv(eval_dir, "time")
    if _has(cal, "model", "group", "n", "n_events", "predicted", "observed", "observed_low", "observed_high"):
        charts["calibration"] = cc.calibration_chart(cal, horizon, unit)
    if _has(dec, "model", "threshold", "net_benefit", "treat_all", "treat_none"):
        charts["decision"] = cc.decision_chart(dec, horizon, unit)
    if _has(tim, "model", "time", "auc", "brier"):
        charts["time"] = cc.time_chart(tim, unit)
    html = render_template("cohort.html", v=view, charts=charts, interactive=True, generated=generated)
    if out is not None:
        write_html(html, out)
    if pdf is not None:
        static = dict.fromkeys(charts)  # the print variant shows the evaluation's own PNG figures
        write_pdf(render_template("cohort.html", v=view, charts=static, interactive=False, generated=generated), pdf)
    return html


def _has(table: pd.DataFrame | None, *columns: str) -> bool:
    """The table exists, has rows and the columns a chart reads (another model's evaluation
    may name its tables alike with other columns: those stay tables and static figures)."""
    return table is not None and len(table) > 0 and set(columns) <= set(table.columns)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
