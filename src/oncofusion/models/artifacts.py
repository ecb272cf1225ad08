"""Writing a trained model as a run directory, with its model card.

The run directory is written into a temporary folder and renamed into place only when
complete (``atomic_directory``): an interrupted ``train`` leaves no half-written run.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from oncofusion.data.cohort import Cohort
from oncofusion.models.pipeline import TrainedRun
from oncofusion.models.run import run_info, write_checksums, write_json

__all__ = ["save_run", "model_card", "INTENDED_USE", "LIMITATIONS"]

INTENDED_USE = (
    "Research decision support: estimating a patient's risk of the cohort's event over the "
    "configured horizons from the modalities the model was trained on, and refreshing that "
    "estimate as follow-up data arrive. Not a diagnostic device; predictions must be read by "
    "clinicians together with the full clinical picture."
)
LIMITATIONS = [
    "Validated only on the held-out split of the training cohort; external validation across "
    "sites, scanners and follow-up schedules is required before any clinical use.",
    "Patients unlike the training population (values outside the training range, unseen "
    "categories, other imaging protocols) may get unreliable predictions.",
    "Censoring is assumed independent of the outcome given the inputs (IPCW metrics, likelihood).",
    "Dynamic updates assume visits are recorded as in training (same markers, units and schedule).",
]


def training_ranges(train: Cohort) -> dict[str, Any]:
    """Observed [min, max] of the training patients' continuous inputs and patients per arm
    (the reports flag values outside them)."""
    import numpy as np

    def ranges(df: Any, cols: list[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for c in cols if df is not None else []:
            if c in df:
                v = np.asarray(df[c], dtype=float)
                v = v[np.isfinite(v)]
                if v.size:
                    out[c] = [float(v.min()), float(v.max())]
        return out

    schema = train.schema
    arms = {}
    if "arm" in train.patients:
        arms = {str(k): int(v) for k, v in train.patients["arm"].dropna().astype(str).value_counts().items()}
    return {
        "clinical": ranges(train.patients, list(schema.clinical.continuous)),
        "biomarkers": ranges(train.biomarkers, list(schema.biomarkers)),
        "genomics": ranges(train.genomics, list(schema.genomics)),
        "arms": arms,
        "n_patients": len(train),
    }


def model_card(run: TrainedRun, cohort: Cohort, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model card as a JSON-able dict (data provenance, splits, hyper-parameters, seeds,
    library versions, metrics with intervals, intended use, limitations; DMA-Net §2.4.2)."""
    cfg = run.model.config
    pts = cohort.patients

    def counts(ids: list[str]) -> dict[str, int]:
        sub = pts[pts["patient_id"].isin(ids)]
        return {"patients": int(len(sub)), "events": int(sub["event"].sum())}

    return {
        "model": {"name": cfg.name, "family": cfg.model, "description": cfg.description},
        "data": {
            "cohort": cohort.schema.name,
            "cohort_dir": str(cohort.root),
            "time_unit": cohort.schema.time_unit,
            "patients": int(len(pts)),
            "events": int(pts["event"].sum()),
            "description": cohort.schema.description,
            "modalities_used": list(cfg.network.modalities),
            "stratified_by": [c for c in cfg.data.stratify if c in pts.columns],
            "training_ranges": training_ranges(cohort.subset(run.splits["train"])),
            "coverage": {
                "biomarkers": int(cohort.biomarkers["patient_id"].nunique()) if cohort.biomarkers is not None else 0,
                "imaging": int(cohort.imaging["patient_id"].nunique()) if cohort.imaging is not None else 0,
                "genomics": int(len(cohort.genomics)) if cohort.genomics is not None else 0,
            },
        },
        "splits": {name: counts(ids) for name, ids in run.splits.items()},
        "training": {
            "seed": cfg.train.seed,
            "best_epoch": run.best_epoch,
            "epochs_run": len(run.history),
            "seconds": round(run.seconds, 1),
            "hyperparameters": cfg.model_dump(mode="json"),
        },
        "software": {"python": run_info(cfg.model)["python"], **run_info(cfg.model)["versions"]},
        "device": _device(),
        "metrics": metrics or {},
        "intended_use": INTENDED_USE,
        "limitations": LIMITATIONS,
    }


def _device() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def model_card_markdown(card: dict[str, Any]) -> str:
    m, d = card["model"], card["data"]
    lines = [
        f"# Model card: {m['name']}",
        "",
        m.get("description") or "",
        "",
        "## Data",
        f"- Cohort: {d['cohort']} ({d['patients']} patients, {d['events']} events; time in {d['time_unit']})",
        f"- Modalities used: {', '.join(d['modalities_used'])}",
        f"- Coverage: {d['coverage']}",
        "",
        "## Splits (patient level, stratified)",
        *[f"- {k}: {v['patients']} patients, {v['events']} events" for k, v in card["splits"].items()],
        "",
        "## Training",
        f"- Seed {card['training']['seed']}; best epoch {card['training']['best_epoch']} of "
        f"{card['training']['epochs_run']}; {card['training']['seconds']} s",
        "- Full hyper-parameters: `config.yaml` in this run directory.",
        f"- Software: {', '.join(f'{k} {v}' for k, v in card['software'].items())}",
        "",
        "## Metrics (test split)",
    ]
    if card["metrics"]:
        for k, v in card["metrics"].items():
            lines.append(f"- {k}: {v}")
    else:
        lines.append("- Not evaluated yet: run `oncofusion evaluate RUN`.")
    lines += ["", "## Intended use", card["intended_use"], "", "## Limitations", *[f"- {x}" for x in card["limitations"]], ""]
    return "\n".join(lines)


def write_model_card(run_dir: Path, card: dict[str, Any]) -> None:
    from oncofusion.utils.io import atomic_write

    write_json(run_dir / "model_card.json", card)
    with atomic_write(run_dir / "model_card.md") as fh:
        fh.write(model_card_markdown(card))


def save_run(run: TrainedRun, cohort: Cohort, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``run`` as a complete run directory at ``out_dir`` (atomically)."""
    from oncofusion.utils.io import atomic_directory

    out_dir = Path(out_dir)
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        run.model.save(tmp)
        write_json(tmp / "run.json", run_info(run.model.config.model, {"cohort": cohort.schema.name, "cohort_dir": str(cohort.root)}))
        write_json(tmp / "splits.json", run.splits)
        if run.history:
            keys = sorted({k for r in run.history for k in r}, key=lambda k: (k != "epoch", k))
            with open(tmp / "epochs.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=keys)
                w.writeheader()
                w.writerows(run.history)
        write_model_card(tmp, model_card(run, cohort))
        write_checksums(tmp)
    run.run_dir = out_dir
    return out_dir
