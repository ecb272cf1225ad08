"""Speed and agreement of oncofusion.metrics against scikit-survival, lifelines and torchsurv.

Run: ``.venv/bin/python -m benchmarks.bench_metrics`` (``--quick`` for a short run, ``--max-n``
to cap the sample sizes). Prints one row per metric, sample size and peer: our time, the
peer's time, the ratio peer/ours and the largest absolute difference between the values.
Peers whose algorithm is quadratic in n (or needs n x n memory) are skipped above a size,
which is shown as "-".
"""

from __future__ import annotations

import argparse
import platform
import time as _time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from oncofusion.metrics import (
    bootstrap,
    brier_score,
    concordance_index,
    concordance_index_uno,
    integrated_brier_score,
    time_dependent_auc,
)

# largest n at which each peer is run (its cost grows like n^2 in time or memory)
PEER_MAX_N = {
    "sksurv": 100_000,
    "lifelines": 1_000_000,
    "torchsurv": 10_000,
}


def make_data(n: int, seed: int = 0) -> dict[str, Any]:
    """Exponential event and censoring times (rounded: some ties), a noisy risk score."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_event = rng.exponential(10 * np.exp(-0.7 * x))
    t_cens = rng.exponential(15, n)
    time = np.round(np.minimum(t_event, t_cens), 3) + 0.001
    event = t_event <= t_cens
    risk = x + 0.5 * rng.normal(size=n)
    times = np.quantile(time[event], [0.2, 0.4, 0.6, 0.8])
    surv = np.exp(-np.outer(np.exp(0.7 * risk), times) / 10.0)
    tau = float(np.quantile(time, 0.9))
    return {"time": time, "event": event, "risk": risk, "times": times, "surv": surv, "tau": tau}


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last value."""
    best, value = np.inf, None
    for _ in range(repeat):
        start = _time.perf_counter()
        value = fn()
        best = min(best, _time.perf_counter() - start)
    return best, value


def _surv_y(d: dict[str, Any]) -> Any:
    from sksurv.util import Surv

    return Surv.from_arrays(d["event"], d["time"])


def _torch(*arrays: np.ndarray) -> list[Any]:
    import torch

    return [torch.as_tensor(a) for a in arrays]


def peers_for(metric: str, d: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Peer implementations of ``metric`` on data ``d`` (each returns comparable values)."""
    t, e, r, times, surv, tau = (d[k] for k in ("time", "event", "risk", "times", "surv", "tau"))
    out: dict[str, Callable[[], Any]] = {}
    if metric == "harrell_c":
        from lifelines.utils import concordance_index as lifelines_c
        from sksurv.metrics import concordance_index_censored

        out["sksurv"] = lambda: concordance_index_censored(e, t, r)[0]
        out["lifelines"] = lambda: lifelines_c(t, -r, e)  # lifelines: higher = longer survival

        def torchsurv_c() -> float:
            from torchsurv.metrics.cindex import ConcordanceIndex

            rt, et, tt = _torch(r, e, t)
            return float(ConcordanceIndex()(rt, et, tt))

        out["torchsurv"] = torchsurv_c
    elif metric == "uno_c":
        from sksurv.metrics import concordance_index_ipcw

        y = _surv_y(d)
        out["sksurv"] = lambda: concordance_index_ipcw(y, y, r, tau=tau)[0]

        def torchsurv_uno() -> float:
            from torchsurv.metrics.cindex import ConcordanceIndex
            from torchsurv.stats.ipcw import get_ipcw

            rt, et, tt = _torch(r, e, t)
            w = get_ipcw(et, tt).double()  # torchsurv's IPCW come back as float32
            return float(ConcordanceIndex()(rt, et, tt, weight=w, tmax=tau))

        out["torchsurv"] = torchsurv_uno
    elif metric == "td_auc":
        from sksurv.metrics import cumulative_dynamic_auc

        y = _surv_y(d)
        out["sksurv"] = lambda: np.r_[cumulative_dynamic_auc(y, y, r, times)[0]]

        def torchsurv_auc() -> np.ndarray:
            from torchsurv.metrics.auc import Auc
            from torchsurv.stats.ipcw import get_ipcw

            rt, et, tt, nt = _torch(r, e, t, times)
            w, w_new = get_ipcw(et, tt).double(), get_ipcw(et, tt, nt).double()
            return Auc()(rt, et, tt, weight=w, new_time=nt, weight_new_time=w_new).numpy()

        out["torchsurv"] = torchsurv_auc
    elif metric in ("brier", "ibs"):
        from sksurv.metrics import brier_score as sk_brier
        from sksurv.metrics import integrated_brier_score as sk_ibs

        y = _surv_y(d)
        if metric == "brier":
            out["sksurv"] = lambda: sk_brier(y, y, surv, times)[1]
        else:
            out["sksurv"] = lambda: sk_ibs(y, y, surv, times)

        def torchsurv_brier() -> Any:
            from torchsurv.metrics.brier_score import BrierScore
            from torchsurv.stats.ipcw import get_ipcw

            st, et, tt, nt = _torch(surv, e, t, times)
            bs = BrierScore()
            w, w_new = get_ipcw(et, tt).double(), get_ipcw(et, tt, nt).double()
            values = bs(st, et, tt, new_time=nt, weight=w, weight_new_time=w_new)
            return values.numpy() if metric == "brier" else float(bs.integral())

        out["torchsurv"] = torchsurv_brier
    return out


def ours_for(metric: str, d: dict[str, Any]) -> Callable[[], Any]:
    t, e, r, times, surv, tau = (d[k] for k in ("time", "event", "risk", "times", "surv", "tau"))
    return {
        "harrell_c": lambda: concordance_index(t, e, r).value,
        "uno_c": lambda: concordance_index_uno(t, e, r, tau=tau).value,
        "td_auc": lambda: time_dependent_auc(t, e, r, times).auc,
        "brier": lambda: brier_score(t, e, surv, times),
        "ibs": lambda: integrated_brier_score(t, e, surv, times),
    }[metric]


def run_speed(sizes: dict[str, list[int]]) -> list[list[str]]:
    rows: list[list[str]] = []

    def emit(row: list[str]) -> None:
        rows.append(row)
        print(" | ".join(row), flush=True)

    for metric, ns in sizes.items():
        for n in ns:
            d = make_data(n)
            repeat = 3 if n <= 100_000 else 1
            t_ours, v_ours = timed(ours_for(metric, d), repeat)
            peers = peers_for(metric, d)
            for peer, fn in peers.items():
                if n > PEER_MAX_N[peer]:
                    emit([metric, f"{n:,}", f"{t_ours:.4f}", peer, "-", "-", "-"])
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        t_peer, v_peer = timed(fn, 1)
                    except (RuntimeError, ValueError, MemoryError) as exc:  # reported, not fatal
                        emit([metric, f"{n:,}", f"{t_ours:.4f}", peer,
                              f"error: {type(exc).__name__}", "-", "-"])  # fmt: skip
                        continue
                v_ref = v_ours
                if peer == "lifelines":  # lifelines ties risks only when exactly equal
                    v_ref = concordance_index(d["time"], d["event"], d["risk"], tied_tol=0).value
                diff = float(np.max(np.abs(np.asarray(v_ref) - np.asarray(v_peer))))
                emit([metric, f"{n:,}", f"{t_ours:.4f}", peer, f"{t_peer:.4f}",
                      f"{t_peer / t_ours:.1f}x", f"{diff:.1e}"])  # fmt: skip
    return rows


def run_bootstrap(ns: list[int], n_resamples: int = 1000) -> list[list[str]]:
    rows = []
    for n in ns:
        d = make_data(n, seed=1)
        t, e, r, times, surv = (d[k] for k in ("time", "event", "risk", "times", "surv"))
        jobs = {
            "harrell_c": (concordance_index, (r,), {}),
            "td_auc (4 times)": (time_dependent_auc, (r,), {"times": times}),
            "brier (4 times)": (brier_score, (surv,), {"times": times}),
            "ibs": (integrated_brier_score, (surv,), {"times": times}),
            "harrell_c, BCa": (concordance_index, (r,), {}),
        }
        total = 0.0
        for name, (fn, preds, kw) in jobs.items():
            method = "bca" if name.endswith("BCa") else "percentile"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                secs, _ = timed(
                    lambda fn=fn, preds=preds, kw=kw, t=t, e=e, method=method: bootstrap(
                        fn, t, e, *preds, n_resamples=n_resamples, method=method, **kw
                    )
                )
            if method == "percentile":
                total += secs
            rows.append([name, f"{n:,}", str(n_resamples), f"{secs:.3f}"])
            print(" | ".join(rows[-1]), flush=True)
        rows.append(["all four (percentile)", f"{n:,}", str(n_resamples), f"{total:.3f}"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--max-n", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    big = [1_000, 10_000, 100_000, 1_000_000]
    mid = [1_000, 10_000, 100_000]
    if args.quick:
        big, mid = [1_000, 10_000], [1_000, 10_000]

    def cap(ns: list[int]) -> list[int]:
        return [n for n in ns if n <= args.max_n]

    sizes = {"harrell_c": cap(big), "uno_c": cap(big), "td_auc": cap(mid), "brier": cap(mid),
             "ibs": cap(mid)}  # fmt: skip
    print(f"# machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    speed = run_speed(sizes)
    boot = run_bootstrap([60, 10_000] if not args.quick else [60, 1_000])
    print()
    print(markdown(["metric", "n", "ours (s)", "peer", "peer (s)", "peer/ours", "max |diff|"],
                   speed))  # fmt: skip
    print()
    print(markdown(["bootstrap metric", "n", "resamples", "ours (s)"], boot))


if __name__ == "__main__":
    main()
