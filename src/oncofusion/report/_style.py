"""Colours, number formats and the plotly-to-HTML step shared by every report chart."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = [
    "ARM_COLORS",
    "LAYOUT",
    "TIER_COLORS",
    "arm_color",
    "direction_colors",
    "new_figure",
    "num",
    "pct",
    "pct_pair",
    "pct_range",
    "plotly_div",
    "plotly_js",
    "png_data_uri",
    "signed_points",
]

TIER_COLORS = {"low": "#2e7d32", "intermediate": "#b26a00", "high": "#c62828"}
ARM_COLORS = ("#1f5fa8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a")
RISK_COLOR = "#8e1b3d"
BAND_COLOR = "rgba(142, 27, 61, 0.18)"
INCREASE, DECREASE = "#c62828", "#1f5fa8"  # SHAP: raises / lowers the explained risk
FAVOURS = "#2e7d32"  # raises a good outcome (survival, local control, a treatment's benefit)


def direction_colors(target: Any) -> tuple[str, str]:
    """Colours of a positive and a negative contribution to ``target``: red/blue for a risk
    (higher is worse), green/red for a good outcome (``higher_is_worse`` False)."""
    if getattr(target, "higher_is_worse", True):
        return INCREASE, DECREASE
    return FAVOURS, INCREASE

#: a light layout shared by the charts (system fonts only: the report works offline)
LAYOUT: dict[str, Any] = {
    "template": "simple_white",
    "font": {"family": "DejaVu Sans, Arial, Helvetica, sans-serif", "size": 12},
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "hovermode": "closest",
}


def arm_color(arms: list[str], arm: str) -> str:
    return ARM_COLORS[arms.index(arm) % len(ARM_COLORS)]


def pct(p: float | None, digits: int | None = None) -> str:
    """A probability as a percentage: ``0.234 -> "23%"``, ``0.042 -> "4.2%"``,
    ``0.9996 -> ">99.9%"`` (never a rounded "100%" or "0%" that the model did not say)."""
    if p is None:
        return "—"
    v = 100.0 * float(p)
    if digits is None:
        digits = 0 if 10 <= v <= 90 else 1
    step = 10.0 ** -digits
    if v >= 100 - step / 2 and v < 100:
        return f">{100 - step:.{digits}f}%"
    if 0 < v < step / 2:
        return f"<{step:.{digits}f}%"
    return f"{v:.{digits}f}%"


def pct_range(lo: float | None, hi: float | None) -> str:
    """``"(20%–27%)"``, or ``""`` without an interval."""
    if lo is None or hi is None:
        return ""
    return f"({pct(lo)}–{pct(hi)})"


def pct_pair(lo: float, hi: float, risk: float | None = None) -> tuple[str, ...]:
    """Thresholds (and a risk) with just enough decimals (up to 3) that the printed numbers
    keep their order (a risk just below a cut never prints equal to it) and a value below
    100% never reads "100%". Returns ``(lo, hi)`` or ``(lo, hi, risk)``."""
    values = [lo, hi] + ([] if risk is None else [risk])
    for digits in (0, 1, 2, 3):
        text = [f"{100 * v:.{digits}f}" for v in values]
        ordered = all((float(a) < float(b)) == (x < y) and (float(a) == float(b)) == (x == y)
                      for i, (a, x) in enumerate(zip(text, values, strict=True))
                      for b, y in zip(text[i + 1:], values[i + 1:], strict=True))
        capped = all(v >= 1 or float(t) < 100 for t, v in zip(text, values, strict=True))
        if ordered and capped:
            return tuple(t + "%" for t in text)
    return tuple(f"{100 * v:.3f}%" for v in values)


def num(x: float | None) -> str:
    """A time or count without trailing zeros: ``12.0 -> "12"``, ``0.164 -> "0.164"``."""
    return "—" if x is None else f"{float(x):.4g}"


def signed_points(p: float) -> str:
    """A change of probability in percentage points, precise enough to be non-zero."""
    v = 100.0 * float(p)
    if v == 0:
        return "0"
    return f"{v:+.1f}" if abs(v) >= 0.1 else f"{v:+.2g}"


def plotly_div(fig: Any, div_id: str, *, height: int = 360) -> str:
    """The figure as a ``<div>`` + script; plotly.js itself is inlined once per page."""
    fig.update_layout(height=height)
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                           config={"displaylogo": False, "responsive": True,
                                   "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}))


def new_figure(**layout: Any) -> Any:
    """A plotly figure with the shared :data:`LAYOUT` (plus ``layout`` overrides)."""
    import plotly.graph_objects as go

    return go.Figure(layout={**LAYOUT, **layout})


def plotly_js() -> str:
    """plotly.js (minified), to inline in the page head: no CDN, works offline."""
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def png_data_uri(fig: Any, *, dpi: int = 110) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
