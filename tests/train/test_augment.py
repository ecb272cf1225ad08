"""Random in-plane re-orientation of training images (oncofusion.train.augment)."""

import pytest
import torch

from oncofusion.train.augment import _transform, augment_images


def _batch(b=6, t=3, h=5, w=5):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(b, 1, t, h, w, generator=g)
    return {"imaging": img, "imaging_seg": (img > 0.5).float(), "time": torch.ones(b)}


def test_dihedral_codes_are_the_eight_distinct_symmetries():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    outs = {tuple(_transform(x, torch.tensor([c])).flatten().tolist()) for c in range(8)}
    assert len(outs) == 8
    # every element is a pixel permutation
    for o in outs:
        assert sorted(o) == list(range(16))


def test_mask_and_frames_follow_the_image():
    batch = _batch()
    out = augment_images(batch, "dihedral", generator=torch.Generator().manual_seed(3))
    assert torch.equal(out["imaging_seg"], (out["imaging"] > 0.5).float())
    # each sample's frames got one map: the transform found for frame 0 explains the others
    for b in range(out["imaging"].shape[0]):
        codes = [c for c in range(8)
                 if torch.equal(_transform(batch["imaging"][b:b + 1, :, :1], torch.tensor([c])),
                                out["imaging"][b:b + 1, :, :1])]
        assert codes
        assert torch.equal(_transform(batch["imaging"][b:b + 1], torch.tensor([codes[0]])), out["imaging"][b:b + 1])
    assert torch.equal(out["time"], batch["time"])


def test_flip_mode_never_transposes_and_none_is_identity():
    x = torch.arange(9.0).reshape(1, 1, 1, 3, 3).repeat(64, 1, 1, 1, 1)
    out = augment_images({"imaging": x}, "flip", generator=torch.Generator().manual_seed(0))["imaging"]
    transposed = {tuple(_transform(x[:1], torch.tensor([c])).flatten().tolist()) for c in range(4, 8)}
    flips = {tuple(_transform(x[:1], torch.tensor([c])).flatten().tolist()) for c in range(4)}
    seen = {tuple(o.flatten().tolist()) for o in out}
    assert seen <= flips and not (seen & (transposed - flips))
    assert len(seen) == 4
    batch = _batch()
    assert augment_images(batch, "none") is batch


def test_reproducible_with_a_seeded_generator():
    a = augment_images(_batch(), "dihedral", generator=torch.Generator().manual_seed(7))
    b = augment_images(_batch(), "dihedral", generator=torch.Generator().manual_seed(7))
    assert torch.equal(a["imaging"], b["imaging"])


def test_non_square_images_get_flips_only():
    x = torch.rand(8, 1, 2, 3, 5)
    out = augment_images({"imaging": x}, "dihedral", generator=torch.Generator().manual_seed(1))
    assert out["imaging"].shape == x.shape


@pytest.mark.parametrize("mode", ["none", "flip", "dihedral"])
def test_config_accepts_the_modes(mode):
    from oncofusion.train.config import TrainConfig

    assert TrainConfig(image_augment=mode).image_augment == mode
    with pytest.raises(ValueError):
        TrainConfig(image_augment="rotate")
