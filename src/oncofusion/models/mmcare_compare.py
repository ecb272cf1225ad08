"""MM-Care's fusion comparison (paper Table 6) and ablations (Table 2) under identical splits.

Every variant is the base config plus a documented override (:func:`variants_for`); for each
seed the split is made once and shared by all variants, and every variant trains with that
seed. Scores are those of :func:`~oncofusion.models.mmcare_eval.evaluate_mmcare` on the
test patients: 3-year OS C-index and td-AUC under the arm received, 3-year LC AUC and
accuracy, and, on simulated cohorts, agreement with the true optimal arm and the share of
the oracle policy's value.

Variants (``ECF``, ``LPF``, ``WFSF`` are the paper's names):

=========================  ==================================================================
``adaptive (MM-Care)``     the base config (bidirectional cross-attention)
``ECF``                    early concatenation + MLP (= "w/o adaptive fusion" of Table 2)
``LPF``                    late fusion: the average of unimodal predictions (linear per-arm
                           head, so the head of the average is the average of the heads)
``WFSF``                   static learned weighted sum of the modality embeddings
``w/o genomics``           imaging + clinical only
``w/o dual-task``          separate models: OS-only (``loss.lc = 0``) and LC-only
                           (``loss.os = 0``, early stopping on the validation loss)
``w/o spatial attention``  the imaging ResNet without attention
=========================  ==================================================================
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.models.mmcare_config import MMCareConfig, mmcare_config_from_dict

__all__ = [
    "ABLATIONS_TABLE2",
    "FUSIONS_TABLE6",
    "compare_fusions",
    "variant_config",
    "variants_for",
]

FUSIONS_TABLE6 = ("ECF", "LPF", "WFSF", "adaptive (MM-Care)")
ABLATIONS_TABLE2 = (
    "adaptive (MM-Care)",
    "ECF",
    "w/o genomics",
    "w/o dual-task",
    "w/o spatial attention",
)
METRICS = ("os_c_index", "os_td_auc", "lc_auc", "lc_accuracy", "agreement", "value_share")


def _fusion(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"network": {"fusion": {"name": name, "args": args}}}


def variants_for(base: MMCareConfig) -> dict[str, list[dict[str, Any]]]:
    """Variant name -> the override(s) of ``base`` (two for the separate-models ablation)."""
    d = int(
        base.network.fusion.args.get("d_model", base.network.fusion.args.get("out_features", 32))
    )
    head = base.network.head.args
    return {
        "adaptive (MM-Care)": [{}],
        "ECF": [_fusion("concat", {"out_features": d, "hidden": [d], "dropout": 0.1})],
        "LPF": [
            {
                "network": {
                    "fusion": {"name": "late", "args": {"out_features": d}},
                    "head": {"name": "per_arm", "args": {**head, "hidden": []}},
                }
            }
        ],
        "WFSF": [_fusion("weighted_sum", {"out_features": d})],
        "w/o genomics": [
            {"network": {"modalities": [m for m in base.network.modalities if m != "genomics"]}}
        ],
        "w/o dual-task": [
            {"loss": {"lc": 0.0}},
            {"loss": {"os": 0.0}, "train": {"monitor": "val_loss"}},
        ],
        "w/o spatial attention": [
            {
                "network": {
                    "encoders": {
                        "imaging": {
                            "name": base.network.encoders["imaging"].name,
                            "args": {**base.network.encoders["imaging"].args, "attention": "none"},
                        }
                    }
                }
            }
        ]
        if "imaging" in base.network.encoders
        else [{}],
    }


def variant_config(base: MMCareConfig, override: dict[str, Any], *, seed: int) -> MMCareConfig:
    """``base`` with ``override`` merged in (fusion args replaced, not merged) and ``seed``."""
    from oncofusion.models.config import _merge

    raw = base.model_dump(mode="json")
    net = override.get("network", {})
    if "fusion" in net:
        raw["network"]["fusion"] = net["fusion"]
    if "head" in net:
        raw["network"]["head"] = net["head"]
    rest = {**override, "network": {k: v for k, v in net.items() if k not in ("fusion", "head")}}
    raw = _merge(raw, rest)
    raw["train"]["seed"] = int(seed)
    return mmcare_config_from_dict(raw, source="variant")


def _score(report: Any) -> dict[str, float]:
    row = report.tables["summary"].iloc[0].to_dict()
    return {k: float(row[k]) for k in METRICS if k in row}


def compare_fusions(
    cohort: Any,
    base_config: MMCareConfig,
    out_dir: str | Path,
    seeds: Sequence[int] = (0,),
    *,
    variants: Sequence[str] | None = None,
    n_resamples: int = 50,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Train and score every variant on the same splits for each seed; write the tables.

    Parameters
    ----------
    cohort
        A cohort with arms (simulated NSCLC for the agreement and value columns).
    base_config
        The MM-Care config the variants modify.
    out_dir
        Gets ``per_seed.csv``, ``fusion_comparison.{md,csv}`` (Table 6) and
        ``ablation.{md,csv}`` (Table 2), plus each run's checkpoints under ``work/``.
    seeds
        One split and one training seed per entry.
    variants
        Names from :func:`variants_for` (default: all).
    n_resamples
        Bootstrap resamples of the IPW policy value.

    Returns
    -------
    dict
        ``per_seed`` (one row per seed and variant), ``fusion_comparison`` and ``ablation``
        (mean and SD over seeds of each metric).
    """
    from oncofusion.evaluation import write_tables
    from oncofusion.models.mmcare_eval import evaluate_mmcare
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.pipeline import make_splits

    out = Path(out_dir)
    table = variants_for(base_config)
    names = list(variants or table)
    rows = []
    for seed in seeds:
        cfg0 = variant_config(base_config, {}, seed=seed)
        splits = make_splits(cohort, cfg0)  # type: ignore[arg-type]
        for name in names:
            start = time.perf_counter()
            models = []
            for k, override in enumerate(table[name]):
                cfg = variant_config(base_config, override, seed=seed)
                work = out / "work" / f"seed{seed}" / f"{_slug(name)}-{k}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    models.append(
                        train_mmcare(cohort, cfg, work_dir=work, splits=splits, resume=False).model
                    )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                report = evaluate_mmcare(
                    models[0],
                    cohort,
                    splits["test"],
                    train_ids=splits["train"],
                    val_ids=splits["val"],
                    n_resamples=n_resamples,
                    mc_samples=0,
                    lc_model=models[1] if len(models) > 1 else None,
                )
            row = {
                "seed": seed,
                "variant": name,
                **_score(report),
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            if progress:
                print(
                    f"seed {seed} {name:24s} "
                    + " ".join(f"{k}={row[k]:.3f}" for k in METRICS if k in row),
                    flush=True,
                )
    per_seed = pd.DataFrame(rows)
    tables = {
        "per_seed": per_seed,
        "fusion_comparison": _aggregate(per_seed, [n for n in FUSIONS_TABLE6 if n in names]),
        "ablation": _aggregate(per_seed, [n for n in ABLATIONS_TABLE2 if n in names]),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_tables({k: v for k, v in tables.items() if len(v)}, out)
    return tables


def _aggregate(per_seed: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Mean and SD over seeds per variant, in ``order``; Markdown cells read "mean ± SD"."""
    if not order:
        return pd.DataFrame()
    rows = []
    for name in order:
        sub = per_seed[per_seed["variant"] == name]
        row: dict[str, Any] = {"variant": name, "n_seeds": len(sub)}
        for m in METRICS:
            if m in sub and sub[m].notna().any():
                v = sub[m].to_numpy(float)
                row[m] = f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1) if len(v) > 1 else 0.0:.3f}"
                row[f"{m}_mean"] = float(np.nanmean(v))
        rows.append(row)
    return pd.DataFrame(rows)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()
