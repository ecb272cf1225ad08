"""Interactive (plotly) charts of a cohort report, drawn from the evaluation's CSV tables."""

from __future__ import annotations

import pandas as pd

from oncofusion.report._style import ARM_COLORS, new_figure, plotly_div

__all__ = ["calibration_chart", "decision_chart", "time_chart"]


def _colors(models: list[str]) -> dict[str, str]:
    return {m: ARM_COLORS[i % len(ARM_COLORS)] for i, m in enumerate(models)}


def calibration_chart(table: pd.DataFrame, horizon: float, unit: str) -> str:
    """Observed (Kaplan-Meier, with its interval) against mean predicted risk per risk group."""
    import plotly.graph_objects as go

    fig = new_figure(xaxis_title=f"Mean predicted risk by {horizon:g} {unit} (%)",
                     yaxis_title=f"Observed risk by {horizon:g} {unit} (%, Kaplan-Meier)",
                     legend={"orientation": "h", "y": -0.2})
    fig.add_trace(go.Scatter(x=[0, 100], y=[0, 100], mode="lines", name="perfect calibration",
                             line={"dash": "dash", "color": "#999"}, hoverinfo="skip"))
    colors = _colors(list(dict.fromkeys(table["model"])))
    for model, sub in table.groupby("model", sort=False):
        err = {"type": "data", "symmetric": False, "array": 100 * (sub["observed_high"] - sub["observed"]),
               "arrayminus": 100 * (sub["observed"] - sub["observed_low"])}
        text = [f"group {g}: n = {n}, events {e}" for g, n, e in zip(sub["group"], sub["n"], sub["n_events"], strict=True)]
        fig.add_trace(go.Scatter(x=100 * sub["predicted"], y=100 * sub["observed"], mode="lines+markers", name=str(model),
                                 error_y=err, marker={"size": 9, "color": colors[str(model)]},
                                 line={"color": colors[str(model)]}, text=text,
                                 hovertemplate="%{text}<br>predicted %{x:.1f}%<br>observed %{y:.1f}%<extra>"
                                 + str(model) + "</extra>"))
    fig.update_xaxes(range=[0, 100])
    fig.update_yaxes(range=[0, 100])
    return plotly_div(fig, "chart-calibration", height=420)


def decision_chart(table: pd.DataFrame, horizon: float, unit: str) -> str:
    """Net benefit of each model against treating everybody or nobody (Vickers & Elkin 2006)."""
    import plotly.graph_objects as go

    fig = new_figure(xaxis_title=f"Threshold probability (risk by {horizon:g} {unit})", yaxis_title="Net benefit",
                     legend={"orientation": "h", "y": -0.2})
    colors = _colors(list(dict.fromkeys(table["model"])))
    first = table[table["model"] == table["model"].iloc[0]]
    fig.add_trace(go.Scatter(x=first["threshold"], y=first["treat_all"], mode="lines", name="treat all",
                             line={"color": "#777", "dash": "dot"}))
    fig.add_trace(go.Scatter(x=first["threshold"], y=first["treat_none"], mode="lines", name="treat none",
                             line={"color": "#333", "dash": "dash"}))
    for model, sub in table.groupby("model", sort=False):
        fig.add_trace(go.Scatter(x=sub["threshold"], y=sub["net_benefit"], mode="lines+markers", name=str(model),
                                 line={"color": colors[str(model)], "width": 3}, marker={"size": 5}))
    low = min(-0.05, float(table[["net_benefit", "treat_none"]].min().min()) - 0.02)
    high = float(table[["net_benefit", "treat_all"]].max().max()) + 0.05
    fig.update_yaxes(range=[max(low, -0.25), high])
    return plotly_div(fig, "chart-decision", height=420)


def time_chart(table: pd.DataFrame, unit: str) -> str:
    """Time-dependent AUC and Brier score with their intervals."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from oncofusion.report._style import LAYOUT

    fig = make_subplots(rows=1, cols=2, subplot_titles=("AUC(t) (higher is better)", "Brier(t) (lower is better)"))
    fig.update_layout(**LAYOUT)
    colors = _colors(list(dict.fromkeys(table["model"])))
    for model, sub in table.groupby("model", sort=False):
        for col, metric in ((1, "auc"), (2, "brier")):
            if metric not in sub:
                continue
            err = None
            if f"{metric}_low" in sub:
                err = {"type": "data", "symmetric": False, "array": sub[f"{metric}_high"] - sub[metric],
                       "arrayminus": sub[metric] - sub[f"{metric}_low"]}
            fig.add_trace(go.Scatter(x=sub["time"], y=sub[metric], mode="lines+markers", name=str(model),
                                     legendgroup=str(model), showlegend=col == 1, error_y=err,
                                     line={"color": colors[str(model)]}), row=1, col=col)
    fig.update_xaxes(title_text=f"Time ({unit})")
    fig.update_layout(legend={"orientation": "h", "y": -0.25}, margin={"t": 50})
    return plotly_div(fig, "chart-time", height=380)
