"""Batch scoring benchmark: ``oncofusion predict`` on a generated cohort of 1,000,000 patients.

Steps (each skipped when its output exists in ``--work``):

1. generate a cohort with clinical variables and serial biomarkers, no images
   (``cohort.yaml``, ``patients.parquet``, ``biomarkers.parquet``; 1 to 4 visits each);
2. train a tiny clinical + biomarkers DMA-Net (1 epoch) on 2,000 of its patients;
3. score the whole cohort with ``oncofusion predict RUN COHORT --out predictions.parquet``
   under ``/usr/bin/time -v`` (peak resident memory of the whole process, wall time), and
   the same steps in-process with phase timings (read + validate, score + write).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_batch                  # print
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_batch --write          # + docs
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_batch --n 20000        # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## Batch scoring"
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_batch --write"
LIMIT_GB = 4.0

COHORT_YAML = """\
name: batch-benchmark
description: generated for benchmarks/bench_batch.py (synthetic)
time_unit: months
horizons: [3, 6, 12]
clinical:
  continuous: [age, cea]
  categorical: [sex, stage, emvi]
biomarkers: [ezh2, cd10]
"""

MODEL_CONFIG: dict[str, Any] = {
    "name": "dmanet-batch-bench",
    "model": "dmanet",
    "data": {"n_intervals": 12, "split": [0.6, 0.2, 0.2], "stratify": ["event"], "landmarks": [3, 6]},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 16}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [16], "out_features": 16}},
        },
        "fusion": {"name": "concat", "args": {}},
        "head": {"name": "discrete_time", "args": {}},
    },
    "train": {"max_epochs": 1, "batch_size": 64, "progress": False, "accelerator": "cpu"},
}


def make_cohort(out: Path, n: int, seed: int = 0) -> dict[str, int]:
    """Write a synthetic cohort of ``n`` patients (vectorised; a few seconds per million)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = np.char.add("P", np.char.zfill(np.arange(n).astype(str), 7))
    age = rng.normal(63, 11, n).round(0)
    cea = np.round(rng.lognormal(1.5, 0.9, n), 1)
    stage_idx = rng.integers(0, 4, n)
    emvi = rng.random(n) < 0.4
    lin = 0.03 * (age - 63) + 0.25 * np.log(cea + 0.1) + 0.5 * stage_idx + 0.6 * emvi
    time_ = np.round(np.minimum(rng.exponential(20 * np.exp(-0.5 * lin)), 36.0) + 0.1, 1)
    event = ((time_ < 36.0) & (rng.random(n) < 0.8)).astype(np.int8)
    patients = pd.DataFrame({
        "patient_id": ids, "time": time_, "event": event, "age": age,
        "cea": np.where(rng.random(n) < 0.05, np.nan, cea),
        "sex": np.where(rng.random(n) < 0.5, "F", "M"),
        "stage": np.array(["I", "II", "III", "IV"])[stage_idx], "emvi": np.where(emvi, "yes", "no"),
    })  # fmt: skip
    k = rng.integers(1, 5, n)  # visits per patient, at 0, 3, 6, 9 months while followed up
    rows = np.repeat(np.arange(n), k)
    visit_no = np.arange(rows.size) - np.repeat(np.cumsum(k) - k, k)
    vtime = visit_no * 3.0
    keep = vtime <= time_[rows]
    rows, vtime = rows[keep], vtime[keep]
    m = rows.size
    biomarkers = pd.DataFrame({
        "patient_id": ids[rows], "time": vtime,
        "ezh2": np.round(rng.lognormal(0.6 + 0.1 * lin[rows], 0.3, m), 2),
        "cd10": np.where(rng.random(m) < 0.1, np.nan, np.round(rng.normal(45, 10, m), 1)),
    })  # fmt: skip
    (out / "cohort.yaml").write_text(COHORT_YAML)
    patients.to_parquet(out / "patients.parquet", index=False)
    biomarkers.to_parquet(out / "biomarkers.parquet", index=False)
    return {"patients": n, "visits": m, "events": int(event.sum())}


def train_run(cohort_dir: Path, run_dir: Path, n_train: int = 2000) -> float:
    """Train the tiny model on the first ``n_train`` patients; return the seconds taken."""
    import pandas as pd

    from oncofusion.data import load_cohort
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.config import config_from_dict
    from oncofusion.models.pipeline import train_model

    start = time.perf_counter()
    train_dir = run_dir.parent / "train-cohort"
    train_dir.mkdir(parents=True, exist_ok=True)
    patients = pd.read_parquet(cohort_dir / "patients.parquet").iloc[:n_train]
    visits = pd.read_parquet(cohort_dir / "biomarkers.parquet")
    visits[visits["patient_id"].isin(set(patients["patient_id"]))].to_parquet(train_dir / "biomarkers.parquet")
    patients.to_parquet(train_dir / "patients.parquet")
    (train_dir / "cohort.yaml").write_text((cohort_dir / "cohort.yaml").read_text())
    del visits
    sub = load_cohort(train_dir)
    run = train_model(sub, config_from_dict(MODEL_CONFIG), work_dir=run_dir.parent / ".bench-work")
    save_run(run, sub, run_dir, overwrite=True)
    return time.perf_counter() - start


def _rss_sampler(stop: threading.Event, peak: list[int]) -> None:
    import psutil

    proc = psutil.Process()
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.05)


def score_in_process(run_dir: Path, cohort_dir: Path, out: Path, chunk_size: int) -> dict[str, float]:
    """Phase timings and sampled peak RSS of load + score (printed as JSON by ``_score``)."""
    import oncofusion
    from oncofusion.data import load_cohort
    from oncofusion.models.batch import predict_to_file

    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=_rss_sampler, args=(stop, peak), daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    model = oncofusion.load(run_dir)
    t1 = time.perf_counter()
    cohort = load_cohort(cohort_dir, check_images=False)
    t2 = time.perf_counter()
    n = predict_to_file(model, cohort, out, chunk_size=chunk_size)
    t3 = time.perf_counter()
    stop.set()
    sampler.join()
    return {"n": n, "load_model_s": t1 - t0, "read_validate_s": t2 - t1, "score_write_s": t3 - t2,
            "peak_rss_gb": peak[0] / 1e9}


def _time_v(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd`` under ``/usr/bin/time -v``: (max RSS in GB, wall seconds, stdout)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)  # type: ignore[union-attr]
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return rss_kb * 1024 / 1e9, seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="patients in the generated cohort")
    parser.add_argument("--work", type=Path, default=Path("/tmp/oncofusion-bench-batch"), help="work folder")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--write", action="store_true", help=f"append the results to {DOC}")
    args = parser.parse_args()
    cohort_dir, run_dir = args.work / f"cohort-{args.n}", args.work / "run"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t = time.perf_counter()
    if not (cohort_dir / "patients.parquet").exists():
        stats = make_cohort(cohort_dir, args.n)
        print(f"cohort: {stats} in {time.perf_counter() - t:.1f} s")
    if not (run_dir / "checksums.json").exists():
        print(f"trained the model in {train_run(cohort_dir, run_dir):.1f} s")
    import pandas as pd

    n_visits = len(pd.read_parquet(cohort_dir / "biomarkers.parquet", columns=["time"]))
    out = args.work / "predictions.parquet"
    cli = str(Path(sys.executable).parent / "oncofusion")
    rss, wall, _ = _time_v([cli, "predict", str(run_dir), str(cohort_dir), "--out", str(out),
                            "--chunk-size", str(args.chunk_size)], env)
    rows = pd.read_parquet(out, columns=["patient_id"]).shape[0]
    assert rows == args.n, (rows, args.n)
    code = ("import json, sys; from pathlib import Path; from benchmarks.bench_batch import score_in_process as f; "
            "print(json.dumps(f(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))")
    _, _, stdout = _time_v([sys.executable, "-c", code, str(run_dir), str(cohort_dir), str(out),
                            str(args.chunk_size)], env)
    phases = json.loads(stdout.strip().splitlines()[-1])
    report = _markdown(args.n, n_visits, args.chunk_size, rss, wall, phases)
    print(report)
    if args.write:
        _append(report)


def _markdown(n: int, visits: int, chunk: int, rss: float, wall: float, ph: dict[str, float]) -> str:
    import torch

    threads = torch.get_num_threads()
    load = os.getloadavg()
    score_rate = ph["n"] / ph["score_write_s"]
    return "\n".join([
        SECTION, "",
        (f"`oncofusion predict RUN COHORT --out predictions.parquet` on a generated cohort of {n:,} patients "
        f"with clinical variables (2 continuous, 3 categorical) and {visits:,} biomarker visits (2 markers, "
        "1 to 4 visits each; no images), Parquet tables. The model is a tiny clinical + biomarkers DMA-Net "
        "(gated MLP, BiLSTM with attention, concat fusion, 12 monthly intervals) trained 1 epoch on 2,000 "
        f"of the patients. Chunks of {chunk:,} patients; output one Parquet row per patient (risk at 3/6/12 "
        "months, hazards and S per interval). Peak memory is the maximum resident set size of the whole "
        "process (`/usr/bin/time -v`); throughput is patients per second of wall time."),
        "",
        f"Command: `{COMMAND}`",
        "",
        (f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores, no GPU; torch {torch.__version__} with "
        f"{threads} thread(s), Python {platform.python_version()}. Other engineers' processes were running "
        f"(load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}), so times are noisy."),
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| patients scored | {n:,} |",
        f"| peak memory, whole command (GB) | {rss:.2f} (limit {LIMIT_GB:g}) |",
        f"| wall time, whole command (s) | {wall:.1f} |",
        f"| patients / s, whole command | {n / wall:,.0f} |",
        f"| read + validate the cohort (s, in-process run) | {ph['read_validate_s']:.1f} |",
        f"| score + write (s, in-process run) | {ph['score_write_s']:.1f} |",
        f"| patients / s, scoring alone | {score_rate:,.0f} |",
        f"| peak memory, in-process run (GB, sampled every 50 ms) | {ph['peak_rss_gb']:.2f} |",
        "",
        ("The in-process run (phase timings) is a second, separate run of the same steps; with the machine's "
         "load changing between the two, their times differ by up to ~20 %."),
        "",
    ])


def _append(report: str) -> None:
    text = DOC.read_text()
    DOC.write_text(text.rstrip("\n") + "\n\n" + report)
    print(f"appended to {DOC}")


if __name__ == "__main__":
    main()
