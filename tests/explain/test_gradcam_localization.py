"""Grad-CAM(++) finds the region that drives the risk in a simulated video task.

Videos (1, 8, 16, 16) of noise; half the patients have a bright block in frames 2-5, rows and
columns 2-7 (7 % of the volume), and they fail early (hazard 1/month vs 0.05/month). A tiny
imaging-only network is trained a few epochs (seeded). For the high-risk test patients the
share of each normalised map inside the block must beat the block's volume share and random
maps clearly, for every patient.

The encoder has no CBAM here: its channel attention gates every position with a global
descriptor, which can spread a map's positive evidence over the whole frame (a property of
the model, not of the map computation this test checks).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.explain import grad_cam, make_target
from oncofusion.models.network import MultimodalSurvivalNet, NetworkConfig
from oncofusion.survival.discretize import Discretizer
from oncofusion.survival.losses.discrete import discrete_nll

SHAPE = (8, 16, 16)
REGION = (slice(2, 6), slice(2, 8), slice(2, 8))


def _videos(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, *SHAPE, generator=g) * 0.35
    blob = (torch.rand(n, generator=g) < 0.5).float()
    x[:, 0, REGION[0], REGION[1], REGION[2]] += blob[:, None, None, None]
    rate = torch.where(blob > 0, 1.0, 0.05)
    t = -torch.log(torch.rand(n, generator=g)) / rate
    event = (t <= 4).float()
    return x, blob, t.clamp(max=4).numpy(), event.numpy()


def _batch(x: torch.Tensor) -> dict:
    n = x.shape[0]
    return {
        "imaging": x,
        "modality_mask": {"imaging": torch.ones(n, dtype=torch.bool)},
        "patient_id": [f"v{i}" for i in range(n)],
    }


def _train(seed: int = 0, n: int = 64, epochs: int = 30) -> MultimodalSurvivalNet:
    torch.manual_seed(seed)
    args = {
        "width": 4,
        "layers": [1, 1],
        "out_features": 8,
        "stem_kernel": 3,
        "stem_stride": 1,
        "max_pool": False,
        "temporal_downsample": False,
        "attention": "none",
    }
    cfg = NetworkConfig(
        modalities=["imaging"],
        encoders={"imaging": {"name": "resnet3d", "args": args}},
        fusion={"name": "concat", "args": {"out_features": 8}},
    )
    net = MultimodalSurvivalNet(cfg, {"imaging": 1}, 4)
    x, _, time, event = _videos(n, 100 + seed)
    labels = Discretizer.from_cuts([0, 1, 2, 3, 4]).transform(time, event)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, 32):
            idx = perm[s : s + 32]
            out = net(_batch(x[idx]))
            loss = discrete_nll(
                labels.interval_index[idx.numpy()], labels.event[idx.numpy()], out["logit_hazard"]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def _share(maps: np.ndarray, region: np.ndarray) -> np.ndarray:
    flat = maps.reshape(len(maps), -1)
    return maps[:, region].sum(1) / flat.sum(1)


@pytest.mark.slow
def test_gradcam_attribution_concentrates_in_the_risk_region() -> None:
    net = _train()
    x, blob, _, _ = _videos(32, 999)
    target = make_target("risk", interval=3)
    with torch.no_grad():
        risk = target(net(_batch(x))).numpy()
    # precondition: the network learned the task (else the maps mean nothing)
    assert np.corrcoef(risk, blob.numpy())[0, 1] > 0.8

    region = np.zeros(SHAPE, dtype=bool)
    region[REGION] = True
    volume_share = region.mean()  # 0.0703
    random_maps = np.random.default_rng(0).random((2000, *SHAPE))
    random_share = _share(random_maps, region)
    high = x[blob > 0]
    for method in ("gradcam", "gradcam++"):
        share = _share(grad_cam(net, _batch(high), target, method=method).maps, region)
        assert share.mean() > 1.5 * volume_share, (method, share.mean())
        assert share.mean() > np.quantile(random_share, 0.999), method
        assert (share > volume_share).mean() >= 0.9, (method, share)
