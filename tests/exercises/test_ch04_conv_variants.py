"""Graded tests of notebook 4 (exercises/ch04_conv_variants.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, assert_same_as, constants, graded, host, prepared, rng, t64
from minicnn import nn
from minicnn.summary import summary
from minicnn.backend import backend_of_array, to_backend
from minicnn.ops.conv_transpose import conv_transpose2d_naive
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch04_conv_variants"


@pytest.fixture
def ch4(load):
    return load(MODULE)


# --------------------------------------------------------------------------- 4.1 receptive fields
@pytest.mark.ex4_1
def test_receptive_fields_of_the_context_module(ch4):
    kernels = [3, 3, 3, 3, 3, 3, 3, 1]
    dilations = [1, 1, 2, 4, 8, 16, 1, 1]
    assert list(ch4.receptive_fields(kernels, dilations)) == [3, 5, 9, 17, 33, 65, 67, 67], \
        "receptive fields of Yu & Koltun's context module"
    assert list(ch4.receptive_fields([3, 3, 3])) == [3, 5, 7], "receptive fields: three 3x3 convs see 7x7 (VGG)"
    assert list(ch4.receptive_fields([7, 3], strides=[2, 1])) == [7, 11], \
        "receptive fields of kernels [7, 3], strides [2, 1]: a stride multiplies later growth"


def _measured_field(torch, layers):
    """The extent of the input entries whose change moves output entry 0 (autograd on a 1-D stack)."""
    length = 1 + sum((k - 1) * d for k, d, _ in layers) * int(np.prod([s for *_, s in layers])) + 8
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, d, s in layers:
        y = torch.nn.functional.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    touched = np.flatnonzero(x.grad[0, 0].numpy())
    return int(touched[-1] - touched[0] + 1)


@pytest.mark.ex4_1
@graded(max_examples=20)
@given(layers=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 2)), min_size=1,
                       max_size=4))
def test_receptive_fields_match_a_measurement(ch4, torch, layers):
    kernels, dilations, strides = (list(t) for t in zip(*layers))
    fields = list(ch4.receptive_fields(kernels, dilations, strides))
    assert len(fields) == len(layers)
    for depth in range(1, len(layers) + 1):
        assert fields[depth - 1] == _measured_field(torch, layers[:depth]), \
            f"receptive field after layer {depth} of {layers}"


# --------------------------------------------------------------------------- 4.2 dilated kernel
@pytest.mark.ex4_2
@graded(max_examples=10)
@given(data=st.data(), k=st.integers(1, 3), d=st.integers(1, 3))
def test_dilated_kernel_gives_the_dilated_convolution(ch4, torch, data, k, d):
    w = data.draw(arrays((2, 3, k, k)))
    span = d * (k - 1) + 1
    x = data.draw(arrays((1, 3, span + 2, span + 1)))
    big = ch4.dilate_kernel(w, d)
    assert big.shape == (2, 3, span, span), f"dilated kernel of shape {big.shape}, expected (2, 3, {span}, {span})"
    tx, tw = torch.tensor(x), torch.tensor(w)
    assert_close(torch.nn.functional.conv2d(tx, torch.tensor(big)), torch.nn.functional.conv2d(tx, tw, dilation=d),
                 what="conv2d with the dilated kernel vs conv2d(dilation=d)")
    assert np.count_nonzero(big) == np.count_nonzero(w), "the dilated kernel adds zeros only"


@pytest.mark.ex4_2
def test_dilated_kernel_strict_backend(ch4):
    w = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    big = ch4.dilate_kernel(to_backend(w, "strict"), 2)
    assert backend_of_array(big) == "strict"
    assert_close(big, [[[[1, 0, 2], [0, 0, 0], [3, 0, 4]]]])


# --------------------------------------------------------------------------- 4.3 transposed conv
@pytest.mark.ex4_3
@graded(max_examples=12)
@given(data=st.data(), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 1), with_bias=st.booleans())
def test_conv_transpose_matches_torch_and_minicnn(ch4, torch, data, k, s, p, with_bias):
    x = data.draw(arrays((2, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))))
    if (x.shape[2] - 1) * s + k - 2 * p < 1 or (x.shape[3] - 1) * s + k - 2 * p < 1:
        p = 0
    c_out = data.draw(st.integers(1, 3))
    w = data.draw(arrays((x.shape[1], c_out, k, k)))
    b = data.draw(arrays((c_out,))) if with_bias else None
    out = ch4.conv_transpose2d(x, w, b, stride=s, padding=p)
    expected = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                    None if b is None else torch.tensor(b), stride=s, padding=p)
    assert_close(out, expected, what="conv_transpose2d output")
    assert_close(out, conv_transpose2d_naive(x, w, b, stride=s, padding=p),
                 what="conv_transpose2d (minicnn's loops)")


@pytest.mark.ex4_3
def test_conv_transpose_is_the_gradient_of_conv_and_strict(ch4, torch):
    """conv_transpose2d(g, W) = dL/dx of y = conv2d(x, W) for the upstream gradient g."""
    r = rng(0)
    x = torch.tensor(r.normal(size=(1, 2, 6, 5)), requires_grad=True)
    w = r.normal(size=(3, 2, 3, 3))
    y = torch.nn.functional.conv2d(x, torch.tensor(w), stride=2, padding=1)
    g = r.normal(size=tuple(y.shape))
    y.backward(torch.tensor(g))
    out = ch4.conv_transpose2d(to_backend(g, "strict"), to_backend(w, "strict"), stride=2, padding=1)
    assert backend_of_array(out) == "strict"
    assert_close(host(out)[:, :, :5, :5], x.grad[:, :, :5, :5],
                 what="the up-conv of g (the gradient of conv2d)")


# --------------------------------------------------------------------------- 4.4 separable conv
@pytest.mark.ex4_4
def test_multiplications_of_the_notes_example(ch4):
    assert ch4.conv_multiplications(5, 1, 256, 8, 8) == 409_600, "multiplications of the standard conv (notes)"
    assert ch4.conv_multiplications(5, 1, 256, 8, 8, separable=True) == 17_984, \
        "multiplications of the separable conv (notes): depthwise + pointwise"
    standard = summary(nn.Conv2d(3, 16, 3, bias=False), (1, 3, 10, 10), verbose=False).total_macs
    separable = summary(nn.SeparableConv2d(3, 16, 3, bias=False), (1, 3, 10, 10), verbose=False).total_macs
    assert ch4.conv_multiplications(3, 3, 16, 8, 8) == standard, "multiplications of the standard conv (summary)"
    assert ch4.conv_multiplications(3, 3, 16, 8, 8, separable=True) == separable, \
        "multiplications of the separable conv (summary): depthwise + pointwise"


@pytest.mark.ex4_4
@graded(max_examples=6)
@given(data=st.data(), k=st.sampled_from([1, 3]), p=st.integers(0, 1))
def test_separable_conv_matches_torch_module_and_gradcheck(ch4, torch, data, k, p):
    c_in, c_out = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x = data.draw(arrays((2, c_in, 3, 4)))
    dw, pw = data.draw(arrays((c_in, 1, k, k))), data.draw(arrays((c_out, c_in, 1, 1)))

    def ours(x_, dw_, pw_):
        return ch4.separable_conv2d(x_, dw_, pw_, padding=p)

    def theirs(x_, dw_, pw_):
        return torch.nn.functional.conv2d(torch.nn.functional.conv2d(x_, dw_, padding=p, groups=c_in), pw_)

    assert_parity(ours, theirs, [x, dw, pw])
    gradcheck(ours, t64(x), t64(dw), t64(pw))
    module = prepared(nn.SeparableConv2d(c_in, c_out, k, padding=p, bias=False),
                      {"depthwise.weight": dw, "pointwise.weight": pw})
    assert_same_as(lambda x_: ours(x_, *constants(dw, pw)), module, [x])


# --------------------------------------------------------------------------- 4.5 CoordConv
@pytest.mark.ex4_5
@pytest.mark.parametrize("with_r", [False, True])
@pytest.mark.parametrize("size", [(3, 4), (1, 5), (4, 1)])
def test_add_coords_matches_minicnn(ch4, with_r, size):
    x = rng(0).normal(size=(2, 3, *size))
    assert_same_as(lambda t: ch4.add_coords(t, with_r=with_r), nn.AddCoords(with_r=with_r), [x])


@pytest.mark.ex4_5
def test_add_coords_values_gradient_and_strict(ch4):
    x = t64(rng(1).normal(size=(1, 2, 3, 5)), backend="strict")
    y = ch4.add_coords(x)
    assert y.backend == "strict" and y.dtype == np.float64
    assert_close(y[:, 2], np.broadcast_to(np.array([-1.0, 0.0, 1.0])[:, None], (1, 3, 5)), what="I (varies along H)")
    assert_close(y[:, 3], np.broadcast_to(np.linspace(-1, 1, 5)[None, :], (1, 3, 5)), what="J (varies along W)")
    y.sum().backward()
    assert_close(x.grad, np.ones((1, 2, 3, 5)), what="the gradient of x")
