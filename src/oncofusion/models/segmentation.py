"""Tumour segmentation with a 3D U-Net, the first stage of MM-Care's imaging branch.

MM-Care (Lou & Mo, 2026, §3.2) segments the tumour on CT with a 3D U-Net, then feeds the CT
masked and cropped around it (:mod:`oncofusion.models.roi`) to the imaging encoder, and
reports Dice. Here the network is MONAI's residual ``UNet`` (Kerfoot et al., 2018) with one
input channel (the CT, normalised as :class:`~oncofusion.data.PatientDataset` normalises it)
and one output channel (tumour logit), trained on the patients that have a mask with Dice or
Dice + binary cross-entropy loss,

.. math::

    L_\\text{Dice} = 1 - \\frac{2 \\sum_v p_v y_v + \\epsilon}{\\sum_v p_v + \\sum_v y_v + \\epsilon},
    \\qquad p_v = \\sigma(z_v),

(Milletari et al., 2016) by a plain, seeded PyTorch loop (Adam, random flips, early stopping
on the validation Dice of the thresholded masks, best weights kept). A plain loop rather than
Lightning: the segmenter is a preprocessing model with one loss and one metric, and the loop
is short enough to read and bit-for-bit reproducible from ``seed``.

Masks are predicted on the network's grid and resampled back to each image's own grid
(:func:`~oncofusion.models._segmentation_data.to_original`) before thresholding, so
:meth:`FittedSegmenter.predict_masks` and :meth:`FittedSegmenter.dice` work at the original
resolution. Weights are a ``state_dict``; config, history and metadata are JSON.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from oncofusion.data.cohort import Cohort
from oncofusion.errors import CohortError, ModelLoadError
from oncofusion.models._segmentation_data import (
    image_rows,
    load_network_arrays,
    read_mask,
    read_volume,
    to_network,
    to_original,
)
from oncofusion.models._segmentation_net import (
    build_unet,
    dice_per_case,
    fit_network,
    predict_network,
)
from oncofusion.models.run import (
    check_format_version,
    read_json,
    run_info,
    verify_checksums,
    write_checksums,
    write_json,
)
from oncofusion.registry import look_up_option
from oncofusion.utils.io import atomic_directory
from oncofusion.utils.seed import seed_everything

__all__ = [
    "FittedSegmenter",
    "SegmentationConfig",
    "build_unet",
    "dice_per_case",
    "train_segmenter",
]

_MODEL_NAME = "unet-segmenter"
_LOSSES = ["dice", "dicece"]


class SegmentationConfig(BaseModel):
    """Network and training settings of the tumour segmenter.

    ``channels``/``strides``/``num_res_units``/``dropout`` are the arguments of
    :class:`monai.networks.nets.UNet`; every side of ``image_shape`` must be divisible by the
    product of ``strides``. ``loss`` is ``"dice"`` (:class:`monai.losses.DiceLoss`) or
    ``"dicece"`` (:class:`monai.losses.DiceCELoss`, Dice + binary cross-entropy).
    Training stops after ``patience`` epochs without a validation-Dice gain above
    ``min_delta``; ``threshold`` turns probabilities into masks.
    """

    model_config = ConfigDict(extra="forbid")

    image_shape: tuple[int, int, int] = (32, 32, 32)
    channels: tuple[int, ...] = (8, 16, 32, 64)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = Field(default=1, ge=0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    epochs: int = Field(default=60, ge=1)
    batch_size: int = Field(default=4, ge=1)
    lr: float = Field(default=3e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    loss: str = "dicece"
    patience: int = Field(default=10, ge=1)
    min_delta: float = Field(default=0.0, ge=0)
    augment: bool = True
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    seed: int = 0

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, v: str) -> str:
        return str(look_up_option(v, _LOSSES, what="segmentation loss"))

    @model_validator(mode="after")
    def _consistent(self) -> SegmentationConfig:
        if len(self.channels) < 2 or any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be >= 2 positive integers, got {self.channels}")
        if len(self.strides) != len(self.channels) - 1 or any(s < 1 for s in self.strides):
            raise ValueError(
                f"strides must be {len(self.channels) - 1} positive integers (one fewer than "
                f"channels), got {self.strides}"
            )
        factor = int(np.prod(self.strides))
        if any(d < 1 or d % factor for d in self.image_shape):
            raise ValueError(
                f"every side of image_shape {self.image_shape} must be a positive multiple of "
                f"{factor} (the product of strides {self.strides}). Fix: change image_shape or strides."
            )
        return self


class FittedSegmenter:
    """A trained tumour segmenter: predicts binary masks at each image's original resolution.

    Parameters
    ----------
    network
        The U-Net built by :func:`build_unet` from ``config``, with trained weights.
    config
        Its configuration.
    history
        One dict per training epoch (``epoch``, ``train_loss``, ``val_dice``).
    info
        Training summary (``best_epoch``, ``best_val_dice``, patient counts).
    """

    def __init__(
        self,
        network: torch.nn.Module,
        config: SegmentationConfig,
        *,
        history: list[dict[str, Any]] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.network = network.eval()
        self.config = config
        self.history = list(history or [])
        self.info = dict(info or {})

    def predict_proba(self, cohort: Cohort) -> dict[str, np.ndarray]:
        """Tumour probability maps in [0, 1] at each image's original ``(D, H, W)``."""
        records = image_rows(cohort)
        shape = self.config.image_shape
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(records), self.config.batch_size):
            chunk = records[start : start + self.config.batch_size]
            volumes = [read_volume(cohort, r.path) for r in chunk]
            x = np.stack([to_network(v, shape, mask=False) for v in volumes])[:, None]
            prob = predict_network(self.network, x, self.config.batch_size)
            for r, v, p in zip(chunk, volumes, prob, strict=True):
                out[r.patient_id] = to_original(p[0], v.shape)
        return out

    def predict_masks(self, cohort: Cohort) -> dict[str, np.ndarray]:
        """Binary tumour masks (uint8, 1 = tumour) at each image's original ``(D, H, W)``.

        Keys are the patients of ``cohort`` that have an image; patients without one are
        absent. A mask may be empty (no voxel above ``config.threshold``).
        """
        return {
            pid: (p >= self.config.threshold).astype(np.uint8)
            for pid, p in self.predict_proba(cohort).items()
        }

    def dice(self, cohort: Cohort) -> pd.DataFrame:
        """Dice of the predicted against the true masks, per patient and on average.

        Computed at the original resolution with MONAI ``DiceMetric`` (see
        :func:`dice_per_case`) for every patient with a ``mask_path``.

        Returns
        -------
        pandas.DataFrame
            Columns ``patient_id``, ``dice``, ``true_voxels``, ``pred_voxels``; one row per
            patient, then a last row with ``patient_id == "mean"`` holding the column means.

        Raises
        ------
        CohortError
            When no patient of ``cohort`` has a mask.
        """
        labelled = [r for r in image_rows(cohort) if r.mask_path is not None]
        if not labelled:
            raise CohortError(
                "no patient has a ground-truth mask, so Dice cannot be computed.",
                file="imaging.csv",
                column="mask_path",
                fix="give the tumour masks in a mask_path column of imaging.csv.",
            )
        pred = self.predict_masks(cohort.subset([r.patient_id for r in labelled]))
        rows = []
        for r in labelled:
            assert r.mask_path is not None
            true = read_mask(cohort, r.mask_path)
            p = pred[r.patient_id]
            if true.shape != p.shape:
                raise CohortError(
                    f"the mask has shape {true.shape} but its image has shape {p.shape}.",
                    file="imaging.csv", column="mask_path", rows=[r.patient_id],
                    fix="give a mask on the image's own voxel grid.",
                )  # fmt: skip
            score = dice_per_case(
                torch.from_numpy(p)[None, None], torch.from_numpy(true)[None, None]
            )
            rows.append(
                {"patient_id": r.patient_id, "dice": float(score[0]),
                 "true_voxels": int(true.sum()), "pred_voxels": int(p.sum())}
            )  # fmt: skip
        table = pd.DataFrame(rows)
        mean = {"patient_id": "mean", **table.drop(columns="patient_id").mean().to_dict()}
        return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write ``run.json``, ``config.json``, ``weights.pt`` (state_dict), ``history.json``,
        ``checksums.json`` into the directory ``path`` (atomically; nothing is pickled)."""
        path = Path(path)
        with atomic_directory(path, overwrite=overwrite) as tmp:
            write_json(tmp / "run.json", run_info(_MODEL_NAME, {"info": self.info}))
            write_json(tmp / "config.json", self.config.model_dump(mode="json"))
            write_json(tmp / "history.json", self.history)
            torch.save(self.network.state_dict(), tmp / "weights.pt")
            write_checksums(tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FittedSegmenter:
        """Rebuild a segmenter written by :meth:`save` (checksums verified, weights_only)."""
        path = Path(path)
        verify_checksums(path)
        info = check_format_version(path)
        if info.get("model") != _MODEL_NAME:
            raise ModelLoadError(
                f"'{path}' holds a '{info.get('model')}' model, not a segmenter. "
                "Fix: pass the directory written by FittedSegmenter.save or train_segmenter."
            )
        try:
            config = SegmentationConfig.model_validate(read_json(path / "config.json"))
        except ValueError as e:
            raise ModelLoadError(
                f"'{path / 'config.json'}' is not a valid segmenter config: {e}"
            ) from e
        network = build_unet(config)
        state = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        try:
            network.load_state_dict(state)
        except RuntimeError as e:
            raise ModelLoadError(
                f"'{path / 'weights.pt'}' does not fit the network of config.json: {e}"
            ) from e
        history = read_json(path / "history.json")
        return cls(network, config, history=history, info=info.get("info", {}))

    def __repr__(self) -> str:
        c = self.config
        return (
            f"FittedSegmenter(image_shape={c.image_shape}, channels={c.channels}, "
            f"best_epoch={self.info.get('best_epoch')}, best_val_dice={self.info.get('best_val_dice')})"
        )


def _labelled(
    cohort: Cohort | None, config: SegmentationConfig, role: str
) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    if cohort is None:
        return [], np.zeros((0, 1, *config.image_shape), np.float32), None
    ids, x, y = load_network_arrays(cohort, config.image_shape, labelled_only=True)
    if role == "training" and not ids:
        raise CohortError(
            "no training patient has a tumour mask.",
            file="imaging.csv",
            column="mask_path",
            fix="give masks (mask_path in imaging.csv) for the training patients.",
        )
    return ids, x, y


def train_segmenter(
    cohort_train: Cohort,
    cohort_val: Cohort | None,
    config: SegmentationConfig | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    verbose: bool = False,
) -> FittedSegmenter:
    """Train the 3D U-Net on the patients with masks; early stopping on validation Dice.

    Parameters
    ----------
    cohort_train
        Training patients (those with a ``mask_path`` are used).
    cohort_val
        Validation patients with masks; each epoch's mean Dice (thresholded masks, on the
        network's grid) decides early stopping and which weights are kept. ``None`` (or no
        masks) trains for ``config.epochs`` and keeps the last weights, with a warning.
    config
        Settings (default: :class:`SegmentationConfig`).
    work_dir
        Where to save the fitted segmenter (:meth:`FittedSegmenter.save`); ``None`` saves nothing.
    overwrite
        Replace a non-empty ``work_dir``.
    verbose
        Print one line per epoch.

    Returns
    -------
    FittedSegmenter
        With the best weights; ``history`` and ``info`` (``best_epoch``, ``best_val_dice``).
    """
    config = config or SegmentationConfig()
    seed_everything(config.seed)
    ids_tr, x_tr, y_tr = _labelled(cohort_train, config, "training")
    ids_va, x_va, y_va = _labelled(cohort_val, config, "validation")
    assert y_tr is not None
    if not ids_va:
        warnings.warn(
            "no validation patient with a mask: no early stopping, the last epoch's weights are kept.",
            UserWarning,
            stacklevel=2,
        )
    val = (x_va, y_va) if ids_va and y_va is not None else None
    net = build_unet(config)
    fit = fit_network(net, (x_tr, y_tr), val, config, verbose=verbose)
    info = {
        "best_epoch": fit.best_epoch,
        "best_val_dice": fit.best_val_dice,
        "epochs_run": len(fit.history),
        "n_train": len(ids_tr),
        "n_val": len(ids_va),
    }
    segmenter = FittedSegmenter(net, config, history=fit.history, info=info)
    if work_dir is not None:
        segmenter.save(work_dir, overwrite=overwrite)
    return segmenter
