"""Encoder-specific behaviour (the shared contract is in test_nn_contract.py)."""

from __future__ import annotations

import pytest
import torch
from _nn_factories import make_batch

from oncofusion.errors import ConfigError, UnknownOptionError
from oncofusion.nn import ENCODERS
from oncofusion.nn.encoders.attention import CBAM
from oncofusion.nn.encoders.genomic import SparseGCNConv, normalized_adjacency
from oncofusion.nn.encoders.imaging import DepthwiseSeparableConv
from oncofusion.nn.encoders.sequence import visit_features
from oncofusion.nn.layers import SafeBatchNorm, adaptive_avg_pool1d


# ------------------------------------------------------------------------------ imaging
@pytest.mark.parametrize(("length", "bins"), [(12, 12), (12, 4), (7, 3), (5, 12), (1, 3), (10, 1)])
def test_adaptive_pooling_matches_pytorch_values_and_gradients(length, bins):
    """The matrix form gives torch's adaptive_avg_pool1d (whose CUDA backward is not
    deterministic) in value and gradient."""
    x = torch.randn(2, 3, length, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 3, bins, dtype=torch.float64)
    ours = adaptive_avg_pool1d(x, bins)
    (grad_ours,) = torch.autograd.grad((ours * w).sum(), x)
    ref = torch.nn.functional.adaptive_avg_pool1d(x, bins)
    (grad_ref,) = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_resnet_layout_tokens_and_grad_cam_target():
    torch.manual_seed(0)
    enc = ENCODERS.build("resnet3d", width=8, temporal_tokens=3, temporal_downsample=False)
    assert [s[0].conv2.out_channels for s in enc.stages] == [8, 16, 32, 64]
    assert [len(s) for s in enc.stages] == [2, 2, 2, 2]
    # downsampling blocks use depthwise (groups = in_channels, stride 2) + pointwise convolutions
    for s in enc.stages[1:]:
        conv1 = s[0].conv1
        assert isinstance(conv1, DepthwiseSeparableConv)
        assert conv1.depthwise.groups == conv1.depthwise.in_channels and conv1.depthwise.stride == (1, 2, 2)
        assert conv1.pointwise.kernel_size == (1, 1, 1)
    assert dict(enc.named_modules())[enc.target_layer_name] is enc.target_layer
    x = torch.randn(2, 1, 8, 16, 16)
    out = enc.eval()(x)
    assert out["embedding"].shape == (2, 64) and out["tokens"].shape == (2, 3, 64)
    assert enc.features(x).shape[2] == 8  # time kept: no temporal stride
    # the embedding is the global mean; tokens are its temporal split (equal bins: 8 -> 4 ... )
    enc2 = ENCODERS.build("resnet3d", width=8, temporal_tokens=8, temporal_downsample=False).eval()
    o2 = enc2(x)
    torch.testing.assert_close(o2["tokens"].mean(1), o2["embedding"], atol=1e-5, rtol=1e-5)


def test_resnet_attention_modes_and_dimension_agnostic():
    torch.manual_seed(0)
    spatial = ENCODERS.build("resnet3d", width=4, attention="spatial", layers=(1, 1))
    block = spatial.stages[0][0].attention
    assert block.channel is None and block.spatial is not None
    none = ENCODERS.build("resnet3d", width=4, attention="none", layers=(1, 1))
    assert sum(p.numel() for p in none.parameters()) < sum(p.numel() for p in spatial.parameters())
    spatial.eval()(torch.randn(1, 1, 8, 16, 16))
    assert block.spatial.last_map.shape[1] == 1
    with pytest.raises(UnknownOptionError, match="Did you mean 'spatial'"):
        ENCODERS.build("resnet3d", attention="spatal")
    two_d = ENCODERS.build("resnet3d", spatial_dims=2, width=4, layers=(1, 1), out_features=5)
    assert two_d(torch.randn(3, 1, 16, 16))["embedding"].shape == (3, 5)
    with pytest.raises(ValueError, match="imaging input must be"):
        two_d(torch.randn(3, 2, 16, 16))


def test_separable_downsampling_has_fewer_parameters():
    torch.manual_seed(0)
    sep = ENCODERS.build("resnet3d", width=8, layers=(1, 1), separable_downsample=True)
    full = ENCODERS.build("resnet3d", width=8, layers=(1, 1), separable_downsample=False)
    n_sep = sum(p.numel() for p in sep.stages[1][0].conv1.parameters())
    assert n_sep == 8 * 27 + 8 * 16
    assert sum(p.numel() for p in full.stages[1][0].conv1.parameters()) == 8 * 16 * 27


def test_cbam_channel_gate_matches_the_formula():
    torch.manual_seed(0)
    cbam = CBAM(4, spatial_dims=3, mode="channel", reduction=2)
    x = torch.randn(2, 4, 3, 3, 3)
    mlp = cbam.channel.mlp
    gate = torch.sigmoid(mlp(x.mean((2, 3, 4))) + mlp(x.amax((2, 3, 4))))
    torch.testing.assert_close(cbam(x), x * gate[:, :, None, None, None])


def test_resnet_uses_the_segmentation_as_roi():
    torch.manual_seed(0)
    enc = ENCODERS.build("resnet3d", width=4, layers=(1, 1), use_segmentation=True).eval()
    batch = make_batch()
    batch["imaging_seg"] = torch.zeros_like(batch["imaging"])
    out = enc.forward_batch(batch)
    ref = enc(torch.zeros_like(batch["imaging"]), batch["modality_mask"]["imaging"])
    assert torch.equal(out["embedding"], ref["embedding"])


# --------------------------------------------------------------------------- biomarkers
def test_position_channel_is_the_radius_and_breaks_rotation_blindness():
    enc = ENCODERS.get("resnet3d")(layers=(1, 1), width=4, temporal_tokens=2, temporal_downsample=False,
                                   position_channel=True, max_pool=False)
    r = enc._radius(torch.zeros(1, 1, 2, 4, 4))[0, 0, 0]
    # cell centres at +-0.25, +-0.75: radius sqrt(2)*0.25 in the middle, sqrt(2)*0.75 at the corners
    assert r[1, 1].item() == pytest.approx(2**0.5 * 0.25)
    assert r[0, 0].item() == pytest.approx(2**0.5 * 0.75)
    assert torch.equal(r, r.flip(0)) and torch.equal(r, r.T)
    assert enc.stem[0].in_channels == 2
    enc.eval()
    # a bright centre and a bright border give different embeddings, with or without padding luck
    centre = torch.zeros(1, 1, 2, 8, 8)
    centre[..., 3:5, 3:5] = 1.0
    border = 1.0 - centre
    assert not torch.allclose(enc(centre)["embedding"], enc(border)["embedding"])


def test_visit_features_by_hand():
    values = torch.tensor([[[1.0, 10.0], [3.0, 99.0], [6.0, 14.0], [0.0, 0.0]]])
    observed = torch.tensor([[[True, True], [True, False], [True, True], [False, False]]])
    times = torch.tensor([[0.0, 2.0, 5.0, 0.0]])
    valid = torch.tensor([[True, True, True, False]])
    f = visit_features(values, observed, times, valid)
    assert f.shape == (1, 4, 3 * 2 + 2)
    assert f[0, :, 0:2].tolist() == [[1, 10], [3, 0], [6, 14], [0, 0]]  # 99 unobserved -> 0
    assert f[0, :, 2:4].tolist() == [[1, 1], [1, 0], [1, 1], [0, 0]]
    # delta since the marker's last observation: marker 2 at t=5 compares with t=0
    assert f[0, :, 4:6].tolist() == [[0, 0], [2, 0], [3, 4], [0, 0]]
    assert f[0, :, 6].tolist() == [0, 2, 5, 0] and f[0, :, 7].tolist() == [0, 2, 3, 0]


def test_bilstm_attention_pools_valid_visits_only():
    torch.manual_seed(0)
    enc = ENCODERS.build("bilstm_attention", n_markers=2, hidden=4, out_features=3).eval()
    batch = make_batch()
    out = enc.forward_batch(batch)
    valid = batch["biomarker_valid"] & batch["modality_mask"]["biomarkers"][:, None]
    alpha = out["attention"]
    assert torch.equal(alpha[~valid], torch.zeros_like(alpha[~valid]))
    torch.testing.assert_close(alpha.sum(1)[valid.any(1)], torch.ones(int(valid.any(1).sum())))
    torch.testing.assert_close(out["embedding"], (alpha[..., None] * out["tokens"]).sum(1))
    # longer padding does not change anything (packed sequences)
    padded = {**batch}
    for key in ("biomarkers", "biomarker_observed"):
        padded[key] = torch.cat([batch[key], torch.ones_like(batch[key][:, :3]) * 5], 1)
    for key in ("biomarker_times", "biomarker_valid"):
        pad = torch.zeros_like(batch[key][:, :3]) if key == "biomarker_valid" else batch[key][:, :3] + 9
        padded[key] = torch.cat([batch[key], pad], 1)
    torch.testing.assert_close(enc.forward_batch(padded)["embedding"], out["embedding"], atol=1e-6, rtol=1e-6)


def test_bilstm_rows_without_visits_are_absent_not_nan():
    enc = ENCODERS.build("bilstm_attention", n_markers=2, hidden=4)
    values = torch.randn(2, 3, 2)
    valid = torch.tensor([[True, True, False], [False, False, False]])
    out = enc(values, torch.ones(2, 3, 2, dtype=torch.bool), torch.rand(2, 3), valid)
    assert out["present"].tolist() == [True, False]
    assert torch.isfinite(out["embedding"]).all() and out["embedding"][1].abs().sum() == 0
    with pytest.raises(ValueError, match="prefix"):
        enc(values, torch.ones(2, 3, 2, dtype=torch.bool), torch.rand(2, 3),
            torch.tensor([[True, False, True], [True, True, True]]))


# ----------------------------------------------------------------------------- clinical
def test_gated_mlp_applies_the_gate_before_the_mlp():
    torch.manual_seed(0)
    enc = ENCODERS.build("gated_mlp", in_features=4, hidden=(5,), out_features=3, dropout=0.0).eval()
    c = torch.randn(6, 4)
    out = enc(c)
    g = torch.sigmoid(enc.gate(c))
    torch.testing.assert_close(out["gate"], g)
    torch.testing.assert_close(out["embedding"], enc.mlp(g * c))


def test_mlp_has_three_hidden_layers_with_batch_norm_and_tolerates_one_row():
    enc = ENCODERS.build("mlp", in_features=4, act="gelu")
    linears = [m for m in enc.mlp if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 and sum(isinstance(m, SafeBatchNorm) for m in enc.mlp) == 3
    assert any(isinstance(m, torch.nn.GELU) for m in enc.mlp)
    enc.train()
    assert torch.isfinite(enc(torch.randn(1, 4))["embedding"]).all()  # BatchNorm1d would raise
    with pytest.raises(ConfigError, match="cannot build encoder 'mlp'"):
        ENCODERS.build("mlp", in_features=4, widht=3)
    with pytest.raises(UnknownOptionError, match="Did you mean 'gated_mlp'"):
        ENCODERS.build("gated_mpl", in_features=4)


# ----------------------------------------------------------------------------- genomics
def _dense_norm_adj(edges: list[tuple[int, int]], n: int) -> torch.Tensor:
    A = torch.zeros(n, n)
    for a, b in edges:
        A[a, b] = A[b, a] = 1.0
    A_hat = A + torch.eye(n)
    d = A_hat.sum(1).pow(-0.5)
    return d[:, None] * A_hat * d[None, :]


def test_gcn_layer_equals_the_dense_formula():
    edges = [(0, 1), (1, 2), (1, 3), (3, 4), (2, 1)]  # duplicate and reversed edge
    enc = ENCODERS.build("gcn", n_genes=6, edges=edges, backend="torch")
    dense = _dense_norm_adj(edges, 6)
    torch.testing.assert_close(normalized_adjacency(enc.edge_index, 6).to_dense(), dense)
    torch.manual_seed(0)
    conv, x = SparseGCNConv(3, 2), torch.randn(4, 6, 3)
    expected = dense @ (x @ conv.lin.weight.t()) + conv.bias
    torch.testing.assert_close(conv(x, normalized_adjacency(enc.edge_index, 6)), expected)


def test_gcn_layer_runs_under_autocast_in_float32():
    """Sparse products have no half-precision CUDA kernel (``addmm_sparse_cuda`` for Half,
    seen on an H100 under 16-mixed); the layer multiplies in float32 under autocast."""
    edges = [(0, 1), (1, 2)]
    adj = normalized_adjacency(ENCODERS.build("gcn", n_genes=3, edges=edges, backend="torch").edge_index, 3)
    torch.manual_seed(0)
    conv, x = SparseGCNConv(2, 2), torch.randn(2, 3, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x, adj)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, conv(x, adj), atol=0.05, rtol=0.05)  # the linear part ran in bf16


def test_gcn_backends_agree_and_share_weights():
    genes = ["egfr", "kras", "tp53", "alk"]
    edges = [("egfr", "kras"), ("kras", "tp53")]
    torch.manual_seed(0)
    a = ENCODERS.build("gcn", n_genes=4, genes=genes, edges=edges, backend="torch", hidden=5, out_features=3)
    b = ENCODERS.build("gcn", n_genes=4, genes=genes, edges=edges, backend="pyg", hidden=5, out_features=3)
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, 4)
    out_a, out_b = a(x), b(x)
    torch.testing.assert_close(out_a["embedding"], out_b["embedding"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out_a["embedding"], out_a["nodes"].mean(1))
    with pytest.raises(ValueError, match="names gene 'brca1'"):
        ENCODERS.build("gcn", n_genes=4, genes=genes, edges=[("egfr", "brca1")])
    with pytest.raises(ValueError, match="outside"):
        ENCODERS.build("gcn", n_genes=4, edges=[(0, 7)])
