"""Data plumbing of MM-Care prediction: the image grid, ROI cohorts and batched forward passes.

:func:`forward_arms` runs the network over a dataset once in eval mode and, for the
benefit interval, ``mc_samples`` more times with dropout active and batch norm frozen
(MC dropout: Gal & Ghahramani, ICML 2016), returning per-arm OS hazards and probabilities
of local control as NumPy arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oncofusion.data.cohort import Cohort
from oncofusion.models.mmcare_config import MMCareConfig

__all__ = [
    "forward_arms",
    "image_shape",
    "mask_view",
    "mc_dropout_mode",
    "outputs_to_numpy",
    "roi_step_cohort",
    "roi_view",
]


def image_shape(config: MMCareConfig) -> tuple[int, int, int] | None:
    """The (D, H, W) every CT is resampled to, or None when the network reads no imaging."""
    shape = config.data.image_shape
    if shape is None or "imaging" not in config.network.modalities:
        return None
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def roi_view(cohort: Cohort, roi_dir: str | Path) -> Cohort:
    """``cohort`` with its images replaced by the ROIs that :func:`~oncofusion.models.roi.roi_cohort`
    wrote to ``roi_dir`` (the other tables stay as they are, e.g. patients without an arm)."""
    import pandas as pd

    roi_dir = Path(roi_dir)
    imaging = pd.read_csv(
        roi_dir / "imaging.csv", dtype={"patient_id": str, "path": str, "mask_path": str}
    )
    return Cohort(
        root=roi_dir,
        schema=cohort.schema,
        patients=cohort.patients,
        biomarkers=cohort.biomarkers,
        genomics=cohort.genomics,
        gene_graph=cohort.gene_graph,
        imaging=imaging,
        metadata=dict(cohort.metadata),
    )


def mask_view(cohort: Cohort, segmenter: Any, out_dir: str | Path, *, margin: int = 1) -> Cohort:
    """``cohort`` whose ``mask_path`` are the segmenter's masks, dilated by ``margin`` voxels
    (MM-Care eq. 1-2 with ``use_segmentation``: the encoder sees :math:`I_{CT} \\odot M`).

    Masks are written to ``out_dir/masks``; the CT files stay where they are. A patient whose
    predicted mask is empty gets an all-ones mask (the whole patch), never a blank image.
    """
    from scipy.ndimage import binary_dilation

    out = Path(out_dir)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    masks = segmenter.predict_masks(cohort)
    imaging = cohort.imaging.copy() if cohort.imaging is not None else None
    if imaging is None:
        return cohort
    paths: list[str | None] = []
    for i, (pid, rel) in enumerate(zip(imaging["patient_id"].astype(str), imaging["path"])):
        m = masks.get(pid)
        if m is None:
            paths.append(None)
            continue
        m = m > 0
        if margin > 0 and m.any():
            m = binary_dilation(m, iterations=int(margin))
        if not m.any():
            m = np.ones_like(m)
        name = f"masks/{i:05d}.npy"
        np.save(out / name, m.astype(np.uint8), allow_pickle=False)
        paths.append(name)
    imaging["path"] = [str((Path(cohort.root) / p).resolve()) for p in imaging["path"]]
    imaging["mask_path"] = paths
    return Cohort(
        root=out,
        schema=cohort.schema,
        patients=cohort.patients,
        biomarkers=cohort.biomarkers,
        genomics=cohort.genomics,
        gene_graph=cohort.gene_graph,
        imaging=imaging,
        metadata=dict(cohort.metadata),
    )


def roi_step_cohort(cohort: Cohort, segmenter: Any, roi: Any, out_dir: str | Path) -> Cohort:
    """The cohort the imaging encoder reads after segmentation: ``roi.mode`` "mask" or "crop"
    (see :class:`~oncofusion.models.mmcare_config.ROIConfig`)."""
    if cohort.imaging is None or len(cohort.imaging) == 0:
        return cohort
    if roi.mode == "mask":
        return mask_view(cohort, segmenter, out_dir, margin=roi.margin)
    from oncofusion.models.roi import EmptyMaskWarning, roi_cohort

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyMaskWarning)
        path = roi_cohort(
            cohort,
            segmenter,
            Path(out_dir) / "roi",
            margin=roi.margin,
            out_shape=roi.out_shape,
            overwrite=True,
        )
    return roi_view(cohort, path)


def mc_dropout_mode(net: torch.nn.Module) -> int:
    """Eval mode except dropout layers (MC dropout; Gal & Ghahramani 2016); returns how many."""
    net.eval()
    n = 0
    for m in net.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0:
            m.train()
            n += 1
    return n


def outputs_to_numpy(
    out: Mapping[str, Any], arms: Sequence[str], n_lc: int, lc_mode: str
) -> tuple[np.ndarray, np.ndarray]:
    """(B, A, K) OS hazards and (B, A, J) probabilities of local control from a network output.

    Binary LC: :math:`P_{LC}(h_j) = 1 - \\sigma(z_j)`, made non-increasing over the horizons
    (failure by a later horizon is at least as likely); discrete-time LC:
    :math:`P_{LC}(h_j) = \\prod_{l \\le j} (1 - h_l)`.
    """
    blocks = [out["arms"][a] for a in arms]
    haz = torch.stack([b["os_hazard"] for b in blocks], 1).double().cpu().numpy()
    if n_lc == 0:
        return haz, np.zeros((haz.shape[0], len(arms), 0))
    if lc_mode == "binary":
        risk = torch.stack([b["lc_risk"] for b in blocks], 1).double().cpu().numpy()
        return haz, np.minimum.accumulate(1.0 - risk, axis=-1)
    lch = torch.stack([b["lc_hazard"] for b in blocks], 1).double().cpu().numpy()
    return haz, np.cumprod(1.0 - lch, axis=-1)


@torch.no_grad()
def forward_arms(
    net: torch.nn.Module,
    dataset: Any,
    arms: Sequence[str],
    *,
    n_intervals: int,
    n_lc: int,
    lc_mode: str,
    mc_samples: int = 0,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Per-arm outputs for every sample of ``dataset`` (and MC-dropout draws).

    Returns
    -------
    dict
        ``ids``; ``hazard`` (n, A, K); ``lc`` (n, A, J); ``surv_draws`` (D, n, A, K) and
        ``lc_draws`` (D, n, A, J), or None without draws. The draws are reproducible: they
        use a forked torch RNG seeded with ``seed``.
    """
    from torch.utils.data import DataLoader

    from oncofusion.data.collate import collate_patients

    ids: list[str] = []
    base: dict[str, list[np.ndarray]] = {"haz": [], "lc": []}
    draws: dict[str, list[np.ndarray]] = {"surv": [], "lc": []}
    if mc_samples and mc_dropout_mode(net) == 0:
        warnings.warn(
            "the network has no dropout layer, so MC-dropout draws are all equal; "
            "the benefit interval has zero width.",
            UserWarning,
            stacklevel=3,
        )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_patients):
            ids.extend(batch["patient_id"])
            net.eval()
            h, lc = outputs_to_numpy(net(batch), arms, n_lc, lc_mode)
            base["haz"].append(h)
            base["lc"].append(lc)
            if mc_samples:
                mc_dropout_mode(net)
                outs = [
                    outputs_to_numpy(net(batch), arms, n_lc, lc_mode) for _ in range(mc_samples)
                ]
                draws["surv"].append(np.stack([np.cumprod(1.0 - o[0], axis=-1) for o in outs]))
                draws["lc"].append(np.stack([o[1] for o in outs]))
    net.eval()
    a = len(arms)
    return {
        "ids": ids,
        "hazard": np.concatenate(base["haz"]) if ids else np.zeros((0, a, n_intervals)),
        "lc": np.concatenate(base["lc"]) if ids else np.zeros((0, a, n_lc)),
        "surv_draws": np.concatenate(draws["surv"], axis=1) if draws["surv"] else None,
        "lc_draws": np.concatenate(draws["lc"], axis=1) if draws["lc"] else None,
    }
