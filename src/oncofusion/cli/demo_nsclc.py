"""``oncofusion demo --case nsclc``: the whole MM-Care story on a simulated cohort, on CPU.

1. simulate an early-stage NSCLC cohort treated with SBRT or surgery (CT nodule + mask,
   clinical data, genomics for ~60%, overall survival and local control; the true outcome
   of every patient under both arms is kept in ``truth/``);
2. train the 3D U-Net on the training CTs, report its test Dice, and cut every patient's
   tumour ROI from the predicted mask;
3. train MM-Care (ROI ResNet-3D with spatial attention, clinical MLP, genomic GCN,
   cross-attention fusion, per-arm OS and LC, IPTW for the arm received);
4. evaluate it (per-arm OS and LC tables, calibration, the recommendation against
   everyone-surgery, everyone-SBRT, the FEV1/Charlson guideline, random choice and the
   oracle) and answer the question for a few test patients: the chances under each arm,
   the recommendation, and why.

Heavy modules are imported inside :func:`run_nsclc_demo`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["explain_recommendation", "run_nsclc_demo"]


def explain_recommendation(
    row: Any, arms: list[str], *, alpha: float, beta: float, horizon: float, unit: str
) -> str:
    """One patient's answer in words: the chances under each arm, the choice and why.

    ``row`` is a row of :meth:`MMCarePredictor.recommend` (``p_os_<arm>``, ``p_lc_<arm>``,
    ``recommended``, ``benefit``, ``low``, ``high``, ``preference``, ``outside_support``).
    """
    h = f"{horizon:g} {unit}"
    parts = []
    for a in arms:
        lc = f", local control {row[f'p_lc_{a}']:.0%}" if f"p_lc_{a}" in row else ""
        parts.append(f"{a}: survival {row[f'p_os_{a}']:.0%}{lc}")
    best = row["recommended"]
    other = max((a for a in arms if a != best), key=lambda a: row[f"utility_{a}"])
    d_os = row[f"p_os_{best}"] - row[f"p_os_{other}"]
    why = f"{best} vs {other}: survival {d_os:+.1%} (x{alpha:g})"
    if f"p_lc_{best}" in row:
        why += f", local control {row[f'p_lc_{best}'] - row[f'p_lc_{other}']:+.1%} (x{beta:g})"
    interval = "" if row["low"] != row["low"] else f" [{row['low']:+.3f}, {row['high']:+.3f}]"
    verdict = (
        f"recommend {best} (benefit {row['benefit']:+.3f}{interval})"
        if row["preference"] == best
        else f"no clear preference (leans {best}, benefit {row['benefit']:+.3f}{interval})"
    )
    flag = (
        "; outside the common support: extrapolated"
        if bool(row.get("outside_support", False))
        else ""
    )
    return f"{row['patient_id']} at {h} - " + "; ".join(parts) + f" -> {verdict}; why: {why}{flag}"


def run_nsclc_demo(
    out_dir: str | Path,
    *,
    n: int = 2000,
    seed: int = 0,
    progress: bool = True,
    epochs: int | None = None,
    echo: Callable[[str], Any] = print,
) -> dict[str, Path]:
    """Simulate -> segment -> ROI -> train MM-Care -> evaluate -> recommend, into ``out_dir``.

    Parameters
    ----------
    out_dir
        Gets ``cohort/`` (the simulated cohort with ``truth/``), ``run/`` (the fitted model,
        loadable with :func:`oncofusion.load`; ``run/evaluation/`` holds the tables as
        Markdown + CSV and the figures as PNG) and ``answers.md`` (the per-patient answers).
    n
        Patients to simulate. The default is the benchmark's cohort (docs/benchmarks.md,
        "MM-Care": the demo reproduces its seed-0 row) and takes about 5 minutes on 2 CPU cores.
    seed
        Seeds the simulation, the split and the training.
    progress
        Print each step and the training progress bar.
    epochs
        Override the maximum training epochs (default: the ``mmcare-cpu`` config's).
    echo
        Where the lines go (``demo`` passes its console's ``print``).

    Returns
    -------
    dict
        ``cohort``, ``run``, ``evaluation`` and ``answers`` paths.
    """
    import warnings

    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_eval import evaluate_mmcare_run
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.mmcare_run import save_mmcare_run

    say = echo if progress else (lambda *_: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    say(f"[1/4] simulating {n} early-stage NSCLC patients (SBRT or surgery) into {out / 'cohort'}")
    simulate_nsclc(n, seed, str(out / "cohort"), size=16, overwrite=True)
    cohort = load_cohort(out / "cohort", require_events=True)
    train_over: dict[str, Any] = {"seed": seed, "progress": bool(progress)}
    if epochs is not None:
        train_over["max_epochs"] = int(epochs)
    roi_over: dict[str, Any] = {"enabled": True}
    if epochs is not None:
        roi_over["segmenter"] = {"epochs": max(1, min(int(epochs), 15))}
    cfg = load_mmcare_config("mmcare-cpu", {"train": train_over, "roi": roi_over})
    say(
        "[2/4] 3D U-Net segmentation -> tumour ROI, then training MM-Care (IPTW, per-arm OS and LC)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train_mmcare(cohort, cfg, work_dir=out / ".work", resume=False)
    seg = run.model.training_summary.get("segmentation", {})
    if seg:
        say(f"      segmenter: test Dice {seg['test_dice_mean']:.3f} ({seg['n_test']} patients)")
    save_mmcare_run(run, cohort, out / "run", overwrite=True)
    say(f"      trained in {run.seconds:.0f} s (best epoch {run.best_epoch}); run in {out / 'run'}")
    say("[3/4] evaluating on the test patients")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate_mmcare_run(out / "run")
    say(report.tables["summary"].to_string(index=False))
    if "recommendation" in report.tables:
        cols = [
            c
            for c in ("policy", "agreement", "value", "value_share", "ipw_value")
            if c in report.tables["recommendation"]
        ]
        say(report.tables["recommendation"][cols].to_string(index=False))
    say("[4/4] answers for the first test patients (also in answers.md)")
    d = run.model.config.decision
    rec = report.tables["patients"]
    lines = [
        explain_recommendation(
            r,
            list(run.model.arms),
            alpha=d.alpha,
            beta=d.beta,
            horizon=run.model.decision_horizon,
            unit=run.model.time_unit,
        )
        for _, r in rec.iterrows()
    ]
    (out / "answers.md").write_text(
        "# MM-Care answers (test patients)\n\n" + "\n".join(f"- {x}" for x in lines) + "\n"
    )
    for line in lines[:3]:
        say("      " + line)
    import shutil

    shutil.rmtree(out / ".work", ignore_errors=True)
    paths = {
        "cohort": out / "cohort",
        "run": out / "run",
        "evaluation": out / "run" / "evaluation",
        "answers": out / "answers.md",
    }
    echo(
        f"done in {time.perf_counter() - start:.0f} s. Files: cohort {paths['cohort']}, model {paths['run']}, "
        f"tables and figures {paths['evaluation']}, answers {paths['answers']}"
    )
    return paths
