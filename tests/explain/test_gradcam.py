"""Grad-CAM / Grad-CAM++ against captum and MONAI, a hand-computed Grad-CAM++ case, properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _explain_factories import dmanet, image_net, rows_with, tiny_data
from torch import nn

from oncofusion.errors import ConfigError, UnknownOptionError
from oncofusion.explain import ImageOnlyModel, Target, grad_cam, representative_frames, select_rows
from oncofusion.explain.gradcam import _weights

TARGET = Target("risk", 3)


def _imaged_batch() -> dict:
    _, _, batch = tiny_data()
    return select_rows(batch, rows_with(batch, imaging=True))


def _normalise(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1)
    return (flat / flat.max(1, keepdims=True)).reshape(x.shape)


def test_gradcam_matches_captum_layer_gradcam() -> None:
    from captum.attr import LayerAttribution, LayerGradCam

    net, batch = dmanet(), _imaged_batch()  # temporal tokens: gradients vary along time
    ours = grad_cam(net, batch, TARGET, method="gradcam")
    model = ImageOnlyModel(net, batch, TARGET)
    layer = net.encoders["imaging"].target_layer
    ref = LayerGradCam(model, layer).attribute(batch["imaging"], relu_attributions=True).detach()
    np.testing.assert_allclose(
        ours.layer_maps, ref[:, 0].numpy(), rtol=1e-4, atol=1e-6 * float(ref.abs().max())
    )
    up = LayerAttribution.interpolate(ref, tuple(batch["imaging"].shape[2:]), "trilinear")[
        :, 0
    ].numpy()
    np.testing.assert_allclose(ours.maps, _normalise(np.clip(up, 0, None)), atol=1e-4)
    assert ours.layer_maps.std(axis=1).max() > 0  # the maps differ between frames


class _Logits(nn.Module):
    """MONAI's CAM wants ``(B, classes)`` logits."""

    def __init__(self, inner: ImageOnlyModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)[:, None]


@pytest.mark.filterwarnings("ignore:gradcam map is all zero")
@pytest.mark.parametrize("seed", [0, 1])
def test_gradcam_plus_plus_matches_monai(seed: int) -> None:
    # Without temporal tokens the last stage is globally average-pooled, so dy/dA is constant
    # over positions; there MONAI's sum_u A_u g_u^3 equals the paper's (sum_u A_u) g^3. MONAI
    # adds 1e-7 to the denominator 2 g^2 + ...; scaling the head makes g = O(1) so it is negligible.
    from monai.visualize import GradCAMpp

    net, batch = image_net(seed), _imaged_batch()
    with torch.no_grad():
        for p in net.head.parameters():
            p.mul_(100.0)
    ours = grad_cam(net, batch, TARGET, method="gradcam++")
    for i in range(len(batch["patient_id"])):
        one = select_rows(batch, [i])
        wrapper = _Logits(ImageOnlyModel(net, one, TARGET))
        cam = GradCAMpp(
            wrapper,
            target_layers="inner.network.encoders.imaging.stages.3",
            postprocessing=lambda x: x,
        )
        ref = cam(one["imaging"], class_idx=0).detach().numpy()[:, 0]
        np.testing.assert_allclose(ours.maps[i], _normalise(ref)[0], atol=1e-4)
    assert ours.maps.reshape(len(ours.maps), -1).std(1).min() > 0.01  # not flat maps
    assert not np.allclose(
        ours.maps, grad_cam(net, batch, TARGET, method="gradcam").maps, atol=1e-3
    )


def test_gradcam_plus_plus_weights_by_hand() -> None:
    # one channel, two positions: g = (1, 2), A = (1, 3), sum A = 4
    # alpha = g^2 / (2 g^2 + 4 g^3) = (1/6, 4/40); w = 1/6 * 1 + 0.1 * 2
    acts, grads = torch.tensor([[[1.0, 3.0]]]), torch.tensor([[[1.0, 2.0]]])
    assert float(_weights(acts, grads, "gradcam++")) == pytest.approx(1 / 6 + 0.2, rel=1e-6)
    assert float(_weights(acts, grads, "gradcam")) == pytest.approx(1.5)
    # negative gradients get no weight; a zero denominator gives alpha = 0, not NaN
    assert float(_weights(acts, -grads, "gradcam++")) == 0.0
    assert float(_weights(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), "gradcam++")) == 0.0


def test_maps_are_normalised_rowwise_independent_and_restore_the_mode() -> None:
    net, batch = dmanet(), _imaged_batch()
    net.train()
    res = grad_cam(net, batch, TARGET)
    assert net.training and all(m.training for m in net.modules())
    assert res.maps.shape == (len(batch["patient_id"]), 8, 16, 16)
    assert res.maps.min() >= 0 and np.allclose(res.maps.reshape(len(res.maps), -1).max(1), 1.0)
    assert res.layer == "stages.3" and res.method == "gradcam++"
    with torch.no_grad():
        net.eval()
        expected = TARGET(net(batch)).numpy()
    np.testing.assert_allclose(res.target, expected, rtol=1e-5)
    alone = grad_cam(net, select_rows(batch, [2]), TARGET)
    np.testing.assert_allclose(alone.maps[0], res.maps[2], atol=1e-5)
    # a probability score gives the same Grad-CAM map (a positive per-patient factor)
    a = grad_cam(net, batch, TARGET, method="gradcam", score="probability").maps
    b = grad_cam(net, batch, TARGET, method="gradcam").maps
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_image_only_model_holds_the_other_modalities_fixed() -> None:
    net, batch = dmanet(), _imaged_batch()
    model = ImageOnlyModel(net, batch, TARGET)
    with torch.no_grad():
        np.testing.assert_allclose(model(batch["imaging"]), TARGET.log_odds(net(batch)), rtol=1e-5)
        other = dict(batch, clinical=batch["clinical"] + 1.0)
        assert not torch.allclose(
            ImageOnlyModel(net, other, TARGET)(batch["imaging"]), model(batch["imaging"])
        )


def test_an_earlier_layer_gives_a_finer_map() -> None:
    net, batch = dmanet(), _imaged_batch()
    coarse = grad_cam(net, batch, TARGET, method="gradcam")
    fine = grad_cam(net, batch, TARGET, method="gradcam", layer="stages.1")
    assert coarse.layer_maps.shape[1:] == (8, 2, 2) and fine.layer_maps.shape[1:] == (8, 8, 8)
    assert fine.maps.shape == coarse.maps.shape


def test_a_map_without_positive_evidence_is_zero_with_a_warning() -> None:
    net, batch = image_net(), _imaged_batch()
    first = next(m for m in net.fusion.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        first.weight[:, :8] = 0.0  # the image no longer reaches the output
    with pytest.warns(RuntimeWarning, match="all zero"):
        res = grad_cam(net, batch, TARGET)
    assert np.isfinite(res.maps).all() and res.maps.max() == 0.0


def test_errors() -> None:
    net = dmanet()
    _, _, batch = tiny_data()
    with pytest.raises(ConfigError, match=r"'003'.*have no image"):
        grad_cam(net, batch, TARGET)
    with pytest.raises(UnknownOptionError, match="Did you mean 'stages.2'"):
        grad_cam(net, _imaged_batch(), TARGET, layer="stages.22")
    with pytest.raises(UnknownOptionError, match="CAM method"):
        grad_cam(net, _imaged_batch(), TARGET, method="gradcam+")


def test_representative_frames_by_hand() -> None:
    cam = np.zeros((6, 2, 2))
    cam[1], cam[4], cam[5], cam[0] = 3.0, 1.0, 2.0, 0.5
    image = np.arange(24, dtype=float).reshape(1, 6, 2, 2)
    sel = representative_frames(cam, image, k=3)
    np.testing.assert_array_equal(sel.indices, [1, 4, 5])  # in temporal order
    np.testing.assert_allclose(sel.share, np.array([12.0, 4.0, 8.0]) / 26.0)
    np.testing.assert_array_equal(sel.images, image[0, [1, 4, 5]])
    np.testing.assert_array_equal(sel.cams, cam[[1, 4, 5]])
    assert len(representative_frames(cam, image, k=10).indices) == 6
    with pytest.raises(ConfigError, match="same"):
        representative_frames(cam, image[:, :5])
    with pytest.raises(ConfigError, match="k must be"):
        representative_frames(cam, image, k=0)
