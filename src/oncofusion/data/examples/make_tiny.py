"""Make the packaged ``tiny`` example cohort (12 patients, every table, CEUS-like videos).

Deterministic: the same files come out on every run. The output is committed next to this
script (``tiny/``); run it again after changing it::

    .venv/bin/python src/oncofusion/data/examples/make_tiny.py

The cohort is synthetic and small enough to read by eye: it shows the format (see
``docs/cohort-format.md``), missing values and missing modalities, and feeds the tests and
``oncofusion demo``. Its numbers mean nothing clinically.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261123
N_PATIENTS = 12
PHASES = ("arterial", "portal", "late")
FRAMES, SIZE = 8, 16
#: patients with imaging (3 phases each) and without biomarkers or genomics
WITH_IMAGING = ("001", "002", "005", "008")
WITHOUT_BIOMARKERS = ("004", "011")
WITHOUT_GENOMICS = ("003", "007", "012")

COHORT_YAML = """\
# The tiny example cohort, made by make_tiny.py (synthetic; numbers mean nothing clinically).
name: tiny
description: 12 synthetic patients with every modality, for the format, the tests and the demo.
time_unit: months
horizons: [3, 6, 12]
clinical:
  continuous: [age, cea]
  categorical: [sex, stage, emvi]
biomarkers: [ezh2, cd10]
genomics: [egfr, kras, tp53, braf]
arms: [sbrt, surgery]
imaging: video
extra: [site]
"""


def make_patients(rng: np.random.Generator) -> pd.DataFrame:
    """One row per patient: outcome, arm, local control and clinical columns."""
    ids = [f"{i:03d}" for i in range(1, N_PATIENTS + 1)]
    age = rng.normal(62, 9, N_PATIENTS).round(0).astype(int)
    cea = rng.lognormal(1.5, 0.8, N_PATIENTS).round(1)
    stage = rng.choice(["I", "II", "III"], N_PATIENTS, p=[0.3, 0.4, 0.3])
    risk = 0.04 * (age - 62) + 0.5 * (np.log(cea) - 1.5) + (stage == "III") * 0.8
    event_time = rng.exponential(30.0 * np.exp(-risk))
    censor_time = rng.uniform(6.0, 30.0, N_PATIENTS)
    time = np.maximum(np.minimum(event_time, censor_time), 0.5).round(1)
    event = (event_time <= censor_time).astype(int)
    lc_time = (time * rng.uniform(0.5, 1.0, N_PATIENTS)).round(1)
    lc_event = (rng.uniform(size=N_PATIENTS) < 0.35).astype(float)
    frame = pd.DataFrame(
        {
            "patient_id": ids,
            "time": time,
            "event": event,
            "arm": rng.choice(["sbrt", "surgery"], N_PATIENTS),
            "lc_time": lc_time,
            "lc_event": lc_event,
            "age": age,
            "cea": cea,
            "sex": rng.choice(["F", "M"], N_PATIENTS),
            "stage": stage,
            "emvi": rng.choice(["no", "yes"], N_PATIENTS),
            "site": np.where(np.arange(N_PATIENTS) < 7, "site_a", "site_b"),
        }
    )
    # missing values: clinical ones are imputed later; local control unknown for two patients
    frame.loc[[2, 9], "cea"] = np.nan
    frame.loc[5, "emvi"] = np.nan
    frame.loc[[4, 10], ["lc_time", "lc_event"]] = np.nan
    frame["lc_event"] = frame["lc_event"].astype("Int64")
    return frame


def make_biomarkers(rng: np.random.Generator, patients: pd.DataFrame) -> pd.DataFrame:
    """Visits every 3 months from baseline up to the end of follow-up (at most 4)."""
    rows = []
    for pid, follow_up in zip(patients["patient_id"], patients["time"]):
        if pid in WITHOUT_BIOMARKERS:
            continue
        level = rng.normal(0.0, 1.0)
        for visit in np.arange(0.0, follow_up + 1e-9, 3.0)[:4]:
            rows.append(
                {
                    "patient_id": pid,
                    "time": float(visit),
                    "ezh2": round(float(1.5 + 0.3 * level + 0.05 * visit + rng.normal(0, 0.1)), 2),
                    "cd10": round(float(40 + 8 * level + rng.normal(0, 2)), 1),
                }
            )
    frame = pd.DataFrame(rows)
    frame.loc[[3, 8], "cd10"] = np.nan  # a marker not measured at a visit
    return frame


def make_genomics(rng: np.random.Generator, patients: pd.DataFrame) -> pd.DataFrame:
    """Mutation indicators (0/1) and one expression value per patient with genomics."""
    ids = [p for p in patients["patient_id"] if p not in WITHOUT_GENOMICS]
    n = len(ids)
    frame = pd.DataFrame(
        {
            "patient_id": ids,
            "egfr": rng.normal(5.0, 1.0, n).round(2),
            "kras": (rng.uniform(size=n) < 0.4).astype(int),
            "tp53": (rng.uniform(size=n) < 0.5).astype(int),
            "braf": (rng.uniform(size=n) < 0.15).astype(int),
        }
    )
    frame["egfr"] = frame["egfr"].astype(object)
    frame.loc[1, "egfr"] = np.nan  # an assay that failed
    return frame


def make_video(rng: np.random.Generator, peak_frame: float, strength: float) -> np.ndarray:
    """A (frames, 16, 16) uint8 clip: a lesion whose contrast rises then washes out."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    cy, cx = rng.uniform(5, 11, size=2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 2.5**2))
    frames = np.arange(FRAMES)
    curve = strength * np.exp(-0.5 * ((frames - peak_frame) / 2.0) ** 2)
    video = 30 + 180 * curve[:, None, None] * blob[None] + rng.normal(0, 6, (FRAMES, SIZE, SIZE))
    return np.clip(video, 0, 255).astype(np.uint8)


def make_imaging(rng: np.random.Generator, out: Path) -> pd.DataFrame:
    """Three phases per patient in ``WITH_IMAGING``, one .npy file each."""
    (out / "images").mkdir()
    rows = []
    for pid in WITH_IMAGING:
        strength = rng.uniform(0.5, 1.0)
        for k, phase in enumerate(PHASES):
            rel = f"images/{pid}_{phase}.npy"
            np.save(
                out / rel, make_video(rng, peak_frame=2.0 + 2.0 * k, strength=strength / (1 + k))
            )
            rows.append({"patient_id": pid, "path": rel, "phase": phase})
    return pd.DataFrame(rows)


def make_tiny(out: Path) -> None:
    """Write the tiny cohort to ``out`` (replacing what is there)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    patients = make_patients(rng)
    tables = {
        "patients": patients,
        "biomarkers": make_biomarkers(rng, patients),
        "genomics": make_genomics(rng, patients),
        "gene_graph": pd.DataFrame(
            {"gene_a": ["egfr", "kras", "kras", "tp53"], "gene_b": ["kras", "braf", "tp53", "egfr"]}
        ),
        "imaging": make_imaging(rng, out),
    }
    (out / "cohort.yaml").write_text(COHORT_YAML, encoding="utf-8")
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tiny")
    make_tiny(parser.parse_args().out)


if __name__ == "__main__":
    main()
