"""A multimodal discrete-time survival network assembled from registered blocks.

``encoders -> fusion -> head``, each named in the config (``oncofusion.nn`` registries).
DMA-Net (seed 000) is one configuration of it: ``resnet3d`` + ``bilstm_attention`` +
``gated_mlp``, soft-DTW aligned ``cross_attention`` with temporal gating, and a per-slice
``discrete_time`` head on monthly intervals. Unimodal variants, "concatenation instead of
attention" and "no alignment" are config switches, not copies of code.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from oncofusion.errors import ConfigError

__all__ = ["MODALITY_INPUT_ARG", "VECTOR_MODALITIES", "ComponentConfig", "MultimodalSurvivalNet", "NetworkConfig"]

#: the constructor argument that receives each modality's input size
MODALITY_INPUT_ARG = {"imaging": "in_channels", "biomarkers": "n_markers", "clinical": "in_features", "genomics": "n_genes"}


class ComponentConfig(BaseModel):
    """A registered component: its name and keyword arguments."""

    model_config = ConfigDict(extra="forbid")

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class NetworkConfig(BaseModel):
    """The ``network:`` block of a model config."""

    model_config = ConfigDict(extra="forbid")

    modalities: list[str] = Field(default_factory=lambda: ["imaging", "biomarkers", "clinical"])
    encoders: dict[str, ComponentConfig]
    fusion: ComponentConfig
    head: ComponentConfig = Field(default_factory=lambda: ComponentConfig(name="discrete_time"))
    #: vector modalities whose input also enters the head linearly (wide & deep); those
    #: not in ``modalities`` are left out
    linear: list[str] = Field(default_factory=list)


#: modalities whose batch entry is one vector per patient (usable in ``network.linear``)
VECTOR_MODALITIES = ("clinical", "genomics")


class MultimodalSurvivalNet(nn.Module):
    """``forward(batch) -> {"logit_hazard", "hazard", "attention", "alignment_cost"}``.

    Parameters
    ----------
    config
        Which encoders, fusion and head, with their arguments.
    input_sizes
        Per modality the size its encoder needs (image channels, markers, clinical
        features, genes); see :data:`MODALITY_INPUT_ARG`.
    n_intervals
        Number of discrete-time intervals K (from the fitted discretizer).
    extra_encoder_args
        Data-dependent encoder arguments (e.g. the gene graph's edges for ``gcn``).

    Notes
    -----
    ``config.linear`` (wide & deep; Cheng et al. 2016, *Wide & Deep Learning for Recommender
    Systems*): the named vector modalities' inputs, each times its modality mask and followed
    by the mask itself, :math:`w = [x_m \\cdot \\mathbb{1}_m, \\mathbb{1}_m]_m`, reach the head
    next to the fused representation (``fused["wide"]``), which adds a linear term in
    :math:`w` to its logits. Small cohorts learn strong linear effects from it that the deep
    part would need many more patients for.
    """

    def __init__(
        self,
        config: NetworkConfig,
        input_sizes: Mapping[str, int],
        n_intervals: int,
        extra_encoder_args: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        from oncofusion.nn import ENCODERS, FUSIONS, HEADS  # registers the built-in blocks

        self.config = config
        self.modalities = list(config.modalities)
        if not self.modalities:
            raise ConfigError("network.modalities is empty: name at least one modality.")
        unknown = [m for m in self.modalities if m not in MODALITY_INPUT_ARG]
        if unknown:
            raise ConfigError(f"unknown modality {unknown}; known: {sorted(MODALITY_INPUT_ARG)}.")
        missing = [m for m in self.modalities if m not in config.encoders]
        if missing:
            raise ConfigError(f"network.encoders has no entry for modality {missing}.")
        extra = extra_encoder_args or {}
        self.encoders = nn.ModuleDict()
        for m in self.modalities:
            spec = config.encoders[m]
            args = {MODALITY_INPUT_ARG[m]: int(input_sizes[m]), **spec.args, **dict(extra.get(m, {}))}
            self.encoders[m] = ENCODERS.build(spec.name, **args)
        dims = {m: int(self.encoders[m].out_features) for m in self.modalities}
        fusion_args = dict(config.fusion.args)
        if config.fusion.name == "cross_attention":
            fusion_args.setdefault("n_slices", n_intervals)
        self.fusion = FUSIONS.build(config.fusion.name, dims=dims, **fusion_args)
        bad = [m for m in config.linear if m not in VECTOR_MODALITIES]
        if bad or len(set(config.linear)) != len(config.linear):
            raise ConfigError(
                f"network.linear {config.linear}: each entry must be a modality that is one vector "
                f"per patient ({list(VECTOR_MODALITIES)}), once."
            )
        # like ``encoders``, ``linear`` may name a modality the network leaves out (a cohort
        # without genomics, the "w/o genomics" ablation): it then has no wide input
        self.linear = [m for m in config.linear if m in self.modalities]
        head_args = dict(config.head.args)
        if self.linear:
            head_args["wide_features"] = sum(int(input_sizes[m]) + 1 for m in self.linear)
            if "wide_features" not in inspect.signature(HEADS.get(config.head.name)).parameters:
                raise ConfigError(f"head '{config.head.name}' has no linear part; remove network.linear.")
        self.head = HEADS.build(
            config.head.name, in_features=int(self.fusion.out_features), n_intervals=n_intervals, **head_args
        )
        self.n_intervals = int(n_intervals)

    def wide_input(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """:math:`[x_m \\cdot \\mathbb{1}_m, \\mathbb{1}_m]` over ``config.linear``, (B, W)."""
        parts = []
        for m in self.linear:
            present = torch.as_tensor(batch["modality_mask"][m]).to(batch[m].dtype).reshape(-1, 1)
            parts += [batch[m].flatten(1) * present, present]
        return torch.cat(parts, dim=1)

    def fuse(self, features: Mapping[str, Any], mask: Mapping[str, Any], batch: Mapping[str, Any]) -> dict[str, Any]:
        """The fusion's output for encoded ``features``, with the wide input where configured."""
        fused = dict(self.fusion(features, mask))
        if self.linear:
            fused["wide"] = self.wide_input(batch)
        return fused

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        features = {m: self.encoders[m].forward_batch(batch) for m in self.modalities}
        mask = {m: batch["modality_mask"][m] for m in self.modalities}
        fused = self.fuse(features, mask, batch)
        out = dict(self.head(fused))
        attention: dict[str, torch.Tensor] = dict(fused.get("attention", {}))
        for m, f in features.items():
            for key in ("attention", "gate"):
                if key in f:
                    attention[f"{m}_{key}"] = f[key]
        out["attention"] = attention
        if "alignment_cost" in fused:
            out["alignment_cost"] = fused["alignment_cost"]
        return out
