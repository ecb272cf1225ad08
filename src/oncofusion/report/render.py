"""Templates to files: the jinja2 environment, atomic HTML writing and the PDF (WeasyPrint).

The HTML is self-contained: plotly.js is inlined once in the page head, images are data
URIs, fonts are the system's; nothing is fetched from the network. The PDF is rendered
from the print variant of the same template (static PNG charts, no script), and WeasyPrint
is given a URL fetcher that refuses every URL but ``data:``, so a stray link can never
make it reach out either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oncofusion.errors import ConfigError

__all__ = ["TEMPLATE_DIR", "card_metrics", "render_template", "write_html", "write_pdf"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    from oncofusion.report._style import TIER_COLORS, arm_color, num, pct, pct_range, signed_points

    env.filters.update(pct=pct, pct_range=pct_range, num=num, points=signed_points)
    env.globals.update(TIER_COLORS=TIER_COLORS, arm_color=arm_color, card_metrics=card_metrics)
    return env


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>``; ``interactive`` pages get plotly.js inlined."""
    from oncofusion.report._style import plotly_js

    if context.get("interactive"):
        context.setdefault("plotly_js", plotly_js())
    else:
        context.setdefault("plotly_js", "")
    return str(_environment().get_template(name).render(**context))


def write_html(html: str, out: str | Path) -> Path:
    """Write ``html`` to ``out`` atomically (complete or absent)."""
    from oncofusion.utils.io import atomic_write

    out = Path(out)
    with atomic_write(out, encoding="utf-8") as fh:
        fh.write(html)
    return out


def _offline_fetcher() -> Any:
    """A WeasyPrint URL fetcher that allows ``data:`` URLs only."""
    import weasyprint.urls as wu

    if hasattr(wu, "URLFetcher"):  # WeasyPrint >= 66
        return wu.URLFetcher(allowed_protocols=("data",))

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:  # older WeasyPrint: a function
        if not url.startswith("data:"):
            raise ValueError(f"reports are self-contained; refusing to fetch '{url[:80]}'")
        return wu.default_url_fetcher(url, *args, **kwargs)

    return fetch


def write_pdf(html: str, out: str | Path) -> tuple[Path, int]:
    """Render the print HTML to a PDF at ``out`` (atomically); returns the path and page count."""
    try:
        import weasyprint
    except (ImportError, OSError) as e:  # OSError: the pango/harfbuzz system libraries are missing
        raise ConfigError(
            f"PDF reports need WeasyPrint and its system libraries ({e}). Fix: pip install 'oncofusion[explain]' "
            "and apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core "
            "(the project's 'make install' does both)."
        ) from e
    from oncofusion.utils.io import atomic_write

    document = weasyprint.HTML(string=html, url_fetcher=_offline_fetcher()).render()
    out = Path(out)
    with atomic_write(out, mode="wb") as fh:
        document.write_pdf(fh)
    return out, len(document.pages)


_METRIC_NAMES = {"auc": "AUC at the horizon", "iauc": "integrated AUC", "uno_c": "Uno's C-index",
                 "brier": "Brier score at the horizon", "ibs": "integrated Brier score",
                 "c_index": "C-index", "harrell_c": "Harrell's C-index", "os_c_index": "OS C-index",
                 "os_td_auc": "OS time-dependent AUC", "lc_auc": "LC AUC", "lc_accuracy": "LC accuracy",
                 "agreement": "agreement of the recommendation with the optimal arm",
                 "value_share": "policy value, share of the oracle's", "ipw_value": "policy value (IPW)",
                 "no_clear_preference": "share with no clear preference",
                 "outside_support": "share outside the common support"}
_NOT_METRICS = {"horizon", "n", "n_events", "n_test", "threshold_horizon"}


def card_metrics(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Model-card metrics as ``(name, "0.812 (0.760–0.861)")`` rows, intervals merged."""
    rows = []
    for key, value in metrics.items():
        if key.endswith(("_low", "_high")) or key in _NOT_METRICS or not isinstance(value, int | float):
            continue
        lo, hi = metrics.get(f"{key}_low"), metrics.get(f"{key}_high")
        text = f"{value:.3f}"
        if isinstance(lo, int | float) and isinstance(hi, int | float):
            text += f" ({lo:.3f}–{hi:.3f})"
        rows.append((_METRIC_NAMES.get(key, key.replace("_", " ")), text))
    return rows
