"""Federated vs central vs each site alone on the simulated CRLM cohort.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_federated --out bench-out/federated``
(defaults: the numbers in docs/benchmarks.md). Per seed:

1. ``simulate_crlm(n=600, seed, images=False)`` (clinical + serial EZH2/CD10; no CEUS video:
   the 3D imaging encoder would make every federated round minutes long on a CPU);
2. :func:`oncofusion.federated.sites.assign_sites` into ``--sites`` sites whose case mix differs
   by TNM stage (``skew``);
3. a common test set: 20% of the patients, stratified by event and site, never seen by any
   model; each site splits the rest of its patients 80/20 into training and validation
   (:class:`~oncofusion.federated.local.SiteTrainer`, the same split for every model);
4. **federated**: ``simulate_federation`` (Flower FedAvg; ``--strategies fedavg fedprox`` adds
   FedProx with ``--mu``), model of
   the round with the best site-weighted validation IBS;
   **central**: ``train_model`` on the union of the sites' training patients, early stopping
   on the union of their validation patients;
   **site alone**: ``train_model`` on one site's training patients, early stopping on its
   validation patients (its preprocessing and time grid from its own data and the config);
5. every model on the common test set: cumulative/dynamic AUC at 12 months and the IBS up to
   12 months, with the pooled training patients as the censoring reference for all models;
   federated minus central (and minus each site) AUC with a 95% paired bootstrap interval
   over the test patients (2000 resamples).

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

#: DMA-Net's clinical and marker branches (gated MLP, BiLSTM with temporal attention),
#: concatenation fusion (no imaging, so no cross-modal alignment), monthly hazards to 12 months
CONFIG: dict[str, Any] = {
    "name": "dmanet-tabular",
    "description": "DMA-Net clinical + serial marker branches, concatenation fusion, monthly hazards.",
    "data": {"n_intervals": 12, "horizon": 12, "landmarks": [1, 2, 3, 4, 5, 6, 8, 10], "landmark_p": 0.5,
             "stratify": ["event"]},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 16, "out_features": 32}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [32], "out_features": 32, "dropout": 0.2}},
        },
        "fusion": {"name": "concat", "args": {"out_features": 32, "hidden": [32], "dropout": 0.1}},
        "head": {"name": "discrete_time", "args": {}},
    },
    "loss": {"rank": 0.1, "brier": 0.5, "smooth": 0.01, "event_weight": "none", "label_smoothing": 0.0},
    "train": {"max_epochs": 80, "batch_size": 32, "lr": 0.003, "weight_decay": 1e-4, "patience": 12,
              "modality_dropout": 0.15, "progress": False, "accelerator": "cpu"},
}


def _evaluate(model: Any, cohort: Any, test_ids: list[str], train_time: np.ndarray, train_event: np.ndarray) -> tuple[dict[str, float], Any]:
    """AUC at 12 months and IBS to 12 months on the test patients, and the AUC's exact call."""
    from oncofusion.evaluation import PredictionSet
    from oncofusion.evaluation._compute import metric_call
    from oncofusion.evaluation.run import usable_horizon
    from oncofusion.federated.local import survival_metrics

    sub = cohort.subset(test_ids)
    pred = model.predict(sub)
    p = sub.patients.set_index("patient_id").loc[pred.patient_ids]
    time, event = p["time"].to_numpy(float), p["event"].to_numpy(int)
    metrics = survival_metrics(time, event, pred.surv, pred.cuts[1:], horizon=12.0, train_time=train_time,
                               train_event=train_event)
    ps = PredictionSet(model="m", patient_ids=list(pred.patient_ids), time=time, event=event, surv=pred.surv,
                       grid=pred.cuts[1:], train_time=train_time, train_event=train_event, horizons=[12.0])
    return metrics, metric_call(ps, "auc", usable_horizon(12.0, time))


def _paired_diff(a: Any, b: Any, *, seed: int, n_boot: int = 2000) -> tuple[float, float, float]:
    """AUC(a) - AUC(b) on the same test patients with a 95% paired percentile bootstrap interval."""
    rng = np.random.default_rng(seed)
    n = len(a.time)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        try:
            da = float(a.fn(a.time[idx], a.event[idx], a.prediction[idx], **a.kwargs).auc[0])
            db = float(b.fn(b.time[idx], b.event[idx], b.prediction[idx], **b.kwargs).auc[0])
        except Exception:  # noqa: BLE001, S112 - a resample without an event by 12 months is skipped
            continue
        diffs.append(da - db)
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return a.value() - b.value(), float(lo), float(hi)


def run_seed(seed: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_crlm
    from oncofusion.data.splits import split_patients
    from oncofusion.federated.config import FederatedConfig
    from oncofusion.federated.local import SiteTrainer
    from oncofusion.federated.simulate import simulate_federation
    from oncofusion.federated.sites import assign_sites, site_cohorts
    from oncofusion.models.config import config_from_dict
    from oncofusion.models.pipeline import train_model

    cfg = config_from_dict({**CONFIG, "train": {**CONFIG["train"], "seed": seed}})
    simulate_crlm(args.n, seed, str(out / f"cohort-{seed}"), images=False, overwrite=True)
    cohort = assign_sites(load_cohort(out / f"cohort-{seed}"), args.sites, seed, skew=args.skew)
    test_ids = split_patients(cohort.patients, sizes=(0.8, 0.2), stratify=("event", "site"), seed=seed)["test"]
    rest = cohort.subset([p for p in cohort.patient_ids if p not in set(test_ids)])
    trainers = {s: SiteTrainer(s, c, cfg, val_fraction=0.2, seed=seed) for s, c in site_cohorts(rest).items()}
    train_all = [i for t in trainers.values() for i in t.train_ids]
    val_all = [i for t in trainers.values() for i in t.val_ids]
    ref = cohort.subset(train_all).patients
    tt, te = ref["time"].to_numpy(float), ref["event"].to_numpy(int)
    stage = cohort.patients.set_index("patient_id")["tnm_stage"]
    rows: dict[str, Any] = {"seed": seed, "sites": {}, "models": {}}
    for s, t in trainers.items():
        ids = t.train_ids + t.val_ids
        rows["sites"][s] = {"patients": len(ids), "events": int(cohort.subset(ids).patients["event"].sum()),
                            "stage_III": float((stage.loc[ids] == "III").mean()),
                            "stage_I": float((stage.loc[ids] == "I").mean())}

    import oncofusion

    calls: dict[str, Any] = {}
    for strategy in args.strategies:
        name = "federated" if len(args.strategies) == 1 else f"federated ({strategy})"
        start = time.perf_counter()
        fed = FederatedConfig(rounds=args.rounds, local_epochs=args.local_epochs, strategy=strategy, mu=args.mu,
                              seed=seed, val_fraction=0.2)
        res = simulate_federation(cohort, cfg, fed, out / f"{strategy}-{seed}", test_ids=test_ids, overwrite=True)
        m, calls[name] = _evaluate(oncofusion.load(str(res.run_dir)), cohort, test_ids, tt, te)
        rows["models"][name] = {**m, "seconds": time.perf_counter() - start, "selected_round": res.best_round}
        print(f"seed {seed} {name} {rows['models'][name]}", flush=True)

    start = time.perf_counter()
    run = train_model(cohort, cfg, work_dir=out / f"work-{seed}-central",
                      splits={"train": train_all, "val": val_all, "test": test_ids}, resume=False)
    m, calls["central"] = _evaluate(run.model, cohort, test_ids, tt, te)
    rows["models"]["central"] = {**m, "seconds": time.perf_counter() - start, "best_epoch": run.best_epoch}
    print(f"seed {seed} central {rows['models']['central']}", flush=True)
    for s, t in trainers.items():
        start = time.perf_counter()
        run = train_model(cohort, cfg, work_dir=out / f"work-{seed}-{s}",
                          splits={"train": t.train_ids, "val": t.val_ids, "test": test_ids}, resume=False)
        m, calls[f"{s} alone"] = _evaluate(run.model, cohort, test_ids, tt, te)
        rows["models"][f"{s} alone"] = {**m, "seconds": time.perf_counter() - start, "best_epoch": run.best_epoch}
        print(f"seed {seed} {s} {rows['models'][f'{s} alone']}", flush=True)
    rows["paired"] = {}
    for name in (k for k in calls if k.startswith("federated")):
        for other in (k for k in calls if not k.startswith("federated")):
            rows["paired"][f"{name} - {other}"] = _paired_diff(calls[name], calls[other], seed=seed)
    return rows


def _markdown(results: list[dict[str, Any]]) -> str:
    names = list(results[0]["models"])
    lines = [
        "| model | " + " | ".join(f"seed {r['seed']}" for r in results) + " | mean AUC@12 | mean IBS | minutes |",
        "| --- | " + " | ".join("---:" for _ in results) + " | ---: | ---: | ---: |",
    ]
    for name in names:
        aucs = [r["models"][name]["auc"] for r in results]
        ibs = [r["models"][name]["ibs"] for r in results]
        secs = [r["models"][name]["seconds"] for r in results]
        lines.append(f"| {name} | " + " | ".join(f"{a:.3f}" for a in aucs)
                     + f" | {np.mean(aucs):.3f} | {np.mean(ibs):.3f} | {np.mean(secs) / 60:.1f} |")
    lines += ["", "Paired differences in test AUC at 12 months (95% paired bootstrap interval over test patients):", "",
              "| seed | " + " | ".join(k for k in results[0]["paired"] if k.endswith("central"))
              + f" | {next(k for k in results[0]['models'] if k.startswith('federated'))} - best single site |",
              "| ---: | " + " | ".join("---:" for k in results[0]["paired"] if k.endswith("central")) + " | --- |"]
    for r in results:
        cells = [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" for k, (d, lo, hi) in r["paired"].items() if k.endswith("central")]
        fed_names = [k for k in r["models"] if k.startswith("federated")]
        best = max((k for k in r["models"] if k.endswith("alone")), key=lambda k: r["models"][k]["auc"])
        d, lo, hi = r["paired"][f"{fed_names[0]} - {best}"]
        cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}] ({best})")
        lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
    lines += ["", "| seed | " + " | ".join(results[0]["sites"]) + " |",
              "| ---: | " + " | ".join("---" for _ in results[0]["sites"]) + " |"]
    for r in results:
        lines.append(f"| {r['seed']} | " + " | ".join(
            f"{v['patients']} pts, {v['events']} ev, stage I/III {v['stage_I']:.0%}/{v['stage_III']:.0%}"
            for v in r["sites"].values()) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("bench-out/federated"))
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--sites", type=int, default=4)
    ap.add_argument("--skew", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--local-epochs", type=int, default=2)
    ap.add_argument("--strategies", nargs="+", default=["fedavg"], choices=["fedavg", "fedprox"])
    ap.add_argument("--mu", type=float, default=0.01)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import os

    import torch

    warnings.filterwarnings("ignore")
    meta = {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "load_start": os.getloadavg()}
    results = []
    for seed in args.seeds:
        results.append(run_seed(seed, args, args.out))
        (args.out / "results.json").write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                                           "meta": meta, "results": results}, indent=2))
    meta["load_end"] = os.getloadavg()
    text = _markdown(results)
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
