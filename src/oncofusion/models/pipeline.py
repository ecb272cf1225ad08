"""``train_model``: from a cohort and a config to a saved, evaluated run directory.

Steps: patient-level stratified split -> preprocessing fitted on training patients ->
time grid -> network from the config -> training with early stopping on validation IBS ->
run directory (config, weights, preprocessing, grid, schema, splits, epoch log, checksums).
Test patients touch nothing before the final evaluation.
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError
from oncofusion.models.config import ModelConfig
from oncofusion.models.predictor import DiscreteTimePredictor

__all__ = ["TrainedRun", "train_model", "make_splits", "make_discretizer", "input_sizes", "fit_to_cohort"]


@dataclass
class TrainedRun:
    """A trained model with its splits and training log."""

    model: DiscreteTimePredictor
    splits: dict[str, list[str]]
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    run_dir: Path | None = None
    global_rank: int = 0  # under DDP every process returns a run; only rank 0 should write it


def fit_to_cohort(config: ModelConfig, cohort: Cohort) -> ModelConfig:
    """Drop the config's modalities that the cohort has no data for (with a warning).

    A packaged config such as ``dmanet-cpu`` names imaging, markers and clinical data; on a
    cohort without images (PBC2, a registry extract) the imaging encoder would only ever
    see masked inputs, so it is left out instead.
    """
    available = {
        "imaging": cohort.imaging is not None and len(cohort.imaging) > 0,
        "biomarkers": bool(cohort.schema.biomarkers) and cohort.biomarkers is not None,
        "clinical": bool(cohort.schema.clinical.all),
        "genomics": bool(cohort.schema.genomics) and cohort.genomics is not None,
    }
    keep = [m for m in config.network.modalities if available.get(m, False)]
    dropped = [m for m in config.network.modalities if m not in keep]
    if not dropped:
        return config
    if not keep:
        raise CohortError(
            f"the cohort has none of the config's modalities {config.network.modalities}.",
            file="cohort.yaml",
            fix="use a config whose network.modalities match the cohort's data.",
        )
    warnings.warn(f"the cohort has no {', '.join(dropped)} data; training on {', '.join(keep)}.", stacklevel=2)
    out = config.model_copy(deep=True)
    out.network.modalities = keep
    if "imaging" not in keep:
        out.data = out.data.model_copy(update={"image_shape": None})
    return out


def make_splits(cohort: Cohort, config: ModelConfig) -> dict[str, list[str]]:
    """Stratified patient-level train/validation/test split from ``config.data``."""
    from oncofusion.data.splits import split_patients

    cols = [c for c in config.data.stratify if c in cohort.patients.columns]
    dropped = sorted(set(config.data.stratify) - set(cols))
    if dropped:
        warnings.warn(f"stratification column(s) {dropped} are not in this cohort; stratifying by {cols}.", stacklevel=2)
    sizes = config.data.split
    if all(float(x).is_integer() and x > 1 for x in sizes):
        total = sum(sizes)
        if total != len(cohort):
            sizes = [x / total for x in sizes]  # counts for another cohort size: keep the proportions
        else:
            sizes = [int(x) for x in sizes]
    return split_patients(cohort.patients, sizes=tuple(sizes), stratify=tuple(cols), seed=config.train.seed)


def make_discretizer(cohort: Cohort, config: ModelConfig, train_ids: list[str]) -> Any:
    """Monthly-style cuts: ``n_intervals`` equal intervals to the horizon, or given cuts."""
    from oncofusion.survival.discretize import Discretizer

    if config.data.cuts:
        return Discretizer.from_cuts(config.data.cuts)
    horizon = config.data.horizon or (max(cohort.schema.horizons) if cohort.schema.horizons else None)
    disc = Discretizer.equidistant(config.data.n_intervals, horizon=horizon)
    train = cohort.subset(train_ids).patients
    return disc.fit(train["time"].to_numpy(), train["event"].to_numpy())


def input_sizes(cohort: Cohort, preprocessor: Any, config: ModelConfig) -> dict[str, Any]:
    """Per-modality input sizes and data-dependent encoder arguments (the gene graph)."""
    sizes = {
        "imaging": 1,
        "biomarkers": len(preprocessor.biomarker_names),
        "clinical": len(preprocessor.clinical_feature_names),
        "genomics": len(preprocessor.genomic_names),
    }
    extra: dict[str, dict[str, Any]] = {}
    genomics = config.network.encoders.get("genomics")
    if genomics is not None and genomics.name == "gcn":
        if cohort.gene_graph is None:
            raise CohortError("the gcn genomic encoder needs gene_graph.csv.", file="gene_graph.csv",
                              fix="add the interaction graph or use the genomic_mlp encoder.")
        extra["genomics"] = {"edges": cohort.gene_graph[["gene_a", "gene_b"]].values.tolist(),
                             "genes": list(cohort.schema.genomics)}
    for m in config.network.modalities:
        if sizes.get(m, 0) == 0:
            raise CohortError(
                f"the config uses modality '{m}' but the cohort has no {m} columns.",
                file="cohort.yaml",
                fix=f"remove '{m}' from network.modalities or add the {m} data.",
            )
    return {"input_sizes": sizes, "extra_encoder_args": extra}


def train_model(
    cohort: Cohort,
    config: ModelConfig,
    *,
    work_dir: str | Path,
    splits: dict[str, list[str]] | None = None,
    resume: bool = True,
) -> TrainedRun:
    """Train the configured network on ``cohort`` (checkpoints in ``work_dir``)."""
    import torch

    from oncofusion.data.collate import collate_patients
    from oncofusion.data.dataset import PatientDataset
    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.models.network import MultimodalSurvivalNet
    from oncofusion.train.fit import fit
    from oncofusion.train.landmark import LandmarkAugmentedDataset
    from oncofusion.train.objective import DiscreteTimeObjective
    from oncofusion.utils.seed import seed_everything

    start = _time.perf_counter()
    seed_everything(config.train.seed, deterministic=config.train.deterministic)
    if not cohort.patients["event"].astype(bool).any():
        raise CohortError("the cohort has no events, so no model can be trained.", file="patients.csv",
                          column="event", fix="check the event column (1 = event).")
    config = fit_to_cohort(config, cohort)
    splits = splits or make_splits(cohort, config)
    train_c, val_c = cohort.subset(splits["train"]), cohort.subset(splits["val"])
    pre = TabularPreprocessor(
        log_biomarkers=config.data.log_biomarkers, categorical_missing=config.data.categorical_missing
    ).fit(cohort, splits["train"], vocabulary_from_cohort=True)
    disc = make_discretizer(cohort, config, splits["train"])
    sizes = input_sizes(cohort, pre, config)
    net = MultimodalSurvivalNet(config.network, sizes["input_sizes"], disc.n_intervals, sizes["extra_encoder_args"])
    shape = tuple(config.data.image_shape) if config.data.image_shape and "imaging" in config.network.modalities else None
    base = config.data.baseline
    # keep every training patient's resampled image in memory (small at these sizes): an LRU
    # cache smaller than the training set would re-read and resample every image each epoch
    train_full = PatientDataset(train_c, pre, image_shape=shape, cache_size=max(128, len(train_c)))
    train_set = LandmarkAugmentedDataset(
        train_full, disc.cuts, baseline=base, landmarks=config.data.landmarks, p=config.data.landmark_p,
        seed=config.train.seed,
    )
    val_set = PatientDataset(val_c, pre, image_shape=shape, max_visit_time=base, cache_size=max(128, len(val_c)))
    tt = train_c.patients["time"].to_numpy(float)
    te = train_c.patients["event"].to_numpy(int)
    objective = DiscreteTimeObjective(disc, config.loss, tt, te)
    torch.manual_seed(config.train.seed)
    result = fit(
        net, objective, train_set, val_set, train_time=tt, train_event=te, grid=disc.cuts[1:],
        config=config.train, collate=collate_patients, work_dir=work_dir, resume=resume,
    )
    net.load_state_dict(result.state_dict)
    model = DiscreteTimePredictor(net, config, pre, disc, cohort.schema)
    model._input_sizes = sizes
    return TrainedRun(
        model, splits, result.history, result.best_epoch, _time.perf_counter() - start, global_rank=result.global_rank
    )
