"""A two-arm model for the report tests: the tiny DMA-Net run with its head swapped for a
per-arm head (overall survival + binary local control per arm), i.e. the output contract of
MM-Care (``{arm: {"hazard", "lc_risk"}}``), so the per-arm part of the patient report and
its arm tabs are tested whether or not MM-Care itself has landed."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

ARMS = ("sbrt", "surgery")
LC_HORIZONS = (3.0, 12.0)


class TwoArmPredictor:
    """Duck-typed per-arm predictor: ``network`` (per-arm output), ``arms``, ``lc_horizons``,
    ``make_dataset``, ``cuts``, ``horizons``, ``preprocessor``, ``schema``, ``config``."""

    def __init__(self, base: Any, *, seed: int = 0) -> None:
        from oncofusion.models.network import ComponentConfig, MultimodalSurvivalNet

        cfg = base.config.network.model_copy(deep=True)
        cfg.head = ComponentConfig(name="per_arm", args={"arms": list(ARMS), "n_lc": len(LC_HORIZONS),
                                                         "lc": "binary", "hidden": [8], "dropout": 0.2})
        torch.manual_seed(seed)
        sizes = base._input_sizes
        net = MultimodalSurvivalNet(cfg, sizes["input_sizes"], base.network.n_intervals,
                                    sizes.get("extra_encoder_args"))
        net.load_state_dict(base.network.state_dict(), strict=False)
        with torch.no_grad():  # make the arms differ: surgery has lower OS hazards, SBRT better LC
            for arm, os_shift, lc_shift in (("sbrt", -1.5, -1.5), ("surgery", -3.0, -0.5)):
                net.head.heads[arm]["os"][-1].bias.add_(os_shift)
                net.head.heads[arm]["lc"][-1].bias.add_(lc_shift)
        self.base = base
        self.network = net.eval()
        self.config, self.preprocessor, self.schema = base.config, base.preprocessor, base.schema
        self.discretizer, self.cuts = base.discretizer, np.asarray(base.cuts)
        self.horizons = base.horizons
        self.arms = list(ARMS)
        self.lc_horizons = list(LC_HORIZONS)
        self.name = "two-arm-fixture"

    def make_dataset(self, cohort: Any, *, max_visit_time: float | None = None) -> Any:
        return self.base.make_dataset(cohort, max_visit_time=max_visit_time)
