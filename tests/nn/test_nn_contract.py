"""Contract shared by every registered encoder, fusion, head and aligner.

Found by introspection: every name in the registries must have a tiny spec in
``_nn_factories`` (a new component without one fails here). Checks: builds from a config,
documented shapes, gradients reach every parameter, masked modalities are respected
(exact equality), finite output when a modality is missing for the whole batch, and a
state_dict save/load round trip gives identical outputs.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from _nn_factories import (
    ALIGNER_SPECS,
    ENCODER_SPECS,
    FUSION_SPECS,
    HEAD_SPECS,
    MASKS,
    B,
    K,
    L,
    fusion_features,
    make_batch,
    perturb_features,
    perturb_masked,
)

from oncofusion.nn import ALIGNERS, ENCODERS, FUSIONS, HEADS


def _tensors(out: Any) -> list[torch.Tensor]:
    """All floating tensors in a (nested) output dict, in a stable order."""
    if torch.is_tensor(out):
        return [out] if out.is_floating_point() else []
    if isinstance(out, dict):
        return [t for k in sorted(out) for t in _tensors(out[k])]
    return []


def _assert_equal(a: Any, b: Any) -> None:
    ta, tb = _tensors(a), _tensors(b)
    assert len(ta) == len(tb) and ta
    for x, y in zip(ta, tb):
        assert torch.equal(x, y), "output changed"


def _loss(out: Any) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    total = torch.zeros(())
    for t in _tensors(out):
        total = total + (t * torch.randn(t.shape, generator=g)).sum()
    return total


def _check_grads(module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        assert p.grad is not None, f"parameter {name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"parameter {name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"parameter {name} has an all-zero gradient"


def _roundtrip(registry: Any, name: str, config: dict[str, Any], module: torch.nn.Module) -> torch.nn.Module:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    buf.seek(0)
    torch.manual_seed(12345)
    other = registry.build(name, **config)
    other.load_state_dict(torch.load(buf, weights_only=True))
    return other.eval()


@pytest.mark.parametrize("registry,specs", [(ENCODERS, ENCODER_SPECS), (FUSIONS, FUSION_SPECS),
                                            (HEADS, HEAD_SPECS), (ALIGNERS, ALIGNER_SPECS)],
                         ids=["encoders", "fusions", "heads", "aligners"])
def test_every_registered_component_has_a_contract_spec(registry, specs):
    assert set(registry.names()) == set(specs), "add a tiny spec for every registered component"


# ----------------------------------------------------------------------------- encoders
@pytest.mark.parametrize("name", ENCODERS.names())
def test_encoder_contract(name):
    spec = ENCODER_SPECS[name]
    torch.manual_seed(0)
    enc = ENCODERS.build(name, **spec["config"])
    batch = make_batch()
    m = spec["modality"]
    present = batch["modality_mask"][m]

    out = enc.forward_batch(batch)
    assert out["embedding"].shape == (B, enc.out_features)
    assert torch.equal(out["present"], present & (batch["biomarker_valid"].any(1) if m == "biomarkers" else True))
    if spec["tokens"] is not None:
        assert out["tokens"].shape == (B, spec["tokens"], enc.out_features)
        assert out["token_mask"].shape == (B, spec["tokens"])
    assert torch.isfinite(out["embedding"]).all()

    # gradients reach every parameter
    enc.zero_grad()
    _loss(out).backward()
    _check_grads(enc)

    # masked-out rows: their data cannot change anything, in train and eval mode
    for train in (True, False):
        enc.train(train)
        torch.manual_seed(3)
        a = enc.forward_batch(batch)
        torch.manual_seed(3)
        b = enc.forward_batch(perturb_masked(batch, m))
        _assert_equal(a, b)
        assert torch.equal(a["embedding"][~present], torch.zeros_like(a["embedding"][~present]))

    # the whole batch lacks the modality; and a single present patient in training mode
    for keep in ([False] * B, [False, False, False, True]):
        masks = {**MASKS, m: keep}
        enc.train()
        out = enc.forward_batch(make_batch(masks=masks))
        assert all(torch.isfinite(t).all() for t in _tensors(out))
        assert out["embedding"].shape == (B, enc.out_features)

    # save / load round trip
    enc.eval()
    other = _roundtrip(ENCODERS, name, spec["config"], enc)
    _assert_equal(enc.forward_batch(batch), other.forward_batch(batch))


# ------------------------------------------------------------------------------ fusions
@pytest.mark.parametrize("name", FUSIONS.names())
def test_fusion_contract(name):
    spec = FUSION_SPECS[name]
    torch.manual_seed(0)
    fusion = FUSIONS.build(name, **spec["config"])
    dims = spec["config"]["dims"]
    feats = fusion_features(dims=dims)
    mask = {m: torch.tensor(MASKS[m]) for m in dims}

    out = fusion(feats, mask)
    assert out["embedding"].shape == (B, fusion.out_features)
    assert isinstance(out["attention"], dict)
    if spec["tokens"] is not None:
        assert out["tokens"].shape == (B, spec["tokens"], fusion.out_features)
    assert all(torch.isfinite(t).all() for t in _tensors(out))

    # gradients reach every parameter and every present input
    leaves = {m: {k: v.clone().requires_grad_(True) for k, v in f.items() if v.is_floating_point()}
              for m, f in feats.items()}
    for m, leaf in leaves.items():
        leaf.update({k: v for k, v in feats[m].items() if not v.is_floating_point()})
    fusion.zero_grad()
    out = fusion(leaves, mask)
    _loss({"embedding": out["embedding"], "tokens": out.get("tokens")}).backward()
    _check_grads(fusion)
    for m in dims:
        grad = leaves[m]["embedding"].grad
        if grad is None:  # an aligned sequence modality may enter through its tokens only
            grad = leaves[m]["tokens"].grad.sum(1)
        assert torch.equal(grad[~mask[m]], torch.zeros_like(grad[~mask[m]])), f"masked {m} got gradient"
        assert grad[mask[m]].abs().sum() > 0, f"present {m} got no gradient"

    # masked-out modality data (noise, even NaN) cannot change the output: exact equality
    fusion.eval()
    ref = fusion(feats, mask)
    for m in dims:
        for value in (100.0, float("nan")):
            _assert_equal(ref, fusion(perturb_features(feats, mask, m, value), mask))

    # a modality missing for the whole batch, and everything missing
    for gone in [*dims, None]:
        all_mask = {m: (torch.zeros(B, dtype=torch.bool) if gone in (m, None) else mask[m]) for m in dims}
        out = fusion(feats, all_mask)
        assert out["embedding"].shape == (B, fusion.out_features)
        assert all(torch.isfinite(t).all() for t in _tensors(out)), f"non-finite without {gone}"

    # save / load round trip
    other = _roundtrip(FUSIONS, name, spec["config"], fusion)
    _assert_equal(fusion(feats, mask), other(feats, mask))


def test_fusion_rejects_a_missing_modality_key():
    fusion = FUSIONS.build("concat", dims={"imaging": 3, "clinical": 2}, out_features=4)
    with pytest.raises(ValueError, match="lacks modality 'clinical'"):
        fusion({"imaging": torch.zeros(2, 3)}, {"imaging": torch.ones(2, dtype=torch.bool)})


# -------------------------------------------------------------------------------- heads
@pytest.mark.parametrize("name", HEADS.names())
def test_head_contract(name):
    spec = HEAD_SPECS[name]
    torch.manual_seed(0)
    head = HEADS.build(name, **spec["config"])
    z = torch.randn(*spec["input"], requires_grad=True)
    out = head(z)
    blocks = out.values() if name == "per_arm" else [out]
    for block in blocks:
        for key, shape in spec["shapes"].items():
            assert block[key].shape == shape, key
        for key in ("hazard", "lc_risk"):
            if key in block:
                assert ((block[key] > 0) & (block[key] < 1)).all()
    _loss(out).backward()
    _check_grads(head)
    assert z.grad.abs().sum() > 0
    head.eval()
    other = _roundtrip(HEADS, name, spec["config"], head)
    _assert_equal(head(z.detach()), other(z.detach()))


# ----------------------------------------------------------------------------- aligners
@pytest.mark.parametrize("name", ALIGNERS.names())
def test_aligner_contract(name):
    spec = ALIGNER_SPECS[name]
    aligner = ALIGNERS.build(name, **spec["config"])
    x = torch.randn(B, K, 3, requires_grad=True)
    y = torch.randn(B, L, 3, requires_grad=True)
    lengths = torch.tensor([5, 3, 2, 4])
    out = aligner(x, y, None, lengths)
    assert out["cost"].shape == (B,)
    assert out["alignment"].shape == (B, K, L)
    assert out["aligned"].shape == (B, K, 3)
    # padding beyond each y length gets no alignment mass and cannot change the result
    assert torch.equal(out["alignment"][1, :, 3:], torch.zeros(K, 2))
    y2 = y.detach().clone()
    y2[1, 3:] = 1e3
    _assert_equal({k: v.detach() for k, v in out.items()},
                  {k: v.detach() for k, v in aligner(x.detach(), y2, None, lengths).items()})
    _loss(out).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert torch.equal(y.grad[1, 3:], torch.zeros(2, 3))
    other = _roundtrip(ALIGNERS, name, spec["config"], aligner)
    _assert_equal(aligner(x.detach(), y.detach(), None, lengths), other(x.detach(), y.detach(), None, lengths))
