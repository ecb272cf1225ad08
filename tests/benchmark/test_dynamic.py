"""The dynamic benchmark: who is evaluated at a landmark, what a model may see, the metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oncofusion.benchmark import runners
from oncofusion.benchmark.config import config_from_mapping
from oncofusion.benchmark.dynamic import dynamic_metrics, landmark_frame, run_dynamic_benchmark
from oncofusion.benchmark.runners import MODEL_RUNNERS, RunnerInfo
from oncofusion.data import load_cohort
from oncofusion.errors import ConfigError
from oncofusion.metrics import (
    brier_score,
    concordance_index,
    concordance_index_uno,
    time_dependent_auc,
)


class _Spy:
    """A 'dynamic model' that records what it is shown and predicts from the last marker value."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float, int]] = []

    def predict_survival(
        self, cohort: Any, times: Any, landmark: float | None = None
    ) -> np.ndarray:
        bm = cohort.biomarkers
        self.seen.append((float(landmark), float(bm["time"].max()), len(cohort)))
        last = (
            bm.groupby("patient_id")["marker"]
            .last()
            .reindex(cohort.patient_ids)
            .fillna(0.0)
            .to_numpy()
        )
        return np.exp(-np.outer(np.exp(last), np.asarray(times)) / 5.0)


def test_landmark_frame_uses_the_patients_at_risk_and_data_up_to_s(bench_cohort: Path) -> None:
    cohort = load_cohort(bench_cohort)
    spy = _Spy()
    frame = landmark_frame(spy, cohort, [1.0, 2.5], [1.0, 2.0])
    t = cohort.patients.set_index("patient_id")["time"]
    for s in (1.0, 2.5):
        rows = frame[frame["landmark"] == s]
        assert set(rows["patient_id"]) == set(t[t > s].index)  # alive and uncensored at s
    assert [(s, n) for s, _, n in spy.seen] == [
        (1.0, int((t > 1).sum())),
        (2.5, int((t > 2.5).sum())),
    ]
    assert all(max_t <= s for s, max_t, _ in spy.seen)  # no visit after the landmark
    assert cohort.biomarkers["time"].max() > 2.5  # ... although the cohort has later visits
    assert list(frame.columns) == ["patient_id", "landmark", "w0", "w1"]
    assert (frame[["w0", "w1"]].to_numpy() <= 1).all() and (frame["w1"] <= frame["w0"]).all()


def test_dynamic_metrics_are_the_metrics_on_the_residual_time_scale(
    rng: np.random.Generator,
) -> None:
    n, s = 120, 2.0
    time = s + rng.exponential(3.0, n)
    event = rng.random(n) < 0.7
    surv = np.sort(rng.uniform(0.2, 1.0, (n, 2)), axis=1)[:, ::-1]
    ref_t, ref_e = s + rng.exponential(3.0, 200), rng.random(200) < 0.7
    rows = dynamic_metrics(time, event, surv, s, [1.0, 3.0], ref_t, ref_e)
    res, ref = time - s, {"train_time": ref_t - s, "train_event": ref_e}
    risk = 1.0 - surv[:, 1]
    trunc_t, trunc_e = np.minimum(res, 3.0), event & (res <= 3.0)
    assert rows[1]["n_at_risk"] == n and rows[1]["n_events"] == int(trunc_e.sum())
    assert rows[1]["c_harrell"] == pytest.approx(concordance_index(trunc_t, trunc_e, risk).value)
    assert rows[1]["c_uno"] == pytest.approx(
        concordance_index_uno(res, event, risk, tau=3.0, **ref).value
    )
    assert rows[1]["auc"] == pytest.approx(
        float(time_dependent_auc(res, event, risk, [3.0], **ref).auc[0])
    )
    assert rows[1]["brier"] == pytest.approx(
        float(brier_score(res, event, surv[:, 1:], [3.0], **ref)[0])
    )
    # Harrell's C with truncation differs from the untruncated one on these data
    assert rows[1]["c_harrell"] != pytest.approx(
        concordance_index(res, event, risk).value, abs=1e-9
    )


def test_dynamic_benchmark_tables_and_model_checks(
    bench_cohort: Path, tmp_path: Path, monkeypatch
) -> None:
    base = {
        "cohort": str(bench_cohort),
        "out": str(tmp_path / "dyn"),
        "seeds": [0, 1],
        "cv": 3,
        "landmarks": [0.5, 1.5],
        "windows": [1, 2],
    }
    with pytest.raises(ConfigError, match="does not predict from a landmark"):
        run_dynamic_benchmark(config_from_mapping({**base, "models": ["cox"]}))
    seen: list[dict[str, Any]] = []

    def spy_runner(train, val, seed, options):
        seen.append(options)
        return MODEL_RUNNERS.get("landmark_cox")(train, val, seed, options)

    monkeypatch.setitem(MODEL_RUNNERS._items, "spy_landmark", spy_runner)
    monkeypatch.setitem(runners._INFO, "spy_landmark", RunnerInfo(dynamic=True, source="test"))
    res = run_dynamic_benchmark(config_from_mapping({**base, "models": ["spy_landmark"]}))
    assert {tuple(o["landmarks"]) for o in seen} == {(0.5, 1.5)} and {
        o["window"] for o in seen
    } == {2.0}
    long, agg = res.tables["dynamic"], res.tables["dynamic_seeds"]
    assert list(long.columns) == [
        "seed",
        "model",
        "landmark",
        "window",
        "n_at_risk",
        "n_events",
        "c_harrell",
        "c_uno",
        "auc",
        "brier",
    ]
    assert len(long) == 2 * 2 * 2 and len(agg) == 4
    t = load_cohort(bench_cohort).patients["time"]
    assert set(long.loc[long["landmark"] == 0.5, "n_at_risk"]) == {int((t > 0.5).sum())}
    row = agg[(agg["landmark"] == 1.5) & (agg["window"] == 2)].iloc[0]
    vals = long[(long["landmark"] == 1.5) & (long["window"] == 2)]["auc"].to_numpy()
    assert row["auc_mean"] == pytest.approx(vals.mean()) and row["auc_sd"] == pytest.approx(
        vals.std(ddof=1)
    )
    assert (
        long[["c_harrell", "c_uno", "auc"]].to_numpy() > 0.5
    ).mean() > 0.7  # the marker is informative
    assert (tmp_path / "dyn" / "tables" / "dynamic_seeds.csv").is_file()
    assert "# Dynamic benchmark: bench" in (tmp_path / "dyn" / "report.md").read_text()
