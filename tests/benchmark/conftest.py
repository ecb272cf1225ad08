"""A small synthetic cohort for the benchmark tests, and a runner that counts its calls.

``bench_cohort``: 90 patients with age, stage (categorical) and a serial marker whose level
and slope drive an exponential hazard (so models have something to find), administrative
censoring at 10 years plus random drop-out; time in years, horizons 1, 2, 3. Written to
disk and read back with :func:`oncofusion.data.load_cohort`, like a user's cohort.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from oncofusion.benchmark.runners import MODEL_RUNNERS

N_PATIENTS = 90


def make_bench_cohort(root: Path, seed: int = 11) -> Path:
    rng = np.random.default_rng(seed)
    n = N_PATIENTS
    ids = [f"B{i:03d}" for i in range(n)]
    age = rng.normal(60, 8, n).round(0)
    stage = rng.choice(["I", "II", "III"], size=n, p=[0.3, 0.4, 0.3])
    level = rng.normal(0, 1, n)
    slope = rng.normal(0, 0.5, n)
    lp = 0.8 * level + 0.8 * slope + 0.5 * (stage == "III") + 0.02 * (age - 60)
    t_event = rng.exponential(3.0 * np.exp(-lp))
    t_cens = np.minimum(rng.exponential(8.0, n), 10.0)
    time = np.maximum(np.minimum(t_event, t_cens), 0.05).round(3)
    event = (t_event <= t_cens).astype(int)
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {"patient_id": ids, "time": time, "event": event, "age": age, "stage": stage}
    ).to_csv(root / "patients.csv", index=False)
    rows = []
    for i, pid in enumerate(ids):
        for t in np.arange(0.0, min(time[i], 6.0) + 1e-9, 0.5):
            rows.append(
                {
                    "patient_id": pid,
                    "time": float(t),
                    "marker": round(float(level[i] + slope[i] * t + rng.normal(0, 0.2)), 4),
                }
            )
    pd.DataFrame(rows).to_csv(root / "biomarkers.csv", index=False)
    schema = {
        "name": "bench",
        "time_unit": "years",
        "horizons": [1, 2, 3],
        "clinical": {"continuous": ["age"], "categorical": ["stage"]},
        "biomarkers": ["marker"],
    }
    (root / "cohort.yaml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def bench_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bench_cohort(tmp_path_factory.mktemp("bench") / "cohort")


class CountingRunner:
    """Fits the ``cox`` runner, recording every call's seed and patient ids."""

    def __init__(self, inner: str = "cox") -> None:
        self.inner = MODEL_RUNNERS.get(inner)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, train: Any, val: Any, seed: int, options: dict[str, Any]) -> Any:
        self.calls.append(
            {
                "seed": seed,
                "train": set(train.patient_ids),
                "val": set(val.patient_ids),
                "options": dict(options),
            }
        )
        return self.inner(train, val, seed, options)


@pytest.fixture
def counting_runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingRunner]:
    """``counting`` registered in MODEL_RUNNERS for the duration of one test."""
    runner = CountingRunner()
    monkeypatch.setitem(MODEL_RUNNERS._items, "counting", runner)
    yield runner
