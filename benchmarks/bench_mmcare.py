"""MM-Care quality on the simulated NSCLC cohort: prognosis, recommendation, fusion comparison.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_mmcare --out bench-out/mmcare``
(``--seeds 0 1 2`` for the main model, ``--fusion-seeds 0`` for Table 6 / Table 2; the
defaults are the numbers in docs/benchmarks.md). Steps:

1. ``simulate_nsclc(n=2000, seed=0, size=16)``: the true 3-year OS and LC of every patient
   under both arms are known (``truth/potential_outcomes.csv``);
2. per seed: split 70/15/15 (stratified by event and arm, ``seed``), train ``mmcare-cpu``
   (with ``--roi``: the 3D U-Net -> ROI step first; ``--members N``: an ensemble of N
   networks instead of the config's ``ensemble.members``) and evaluate on the test patients;
3. the oracle: the true 3-year OS under the arm received as the risk score, scored with the
   same metric (Uno's C truncated at 36 months, censoring from the training patients);
4. a reference T-learner: one Cox model per arm (lifelines, clinical + observed genomics +
   a genomics-observed flag; OS and LC), recommending with the same rule;
5. optionally the fusion comparison and ablations (:func:`compare_fusions`) on the same
   splits, with single networks (``ensemble.members: 1``).

Results go to ``OUT/results.json`` and ``OUT/results.md`` (the text of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def cox_t_learner(
    cohort: Any, splits: dict[str, list[str]], alpha: float = 0.7, beta: float = 0.3
) -> dict[str, float]:
    """Per-arm Cox models (OS, LC) on clinical + genomics; agreement and value share on test."""
    from lifelines import CoxPHFitter

    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.metrics import concordance_index_uno

    pre = TabularPreprocessor().fit(cohort, splits["train"])
    pts = cohort.patients.set_index("patient_id")
    x, _ = pre.transform_clinical(cohort.patients)
    z = pd.DataFrame(x, columns=pre.clinical_feature_names, index=cohort.patients["patient_id"])
    first = [n for n in z.columns if "=" in n]
    cats = {n.split("=")[0] for n in first}
    z = z.drop(
        columns=[next(n for n in first if n.startswith(c + "=")) for c in cats]
    )  # drop a reference level
    g = cohort.genomics.set_index("patient_id").reindex(z.index)
    has = g.notna().all(axis=1).astype(float).rename("genomics_observed")
    g = ((g - g.mean()) / g.std()).fillna(0.0)
    z = pd.concat([z, g, has], axis=1)
    tr, te = splits["train"], splits["test"]
    arms = list(cohort.schema.arms)
    p_os, p_lc = {}, {}
    for a in arms:
        ids = [i for i in tr if pts.loc[i, "arm"] == a]
        for name, (tc, ec, t) in {
            "os": ("time", "event", 36.0),
            "lc": ("lc_time", "lc_event", 35.999),
        }.items():
            d = z.loc[ids].assign(T=pts.loc[ids, tc].to_numpy(), E=pts.loc[ids, ec].to_numpy())
            m = CoxPHFitter(penalizer=0.05).fit(d, "T", "E")
            s = m.predict_survival_function(z.loc[te], times=[t]).T.iloc[:, 0].to_numpy()
            (p_os if name == "os" else p_lc)[a] = s
    u = np.column_stack([alpha * p_os[a] + beta * p_lc[a] for a in arms])
    po = (
        pd.read_csv(Path(cohort.root) / "truth" / "potential_outcomes.csv")
        .set_index("patient_id")
        .loc[te]
    )
    true_u = np.column_stack([alpha * po[f"os_{a}_36"] + beta * po[f"lc_{a}_36"] for a in arms])
    pick = u.argmax(1)
    recv = pts.loc[te, "arm"].to_numpy()
    own = np.array([p_os[a][i] for i, a in enumerate(recv)])
    train = pts.loc[tr]
    c = concordance_index_uno(
        pts.loc[te, "time"],
        pts.loc[te, "event"],
        1 - own,
        tau=36.0,
        train_time=train["time"],
        train_event=train["event"],
    )
    return {
        "os_c_index": float(c),
        "agreement": float((pick == true_u.argmax(1)).mean()),
        "value_share": float(true_u[np.arange(len(te)), pick].mean() / true_u.max(1).mean()),
    }


def oracle_c_index(cohort: Any, splits: dict[str, list[str]], horizon: float = 36.0) -> float:
    """Uno's C (tau = horizon) of the true OS at ``horizon`` under the arm received."""
    from oncofusion.metrics import concordance_index_uno

    pts = cohort.patients.set_index("patient_id")
    po = pd.read_csv(Path(cohort.root) / "truth" / "potential_outcomes.csv").set_index("patient_id")
    te, tr = splits["test"], splits["train"]
    recv = pts.loc[te, "arm"].to_numpy()
    true_os = np.array([po.loc[p, f"os_{a}_{horizon:g}"] for p, a in zip(te, recv)])
    train = pts.loc[tr]
    return float(
        concordance_index_uno(
            pts.loc[te, "time"],
            pts.loc[te, "event"],
            1 - true_os,
            tau=horizon,
            train_time=train["time"],
            train_event=train["event"],
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out/mmcare"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="main runs (none: only the fusion comparison)")
    ap.add_argument("--fusion-seeds", type=int, nargs="*", default=[0])
    ap.add_argument(
        "--roi", action="store_true", help="train the 3D U-Net and use predicted-mask ROIs"
    )
    ap.add_argument("--config", default="mmcare-cpu")
    ap.add_argument(
        "--members",
        type=int,
        default=None,
        help="networks in the ensemble of the main runs (default: the config's ensemble.members)",
    )
    args = ap.parse_args()

    import torch

    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_compare import compare_fusions
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_eval import evaluate_mmcare
    from oncofusion.models.mmcare_pipeline import train_mmcare

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    load = " / ".join(f"{x:.2f}" for x in __import__("os").getloadavg())
    cohort_dir = out / "cohort"
    if not (cohort_dir / "cohort.yaml").is_file():
        simulate_nsclc(args.n, 0, str(cohort_dir), size=16, overwrite=True)
    cohort = load_cohort(cohort_dir, require_events=True)
    results: dict[str, Any] = {
        "n": args.n,
        "seeds": args.seeds,
        "config": args.config,
        "roi": args.roi,
        "machine": f"{platform.machine()}, torch {torch.__version__}, threads "
        f"{torch.get_num_threads()}, load at start {load}",
        "runs": [],
    }
    for seed in args.seeds:
        over: dict[str, Any] = {"train": {"seed": seed}, "roi": {"enabled": args.roi}}
        if args.members is not None:
            over["ensemble"] = {"members": args.members}
        cfg = load_mmcare_config(args.config, over)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run = train_mmcare(cohort, cfg, work_dir=out / "work" / f"seed{seed}", resume=False)
            rep = evaluate_mmcare(
                run.model,
                cohort,
                run.splits["test"],
                train_ids=run.splits["train"],
                val_ids=run.splits["val"],
                out_dir=out / f"evaluation-seed{seed}",
                n_resamples=200,
            )
        row = rep.tables["summary"].iloc[0].to_dict()
        row.update(
            seed=seed,
            seconds=time.perf_counter() - start,
            best_epoch=run.best_epoch,
            best_epochs=run.model.training_summary.get("ensemble", {}).get(
                "best_epochs", [run.best_epoch]
            ),
            oracle_c_index=oracle_c_index(cohort, run.splits),
            cox=cox_t_learner(cohort, run.splits),
            policies=rep.tables["recommendation"].to_dict(orient="records"),
        )
        results["runs"].append(row)
        print(
            json.dumps({k: v for k, v in row.items() if k != "policies"}, default=float), flush=True
        )
        (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    if args.fusion_seeds:
        # single networks: 7 variants x seeds x members would be too slow on a CPU
        base = load_mmcare_config(
            args.config, {"roi": {"enabled": False}, "ensemble": {"members": 1}}
        )
        tables = compare_fusions(
            cohort, base, out / "fusions", seeds=args.fusion_seeds, n_resamples=50
        )
        results["fusions"] = tables["per_seed"].to_dict(orient="records")
    (out / "results.json").write_text(json.dumps(results, indent=2, default=float))
    (out / "results.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    """The docs/benchmarks.md text of ``results``."""
    text = ""
    if results["runs"]:
        text = _runs_markdown(results)
    if "fusions" in results:
        fz = pd.DataFrame(results["fusions"])
        metrics = [
            c
            for c in ("os_c_index", "lc_auc", "lc_accuracy", "agreement", "value_share")
            if c in fz
        ]
        agg = fz.groupby("variant", sort=False)[metrics].agg(["mean", "std"])
        text += (
            "\n\n| variant | " + " | ".join(metrics) + " |\n|---|" + "---:|" * len(metrics) + "\n"
        )
        text += "\n".join(
            f"| {v} | " + " | ".join(f"{r[(m, 'mean')]:.3f} ± {r[(m, 'std')]:.3f}" for m in metrics) + " |"
            for v, r in agg.iterrows()
        )
    return text + "\n"


def _runs_markdown(results: dict[str, Any]) -> str:
    """The main runs' table, the T-learner and the policies (mean over seeds)."""
    runs = pd.DataFrame(results["runs"])
    cols = [
        "seed",
        "os_c_index",
        "oracle_c_index",
        "os_td_auc",
        "lc_auc",
        "lc_accuracy",
        "agreement",
        "value_share",
        "no_clear_preference",
        "best_epoch",
        "seconds",
    ]
    cols = [c for c in cols if c in runs]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
    for _, r in runs.iterrows():
        lines.append(
            "| "
            + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols)
            + " |"
        )
    mean = runs[cols].mean(numeric_only=True)
    lines.append("| mean | " + " | ".join(f"{mean[c]:.3f}" for c in cols[1:]) + " |")
    cox = pd.DataFrame(list(runs["cox"])) if "cox" in runs else pd.DataFrame()
    text = "\n".join(lines)
    if len(cox):
        text += (
            "\n\nReference T-learner (per-arm Cox, clinical + genomics), mean over seeds: "
            f"C-index {cox['os_c_index'].mean():.3f}, agreement {cox['agreement'].mean():.3f}, "
            f"value share {cox['value_share'].mean():.3f}."
        )
    pol = pd.DataFrame([p | {"seed": r["seed"]} for r in results["runs"] for p in r["policies"]])
    if len(pol):
        agg = pol.groupby("policy", sort=False)[["agreement", "value_share"]].mean()
        text += "\n\n| policy (mean over seeds) | agreement | value share |\n|---|---:|---:|\n"
        text += "\n".join(
            f"| {p} | {r['agreement']:.3f} | {r['value_share']:.3f} |" for p, r in agg.iterrows()
        )
    return text


if __name__ == "__main__":
    main()
