"""Load benchmark of the scoring service: a live ``oncofusion serve`` on 127.0.0.1.

A tiny clinical + biomarkers DMA-Net is trained on the packaged example cohort, the
service is started as its own process (uvicorn, one worker; registry on SQLite, then on a
throw-away PostgreSQL server), warmed up, and then 16 concurrent
clients (asyncio + httpx, keep-alive connections) send requests for 30 s:

* 60 % ``POST /predict`` with one new patient's record (clinical values and 1-3 visits),
* 25 % ``POST /patients/{id}/visits`` appending a visit to one of the client's patients,
* 15 % ``GET /patients/{id}/history``.

Reported: requests per second, p50/p99 latency (all and per route), errors (any status
other than 200), and the server's resident memory after the warm-up and at the end.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_serve                 # print
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_serve --write         # + docs
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_serve --db sqlite     # one registry only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
SECTION = "## Scoring service"
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_serve --write"
TINY = ROOT / "src" / "oncofusion" / "data" / "examples" / "tiny"
#: the first few unexpected answers, shown after the table
ERRORS: list[str] = []

CONFIG: dict[str, Any] = {
    "name": "dmanet-serve-bench",
    "model": "dmanet",
    "data": {"n_intervals": 12, "split": [0.5, 0.25, 0.25], "stratify": ["event"], "landmarks": [1, 2, 3]},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 16}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [16], "out_features": 16}},
        },
        "fusion": {"name": "concat", "args": {}},
        "head": {"name": "discrete_time", "args": {}},
    },
    "train": {"max_epochs": 2, "batch_size": 4, "progress": False, "accelerator": "cpu"},
}


def train(run_dir: Path) -> None:
    from oncofusion.data import load_cohort
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.config import config_from_dict
    from oncofusion.models.pipeline import train_model

    cohort = load_cohort(TINY, check_images=False)
    run = train_model(cohort, config_from_dict(CONFIG), work_dir=run_dir.parent / ".work")
    save_run(run, cohort, run_dir, overwrite=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def training_levels(run_dir: Path) -> dict[str, list[str]]:
    """The categorical levels the model saw in training (a record with another is refused)."""
    state = json.loads((run_dir / "preprocess.json").read_text())
    return {col: list(spec["levels"]) for col, spec in state["categorical"].items()}


def _record(rng: random.Random, pid: str, levels: dict[str, list[str]]) -> dict[str, Any]:
    visits = [{"time": 3.0 * k, "ezh2": round(rng.lognormvariate(0.6, 0.3), 2), "cd10": round(rng.gauss(45, 10), 1)}
              for k in range(rng.randint(1, 3))]
    return {
        "patient_id": pid,
        "clinical": {"age": rng.randint(35, 90), "cea": round(rng.lognormvariate(1.5, 0.9), 1),
                     **{col: rng.choice(values) for col, values in levels.items()}},
        "visits": visits,
        "arm": rng.choice(["sbrt", "surgery"]),
    }


async def _client(k: int, base: str, token: str, until: float, out: dict[str, list[tuple[float, int]]],
                  levels: dict[str, list[str]]) -> None:
    import httpx

    rng = random.Random(k)
    mine: list[list[Any]] = []  # [patient id, next visit time]
    n = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        while time.perf_counter() < until:
            u = rng.random()
            if u < 0.60 or not mine:
                pid = f"c{k}-p{n}"
                n += 1
                route, call = "POST /predict", client.post("/predict", json={"records": [_record(rng, pid, levels)]})
                mine.append([pid, 9.25])
            elif u < 0.85:
                entry = rng.choice(mine)
                entry[1] += 0.01  # unique times per patient, inside the 12-month grid
                visit = {"time": round(entry[1], 2), "ezh2": round(rng.lognormvariate(0.6, 0.3), 2)}
                route, call = "POST /patients/{id}/visits", client.post(f"/patients/{entry[0]}/visits",
                                                                        json={"visits": [visit]})
            else:
                route, call = "GET /patients/{id}/history", client.get(f"/patients/{rng.choice(mine)[0]}/history")
            t0 = time.perf_counter()
            try:
                response = await call
                status = response.status_code
                if status != 200 and len(ERRORS) < 5:
                    ERRORS.append(f"{route} {status}: {response.text[:300]}")
            except httpx.HTTPError as e:
                status = -1
                ERRORS.append(f"{route}: {type(e).__name__}")
            out[route].append((time.perf_counter() - t0, status))


async def _load(base: str, token: str, clients: int, seconds: float, levels: dict[str, list[str]],
                first_client: int = 0) -> tuple[dict[str, list[tuple[float, int]]], float]:
    out: dict[str, list[tuple[float, int]]] = defaultdict(list)
    start = time.perf_counter()
    await asyncio.gather(*(_client(first_client + k, base, token, start + seconds, out, levels) for k in range(clients)))
    return out, time.perf_counter() - start


def _wait_health(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy")


def run_benchmark(clients: int, seconds: float, postgres: bool, work: Path) -> dict[str, Any]:
    import psutil

    run_dir = work / "run"
    if not (run_dir / "checksums.json").exists():
        train(run_dir)
    pg = None
    db = f"sqlite:///{work / 'registry.sqlite'}"
    if postgres:
        sys.path.insert(0, str(ROOT / "tests" / "serve"))
        from _postgres import PostgresServer, find_pg_bin

        bin_dir = find_pg_bin()
        if bin_dir is None:
            raise SystemExit("PostgreSQL is not installed: make ensure-postgres")
        pg = PostgresServer(bin_dir).start()
        db = pg.create_database("bench")
    token = secrets.token_urlsafe(32)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    env = {**os.environ, "ONCOFUSION_TOKEN": token, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    cli = str(Path(sys.executable).parent / "oncofusion")
    with open(log, "w") as fh:
        proc = subprocess.Popen([cli, "serve", str(run_dir), "--port", str(port), "--db", db,
                                 "--state-dir", str(work / "state"), "--log-level", "warning"],
                                env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_health(base, proc, log)
        server = psutil.Process(proc.pid)
        levels = training_levels(run_dir)
        asyncio.run(_load(base, token, clients, 5.0, levels, first_client=1000))  # warm-up (own patients)
        rss_start = server.memory_info().rss
        results, elapsed = asyncio.run(_load(base, token, clients, seconds, levels))
        rss_end = server.memory_info().rss
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if pg is not None:
            pg.stop()
    return {"results": results, "elapsed": elapsed, "rss_start": rss_start, "rss_end": rss_end,
            "db": "PostgreSQL" if postgres else "SQLite (WAL mode)", "clients": clients, "seconds": seconds}


def _table(r: dict[str, Any]) -> list[str]:
    rows = ["| route | requests | requests/s | p50 (ms) | p99 (ms) | errors |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    every: list[float] = []
    total = errors = 0
    for route in ("POST /predict", "POST /patients/{id}/visits", "GET /patients/{id}/history"):
        data = r["results"].get(route, [])
        lat = np.array([d for d, _ in data]) * 1000
        err = sum(1 for _, s in data if s != 200)
        every.extend(lat.tolist())
        total += len(data)
        errors += err
        rows.append(f"| `{route}` | {len(data):,} | {len(data) / r['elapsed']:.1f} | {np.percentile(lat, 50):.1f} | "
                    f"{np.percentile(lat, 99):.1f} | {err} |")
    allat = np.array(every)
    rows.append(f"| all | {total:,} | {total / r['elapsed']:.1f} | {np.percentile(allat, 50):.1f} | "
                f"{np.percentile(allat, 99):.1f} | {errors} |")
    growth = (r["rss_end"] - r["rss_start"]) / 2**20
    rows += ["", (f"Server memory (RSS): {r['rss_start'] / 2**20:.0f} MiB after the warm-up, "
                  f"{r['rss_end'] / 2**20:.0f} MiB after {r['seconds']:g} s ({growth:+.1f} MiB).")]
    return rows


def _markdown(results: list[dict[str, Any]], command: str) -> str:
    import torch

    r0 = results[0]
    load = os.getloadavg()
    lines = [
        SECTION, "",
        ("A live `oncofusion serve` (uvicorn, 1 worker) on 127.0.0.1, serving a tiny clinical + biomarkers "
         f"DMA-Net; after a 5 s warm-up, {r0['clients']} concurrent clients (asyncio + httpx, keep-alive) send "
         f"requests for {r0['seconds']:g} s: 60 % `POST /predict` (one new patient: clinical values and 1-3 "
         "visits; the record, visits and prediction are stored), 25 % `POST /patients/{id}/visits` (append a "
         "visit, re-score from the stored history, store the prediction), 15 % `GET /patients/{id}/history`. "
         "Latency is per request as the client sees it (queueing included: with 16 clients always waiting, "
         "the median is about 16 / throughput); an error is any status other than 200. Memory growth is the "
         "server's resident memory at the end minus after the warm-up."),
        "",
        f"Command: `{command}`",
        "",
        (f"Machine: {platform.machine()} CPU, {os.cpu_count()} cores (server and clients share them), no GPU; "
         f"torch {torch.__version__}, 1 thread; Python {platform.python_version()}. Other engineers' "
         f"processes were running (load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}), so times are noisy."),
        "",
    ]
    for r in results:
        lines += [f"### Registry on {r['db']}", "", *_table(r), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both",
                        help="registry database (postgresql: a throw-away server, see make ensure-postgres)")
    parser.add_argument("--write", action="store_true", help=f"append the results to {DOC}")
    args = parser.parse_args()
    results = []
    for backend in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        work = Path(tempfile.mkdtemp(prefix="oncofusion-bench-serve-"))
        try:
            results.append(run_benchmark(args.clients, args.seconds, backend == "postgresql", work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    command = COMMAND + ("" if args.db == "both" else f" --db {args.db}")
    report = _markdown(results, command)
    print(report)
    for line in ERRORS:
        print("unexpected answer:", line)
    if args.write:
        DOC.write_text(DOC.read_text().rstrip("\n") + "\n\n" + report)
        print(f"appended to {DOC}")


if __name__ == "__main__":
    main()
