"""Grad-CAM and Grad-CAM++ for 3D images (CEUS video T x H x W, CT volume D x H x W).

The multimodal network takes a dict batch; here the image is the only input and every
other modality is held at the patient's own values (:class:`ImageOnlyModel`). The score
:math:`y` is the log-odds of the explained probability
(:func:`~oncofusion.explain.targets.target_log_odds`; the analogue of the pre-softmax class
score, which does not saturate) or the probability itself. For :math:`y` and the feature
maps :math:`A^c` (channel :math:`c`, positions :math:`u` over the :math:`Z` voxels of the
chosen layer, by default the imaging encoder's last stage,
``ResNetEncoder.target_layer``):

Grad-CAM (Selvaraju et al. 2017, eq. 1-2)

.. math:: w_c = \\frac{1}{Z} \\sum_u \\frac{\\partial y}{\\partial A^c_u}, \\qquad
          L = \\mathrm{ReLU}\\Big(\\sum_c w_c A^c\\Big).

Grad-CAM++ (Chattopadhay et al. 2018, eq. 19 with :math:`Y = \\exp(y)`, whose positive
factor :math:`e^{y}` cancels in the normalised map), with :math:`g = \\partial y / \\partial A`:

.. math:: \\alpha^c_u = \\frac{(g^c_u)^2}{2 (g^c_u)^2 + \\sum_v A^c_v\\, (g^c_u)^3}, \\qquad
          w_c = \\sum_u \\alpha^c_u \\,\\mathrm{ReLU}(g^c_u), \\qquad
          L = \\mathrm{ReLU}\\Big(\\sum_c w_c A^c\\Big)

(:math:`\\alpha = 0` where the denominator is 0). The map is upsampled to the image size
(trilinear in 3D, ``align_corners=False``) and divided by its maximum, so it lies in
[0, 1]; an all-zero map (no positive evidence at that layer) stays zero with a warning.

The maps come from forward/backward hooks on the layer (a direct implementation: captum's
``LayerGradCam`` and MONAI's ``GradCAMpp`` expect a tensor-input model, and the encoder
skips patients without an image). The tests check them against both libraries.

References
----------
Selvaraju RR, et al. Grad-CAM: Visual explanations from deep networks via gradient-based
localization. ICCV 2017.
Chattopadhay A, et al. Grad-CAM++: Generalized gradient-based visual explanations for deep
convolutional networks. WACV 2018.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oncofusion.errors import ConfigError
from oncofusion.explain._batch import evaluating, patient_ids
from oncofusion.explain.targets import AnyTarget
from oncofusion.registry import look_up_option

__all__ = [
    "CamResult",
    "ImageOnlyModel",
    "RepresentativeFrames",
    "grad_cam",
    "representative_frames",
]

_METHODS = ["gradcam", "gradcam++"]
_SCORES = ["log_odds", "probability", "value"]


class ImageOnlyModel(nn.Module):
    """The network as a function of the image alone: ``forward(image) -> target (B,)``.

    Every other entry of ``batch`` (other modalities, masks) is held fixed, so captum or
    MONAI attribution methods can be applied to the image of a multimodal model.

    Parameters
    ----------
    network
        A model taking a collated batch (``MultimodalSurvivalNet``).
    batch
        The patients' batch; its ``modality`` entry is replaced by the input.
    target
        The explained scalar.
    modality
        The image's batch key.
    score
        ``"log_odds"`` (:func:`~oncofusion.explain.targets.target_log_odds`) or
        ``"probability"``/``"value"`` (the target itself; ``"value"`` for a target that is
        not a probability, e.g. the expected benefit of a
        :class:`~oncofusion.explain.targets.DecisionTarget`).
    """

    def __init__(
        self,
        network: nn.Module,
        batch: Mapping[str, Any],
        target: AnyTarget,
        modality: str = "imaging",
        score: str = "log_odds",
    ) -> None:
        super().__init__()
        self.network, self.target, self.modality = network, target, modality
        self.score = look_up_option(score, _SCORES, what="Grad-CAM score")
        self.batch = dict(batch)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.network({**self.batch, self.modality: image})
        return self.target.log_odds(out) if self.score == "log_odds" else self.target(out)


@dataclass
class CamResult:
    """Class-activation maps of a batch.

    Attributes
    ----------
    maps
        (B, *spatial) in [0, 1], at the image's size (e.g. (B, T, H, W)).
    layer_maps
        (B, *layer_spatial): the un-normalised ReLU map at the layer's resolution.
    target
        (B,) the explained probability (or value) of every patient.
    method, layer
        ``"gradcam"`` or ``"gradcam++"``, and the layer's name inside the encoder.
    patient_ids
        Row names.
    """

    maps: np.ndarray
    layer_maps: np.ndarray
    target: np.ndarray
    method: str
    layer: str
    patient_ids: list[str]


def _resolve_layer(encoder: nn.Module, layer: str | nn.Module | None) -> tuple[str, nn.Module]:
    named = dict(encoder.named_modules())
    if layer is None:
        if not hasattr(encoder, "target_layer"):
            raise ConfigError(
                f"the imaging encoder {type(encoder).__name__} names no Grad-CAM layer "
                "(target_layer); pass layer= (a name from encoder.named_modules())."
            )
        layer = cast(nn.Module, encoder.target_layer)
    if isinstance(layer, nn.Module):
        for name, module in named.items():
            if module is layer:
                return name, module
        raise ConfigError("layer= is not a submodule of the imaging encoder.")
    name = look_up_option(str(layer), [n for n in named if n], what="imaging encoder layer")
    return name, named[name]


def _weights(acts: torch.Tensor, grads: torch.Tensor, method: str) -> torch.Tensor:
    """Channel weights (B, C) for Grad-CAM or Grad-CAM++ (see the module docstring)."""
    g = grads.flatten(2)
    if method == "gradcam":
        return g.mean(-1)
    a_sum = acts.flatten(2).sum(-1, keepdim=True)
    g2 = g.pow(2)
    denom = 2.0 * g2 + a_sum * g.pow(3)
    alpha = torch.where(
        denom != 0,
        g2 / torch.where(denom != 0, denom, torch.ones_like(denom)),
        torch.zeros_like(g2),
    )
    return (alpha * F.relu(g)).sum(-1)


def _upsample(cam: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(len(size))
    if mode is None:
        raise ConfigError(f"Grad-CAM supports 1-3 spatial dimensions, got image size {size}.")
    return F.interpolate(cam[:, None], size=size, mode=mode, align_corners=False)[:, 0]


def grad_cam(
    network: nn.Module,
    batch: Mapping[str, Any],
    target: AnyTarget,
    *,
    method: str = "gradcam++",
    layer: str | nn.Module | None = None,
    modality: str = "imaging",
    score: str = "log_odds",
) -> CamResult:
    """Grad-CAM or Grad-CAM++ maps of every patient's image for ``target``.

    Parameters
    ----------
    network
        A ``MultimodalSurvivalNet`` (or any model with ``encoders[modality]`` that takes a
        collated batch). It is run in evaluation mode; its mode is restored afterwards.
    batch
        A collated batch whose patients all have the image (``modality_mask`` True).
    target
        The explained scalar (e.g. ``make_target("risk", time=12, cuts=...)``).
    method
        ``"gradcam"`` (Selvaraju et al. 2017) or ``"gradcam++"`` (Chattopadhay et al. 2018).
    layer
        The layer whose feature maps are weighted: a name in the encoder's
        ``named_modules()`` (``"stages.2"``) or the module; default the encoder's
        ``target_layer`` (its last stage). An earlier layer gives a finer map.
    modality
        The image's batch key and encoder name.
    score
        Differentiate the target's ``"log_odds"`` (default) or its ``"probability"``.
        Grad-CAM maps are the same for both (a positive per-patient factor); Grad-CAM++
        weights are not scale-free and follow the paper's pre-softmax score. ``"value"``
        (same as ``"probability"``) differentiates a target without log-odds, such as the
        expected benefit of a treatment (:class:`~oncofusion.explain.targets.DecisionTarget`).

    Returns
    -------
    CamResult
        ``maps`` (B, *spatial) in [0, 1] at the image's size, and the raw layer maps.

    Notes
    -----
    A map shows where the layer's features *raise* the score (the ReLU drops negative
    evidence). Attention inside the encoder that gates every position by a global
    descriptor (CBAM's channel attention) can spread that evidence over the whole frame; an
    earlier ``layer`` or ``attention="spatial"``/``"none"`` keeps maps local.
    """
    method = look_up_option(method, _METHODS, what="CAM method")
    encoders = getattr(network, "encoders", None)
    if encoders is None or modality not in encoders:
        raise ConfigError(
            f"the network has no '{modality}' encoder; Grad-CAM explains an imaging model."
        )
    present = torch.as_tensor(batch["modality_mask"][modality]).bool().reshape(-1)
    ids = patient_ids(batch)
    if not bool(present.all()):
        absent = [p for p, ok in zip(ids, present.tolist(), strict=True) if not ok]
        raise ConfigError(
            f"patient(s) {absent} have no image ({modality} mask False), so there is nothing "
            "to map; explain them without Grad-CAM or select the others (select_rows)."
        )
    name, module = _resolve_layer(encoders[modality], layer)
    image = batch[modality].detach().clone().requires_grad_(True)
    store: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
        store["acts"] = out[0] if isinstance(out, tuple | list) else out

    handle = module.register_forward_hook(hook)
    try:
        with evaluating(network), torch.enable_grad():
            score_fn = ImageOnlyModel(network, batch, target, modality, score)
            y = score_fn(image)
            if "acts" not in store:
                raise ConfigError(
                    f"layer '{name}' was not run in the forward pass; choose another layer."
                )
            acts = store["acts"]
            if acts.shape[0] != y.shape[0]:
                raise ConfigError(
                    f"layer '{name}' saw {acts.shape[0]} rows for {y.shape[0]} patients."
                )
            (grads,) = torch.autograd.grad(y.sum(), acts)
            value = (torch.sigmoid(y) if score_fn.score == "log_odds" else y).detach()
    finally:
        handle.remove()
    acts, grads = acts.detach(), grads.detach()
    weights = _weights(acts, grads, method)
    raw = F.relu((weights.view(*weights.shape, *([1] * (acts.dim() - 2))) * acts).sum(1))
    up = _upsample(raw, tuple(image.shape[2:])).clamp(min=0.0)
    peak = up.flatten(1).amax(1)
    zero = peak <= 0
    if bool(zero.any()):
        flat = [p for p, z in zip(ids, zero.tolist(), strict=True) if z]
        warnings.warn(
            f"{method} map is all zero for patient(s) {flat}: no feature map of layer '{name}' "
            f"raises {target.label} (the evidence is negative or absent there); try "
            "another method or an earlier layer.",
            RuntimeWarning,
            stacklevel=2,
        )
    maps = up / torch.where(zero, torch.ones_like(peak), peak).view(-1, *([1] * (up.dim() - 1)))
    return CamResult(
        maps=maps.numpy().astype(np.float32),
        layer_maps=raw.numpy().astype(np.float32),
        target=value.numpy().astype(float),
        method=method,
        layer=name,
        patient_ids=ids,
    )


class RepresentativeFrames(NamedTuple):
    """Frames (video) or slices (volume) to overlay, in their original order.

    ``indices`` (k,) along the first spatial axis; ``share`` (k,) each one's share of the
    total attribution; ``images`` and ``cams`` (k, H, W) the frames and their maps.
    """

    indices: np.ndarray
    share: np.ndarray
    images: np.ndarray
    cams: np.ndarray


def representative_frames(
    cam: np.ndarray, image: np.ndarray | torch.Tensor, k: int = 3
) -> RepresentativeFrames:
    """The ``k`` frames/slices holding the most attribution, for overlays.

    .. math:: s_t = \\frac{\\sum_{h,w} L_{t,h,w}}{\\sum_{t',h,w} L_{t',h,w}}

    Parameters
    ----------
    cam
        One patient's map (T, H, W) (a row of :attr:`CamResult.maps`).
    image
        The image, (T, H, W) or with leading singleton axes ((1, T, H, W)).
    k
        Number of frames (at most T). Ties go to the earlier frame.
    """
    cam = np.asarray(cam, dtype=float)
    img = np.asarray(
        image.detach().cpu() if isinstance(image, torch.Tensor) else image, dtype=float
    )
    while img.ndim > cam.ndim and img.shape[0] == 1:
        img = img[0]
    if cam.ndim < 2 or img.shape != cam.shape:
        raise ConfigError(
            f"cam {cam.shape} and image {img.shape} must have the same (T, H, W) shape."
        )
    if int(k) < 1:
        raise ConfigError(f"k must be >= 1, got {k}.")
    per = cam.reshape(cam.shape[0], -1).sum(1)
    total = per.sum()
    share = per / total if total > 0 else np.full_like(per, 1.0 / per.size)
    top = np.sort(np.argsort(-share, kind="stable")[: min(int(k), share.size)])
    return RepresentativeFrames(indices=top, share=share[top], images=img[top], cams=cam[top])
