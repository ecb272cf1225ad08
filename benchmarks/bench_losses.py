"""Speed of the Cox partial likelihood (Efron ties), forward + backward, vs torchsurv.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_losses`` (add ``--no-write`` to
leave docs/benchmarks.md alone). Follow-up is simulated in whole days over 5 years, so
times are heavily tied (at most 1,826 distinct values), as in registry data. Both
implementations get the same float32 log-hazards (the training dtype) and run
forward + backward; the best of ``--repeats`` runs is reported. ``|diff|`` compares the
losses as a mean over events (torchsurv's ``reduction="sum"`` divided by the number of
events, because with ties torchsurv's ``"mean"`` divides by the number of distinct event
times) and the gradients (max absolute difference); both float32 losses are also compared
with a float64 evaluation of the same inputs.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from oncofusion.survival.losses import cox_partial_likelihood

SECTION = "## Survival losses"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def simulate(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times ~ exponential (median ~2 years), uniform censoring over 5 years, in days."""
    rng = np.random.default_rng(seed)
    log_hz = rng.normal(size=n)
    t_event = rng.exponential(3 * 365.25, n) * np.exp(-0.5 * log_hz)
    t_cens = rng.uniform(0, 5 * 365.25, n)
    time_days = np.maximum(np.ceil(np.minimum(t_event, t_cens)), 1.0)
    return time_days, t_event <= t_cens, log_hz


def _ours(time_t: torch.Tensor, event_t: torch.Tensor, base: torch.Tensor):
    x = base.clone().requires_grad_()
    loss = cox_partial_likelihood(time_t, event_t, x, ties="efron", reduction="sum")
    loss.backward()
    return loss.detach(), x.grad


def _torchsurv(time_t: torch.Tensor, event_t: torch.Tensor, base: torch.Tensor):
    from torchsurv.loss.cox import neg_partial_log_likelihood

    x = base.clone().requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchsurv warns about ties on every call
        loss = neg_partial_log_likelihood(x, event_t, time_t, ties_method="efron", reduction="sum")
    loss.backward()
    return loss.detach(), x.grad


def _best_of(fn, repeats: int, *args) -> tuple[float, torch.Tensor, torch.Tensor]:
    fn(*args)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        value, grad = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, value, grad


def run(sizes: list[int], repeats: int) -> list[dict[str, float]]:
    rows = []
    for n in sizes:
        time_np, event_np, log_hz_np = simulate(n)
        inputs = (
            torch.as_tensor(time_np, dtype=torch.float32),
            torch.as_tensor(event_np),
            torch.as_tensor(log_hz_np, dtype=torch.float32),
        )
        n_events = int(event_np.sum())
        t_ours, v_ours, g_ours = _best_of(_ours, repeats, *inputs)
        t_ts, v_ts, g_ts = _best_of(_torchsurv, repeats, *inputs)
        # float64 reference: our loss on the same values in float64 (it equals lifelines'
        # log-likelihood to 1e-8 in the tests)
        ref = float(cox_partial_likelihood(time_np, event_np, inputs[2].double(), reduction="sum"))
        rows.append(
            {
                "n": n,
                "distinct_times": len(np.unique(time_np)),
                "events": n_events,
                "ours": t_ours,
                "torchsurv": t_ts,
                "ratio": t_ts / t_ours,
                "loss_diff": abs(float(v_ours) - float(v_ts)) / n_events,
                "grad_diff": float((g_ours - g_ts).abs().max()),
                "ours_vs_ref": abs(float(v_ours) - ref) / n_events,
                "ts_vs_ref": abs(float(v_ts) - ref) / n_events,
            }
        )
        r = rows[-1]
        print(
            f"{n:>9,d}  ours {r['ours']:.4f} s  torchsurv {r['torchsurv']:.4f} s  "
            f"ratio {r['ratio']:.2f}  |diff| loss {r['loss_diff']:.1e} grad {r['grad_diff']:.1e}  "
            f"vs float64: ours {r['ours_vs_ref']:.1e} torchsurv {r['ts_vs_ref']:.1e}",
            flush=True,
        )
    return rows


def table(rows: list[dict[str, float]]) -> str:
    lines = [
        (
            "| n | distinct times | events | ours (s) | torchsurv (s) | torchsurv / ours | "
            "\\|diff\\| loss (per event) | \\|diff\\| grad (max) | ours vs float64 | "
            "torchsurv vs float64 |"
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,d} | {r['distinct_times']:,d} | {r['events']:,d} | {r['ours']:.4f} | "
            f"{r['torchsurv']:.4f} | {r['ratio']:.2f} | {r['loss_diff']:.1e} | {r['grad_diff']:.1e} | "
            f"{r['ours_vs_ref']:.1e} | {r['ts_vs_ref']:.1e} |"
        )
    return "\n".join(lines)


def section(rows: list[dict[str, float]], repeats: int, load: tuple[float, float, float]) -> str:
    import torchsurv

    intro = (
        "Cox negative partial log-likelihood with Efron ties, forward + backward: "
        "`oncofusion.survival.losses.cox_partial_likelihood` vs torchsurv's "
        '`neg_partial_log_likelihood(ties_method="efron")` on the same float32 inputs, best of '
        f"{repeats} runs after a warm-up. Follow-up in whole days over 5 years (heavy ties)."
    )
    machine = (
        f"Machine: {os.cpu_count()}-core CPU ({platform.machine()}), no GPU, torch "
        f"{torch.__version__} with {torch.get_num_threads()} thread(s), torchsurv "
        f"{torchsurv.__version__}, Python {platform.python_version()}. Other engineers' "
        "processes (tests, benchmarks) were running on the same machine (load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} over 1 / 5 / 15 min), so absolute times "
        "are noisy; the two implementations ran one after the other in the same process."
    )
    notes = (
        "Ours: one O(n log n) sort, then one cumulative sum for all risk sets (in float64, "
        "shifted by the maximum; an exact `logcumsumexp` takes over if the shifted sums "
        "underflow) and segment sums (`index_add`) over tied events. Loss columns are per "
        "event (sum / number of events); the differences are float32 rounding (torchsurv "
        "accumulates in float32 and returns float32 even for float64 input; ours sums risk "
        "sets in float64). The float64 reference is our loss on the same values in float64, "
        "which equals lifelines' `log_likelihood_` to 1e-8 (tests/survival/test_loss_cox.py)."
    )
    command = "Command: `OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_losses`"
    return "\n\n".join([SECTION, intro, command, machine, table(rows), notes]) + "\n"


def write_section(text: str, path: Path = DOC) -> None:
    """Insert or replace the ``## Survival losses`` section, leaving other sections alone."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[nxt + 1 :] if nxt != -1 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = run(args.sizes, args.repeats)
    print()
    print(table(rows))
    if not args.no_write:
        write_section(section(rows, args.repeats, load))
        print(f"\nwrote section '{SECTION}' of {DOC}")


if __name__ == "__main__":
    main()
