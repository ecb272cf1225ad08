"""Model variants as config switches: unimodal models and the ablations of DMA-Net Table 5.

Each variant is a function of the base config (no copied code): it removes modalities or
swaps the fusion, keeping every other setting, the splits and the seed identical.
"""

from __future__ import annotations

from collections.abc import Callable

from oncofusion.models.config import ModelConfig
from oncofusion.models.network import ComponentConfig
from oncofusion.registry import look_up_option

__all__ = ["VARIANTS", "make_variant", "ABLATIONS", "UNIMODAL"]


def _only(modalities: list[str]) -> Callable[[ModelConfig], ModelConfig]:
    def build(cfg: ModelConfig) -> ModelConfig:
        keep = [m for m in cfg.network.modalities if m in modalities]
        return _with_modalities(cfg, keep)

    return build


def _without(modality: str) -> Callable[[ModelConfig], ModelConfig]:
    def build(cfg: ModelConfig) -> ModelConfig:
        return _with_modalities(cfg, [m for m in cfg.network.modalities if m != modality])

    return build


def _with_modalities(cfg: ModelConfig, modalities: list[str]) -> ModelConfig:
    net = cfg.network.model_copy(deep=True)
    net.modalities = modalities
    net.encoders = {m: e for m, e in net.encoders.items() if m in modalities}
    out = cfg.model_copy(deep=True)
    out.network = net
    if "imaging" not in modalities:
        out.data = out.data.model_copy(update={"image_shape": None})
    return out


def _concat(cfg: ModelConfig) -> ModelConfig:
    """Concatenation instead of cross-modal attention (and so no alignment)."""
    out = cfg.model_copy(deep=True)
    d_model = int(cfg.network.fusion.args.get("d_model", 64))
    out.network.fusion = ComponentConfig(name="concat", args={"out_features": d_model, "hidden": [d_model]})
    out.network.head = ComponentConfig(
        name=cfg.network.head.name, args={**cfg.network.head.args, "input": "pooled"}
    )
    return out


def _no_alignment(cfg: ModelConfig) -> ModelConfig:
    out = cfg.model_copy(deep=True)
    out.network.fusion = ComponentConfig(name=cfg.network.fusion.name, args={**cfg.network.fusion.args, "align": None})
    return out


#: unimodal variants (DMA-Net Table 3 rows)
UNIMODAL = {"imaging_only": _only(["imaging"]), "markers_only": _only(["biomarkers"]), "clinical_only": _only(["clinical"])}
#: ablations (DMA-Net Table 5)
ABLATIONS = {
    "no_imaging": _without("imaging"),
    "no_markers": _without("biomarkers"),
    "no_clinical": _without("clinical"),
    "concat_fusion": _concat,
    "no_alignment": _no_alignment,
}
VARIANTS: dict[str, Callable[[ModelConfig], ModelConfig]] = {"full": lambda c: c.model_copy(deep=True), **UNIMODAL, **ABLATIONS}


def make_variant(cfg: ModelConfig, name: str) -> ModelConfig:
    """The config of variant ``name`` (did-you-mean on unknown names)."""
    build = look_up_option(name, VARIANTS, what="model variant")
    out = build(cfg)
    out.name = f"{cfg.name}:{name}" if name != "full" else cfg.name
    return out
