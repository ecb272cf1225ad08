"""Cohorts for the baseline tests.

``synth_cohort``: 60 synthetic CRLM-like patients with every modality the baselines read:
clinical variables (incl. the five Fong criteria and a TNM stage), serial biomarkers,
genomics (5 patients without a row) and small 3-D images with tumour masks (3 patients
without an image). Outcomes follow a Cox model on stage, the Fong criteria and the
biomarker slope, so the classical models have something to find. Written to disk and read
back with :func:`oncofusion.data.load_cohort`, like a user's cohort.

``veterans``: the real Veterans' Administration lung cancer trial (137 patients), exported
with :func:`oncofusion.data.public.export_dataset`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from oncofusion.data import Cohort, load_cohort

N_PATIENTS = 60


def make_synth_cohort(root: Path, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    n = N_PATIENTS
    ids = [f"P{i:03d}" for i in range(n)]
    stage = rng.choice(["I", "II", "III"], size=n, p=[0.3, 0.4, 0.3])
    node = rng.choice(["yes", "no"], size=n)
    dfi = rng.uniform(0, 36, n).round(1)
    n_tum = 1 + rng.poisson(0.8, n)
    size = rng.uniform(1, 8, n).round(1)
    cea = np.exp(rng.normal(4.0, 1.5, n)).round(1)
    age = rng.normal(62, 9, n).round(0)
    sex = rng.choice(["F", "M"], size=n)
    fong = (node == "yes") + (dfi < 12) + (n_tum > 1) + (size > 5) + (cea > 200)
    slope = rng.normal(0.0, 0.3, n)
    lp = 0.9 * (stage == "III") + 0.4 * (stage == "II") + 0.35 * fong + 1.2 * slope
    t_event = rng.exponential(30.0 * np.exp(-(lp - lp.mean())))
    t_cens = rng.uniform(6, 48, n)
    time = np.maximum(np.minimum(t_event, t_cens), 0.5).round(2)
    event = (t_event <= t_cens).astype(int)
    age[3] = np.nan  # one missing continuous value
    patients = pd.DataFrame(
        {
            "patient_id": ids, "time": time, "event": event, "age": age, "sex": sex, "stage": stage,
            "node_positive": node, "dfi_months": dfi, "n_tumours": n_tum, "largest_tumour_cm": size,
            "cea_ng_ml": cea,
        }
    )  # fmt: skip
    rows = []
    for i, pid in enumerate(ids):
        base = rng.normal(3.0, 0.5)
        for v in np.arange(0.0, min(time[i], 24.0) + 1e-9, 3.0):
            cea_s = base + slope[i] * v + rng.normal(0, 0.1)
            ezh2 = rng.normal(1.8, 0.2) if rng.random() > 0.15 else np.nan
            rows.append((pid, float(v), round(float(cea_s), 3), ezh2))
    biomarkers = pd.DataFrame(rows, columns=["patient_id", "time", "cea_serial", "ezh2"])
    genes = pd.DataFrame(rng.normal(size=(n, 5)).round(3), columns=[f"g{k}" for k in range(5)])
    genes.insert(0, "patient_id", ids)
    genes = genes.iloc[5:]
    (root / "images").mkdir(parents=True)
    img_rows = []
    zz, yy, xx = np.mgrid[:6, :14, :14]
    for i, pid in enumerate(ids[3:], start=3):
        r = 2.0 + 0.6 * size[i] / 2
        mask = ((zz - 2.5) ** 2 + (yy - 7) ** 2 + (xx - 7) ** 2) <= r**2
        img = rng.normal(50 + 10 * lp[i], 5 + 2 * fong[i], zz.shape) * mask + rng.normal(
            10, 2, zz.shape
        )
        np.save(root / "images" / f"{pid}.npy", img.astype(np.float32))
        np.save(root / "images" / f"{pid}_mask.npy", mask.astype(np.uint8))
        img_rows.append((pid, f"images/{pid}.npy", "ct", f"images/{pid}_mask.npy"))
    imaging = pd.DataFrame(img_rows, columns=["patient_id", "path", "phase", "mask_path"])
    schema = {
        "name": "synth_crlm",
        "time_unit": "months",
        "horizons": [6, 12, 24],
        "clinical": {
            "continuous": ["age", "dfi_months", "n_tumours", "largest_tumour_cm", "cea_ng_ml"],
            "categorical": ["sex", "stage", "node_positive"],
        },
        "biomarkers": ["cea_serial", "ezh2"],
        "genomics": [f"g{k}" for k in range(5)],
        "imaging": "volume",
    }
    (root / "cohort.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))
    patients.to_csv(root / "patients.csv", index=False)
    biomarkers.to_csv(root / "biomarkers.csv", index=False)
    genes.to_csv(root / "genomics.csv", index=False)
    imaging.to_csv(root / "imaging.csv", index=False)
    return root


@pytest.fixture(scope="session")
def synth_cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    return load_cohort(make_synth_cohort(tmp_path_factory.mktemp("synth") / "cohort"))


@pytest.fixture(scope="session")
def synth_split(synth_cohort: Cohort) -> tuple[Cohort, Cohort]:
    ids = synth_cohort.patient_ids
    return synth_cohort.subset(ids[:40]), synth_cohort.subset(ids[40:])


@pytest.fixture(scope="session")
def veterans(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    from oncofusion.data.public import export_dataset

    return load_cohort(export_dataset("veterans", tmp_path_factory.mktemp("vet") / "veterans"))
