"""Prediction heads: discrete-time hazards, Cox log hazard, per-arm OS/LC outputs."""

from __future__ import annotations

from oncofusion.nn.heads.cox import CoxHead
from oncofusion.nn.heads.discrete_time import DiscreteTimeHead
from oncofusion.nn.heads.per_arm import PerArmHead

__all__ = ["CoxHead", "DiscreteTimeHead", "PerArmHead"]
