"""Shared plumbing of the evaluation figures: the Agg canvas, colours, table checks.

matplotlib is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from oncofusion.errors import ConfigError
from oncofusion.utils.io import atomic_write

__all__ = [
    "DPI",
    "PathLike",
    "concat_tables",
    "horizon_text",
    "model_colors",
    "not_available",
    "per_model",
    "png_figure",
    "require_columns",
    "resolve_colors",
    "time_unit_of",
]

DPI = 150
_STYLE: dict[Any, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
PathLike = str | os.PathLike[str]


def model_colors(models: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """One colour per model (the tab10 cycle, then tab20), in the given order."""
    from matplotlib import colormaps

    names = list(dict.fromkeys(models))
    cmap = colormaps["tab10"] if len(names) <= 10 else colormaps["tab20"]
    return {m: tuple(cmap(i % cmap.N)) for i, m in enumerate(names)}  # type: ignore[misc]


@contextmanager
def png_figure(figsize: tuple[float, float], path: PathLike, dpi: int) -> Iterator[Any]:
    """A constrained-layout Figure on an Agg canvas, saved atomically to ``path`` as PNG."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)


def resolve_colors(models: Sequence[str], colors: Mapping[str, Any] | None) -> dict[str, Any]:
    """:func:`model_colors` for ``models``, overridden by the given ``colors``."""
    base = model_colors(models)
    if colors:
        base.update({m: c for m, c in colors.items() if m in base})
    return base


def require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    """Raise :class:`ConfigError` naming the columns ``df`` lacks for figure ``what``."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(f"{what} needs the columns {missing}; pass the matching table.")


def time_unit_of(df: pd.DataFrame) -> str:
    """The table's time unit (from ``DataFrame.attrs``)."""
    return str(df.attrs.get("time_unit", "time units"))


def horizon_text(df: pd.DataFrame) -> str:
    """ "12 months": the table's horizon with its unit."""
    return f"{df.attrs['horizon']:g} {time_unit_of(df)}" if "horizon" in df.attrs else "the horizon"


def not_available(ax: Any, text: str = "not available") -> None:
    """Write ``text`` in the middle of an empty axes."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def per_model(df: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(model, rows)`` in order of first appearance."""
    for m in dict.fromkeys(df["model"].astype(str)):
        yield m, df[df["model"].astype(str) == m]


def concat_tables(tables: pd.DataFrame | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One long table from a table or a mapping of per-model tables (attrs of the first)."""
    if isinstance(tables, Mapping):
        if not tables:
            raise ConfigError("no table to plot.")
        out = pd.concat(list(tables.values()), ignore_index=True)
        out.attrs.update(next(iter(tables.values())).attrs)
        return out
    return tables
