"""Interactive (plotly) charts of a patient report; each returns an HTML ``<div>``.

Risks are shown in percent; the band of a curve is the MC-dropout band described in
:mod:`oncofusion.report.outcomes`. Per-arm traces carry ``meta = arm`` so the arm tabs of
the page can highlight one arm (``Plotly.restyle`` in the page's script).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oncofusion.report._style import (
    BAND_COLOR,
    DECREASE,
    INCREASE,
    LAYOUT,
    RISK_COLOR,
    arm_color,
    direction_colors,
    new_figure,
    pct,
    plotly_div,
    signed_points,
)

__all__ = [
    "arm_charts",
    "biomarker_chart",
    "contribution_chart",
    "risk_curve_chart",
    "shap_chart",
    "shap_rows",
    "shap_value_text",
    "target_value_text",
    "updates_chart",
]


def _band(fig: Any, x: np.ndarray, low: np.ndarray, high: np.ndarray, color: str, name: str, group: str,
          meta: str | None = None, **kw: Any) -> None:
    import plotly.graph_objects as go

    fig.add_trace(go.Scatter(x=x, y=100 * high, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                             legendgroup=group, meta=meta, **kw))
    fig.add_trace(go.Scatter(x=x, y=100 * low, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=color,
                             name=name, legendgroup=group, hoverinfo="skip", meta=meta, **kw))


def risk_curve_chart(data: Any) -> str:
    """Cumulative risk over time with its band, the horizons marked."""
    import plotly.graph_objects as go

    c, unit = data.curve, data.time_unit
    fig = new_figure(xaxis_title=f"Time since baseline ({unit})", yaxis_title="Cumulative risk (%)",
                     legend={"orientation": "h", "y": -0.25})
    if c.low is not None:
        _band(fig, c.times, c.low, c.high, BAND_COLOR, "MC-dropout band (5th–95th pct.)", "band")
    hover = [f"{t:g} {unit}: {100 * r:.1f}%" + (f" (band {100 * lo:.1f}–{100 * hi:.1f}%)" if c.low is not None else "")
             for t, r, lo, hi in zip(c.times, c.risk, c.low if c.low is not None else c.risk,
                                     c.high if c.high is not None else c.risk, strict=True)]
    fig.add_trace(go.Scatter(x=c.times, y=100 * c.risk, mode="lines+markers", name="predicted risk",
                             line={"color": RISK_COLOR, "width": 3}, marker={"size": 5}, text=hover, hoverinfo="text"))
    for h, r, _, _ in data.horizon_risks:
        fig.add_vline(x=h, line={"dash": "dot", "color": "#888", "width": 1})
        fig.add_annotation(x=h, y=100 * r, text=f"{pct(r)} by {h:g}", showarrow=True, arrowhead=2, ax=-30,
                           ay=-25, font={"size": 11})
    fig.update_yaxes(range=[0, risk_axis_max(c.high if c.high is not None else c.risk)])
    return plotly_div(fig, "chart-risk", height=380)


def risk_axis_max(*risks: Any) -> float:
    """Upper end of a risk axis in percent: 0-100 when risks are large, zoomed in for small
    ones (so 3% and 9% are told apart), always starting at 0."""
    top = max(float(np.nanmax(np.asarray(r, dtype=float))) for r in risks if r is not None and len(r))
    return float(min(100.0, max(10.0, np.ceil(130 * top / 5) * 5)))


def updates_chart(data: Any) -> str:
    """Left: risk by the horizon after each visit; right: the conditional curve after each visit."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    unit, H = data.time_unit, data.horizon
    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.1,
                        subplot_titles=(f"Risk by {H:g} {unit}, after each visit",
                                        "Risk curve after each visit (given event-free then)"))
    fig.update_layout(**LAYOUT)
    pts = [u for u in data.updates if u.risk is not None]
    prev = None
    text = []
    for u in pts:
        marks = ", ".join(f"{k} {v:g}" for k, v in u.measured.items()) or "no marker measured"
        change = "" if prev is None else f"<br>change: {100 * (u.risk - prev):+.1f} points"
        text.append(f"visit at {u.time:g} {unit}<br>{marks}<br>risk by {H:g}: {100 * u.risk:.1f}%{change}")
        prev = u.risk
    fig.add_trace(go.Scatter(x=[u.time for u in pts], y=[100 * u.risk for u in pts], mode="lines+markers",
                             name=f"risk by {H:g} {unit}", line={"color": RISK_COLOR, "width": 3},
                             marker={"size": 9}, text=text, hoverinfo="text", showlegend=False), row=1, col=1)
    n = max(len(data.updates), 1)
    for i, u in enumerate(data.updates):
        shade = 0.35 + 0.65 * (i + 1) / n
        fig.add_trace(go.Scatter(x=u.curve.times, y=100 * u.curve.risk, mode="lines",
                                 name=f"after visit at {u.time:g}", line={"color": f"rgba(142,27,61,{shade:.2f})"},
                                 showlegend=n <= 6 or i in (0, n - 1),
                                 hovertemplate="%{x:g} " + unit + ": %{y:.1f}%<extra>after visit at "
                                 + f"{u.time:g}</extra>"), row=1, col=2)
    fig.update_xaxes(title_text=f"Visit time ({unit})", row=1, col=1)
    fig.update_xaxes(title_text=f"Time since baseline ({unit})", row=1, col=2)
    top = risk_axis_max([u.risk for u in pts], *[u.curve.risk for u in data.updates])
    fig.update_yaxes(title_text="Risk (%)", range=[0, top], row=1, col=1)
    fig.update_yaxes(range=[0, top], row=1, col=2)
    fig.update_layout(legend={"orientation": "h", "y": -0.3}, margin={"t": 60})
    return plotly_div(fig, "chart-updates", height=400)


def arm_charts(data: Any) -> tuple[str, str | None]:
    """Overall survival and local control under each arm (two charts, side by side)."""
    import plotly.graph_objects as go

    view, unit = data.arms, data.time_unit
    arms = view.arms
    os_fig = new_figure(title={"text": "Overall survival P<sub>OS</sub>(t)", "x": 0.02},
                        xaxis_title=f"Time since baseline ({unit})", yaxis_title="Probability alive (%)",
                        legend={"orientation": "h", "y": -0.25})
    for arm in arms:
        c, col = view.os_curves[arm], arm_color(arms, arm)
        if c.low is not None:
            _band(os_fig, c.times, 1 - c.high, 1 - c.low, _alpha(col), f"{arm} band", arm, meta=arm)
        os_fig.add_trace(go.Scatter(x=c.times, y=100 * (1 - c.risk), mode="lines+markers", name=arm, meta=arm,
                                    legendgroup=arm, line={"color": col, "width": 3},
                                    hovertemplate="%{x:g} " + unit + ": %{y:.1f}%<extra>" + arm + "</extra>"))
    os_fig.add_vline(x=view.decision_horizon, line={"dash": "dot", "color": "#888"})
    os_fig.update_yaxes(range=[0, 100])
    lc_div = None
    if any(v is not None for v in view.lc.values()):
        lc_fig = new_figure(title={"text": "Local control P<sub>LC</sub>(t)", "x": 0.02},
                            xaxis_title=f"Time since baseline ({unit})", yaxis_title="Probability of local control (%)",
                            legend={"orientation": "h", "y": -0.25})
        for arm in arms:
            lc = view.lc[arm]
            if lc is None:
                continue
            times, p, lo, hi = lc
            err = None
            if lo is not None:
                err = {"type": "data", "symmetric": False, "array": 100 * (hi - p), "arrayminus": 100 * (p - lo)}
            lc_fig.add_trace(go.Scatter(x=times, y=100 * p, mode="lines+markers", name=arm, meta=arm, legendgroup=arm,
                                        line={"color": arm_color(arms, arm), "width": 3}, marker={"size": 9},
                                        error_y=err, hovertemplate="%{x:g} " + unit + ": %{y:.1f}%<extra>" + arm
                                        + "</extra>"))
        lc_fig.update_yaxes(range=[0, 100])
        lc_div = plotly_div(lc_fig, "chart-lc", height=360)
    return plotly_div(os_fig, "chart-os", height=360), lc_div


def _alpha(hex_color: str, a: float = 0.18) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


def shap_rows(shap: pd.DataFrame, top: int = 10, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The ``top`` variables by :math:`|\\phi|` and one row lumping the rest (if any);
    ``names`` gives variables in clinical words (the cohort's ``labels:``)."""
    df = shap.sort_values("rank").reset_index(drop=True)
    words = names or {}
    labels = []
    for _, r in df.iterrows():
        labels.append(f"{words.get(r['variable'], r['variable'])} = {shap_value_text(r)}")
    out = pd.DataFrame({"label": labels, "shap": df["shap"].astype(float)})
    if len(out) > top:
        rest = out.iloc[top:]
        out = pd.concat([out.iloc[:top], pd.DataFrame({"label": [f"{len(rest)} other variables"],
                                                       "shap": [rest["shap"].sum()]})], ignore_index=True)
    return out


def _short(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):.3g}"
    return str(v)


def shap_value_text(row: Any) -> str:
    """A SHAP table row's value as shown: the level, the number, or "missing (imputed)"."""
    if bool(row["missing"]):
        return "missing (imputed)"
    return "—" if row["value"] is None else _short(row["value"])


def target_value_text(target: Any, value: float) -> str:
    """A probability target in percent; any other (the expected benefit) in signed points."""
    if getattr(target, "is_probability", True):
        return pct(value)
    return f"{signed_points(value)} points"


def target_axis_title(target: Any) -> str:
    if getattr(target, "is_probability", True):
        return f"{target.label} (%)"
    return f"{target.label} (points of utility)"


def shap_chart(expl: Any, *, div_id: str = "chart-shap", names: dict[str, str] | None = None) -> str:
    """Waterfall from the average prediction :math:`\\phi_0` to this patient's, in points of risk
    (of utility for the expected benefit of a treatment)."""
    import plotly.graph_objects as go

    rows = shap_rows(expl.shap, names=names).iloc[::-1]
    up, down = direction_colors(expl.target)
    base = float(expl.shap_base_value)
    labels = [*rows["label"], "this patient"]
    values = [*(100 * rows["shap"]), 0.0]
    path = 100 * (base + np.concatenate([[0.0], np.cumsum(rows["shap"].to_numpy(float))]))
    span = max(float(path.max() - path.min()), 1e-3)
    fig = new_figure(xaxis_title=target_axis_title(expl.target), margin={"l": 190, "r": 70, "t": 45, "b": 50},
                     showlegend=False)
    fig.add_trace(go.Waterfall(orientation="h", y=labels, x=values, base=100 * base,
                               measure=[*["relative"] * len(rows), "total"],
                               increasing={"marker": {"color": up}}, decreasing={"marker": {"color": down}},
                               totals={"marker": {"color": "#555"}}, connector={"line": {"color": "#bbb"}},
                               text=[*[signed_points(v) for v in rows["shap"]],
                                     target_value_text(expl.target, expl.prediction)],
                               textposition="outside", cliponaxis=False, hoverinfo="y+text"))
    fig.add_vline(x=100 * base, line={"dash": "dot", "color": "#555"})
    fig.add_annotation(x=100 * base, y=1.0, yref="paper", yanchor="bottom", showarrow=False, font={"size": 11},
                       text=f"average over background: {target_value_text(expl.target, base)}")
    fig.update_xaxes(range=[path.min() - 0.35 * span, path.max() + 0.35 * span])
    return plotly_div(fig, div_id, height=max(260, 34 * len(labels) + 80))


def biomarker_chart(data: Any) -> str:
    """Each marker over time (raw units), critical visits highlighted; attention per visit below."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bm, att, unit = data.biomarkers, data.attention, data.time_unit
    markers = [m for m in data.ctx.model.schema.biomarkers if m in bm]
    rows = len(markers) + (1 if att is not None and len(att) else 0)
    titles = [*markers, f"Temporal attention α over the visits (read after the visit at {data.attention_landmark:g})"
              ] if rows > len(markers) else markers
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=titles)
    fig.update_layout(**LAYOUT)
    for i, m in enumerate(markers, start=1):
        sub = bm[["time", m]].dropna()
        crit = critical_mask(sub["time"], att)
        sizes = [13 if c else 7 for c in crit]
        colors = ["#c62828" if c else "#1f5fa8" for c in crit]
        fig.add_trace(go.Scatter(x=sub["time"], y=sub[m], mode="lines+markers", name=m, showlegend=False,
                                 line={"color": "#1f5fa8"}, marker={"size": sizes, "color": colors},
                                 hovertemplate="%{x:g} " + unit + ": %{y:.3g}<extra>" + m + "</extra>"), row=i, col=1)
        fig.update_yaxes(title_text=m, row=i, col=1)
    if rows > len(markers):
        gaps = np.diff(np.sort(att["time"].to_numpy(float)))
        span = max(float(att["time"].max() - att["time"].min()), 1.0)
        width = float(min(0.6 * gaps[gaps > 0].min(), 0.03 * span)) if (gaps > 0).any() else 0.03 * span
        fig.add_trace(go.Bar(x=att["time"], y=att["alpha"], name="attention α", showlegend=False, width=width,
                             marker={"color": ["#c62828" if c else "#9fb7d3" for c in att["critical"]]},
                             hovertemplate="visit at %{x:g}: α = %{y:.2f}<extra></extra>"), row=rows, col=1)
        fig.update_yaxes(title_text="α", range=[0, min(1.0, 1.25 * float(att["alpha"].max()))], row=rows, col=1)
    fig.update_xaxes(title_text=f"Time since baseline ({unit})", row=rows, col=1)
    t_max = max(float(bm["time"].max()), 1.0)
    fig.update_xaxes(range=[min(float(bm["time"].min()), 0.0) - 0.04 * t_max, 1.04 * t_max])
    return plotly_div(fig, "chart-biomarkers", height=170 * rows + 80)


def critical_mask(times: Any, att: pd.DataFrame | None) -> np.ndarray:
    """Which ``times`` are critical visits (matched with a tolerance: the attention table's
    times went through float32)."""
    t = np.asarray(times, dtype=float)
    if att is None or not len(att):
        return np.zeros(t.shape, dtype=bool)
    crit = att.loc[att["critical"], "time"].to_numpy(float)
    return np.isclose(t[:, None], crit[None, :], atol=1e-4).any(axis=1) if crit.size else np.zeros(t.shape, bool)


def contribution_chart(expl: Any) -> str:
    """Change of the explained risk when each modality is masked (positive: it raises the risk)."""
    import plotly.graph_objects as go

    df = expl.contributions
    colors = [INCREASE if v > 0 else DECREASE for v in df["contribution"]]
    text = [f"{signed_points(v)} points" if p else "not available" for v, p in zip(df["contribution"], df["present"],
                                                                                    strict=True)]
    fig = new_figure(yaxis_title="Contribution (points of risk)", margin={"l": 60, "r": 20, "t": 20, "b": 40})
    fig.add_trace(go.Bar(x=df["modality"], y=100 * df["contribution"], marker={"color": colors}, text=text,
                         textposition="outside", hovertemplate="%{x}: %{text}<extra></extra>"))
    return plotly_div(fig, "chart-contributions", height=300)
