"""Graded tests of notebook 8 (exercises/ch08_cbam_bam.py)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_same_as, constants, graded, prepared, rng, t64
from minicnn import nn
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch08_cbam_bam"


@pytest.fixture
def ch8(load):
    return load(MODULE)


def _mlp_weights(c, cr, seed):
    r = rng(seed)
    return [r.normal(0, 0.7, s) for s in ((cr, c), (cr,), (c, cr), (c,))]


# --------------------------------------------------------------------------- 8.1 channel attention
def _torch_channel(torch):
    def channel(x, w0, b0, w1, b1):
        def mlp(v):
            return torch.relu(v @ w0.T + b0) @ w1.T + b1
        a = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))
        return a[:, :, None, None] * x
    return channel


@pytest.mark.ex8_1
@graded(max_examples=6)
@given(data=st.data(), c=st.integers(2, 5), hidden=st.integers(1, 3), seed=st.integers(0, 100))
def test_cbam_channel_matches_torch_and_gradcheck(ch8, torch, data, c, hidden, seed):
    x = data.draw(arrays((2, c, 3, 2)))   # random values: no ties for the max
    weights = _mlp_weights(c, hidden, seed)
    assert_parity(ch8.cbam_channel_attention, _torch_channel(torch), [x, *weights])
    gradcheck(ch8.cbam_channel_attention, *(t64(a) for a in [x, *weights]))


@pytest.mark.ex8_1
def test_cbam_channel_matches_minicnn_module(ch8):
    x = rng(3).normal(size=(2, 8, 3, 3))
    w0, b0, w1, b1 = _mlp_weights(8, 2, 4)
    module = prepared(nn.CBAMChannelAttention(8, reduction_factor=4), {
        "mlp.0.weight": w0[:, :, None, None], "mlp.0.bias": b0,
        "mlp.2.weight": w1[:, :, None, None], "mlp.2.bias": b1})
    weights = constants(w0, b0, w1, b1)
    assert_same_as(lambda t: ch8.cbam_channel_attention(t, *weights), module, [x])


# --------------------------------------------------------------------------- 8.2 spatial attention
def _torch_spatial(torch):
    def spatial(x, w, b):
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(torch.nn.functional.conv2d(pooled, w, b, padding=w.shape[-1] // 2)) * x
    return spatial


@pytest.mark.ex8_2
@graded(max_examples=5)
@given(data=st.data(), k=st.sampled_from([1, 3, 5]), seed=st.integers(0, 100))
def test_cbam_spatial_matches_torch_and_gradcheck(ch8, torch, data, k, seed):
    x = data.draw(arrays((2, 3, data.draw(st.integers(2, 4)), data.draw(st.integers(2, 4)))))
    w, b = rng(seed).normal(0, 0.5, (1, 2, k, k)), rng(seed + 1).normal(0, 0.5, (1,))
    assert_parity(ch8.cbam_spatial_attention, _torch_spatial(torch), [x, w, b])
    gradcheck(ch8.cbam_spatial_attention, t64(x), t64(w), t64(b))


@pytest.mark.ex8_2
def test_cbam_spatial_matches_minicnn_module(ch8):
    x = rng(5).normal(size=(2, 4, 5, 6))
    w, b = rng(6).normal(0, 0.3, (1, 2, 7, 7)), rng(7).normal(0, 0.3, (1,))
    module = prepared(nn.CBAMSpatialAttention(7), {"conv.weight": w, "conv.bias": b})
    assert_same_as(lambda t: ch8.cbam_spatial_attention(t, *constants(w, b)), module, [x])


# --------------------------------------------------------------------------- 8.3 BAM
def _bam_params(c, cr, seed):
    r = rng(seed)
    shapes = {"channel.w0": (cr, c), "channel.b0": (cr,), "channel.w1": (c, cr), "channel.b1": (c,),
              "spatial.w0": (cr, c, 1, 1), "spatial.b0": (cr,), "spatial.w1": (cr, cr, 3, 3),
              "spatial.b1": (cr,), "spatial.w2": (cr, cr, 3, 3), "spatial.b2": (cr,),
              "spatial.w3": (1, cr, 1, 1), "spatial.b3": (1,)}
    return {k: r.normal(0, 0.6, s) for k, s in shapes.items()}


def _torch_bam(torch, keys, dilation, combine):
    conv2d = torch.nn.functional.conv2d

    def bam(x, *values):
        p = dict(zip(keys, values))
        n, c = x.shape[:2]
        mc = torch.relu(x.mean(dim=(2, 3)) @ p["channel.w0"].T + p["channel.b0"]) @ p["channel.w1"].T
        mc = (mc + p["channel.b1"]).reshape(n, c, 1, 1)
        s = torch.relu(conv2d(x, p["spatial.w0"], p["spatial.b0"]))
        s = torch.relu(conv2d(s, p["spatial.w1"], p["spatial.b1"], padding=dilation, dilation=dilation))
        s = torch.relu(conv2d(s, p["spatial.w2"], p["spatial.b2"], padding=dilation, dilation=dilation))
        ms = conv2d(s, p["spatial.w3"], p["spatial.b3"])
        m = torch.sigmoid(mc + ms if combine == "sum" else mc * ms)
        return (1 + m) * x
    return bam


@pytest.mark.ex8_3
@pytest.mark.parametrize("combine", ["sum", "product"])
def test_bam_matches_torch_and_gradcheck(ch8, torch, combine):
    params = _bam_params(4, 2, seed=8)
    keys = list(params)
    x = rng(9).normal(size=(2, 4, 4, 3))

    def ours(t, *values):
        return ch8.bam(t, dict(zip(keys, values)), dilation=2, combine=combine)

    assert_parity(ours, _torch_bam(torch, keys, 2, combine), [x, *params.values()])
    small = rng(10).normal(size=(1, 4, 3, 3))
    gradcheck(ours, t64(small), *(t64(v, requires_grad=k.startswith("spatial.w1")) for k, v in params.items()))


@pytest.mark.ex8_3
def test_bam_matches_minicnn_module_without_batch_norm(ch8):
    params = _bam_params(8, 2, seed=11)
    module = nn.BAM(8, reduction_factor=4, dilation=4)
    # The exercise leaves out the batch norms: replace them by the identity in the module.
    module.channel_attention.mlp._modules["1"] = nn.Identity()
    for seq, index in ((module.spatial_attention.reduce_1, "1"), (module.spatial_attention.layers, "1"),
                       (module.spatial_attention.layers, "4")):
        seq._modules[index] = nn.Identity()
    p = params
    prepared(module, {
        "channel_attention.mlp.0.weight": p["channel.w0"][:, :, None, None],
        "channel_attention.mlp.0.bias": p["channel.b0"],
        "channel_attention.mlp.3.weight": p["channel.w1"][:, :, None, None],
        "channel_attention.mlp.3.bias": p["channel.b1"],
        "spatial_attention.reduce_1.0.weight": p["spatial.w0"], "spatial_attention.reduce_1.0.bias": p["spatial.b0"],
        "spatial_attention.layers.0.weight": p["spatial.w1"], "spatial_attention.layers.0.bias": p["spatial.b1"],
        "spatial_attention.layers.3.weight": p["spatial.w2"], "spatial_attention.layers.3.bias": p["spatial.b2"],
        "spatial_attention.reduce_2.weight": p["spatial.w3"], "spatial_attention.reduce_2.bias": p["spatial.b3"]})
    x = rng(12).normal(size=(2, 8, 5, 5))
    weights = dict(zip(params, constants(*params.values())))
    assert_same_as(lambda t: ch8.bam(t, weights, dilation=4), module, [x])
