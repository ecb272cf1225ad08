"""What a validated cohort holds: counts, follow-up, modality coverage, missingness, arms.

:func:`summarise` returns plain JSON-ready data (``oncofusion validate --json``);
:func:`render_summary` prints it as rich tables (``oncofusion validate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.survival.nonparametric import kaplan_meier

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["median_follow_up", "render_summary", "summarise"]


def _num(x: float | None, ndigits: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), ndigits)


def _pct(k: int, n: int) -> float:
    return round(100.0 * k / n, 1) if n else 0.0


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float | None:
    """Median follow-up by the reverse Kaplan-Meier method.

    The censoring survival :math:`\\hat G` is estimated with events as censorings; the median
    follow-up is the smallest time with :math:`\\hat G(t) \\le 0.5`, ``None`` when it is
    never reached (fewer than half the patients are censored before the last time).

    References
    ----------
    Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time.
    Controlled Clinical Trials 1996;17:343-346.
    """
    km = kaplan_meier(np.asarray(time, dtype=np.float64), np.asarray(event), reverse=True)
    below = np.flatnonzero(km.surv <= 0.5)
    return float(km.times[below[0]]) if below.size else None


def _missingness(frame: pd.DataFrame | None, columns: list[str]) -> dict[str, dict[str, float]]:
    if frame is None:
        return {}
    n = len(frame)
    out = {}
    for col in columns:
        k = int(frame[col].isna().sum())
        out[col] = {"missing": k, "percent": _pct(k, n)}
    return out


def _spread(values: pd.Series) -> dict[str, float | None]:
    if len(values) == 0:
        return {"median": None, "min": None, "max": None}
    return {"median": _num(values.median()), "min": _num(values.min()), "max": _num(values.max())}


def summarise(cohort: Cohort) -> dict[str, Any]:
    """Summarise a validated cohort.

    Parameters
    ----------
    cohort
        A cohort from :func:`oncofusion.data.load_cohort`.

    Returns
    -------
    dict
        JSON-ready: ``name``, ``time_unit``, ``patients``, ``events``, ``censored_percent``,
        ``follow_up`` (``median_reverse_km``, ``min``, ``max``, in ``time_unit``),
        ``horizons`` (patients still at risk at and events up to each horizon),
        ``modalities`` (patients with each modality, visits per patient, images),
        ``missingness`` (per table and column), ``arms`` (patients and events per arm, or
        ``None``), ``local_control`` (patients with the outcome and its events, or ``None``)
        and ``notes`` (things worth a look that are not errors).
    """
    p = cohort.patients
    schema = cohort.schema
    n = len(p)
    time = p["time"].to_numpy(dtype=np.float64)
    event = p["event"].to_numpy(dtype=np.int64)
    n_events = int(event.sum())
    notes: list[str] = []
    horizons = []
    for h in schema.horizons:
        horizons.append(
            {
                "horizon": h,
                "at_risk": int((time >= h).sum()),
                "events_by": int(((time <= h) & (event == 1)).sum()),
            }
        )
        if h > time.max():
            notes.append(
                f"horizon {h:g} is after the longest follow-up ({time.max():g} {schema.time_unit})."
            )
    summary: dict[str, Any] = {
        "name": schema.name,
        "time_unit": schema.time_unit,
        "patients": n,
        "events": n_events,
        "censored_percent": _pct(n - n_events, n),
        "follow_up": {
            "median_reverse_km": _num(median_follow_up(time, event)),
            "min": _num(time.min()),
            "max": _num(time.max()),
        },
        "horizons": horizons,
        "modalities": _modalities(cohort),
        "missingness": {
            "patients": _missingness(p, [*schema.clinical.all, *schema.extra]),
            "biomarkers": _missingness(cohort.biomarkers, list(schema.biomarkers)),
            "genomics": _missingness(cohort.genomics, list(schema.genomics)),
        },
        "arms": None,
        "local_control": None,
        "notes": notes,
    }
    if schema.has_arms:
        summary["arms"] = {
            arm: {
                "patients": int((p["arm"] == arm).sum()),
                "events": int(event[(p["arm"] == arm).to_numpy()].sum()),
            }
            for arm in schema.arms
        }
        notes.extend(
            f"arm '{a}' has no patients." for a, v in summary["arms"].items() if v["patients"] == 0
        )
    if "lc_event" in p.columns:
        known = p["lc_event"].notna()
        summary["local_control"] = {
            "patients": int(known.sum()),
            "events": int(p.loc[known, "lc_event"].sum()),
        }
    for table, cols in summary["missingness"].items():
        notes.extend(
            f"{table}: column '{c}' is entirely empty."
            for c, v in cols.items()
            if v["percent"] == 100.0
        )
    if n_events == 0:
        notes.append("no patient has an event.")
    return summary


def _modalities(cohort: Cohort) -> dict[str, Any]:
    n = len(cohort.patients)
    out: dict[str, Any] = {
        "clinical": {
            "patients": n,
            "percent": _pct(n, n),
            "columns": len(cohort.schema.clinical.all),
        }
    }
    if cohort.biomarkers is not None:
        visits = cohort.biomarkers.groupby("patient_id").size()
        out["biomarkers"] = {
            "patients": int(visits.size),
            "percent": _pct(int(visits.size), n),
            "visits": int(visits.sum()),
            "visits_per_patient": _spread(visits),
        }
    if cohort.genomics is not None:
        k = int(cohort.genomics["patient_id"].nunique())
        out["genomics"] = {
            "patients": k,
            "percent": _pct(k, n),
            "genes": len(cohort.schema.genomics),
        }
        if cohort.gene_graph is not None:
            out["genomics"]["graph_edges"] = len(cohort.gene_graph)
    if cohort.imaging is not None:
        k = int(cohort.imaging["patient_id"].nunique())
        out["imaging"] = {
            "patients": k,
            "percent": _pct(k, n),
            "images": len(cohort.imaging),
            "kind": cohort.schema.imaging,
        }
        if "phase" in cohort.imaging.columns:
            out["imaging"]["phases"] = sorted(
                cohort.imaging["phase"].dropna().astype(str).unique().tolist()
            )
    return out


def render_summary(summary: dict[str, Any], console: Console) -> None:
    """Print :func:`summarise`'s result as rich tables."""
    from rich.markup import escape
    from rich.table import Table

    unit = summary["time_unit"]
    fu = summary["follow_up"]
    median = (
        f"{fu['median_reverse_km']:g}" if fu["median_reverse_km"] is not None else "not reached"
    )
    console.print(f"[bold]Cohort '{escape(summary['name'])}'[/]: valid")
    overview = Table(show_header=False, box=None, padding=(0, 2))
    overview.add_row("patients", str(summary["patients"]))
    overview.add_row("events", f"{summary['events']} ({summary['censored_percent']:g}% censored)")
    overview.add_row(
        f"follow-up ({unit})",
        f"median {median} (reverse Kaplan-Meier), range {fu['min']:g} to {fu['max']:g}",
    )
    for h in summary["horizons"]:
        overview.add_row(
            f"horizon {h['horizon']:g} ({unit})",
            f"{h['at_risk']} at risk, {h['events_by']} events by then",
        )
    if summary["local_control"]:
        lc = summary["local_control"]
        overview.add_row(
            "local control", f"{lc['patients']} patients with the outcome, {lc['events']} events"
        )
    console.print(overview)

    modalities = Table(title="Modalities", title_justify="left")
    for col in ("modality", "patients", "%", "details"):
        modalities.add_column(col, justify="right" if col in ("patients", "%") else "left")
    for name, m in summary["modalities"].items():
        modalities.add_row(name, str(m["patients"]), f"{m['percent']:g}", escape(_details(name, m)))
    console.print(modalities)

    if summary["arms"]:
        arms = Table(title="Arms", title_justify="left")
        for col in ("arm", "patients", "events"):
            arms.add_column(col, justify="left" if col == "arm" else "right")
        for arm, v in summary["arms"].items():
            arms.add_row(escape(arm), str(v["patients"]), str(v["events"]))
        console.print(arms)

    missing = Table(title="Missing values", title_justify="left")
    for col in ("table", "column", "missing", "%"):
        missing.add_column(col, justify="right" if col in ("missing", "%") else "left")
    for table, cols in summary["missingness"].items():
        for col, v in cols.items():
            missing.add_row(table, escape(col), str(v["missing"]), f"{v['percent']:g}")
    console.print(missing)
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {escape(note)}")


def _details(name: str, m: dict[str, Any]) -> str:
    if name == "clinical":
        return f"{m['columns']} columns"
    if name == "biomarkers":
        v = m["visits_per_patient"]
        if not m["visits"]:
            return "no visits"
        return f"{m['visits']} visits; per patient median {v['median']:g}, range {v['min']:g} to {v['max']:g}"
    if name == "genomics":
        edges = f", {m['graph_edges']} graph edges" if "graph_edges" in m else ""
        return f"{m['genes']} genes{edges}"
    phases = f"; phases {', '.join(m['phases'])}" if m.get("phases") else ""
    return f"{m['images']} {m['kind']} images{phases}"
