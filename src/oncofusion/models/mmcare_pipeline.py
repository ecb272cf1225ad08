"""``train_mmcare``: from a cohort with treatment arms to a fitted MM-Care model.

Steps (test patients touch nothing before the final evaluation):

1. patient-level split stratified by event and arm (``data.split``, MM-Care: 70/15/15);
2. optional segmentation -> ROI (:func:`roi_step`): a 3D U-Net trained on the training
   patients' masks, Dice on the test patients, the CT masked and cropped around the
   predicted tumour for every patient;
3. preprocessing and the OS time grid fitted on training patients;
4. the network adapted to the cohort (:func:`adapt_network`: modalities the cohort lacks
   are dropped, ``gcn`` falls back to ``genomic_mlp`` without a gene graph);
5. the propensity model on the training patients' clinical vector, its overlap diagnostic
   and the IPTW weights of training and validation patients;
6. training with early stopping on the validation IBS of OS under the received arm; with
   ``ensemble.members`` > 1, one network per member seed (member m in
   ``work_dir/member<m>``, member 0 in ``work_dir``), averaged by
   :class:`~oncofusion.models.mmcare.MMCareEnsemble`.
"""

from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError
from oncofusion.models.mmcare_config import MMCareConfig
from oncofusion.models.mmcare_predictor import MMCarePredictor
from oncofusion.models.pipeline import TrainedRun

#: member m of an ensemble trains with seed ``train.seed + ENSEMBLE_SEED_STRIDE * m``
ENSEMBLE_SEED_STRIDE = 1000

__all__ = [
    "ENSEMBLE_SEED_STRIDE",
    "MMCareRun",
    "adapt_network",
    "check_arms",
    "lc_horizons_for",
    "roi_step",
    "train_mmcare",
]


@dataclass
class MMCareRun(TrainedRun):
    """A trained MM-Care model with its splits and training log (see :class:`TrainedRun`)."""

    model: MMCarePredictor  # type: ignore[assignment]


def check_arms(cohort: Cohort) -> None:
    """MM-Care needs two or more arms and each patient's arm."""
    arms = list(cohort.schema.arms)
    if len(arms) < 2:
        raise CohortError(
            f"MM-Care compares treatments, but the cohort declares arms {arms or 'none'}.",
            file="cohort.yaml", fix="list the arms (e.g. arms: [sbrt, surgery]) and give each patient's arm.",
        )  # fmt: skip
    if "arm" not in cohort.patients:
        raise CohortError(
            "MM-Care needs the arm each patient received.",
            file="patients.csv",
            column="arm",
            fix="add an 'arm' column.",
        )
    missing = cohort.patients.loc[cohort.patients["arm"].isna(), "patient_id"].tolist()
    if missing:
        raise CohortError(
            "these patients have no arm; MM-Care learns each arm from the patients who received it.",
            file="patients.csv",
            column="arm",
            rows=missing,
            fix="fill in the arm or drop them.",
        )
    counts = cohort.patients["arm"].astype(str).value_counts()
    empty = [a for a in arms if counts.get(a, 0) == 0]
    if empty:
        raise CohortError(
            f"no patient received arm(s) {empty}.",
            file="patients.csv",
            column="arm",
            fix="remove those arms from cohort.yaml.",
        )


def adapt_network(config: MMCareConfig, cohort: Cohort) -> tuple[MMCareConfig, list[str]]:
    """The config with the network fitted to what the cohort has, and notes on each change.

    A modality without data (no imaging, no genomics table) is dropped from
    ``network.modalities``; a ``gcn`` genomic encoder without ``gene_graph.csv`` becomes a
    ``genomic_mlp`` of the same output size (MM-Care §3.2.3: GNN when a graph exists).
    """
    net = config.network
    notes: list[str] = []
    present = {
        "clinical": bool(cohort.schema.clinical.all),
        "imaging": cohort.imaging is not None
        and len(cohort.imaging) > 0
        and config.data.image_shape is not None,
        "genomics": cohort.genomics is not None and bool(cohort.schema.genomics),
        "biomarkers": cohort.biomarkers is not None and bool(cohort.schema.biomarkers),
    }
    modalities = [m for m in net.modalities if present.get(m, False)]
    dropped = [m for m in net.modalities if m not in modalities]
    if dropped:
        notes.append(f"the cohort has no {', '.join(dropped)} data: modalities {modalities}")
    if not modalities:
        raise CohortError(
            f"the cohort has none of the configured modalities {net.modalities}.",
            file="cohort.yaml",
            fix="add clinical columns (or images/genomics) or change network.modalities.",
        )
    encoders = {m: net.encoders[m] for m in modalities}
    gen = encoders.get("genomics")
    if gen is not None and gen.name == "gcn" and cohort.gene_graph is None:
        from oncofusion.models.network import ComponentConfig

        out = int(gen.args.get("out_features", 32))
        encoders["genomics"] = ComponentConfig(
            name="genomic_mlp", args={"hidden": [2 * out, 2 * out], "out_features": out}
        )
        notes.append("no gene_graph.csv: the genomic encoder is genomic_mlp instead of gcn")
    new_net = net.model_copy(update={"modalities": modalities, "encoders": encoders})
    return config.model_copy(update={"network": new_net}), notes


def lc_horizons_for(config: MMCareConfig, cohort: Cohort, train_ids: list[str]) -> list[float]:
    """LC horizons: ``decision.lc_horizons``, else the cohort's horizons within the training
    LC follow-up (MM-Care: 1 and 3 years); empty when the cohort has no LC outcome."""
    pts = cohort.patients
    if "lc_time" not in pts or "lc_event" not in pts or pts["lc_time"].notna().sum() == 0:
        return []
    if config.decision.lc_horizons:
        return [float(h) for h in config.decision.lc_horizons]
    top = float(pts.loc[pts["patient_id"].isin(train_ids), "lc_time"].max())
    hs = [float(h) for h in cohort.schema.horizons if h <= top + 1e-9]
    if not hs:
        raise CohortError(
            f"no cohort horizon lies within the LC follow-up (up to {top:g}).",
            file="cohort.yaml",
            fix="set decision.lc_horizons in the config.",
        )
    return hs


def roi_step(
    cohort: Cohort,
    splits: dict[str, list[str]],
    config: MMCareConfig,
    work_dir: str | Path,
    *,
    verbose: bool = False,
) -> tuple[Cohort, Any, pd.DataFrame]:
    """Segment -> ROI in one call (MM-Care eq. 1-2).

    Trains the 3D U-Net on the training patients with masks (validation patients for early
    stopping), scores Dice on the test patients' ground-truth masks, and gives the cohort
    the imaging encoder reads: every patient's *predicted* tumour mask (``roi.mode="mask"``,
    eq. 2) or CT cropped around it (``roi.mode="crop"``), written under ``work_dir/roi``.

    Returns
    -------
    (roi_cohort, segmenter, dice)
        ``dice`` is :meth:`FittedSegmenter.dice` on the test patients (last row: the mean).
    """
    from oncofusion.models.mmcare_data import roi_step_cohort
    from oncofusion.models.segmentation import train_segmenter

    seg_cfg = config.roi.segmentation_config()
    segmenter = train_segmenter(
        cohort.subset(splits["train"]), cohort.subset(splits["val"]), seg_cfg, verbose=verbose
    )
    test = cohort.subset(splits["test"])
    labelled = (
        test.imaging is not None
        and "mask_path" in test.imaging
        and test.imaging["mask_path"].notna().any()
    )
    dice = segmenter.dice(test) if labelled else pd.DataFrame(columns=["patient_id", "dice"])
    return roi_step_cohort(cohort, segmenter, config.roi, Path(work_dir) / "roi"), segmenter, dice


def train_mmcare(
    cohort: Cohort,
    config: MMCareConfig,
    *,
    work_dir: str | Path,
    splits: dict[str, list[str]] | None = None,
    resume: bool = True,
) -> MMCareRun:
    """Train MM-Care on ``cohort`` (checkpoints in ``work_dir``); see the module docstring.

    Returns
    -------
    MMCareRun
        ``model`` is the :class:`~oncofusion.models.mmcare_predictor.MMCarePredictor`; its
        ``training_summary`` holds the test Dice of the ROI step, the overlap diagnostic and
        the effective sample size of the IPTW weights.
    """
    import torch

    from oncofusion.data.collate import collate_patients
    from oncofusion.data.dataset import PatientDataset
    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.decide import (
        PropensityModel,
        effective_sample_size,
        iptw_weights,
        overlap_diagnostic,
    )
    from oncofusion.models.mmcare import MMCareEnsemble, MMCareNet
    from oncofusion.models.mmcare_data import image_shape
    from oncofusion.models.mmcare_objective import LCTargets, MMCareObjective
    from oncofusion.models.mmcare_predictor import MMCarePredictor
    from oncofusion.models.pipeline import input_sizes, make_discretizer, make_splits
    from oncofusion.train.fit import fit
    from oncofusion.utils.seed import seed_everything

    start = _time.perf_counter()
    seed_everything(config.train.seed, deterministic=config.train.deterministic)
    check_arms(cohort)
    if not cohort.patients["event"].astype(bool).any():
        raise CohortError(
            "the cohort has no events, so no model can be trained.",
            file="patients.csv",
            column="event",
            fix="check the event column (1 = event).",
        )
    splits = splits or make_splits(cohort, config)  # type: ignore[arg-type]
    summary: dict[str, Any] = {}
    segmenter = None
    data = cohort
    if config.roi.enabled:
        data, segmenter, dice = roi_step(cohort, splits, config, work_dir)
        if len(dice):
            summary["segmentation"] = {
                "test_dice_mean": float(dice["dice"].iloc[-1]),
                "n_test": int(len(dice) - 1),
            }
    config, notes = adapt_network(config, data)
    for note in notes:
        warnings.warn(f"MM-Care: {note}.", UserWarning, stacklevel=2)
    summary["adaptations"] = notes
    train_ids, val_ids = splits["train"], splits["val"]
    # the level vocabulary comes from the whole cohort (values only), so a rare level that the
    # split put only in validation/test is a known (all-zero in training) column, not an error
    pre = TabularPreprocessor(categorical_missing=config.data.categorical_missing).fit(  # type: ignore[arg-type]
        data, train_ids, vocabulary_from_cohort=True
    )
    disc = make_discretizer(data, config, train_ids)  # type: ignore[arg-type]
    lc_h = lc_horizons_for(config, data, train_ids)
    sizes = input_sizes(data, pre, config)  # type: ignore[arg-type]
    arms = list(data.schema.arms)

    pts = data.patients.set_index(data.patients["patient_id"].astype(str))
    fit_ids = [*map(str, train_ids), *map(str, val_ids)]
    x, _ = pre.transform_clinical(pts.loc[fit_ids].reset_index(drop=True))
    a = pts.loc[fit_ids, "arm"].astype(str).to_numpy()
    n_tr = len(train_ids)
    pcfg = config.propensity
    prop = PropensityModel(C=pcfg.C).fit(
        x[:n_tr], a[:n_tr], arms=arms, feature_names=pre.clinical_feature_names
    )
    e = prop.predict_proba(x)
    overlap = overlap_diagnostic(
        e[:n_tr],
        arms,
        bounds=(pcfg.overlap_bounds[0], pcfg.overlap_bounds[1]),
        patient_ids=fit_ids[:n_tr],
    )
    w = (
        iptw_weights(e, a, stabilised=pcfg.stabilised, clip=(pcfg.clip[0], pcfg.clip[1]), arms=arms)
        if pcfg.iptw
        else np.ones(len(fit_ids))
    )
    summary["overlap"] = {
        "train_outside": int(overlap["outside"].sum()),
        "train_n": n_tr,
        "bounds": list(pcfg.overlap_bounds),
    }
    summary["iptw"] = {
        "enabled": pcfg.iptw,
        "ess_train": effective_sample_size(w[:n_tr]),
        "max_weight": float(w.max()),
    }

    lc_targets = (
        LCTargets.build(
            pts.loc[fit_ids].reset_index(drop=True), train_ids, lc_h, config.loss.lc_mode
        )
        if lc_h
        else None
    )

    def build() -> MMCareNet:
        return MMCareNet(
            config.network,
            sizes["input_sizes"],
            disc.n_intervals,
            arms,
            n_lc=len(lc_h),
            lc=config.loss.lc_mode,
            extra_encoder_args=sizes["extra_encoder_args"],
        )

    net = build()
    shape = image_shape(config)
    # every image stays cached after the first epoch (a 16^3 patch and its mask: 32 kB)
    train_set = PatientDataset(
        data.subset(train_ids), pre, image_shape=shape, cache_size=2 * len(train_ids) + 2
    )
    val_set = PatientDataset(
        data.subset(val_ids), pre, image_shape=shape, cache_size=2 * len(val_ids) + 2
    )
    train_c = data.subset(train_ids).patients
    tt, te = train_c["time"].to_numpy(float), train_c["event"].to_numpy(int)
    objective = MMCareObjective(
        disc, config.loss, lc_targets=lc_targets, iptw=dict(zip(fit_ids, w.tolist()))
    )
    members: list[MMCareNet] = []
    results = []
    seeds = [config.train.seed + ENSEMBLE_SEED_STRIDE * m for m in range(config.ensemble.members)]
    for m, member_seed in enumerate(seeds):
        if m > 0:  # member 0 is the single network of `members: 1`, drawn as before
            seed_everything(member_seed, deterministic=config.train.deterministic)
            net = build()
        torch.manual_seed(member_seed)
        result = fit(
            net,
            objective,
            train_set,
            val_set,
            train_time=tt,
            train_event=te,
            grid=disc.cuts[1:],
            config=config.train.model_copy(update={"seed": member_seed}),
            collate=collate_patients,
            work_dir=Path(work_dir) / f"member{m}" if m else work_dir,
            resume=resume,
        )
        net.load_state_dict(result.state_dict)
        members.append(net)
        results.append(result)
    if len(members) > 1:
        summary["ensemble"] = {
            "members": len(members),
            "seeds": seeds,
            "best_epochs": [r.best_epoch for r in results],
        }
    result = results[0]
    model = MMCarePredictor(
        MMCareEnsemble(members) if len(members) > 1 else members[0],
        config,
        pre,
        disc,
        data.schema,
        prop,
        lc_horizons=lc_h,
        input_sizes=sizes,
        segmenter=segmenter,
    )
    model.training_summary = summary
    return MMCareRun(model, splits, result.history, result.best_epoch, _time.perf_counter() - start)
