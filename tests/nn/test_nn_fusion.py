"""Fusion-specific behaviour (the shared contract is in test_nn_contract.py)."""

from __future__ import annotations

import pytest
import torch
from _nn_factories import DIMS, MASKS, B, K, fusion_features

from oncofusion.errors import UnknownOptionError
from oncofusion.nn import FUSIONS, HEADS


def _mask(dims):
    return {m: torch.tensor(MASKS[m]) for m in dims}


def test_cross_attention_gives_missing_modalities_zero_weight_and_learned_queries():
    torch.manual_seed(0)
    fusion = FUSIONS.build("cross_attention", dims=DIMS, n_slices=K, d_model=8, heads=2).eval()
    feats, mask = fusion_features(dims=DIMS), _mask(DIMS)
    out = fusion(feats, mask)
    keys = ["null", *fusion.key_modalities]
    assert keys == ["null", "imaging", "biomarkers", "clinical"]
    cross, gate = out["attention"]["cross"], out["attention"]["gate"]
    assert cross.shape == (B, K, 4) and gate.shape == (B, K, 3)
    torch.testing.assert_close(cross.sum(-1), torch.ones(B, K))
    for j, m in enumerate(fusion.key_modalities):
        absent = ~mask[m]
        assert torch.equal(cross[absent, :, j + 1], torch.zeros_like(cross[absent, :, j + 1]))
        assert torch.equal(gate[absent, :, j], torch.zeros_like(gate[absent, :, j]))
        assert (cross[~absent, :, j + 1] > 0).all()
    # biomarker visits are aligned on the K slices by soft-DTW; padding carries no mass
    align = out["attention"]["alignment_biomarkers"]
    assert align.shape == (B, K, 5) and torch.equal(align[3, :, 1:], torch.zeros(K, 4))
    assert (out["alignment_cost"][~mask["biomarkers"]] == 0).all()
    # patient 1 has no imaging: the learned queries stand in, imaging data is irrelevant
    feats2 = {m: dict(f) for m, f in feats.items()}
    feats2["imaging"] = {"embedding": torch.randn(B, DIMS["imaging"]), "tokens": torch.randn(B, K, DIMS["imaging"])}
    out2 = fusion(feats2, mask)
    assert torch.equal(out2["tokens"][1], out["tokens"][1])
    assert not torch.allclose(out2["tokens"][0], out["tokens"][0])


def test_cross_attention_alignment_is_differentiable_and_ablations_build():
    torch.manual_seed(0)
    feats, mask = fusion_features(dims=DIMS), _mask(DIMS)
    tok = feats["biomarkers"]["tokens"].clone().requires_grad_(True)
    feats["biomarkers"]["tokens"] = tok
    fusion = FUSIONS.build("cross_attention", dims=DIMS, n_slices=K, d_model=8, heads=2)
    fusion(feats, mask)["alignment_cost"].sum().backward()
    assert tok.grad[mask["biomarkers"]].abs().sum() > 0
    no_align = FUSIONS.build("cross_attention", dims=DIMS, n_slices=K, d_model=8, heads=2, align=None, gating=False)
    out = no_align(feats, mask)
    assert "alignment_biomarkers" not in out["attention"] and "gate" not in out["attention"]
    no_img = FUSIONS.build("cross_attention", dims={"biomarkers": 6, "clinical": 5}, n_slices=3, d_model=8, heads=2)
    assert no_img.query is None
    assert no_img({m: feats[m] for m in ("biomarkers", "clinical")},
                  {m: mask[m] for m in ("biomarkers", "clinical")})["tokens"].shape == (B, 3, 8)
    with pytest.raises(ValueError, match="n_slices"):
        FUSIONS.build("cross_attention", dims=DIMS, n_slices=K + 1, d_model=8, heads=2)(feats, mask)
    with pytest.raises(ValueError, match="divisible"):
        FUSIONS.build("cross_attention", dims=DIMS, n_slices=K, d_model=6, heads=4)


def test_cross_attention_aligns_every_slice_to_a_short_visit_history():
    """Regression: with 12 slices, bandwidth 4 and 2 visits, soft-DTW had no warping path, so
    11 of the 12 slices got an all-zero biomarker value (PBC2 at landmark 1 year: most patients
    have 2 visits, and DMA-Net predicted from age and sex only)."""
    torch.manual_seed(0)
    dims = {"biomarkers": 6, "clinical": 5}
    fusion = FUSIONS.build("cross_attention", dims=dims, n_slices=12, d_model=8, heads=2,
                           align_kwargs={"gamma": 0.1, "bandwidth": 4}).eval()
    n_visits = torch.arange(1, 8)
    b = len(n_visits)
    feats = {"biomarkers": {"embedding": torch.randn(b, 6), "tokens": torch.randn(b, 7, 6),
                            "token_mask": torch.arange(7)[None] < n_visits[:, None]},
             "clinical": {"embedding": torch.randn(b, 5)}}
    mask = {m: torch.ones(b, dtype=torch.bool) for m in dims}
    out = fusion(feats, mask)
    align = out["attention"]["alignment_biomarkers"]
    assert (align.sum(-1) >= 1 - 1e-4).all()  # each warping path visits every slice
    assert torch.isfinite(out["alignment_cost"]).all()


def test_bidirectional_cross_attention_masks_keys_and_iterates():
    torch.manual_seed(0)
    dims = {**DIMS, "genomics": 7}
    fusion = FUSIONS.build("bidirectional_cross_attention", dims=dims, d_model=8, heads=2, steps=3).eval()
    mask = _mask(dims)
    out = fusion(fusion_features(dims=dims), mask)
    assert len(out["attention"]) == 3 * 4
    w = out["attention"]["clinical_step2"]  # keys: null, imaging, biomarkers, genomics
    assert w.shape == (B, 4)
    for j, m in enumerate(["imaging", "biomarkers", "genomics"]):
        assert torch.equal(w[~mask[m], j + 1], torch.zeros_like(w[~mask[m], j + 1]))
    assert out["tokens"].shape == (B, 4, 8) and torch.equal(out["token_mask"], fusion.stack_present(
        fusion.prepare(fusion_features(dims=dims), mask), fusion.modalities))
    mean = FUSIONS.build("bidirectional_cross_attention", dims=dims, d_model=8, heads=2, aggregation="mean")
    assert mean(fusion_features(dims=dims), mask)["embedding"].shape == (B, 8)
    with pytest.raises(UnknownOptionError, match="Did you mean 'concat'"):
        FUSIONS.build("bidirectional_cross_attention", dims=dims, aggregation="concatenate")


def test_concat_uses_the_learned_missing_embedding():
    torch.manual_seed(0)
    fusion = FUSIONS.build("concat", dims=DIMS, out_features=4)
    feats, mask = fusion_features(dims=DIMS), _mask(DIMS)
    before = fusion(feats, mask)["embedding"]
    with torch.no_grad():
        fusion.missing["clinical"].add_(1.0)
    after = fusion(feats, mask)["embedding"]
    changed = (before != after).any(1)
    assert changed.tolist() == (~mask["clinical"]).tolist()


def test_late_fusion_equals_the_mean_of_unimodal_predictions_under_an_affine_head():
    torch.manual_seed(0)
    fusion = FUSIONS.build("late", dims=DIMS, out_features=6)
    head = HEADS.build("discrete_time", in_features=6, n_intervals=3)
    feats, mask = fusion_features(dims=DIMS), _mask(DIMS)
    fused = head(fusion(feats, mask))["logit_hazard"]
    for b in range(B):
        preds = [head(fusion.nets[m](feats[m]["embedding"][b : b + 1]))["logit_hazard"]
                 for m in DIMS if mask[m][b]]
        torch.testing.assert_close(fused[b], torch.cat(preds).mean(0))


def test_weighted_sum_renormalises_static_weights_over_present_modalities():
    torch.manual_seed(0)
    fusion = FUSIONS.build("weighted_sum", dims=DIMS, out_features=4)
    with torch.no_grad():
        fusion.logits.copy_(torch.tensor([0.0, 1.0, 2.0]))
    feats, mask = fusion_features(dims=DIMS), _mask(DIMS)
    out = fusion(feats, mask)
    w = out["attention"]["modality_weights"]
    full = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0)
    torch.testing.assert_close(w[0], full)  # patient 0 has all three
    expected = torch.softmax(torch.tensor([1.0, 2.0]), 0)  # patient 1 lacks imaging
    torch.testing.assert_close(w[1], torch.cat([torch.zeros(1), expected]))
    manual = sum(w[1, j] * fusion.proj[m](feats[m]["embedding"][1]) for j, m in enumerate(DIMS))
    torch.testing.assert_close(out["embedding"][1], manual)


def test_kronecker_equals_the_outer_product_with_appended_ones():
    torch.manual_seed(0)
    dims = {"imaging": 3, "clinical": 2}
    fusion = FUSIONS.build("kronecker", dims=dims, out_features=4, factor_dim=2)
    e = {"imaging": torch.randn(2, 3), "clinical": torch.randn(2, 2)}
    mask = {"imaging": torch.tensor([True, True]), "clinical": torch.tensor([True, False])}
    out = fusion(e, mask)["embedding"]
    one = torch.ones(1)
    for b in range(2):
        h1 = torch.cat([one, fusion.proj["imaging"](e["imaging"][b])])
        h2 = torch.cat([one, fusion.proj["clinical"](e["clinical"][b]) * float(mask["clinical"][b])])
        torch.testing.assert_close(out[b], fusion.out(torch.kron(h1, h2)))
    low = FUSIONS.build("kronecker", dims=dims, out_features=4, factor_dim=2, rank=3)
    assert low(e, mask)["embedding"].shape == (2, 4)
