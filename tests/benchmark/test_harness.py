"""The static harness: identical splits, no test leakage, resume, seeds table, statuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.benchmark.cache import ResultCache
from oncofusion.benchmark.config import config_from_mapping
from oncofusion.benchmark.harness import make_folds, run_benchmark
from oncofusion.benchmark.runners import MODEL_RUNNERS, RunnerUnavailable
from oncofusion.data import load_cohort
from oncofusion.errors import UnknownOptionError

FAST = {"n_resamples": 20, "replicate_reports": False, "grid_points": 12}


def _config(cohort: Path, out: Path, models: list, **kw: object):
    return config_from_mapping(
        {"cohort": str(cohort), "out": str(out), "models": models, **FAST, **kw}
    )


def test_every_model_gets_the_same_split_and_never_sees_the_test_patients(
    bench_cohort: Path, tmp_path: Path, counting_runner
) -> None:
    models = ["cox", {"name": "rsf", "options": {"n_estimators": 10}}, "counting"]
    res = run_benchmark(_config(bench_cohort, tmp_path / "out", models, seeds=2))
    cells = pd.DataFrame(
        [
            {
                "model": c.model,
                "seed": c.seed,
                "fold": c.fold,
                "test": tuple(c.test_ids),
                "status": c.status,
            }
            for c in res.cells
        ]
    )
    assert len(cells) == 6 and (cells["status"] == "ok").all()
    for _, group in cells.groupby(["seed", "fold"]):
        assert group["test"].nunique() == 1  # one test set per cell, shared by all models
        assert len(group) == 3
    tests = {s: set(g["test"].iloc[0]) for s, g in cells.groupby("seed")}
    assert tests[0] != tests[1]  # one split per seed
    for call in counting_runner.calls:  # the runner sees train + validation only
        test = tests[call["seed"]]
        assert not (call["train"] | call["val"]) & test
        assert call["val"] and not call["train"] & call["val"]
        assert call["options"]["use"] == [
            "clinical",
            "biomarkers",
        ]  # default: every tabular modality
    assert sorted(c["seed"] for c in counting_runner.calls) == [0, 1]
    for sets in res.predictions.values():  # every model evaluated on the same patients
        ids = [tuple(p.patient_ids) for p in sets.values()]
        assert len(set(ids)) == 1 and len(sets) == 3


def test_cross_validation_folds_partition_the_patients(bench_cohort: Path, tmp_path: Path) -> None:
    cfg = _config(bench_cohort, tmp_path / "out", ["cox"], seeds=[3, 4], cv=3)
    cohort = load_cohort(bench_cohort)
    folds = make_folds(cohort, cfg)
    assert len(folds) == 6
    for seed in (3, 4):
        mine = [f for f in folds if f.seed == seed]
        tested = [i for f in mine for i in f.test]
        assert sorted(tested) == sorted(cohort.patient_ids)  # each patient tested once per repeat
        for f in mine:
            assert not set(f.train) & set(f.val) and not (set(f.train) | set(f.val)) & set(f.test)
            assert len(f.train) + len(f.val) + len(f.test) == len(cohort)
    assert make_folds(cohort, cfg) == folds  # the same seeds give the same folds


def test_an_interrupted_benchmark_recomputes_only_the_missing_cell(
    bench_cohort: Path, tmp_path: Path, counting_runner
) -> None:
    cfg = _config(bench_cohort, tmp_path / "out", ["counting", "cox"], seeds=2)
    first = run_benchmark(cfg)
    assert len(counting_runner.calls) == 2
    cache = ResultCache(tmp_path / "out" / "cache")
    assert len(cache.cells()) == 4
    victim = next(m for m in cache.cells() if m["model"] == "counting" and m["replicate"] == 1)
    cache.delete(victim["key"])

    counting_runner.calls.clear()
    second = run_benchmark(cfg)
    assert [c["seed"] for c in counting_runner.calls] == [1]  # only the deleted cell
    recomputed = [(c.model, c.seed) for c in second.cells if not c.from_cache]
    assert recomputed == [("counting", 1)]
    pd.testing.assert_frame_equal(first.tables["summary"], second.tables["summary"])

    counting_runner.calls.clear()
    changed = _config(
        bench_cohort,
        tmp_path / "out",
        [{"name": "counting", "options": {"screen_p": 0.5}}],
        seeds=2,
    )
    run_benchmark(changed)  # other options: another key, so every cell is recomputed
    assert len(counting_runner.calls) == 2


def test_seeds_table_is_the_mean_and_sd_of_the_per_seed_tables(
    bench_cohort: Path, tmp_path: Path
) -> None:
    res = run_benchmark(
        _config(
            bench_cohort,
            tmp_path / "out",
            ["cox", {"name": "rsf", "options": {"n_estimators": 10}}],
            seeds=3,
            reference="rsf",
        )
    )
    summary, seeds = res.tables["summary"], res.tables["seeds"].set_index("model")
    assert sorted(summary["seed"].unique()) == [0, 1, 2]
    for model, rows in summary.groupby("model"):
        assert seeds.loc[model, "n_seeds"] == 3
        for m in ("auc", "iauc", "uno_c", "brier", "ibs"):
            v = rows[m].to_numpy(float)
            assert seeds.loc[model, f"{m}_mean"] == pytest.approx(v.mean(), rel=1e-12)
            assert seeds.loc[model, f"{m}_sd"] == pytest.approx(v.std(ddof=1), rel=1e-12)
    comp = res.tables["comparison"]
    assert set(comp["reference"]) == {"rsf"} and set(comp["model"]) == {"cox"}
    cs = res.tables["comparison_seeds"].set_index("metric")
    auc = comp[comp["metric"] == "auc"]
    assert cs.loc["auc", "diff_mean"] == pytest.approx(auc["diff"].mean())
    assert cs.loc["auc", "n_significant"] == int((auc["p_value"] < 0.05).sum())
    md = (tmp_path / "out" / "tables" / "seeds.md").read_text()
    row = seeds.loc["cox"]
    assert f"{row['auc_mean']:.3f} ± {row['auc_sd']:.3f}" in md


def test_unavailable_and_failing_models_are_reported_not_faked(
    bench_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def missing(train, val, seed, options):
        calls.append(seed)
        raise RunnerUnavailable("not available yet: my_pkg.fit is not in this installation.")

    def broken(train, val, seed, options):
        raise RuntimeError("diverged")

    monkeypatch.setitem(MODEL_RUNNERS._items, "missing", missing)
    monkeypatch.setitem(MODEL_RUNNERS._items, "broken", broken)
    with pytest.warns(UserWarning, match="model 'broken' failed on seed"):
        res = run_benchmark(
            _config(bench_cohort, tmp_path / "out", ["cox", "missing", "broken"], seeds=2)
        )
    assert calls == [0]  # an unavailable runner is not called again
    status = res.tables["models"].set_index("model")
    assert status.loc["missing", "status"] == "not available"
    assert (
        status.loc["broken", "status"] == "failed"
        and "2 cell(s): RuntimeError: diverged" in status.loc["broken", "message"]
    )
    seeds = res.tables["seeds"].set_index("model")
    assert seeds.loc["missing", "status"].startswith("not available: not available yet")
    assert np.isnan(seeds.loc["missing", "auc_mean"]) and seeds.loc["missing", "n_seeds"] == 0
    assert seeds.loc["cox", "status"] == "ok" and np.isfinite(seeds.loc["cox", "auc_mean"])
    assert set(res.tables["summary"]["model"]) == {"cox"}
    assert (
        ResultCache(tmp_path / "out" / "cache").cells()[0]["model"] == "cox"
    )  # only real results cached


def test_unknown_model_fails_before_any_work(bench_cohort: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownOptionError, match="Did you mean 'rsf'"):
        run_benchmark(_config(bench_cohort, tmp_path / "out", ["cox", "rfs"]))
    assert not (tmp_path / "out").exists()


def test_dmanet_without_its_training_entry_point_is_reported_not_available(
    bench_cohort: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "oncofusion.models.pipeline", None)  # as if not installed
    res = run_benchmark(_config(bench_cohort, tmp_path / "out", ["cox", "dmanet"], seeds=1))
    status = res.tables["models"].set_index("model")
    assert status.loc["dmanet", "status"] == "not available"
    assert "oncofusion.models.pipeline" in status.loc["dmanet", "message"]
    row = res.tables["seeds"].set_index("model").loc["dmanet"]
    assert row["n_seeds"] == 0 and np.isnan(row["auc_mean"])
    assert "not available yet" in (tmp_path / "out" / "tables" / "seeds.md").read_text()


def test_a_runner_fingerprint_recomputes_cells_when_what_the_options_name_changes(
    bench_cohort: Path, tmp_path: Path, counting_runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oncofusion.benchmark import runners

    content = {"width": 8}  # stands for the content of a named config file
    monkeypatch.setitem(runners._INFO, "counting", runners.RunnerInfo(
        dynamic=False, source="test", fingerprint=lambda options: dict(content)))
    cfg = _config(bench_cohort, tmp_path / "out", ["counting"], seeds=1)
    run_benchmark(cfg)
    run_benchmark(cfg)
    assert len(counting_runner.calls) == 1  # same content: from the cache
    content["width"] = 16
    run_benchmark(cfg)
    assert len(counting_runner.calls) == 2  # edited content: recomputed


@pytest.mark.parametrize("name", ["deepsurv", "deephit"])
def test_static_deep_comparators_predict_from_baseline_visits_only(
    bench_cohort: Path, name: str
) -> None:
    # Visits stop at the event or censoring, so a static model that reads later visits (their
    # values or the time of the last one) learns the follow-up: the runner must cut them at 0.
    from oncofusion.data.cohort import Cohort

    cohort = load_cohort(bench_cohort)
    ids = list(cohort.patient_ids)
    train, val, test = cohort.subset(ids[:50]), cohort.subset(ids[50:70]), cohort.subset(ids[70:])
    baseline_only = Cohort(
        root=test.root,
        schema=test.schema,
        patients=test.patients,
        biomarkers=test.biomarkers[test.biomarkers["time"] <= 0.0].reset_index(drop=True),
        metadata=dict(test.metadata),
    )
    assert len(baseline_only.biomarkers) < len(test.biomarkers)
    runner = MODEL_RUNNERS.get(name)
    times = np.array([1.0, 2.0, 3.0])
    options = {"use": ["clinical", "biomarkers"], "max_epochs": 3, "hidden": [8]}
    model = runner(train, val, 0, dict(options))
    np.testing.assert_allclose(
        model.predict_survival(test, times), model.predict_survival(baseline_only, times)
    )
    assert model.config.max_visit_time == 0.0
    leaky = runner(train, val, 0, {**options, "max_visit_time": None})  # what it used to do
    assert not np.allclose(
        leaky.predict_survival(test, times), leaky.predict_survival(baseline_only, times)
    )


def test_metrics_at_a_horizon_where_follow_up_ends_are_evaluated_just_before_it(
    bench_cohort: Path, tmp_path: Path
) -> None:
    # DMA-Net design: everyone event-free is followed to exactly the last horizon (3 here),
    # where the cumulative/dynamic AUC and the IPCW Brier score are undefined.
    root = tmp_path / "admin"
    root.mkdir()
    (root / "cohort.yaml").write_bytes((bench_cohort / "cohort.yaml").read_bytes())
    p = pd.read_csv(bench_cohort / "patients.csv")
    late = p["time"] > 3.0
    p.loc[late, "event"] = 0
    p.loc[late, "time"] = 3.0
    p.to_csv(root / "patients.csv", index=False)
    b = pd.read_csv(bench_cohort / "biomarkers.csv")
    b[b["time"] <= 3.0].to_csv(root / "biomarkers.csv", index=False)
    res = run_benchmark(_config(root, tmp_path / "out", ["cox"], seeds=2))
    seeds = res.tables["seeds"].set_index("model")
    for m in ("auc", "iauc", "uno_c", "brier", "ibs"):
        assert np.isfinite(seeds.loc["cox", f"{m}_mean"]), m
    time_t = res.tables["time"]
    assert np.isfinite(time_t.loc[time_t["time"] > 2.9, "auc"]).all()
    assert any("evaluated at 3 - 1e-06" in n for n in res.notes)
