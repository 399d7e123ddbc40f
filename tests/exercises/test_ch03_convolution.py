"""Graded tests of notebook 3 (exercises/ch03_convolution.py).

References: PyTorch (conv2d, unfold, fold), minicnn's own im2col/col2im and
conv2d_naive. Later exercises run with minicnn's versions of the earlier
functions (the ``reference`` fixture), so that each is graded on its own.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, graded, host, t64
from minicnn.backend import backend_of_array, to_backend
from minicnn.ops import im2col as lib
from minicnn.ops.conv import conv2d_naive
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch03_convolution"


@pytest.fixture
def ch3(load):
    return load(MODULE)


# --------------------------------------------------------------------------- references (exercise layout)
def ref_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    out = lib.conv_output_size(size, kernel_size, stride, 2 * padding, dilation)
    if out < 1:
        raise ValueError("the kernel does not fit")
    return out


def _geometry(shape, k, s, p):
    n, c, h, w = shape
    return (ref_output_size(h, k, s, p), ref_output_size(w, k, s, p))


def ref_im2col(x, kernel_size, stride=1, padding=0):
    out_size = _geometry(x.shape, kernel_size, stride, padding)
    x_pad = lib.pad2d(x, (padding,) * 4)
    return lib.im2col(x_pad, (kernel_size,) * 2, (stride,) * 2, (1, 1), out_size)


def ref_col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    n, c, h, w = input_shape
    out_size = _geometry(input_shape, kernel_size, stride, padding)
    padded = lib.col2im(cols, (n, c, h + 2 * padding, w + 2 * padding), (kernel_size,) * 2, (stride,) * 2,
                        (1, 1), out_size)
    return lib.crop2d(padded, (padding,) * 4)


def ref_conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    n = x.shape[0]
    c_out, _, k, _ = weight.shape
    h_out, w_out = _geometry(x.shape, k, stride, padding)
    cols = ref_im2col(x, k, stride, padding)
    out = (weight.reshape(c_out, -1) @ cols).reshape(c_out, n, h_out, w_out).transpose(1, 0, 2, 3)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return out.copy(), cols


@pytest.fixture
def reference(ch3, monkeypatch):
    """Replace some of the student's earlier functions by minicnn's: ``reference("im2col", ...)``."""
    replacements = {"conv_output_size": ref_output_size, "im2col": ref_im2col, "col2im": ref_col2im,
                    "conv2d_forward": ref_conv2d_forward}

    def use(*names):
        for name in names:
            monkeypatch.setattr(ch3, name, replacements[name])
        return ch3
    return use


@st.composite
def conv_cases(draw, max_side=6):
    """(x shape, kernel, stride, padding) with a kernel that fits."""
    k = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2 + 1))
    s = draw(st.integers(1, 3))
    low = max(1, k - 2 * p)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(low, low + max_side)),
             draw(st.integers(low, low + max_side)))
    return shape, k, s, p


def _torch_unfold(torch, x, k, s, p):
    """torch's unfold (N, C k k, L) rearranged to the exercise's layout (C k k, N L)."""
    u = torch.nn.functional.unfold(torch.tensor(x), k, stride=s, padding=p)
    return u.permute(1, 0, 2).reshape(u.shape[1], -1)


# --------------------------------------------------------------------------- 3.1 output size
@pytest.mark.ex3_1
def test_output_size_examples(ch3):
    cases = [((32, 3), {}, 30), ((32, 3), {"padding": 1}, 32), ((32, 3), {"stride": 2, "padding": 1}, 16),
             ((7, 3), {"stride": 2}, 3),
             ((8, 3), {"stride": 2}, 3),     # the last, incomplete window is dropped (floor)
             ((12, 5), {}, 8), ((9, 3), {"dilation": 4, "padding": 4}, 9), ((572, 3), {}, 570)]
    for args, kwargs, expected in cases:
        got = ch3.conv_output_size(*args, **kwargs)
        call = ", ".join([*map(str, args), *(f"{k}={v}" for k, v in kwargs.items())])
        assert got == expected, f"output size conv_output_size({call}) is {got}, expected {expected}"
    with pytest.raises(ValueError):
        ch3.conv_output_size(2, 5)


@pytest.mark.ex3_1
@graded(max_examples=40)
@given(size=st.integers(1, 20), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3),
       d=st.integers(1, 3))
def test_output_size_matches_torch(ch3, torch, size, k, s, p, d):
    span = d * (k - 1) + 1
    if size + 2 * p < span:
        with pytest.raises(ValueError):
            ch3.conv_output_size(size, k, s, p, d)
        return
    x = torch.zeros(1, 1, size, 1, dtype=torch.float64)
    w = torch.zeros(1, 1, k, 1, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2]
    assert ch3.conv_output_size(size, k, s, p, d) == expected, \
        f"output size conv_output_size({size}, {k}, {s}, {p}, {d}): expected {expected} (torch's conv2d)"


# --------------------------------------------------------------------------- 3.2 im2col
@pytest.mark.ex3_2
@graded(max_examples=12)
@given(data=st.data(), case=conv_cases())
def test_im2col_matches_minicnn_and_torch_unfold(reference, torch, data, case):
    ch3 = reference("conv_output_size")
    shape, k, s, p = case
    x = data.draw(arrays(shape))
    cols = ch3.im2col(x, k, s, p)
    assert_close(cols, ref_im2col(x, k, s, p), rtol=0, atol=0, what="im2col (rows (c, u, v), columns (n, i, j))")
    assert_close(cols, _torch_unfold(torch, x, k, s, p), rtol=0, atol=0)


@pytest.mark.ex3_2
def test_im2col_strict_backend(reference):
    ch3 = reference("conv_output_size")
    x = np.random.default_rng(0).normal(size=(2, 2, 5, 4))
    cols = ch3.im2col(to_backend(x, "strict"), 3, 2, 1)
    assert backend_of_array(cols) == "strict"
    assert_close(cols, ref_im2col(x, 3, 2, 1))


# --------------------------------------------------------------------------- 3.3 conv forward
@pytest.mark.ex3_3
@graded(max_examples=10)
@given(data=st.data(), case=conv_cases(), c_out=st.integers(1, 3), with_bias=st.booleans())
def test_conv2d_forward_matches_torch_and_naive(reference, torch, data, case, c_out, with_bias):
    ch3 = reference("conv_output_size", "im2col")
    shape, k, s, p = case
    x = data.draw(arrays(shape))
    w = data.draw(arrays((c_out, shape[1], k, k)))
    b = data.draw(arrays((c_out,))) if with_bias else None
    out, cols = ch3.conv2d_forward(x, w, b, s, p)
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b),
                                          stride=s, padding=p)
    assert_close(out, expected, what="conv2d output")
    assert_close(out, conv2d_naive(x, w, b, stride=s, padding=p), what="conv2d output (minicnn's loops)")
    assert_close(cols, ref_im2col(x, k, s, p), what="the returned columns")


@pytest.mark.ex3_3
def test_conv2d_forward_strict_backend(reference):
    ch3 = reference("conv_output_size", "im2col")
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 5))
    w = np.random.default_rng(1).normal(size=(4, 3, 3, 3))
    b = np.random.default_rng(2).normal(size=(4,))
    out, _ = ch3.conv2d_forward(to_backend(x, "strict"), to_backend(w, "strict"), to_backend(b, "strict"), 2, 1)
    assert backend_of_array(out) == "strict"
    assert_close(out, conv2d_naive(x, w, b, stride=2, padding=1))


# --------------------------------------------------------------------------- 3.4 col2im
@pytest.mark.ex3_4
@graded(max_examples=12)
@given(data=st.data(), case=conv_cases())
def test_col2im_matches_minicnn_and_torch_fold(reference, torch, data, case):
    ch3 = reference("conv_output_size")
    shape, k, s, p = case
    n, c, h, w = shape
    cols = data.draw(arrays(ref_im2col(np.zeros(shape), k, s, p).shape))
    out = ch3.col2im(cols, shape, k, s, p)
    assert_close(out, ref_col2im(cols, shape, k, s, p), what="col2im")
    l = cols.shape[1] // n
    folded = torch.nn.functional.fold(torch.tensor(cols.reshape(-1, n, l).transpose(1, 0, 2).copy()), (h, w), k,
                                      stride=s, padding=p)
    assert_close(out, folded, what="col2im (compared with torch's fold)")


@pytest.mark.ex3_4
def test_col2im_is_the_adjoint_of_im2col_and_strict(reference):
    """<im2col(x), c> = <x, col2im(c)> for every x and c: the definition of the adjoint."""
    ch3 = reference("conv_output_size")
    r = np.random.default_rng(0)
    shape, k, s, p = (2, 2, 5, 6), 3, 1, 1
    x = r.normal(size=shape)
    cols = r.normal(size=ref_im2col(x, k, s, p).shape)
    out = ch3.col2im(to_backend(cols, "strict"), shape, k, s, p)
    assert backend_of_array(out) == "strict"
    assert np.isclose((ref_im2col(x, k, s, p) * cols).sum(), (x * host(out)).sum(), rtol=1e-10)


# --------------------------------------------------------------------------- 3.5 conv backward
@pytest.mark.ex3_5
@graded(max_examples=6)
@given(data=st.data(), case=conv_cases(max_side=3), c_out=st.integers(1, 2))
def test_conv2d_backward_gradcheck_and_torch(reference, torch, data, case, c_out):
    ch3 = reference("conv_output_size", "im2col", "col2im", "conv2d_forward")
    shape, k, s, p = case
    x, w, b = data.draw(arrays(shape)), data.draw(arrays((c_out, shape[1], k, k))), data.draw(arrays((c_out,)))

    def ours(x_, w_, b_):
        return ch3.Conv2d.apply(x_, w_, b_, stride=s, padding=p)

    gradcheck(ours, t64(x), t64(w), t64(b),
              names=[f"input 0 = x {x.shape}", f"input 1 = weight {w.shape}", f"input 2 = bias {b.shape}"])
    assert_parity(ours, lambda x_, w_, b_: torch.nn.functional.conv2d(x_, w_, b_, stride=s, padding=p), [x, w, b])


@pytest.mark.ex3_5
def test_conv2d_backward_strict_backend(reference):
    ch3 = reference("conv_output_size", "im2col", "col2im", "conv2d_forward")
    r = np.random.default_rng(0)
    x, w, b = r.normal(size=(2, 2, 4, 5)), r.normal(size=(3, 2, 3, 3)), r.normal(size=(3,))
    gradcheck(lambda x_, w_, b_: ch3.Conv2d.apply(x_, w_, b_, stride=2, padding=1),
              t64(x, backend="strict"), t64(w, backend="strict"), t64(b, backend="strict"))
