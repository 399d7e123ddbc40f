"""Elementwise ops, arithmetic with broadcasting, matmul and linear.

Every op appears in one table (``CASES``). Each case draws its inputs with
Hypothesis and is checked twice:

* ``test_gradient``: central differences in float64 with a random upstream
  gradient (``minicnn.testing.gradcheck``), on every backend (NumPy, strict);
* ``test_torch_parity``: forward and every input gradient against torch, in
  float64 and float32 (``minicnn.testing.assert_parity``).

Inputs are kept away from kinks (abs at 0, clamp's bounds) and ties (maximum).
"""
import numpy as np
import pytest
import torch
from hypothesis import assume
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn.testing import assert_parity
from minicnn.testing.cases import Case, case_tests
from minicnn.testing.strategies import arrays, broadcast_shapes, positive_arrays, shapes


# ------------------------------------------------------------------ input drawers
SMALL = dict(max_dims=3, max_side=4)


def unary(low=-2.0, high=2.0, away_from=(), min_distance=1e-3):
    def draw(data):
        shape = data.draw(shapes(**SMALL), label="shape")
        return [data.draw(arrays(shape, low, high, away_from, min_distance), label="x")], {}
    return draw


def positive_unary(data):
    shape = data.draw(shapes(**SMALL), label="shape")
    return [data.draw(positive_arrays(shape), label="x")], {}


def binary(b_away_from_zero=False, a_positive=False, untied=False):
    """Two arrays of shapes that broadcast together (each may be smaller than the output)."""
    def draw(data):
        sa, sb = data.draw(broadcast_shapes(2, **SMALL), label="shapes")
        a = data.draw(positive_arrays(sa) if a_positive else arrays(sa), label="a")
        b = data.draw(arrays(sb, away_from=(0.0,), min_distance=0.5) if b_away_from_zero
                      else arrays(sb), label="b")
        if untied:  # maximum/minimum: no pair closer than 1e-3 (their gradient jumps at a tie)
            assume(np.min(np.abs(a - b)) > 1e-3)
        return [a, b], {}
    return draw


def scalar_exponent(data):
    exponent = data.draw(st.sampled_from([2, 3, 0.5, -1.5]), label="exponent")
    shape = data.draw(shapes(**SMALL), label="shape")
    x = data.draw(arrays(shape) if isinstance(exponent, int) else positive_arrays(shape), label="x")
    return [x], {"exponent": exponent}


def clamp_bounds(data):
    lo, hi = data.draw(st.sampled_from([(-0.5, 0.7), (-0.5, None), (None, 0.7), (0.1, 0.2)]),
                       label="bounds")
    shape = data.draw(shapes(**SMALL), label="shape")
    kinks = tuple(b for b in (lo, hi) if b is not None)
    return [data.draw(arrays(shape, away_from=kinks, min_distance=1e-2), label="x")], {"lo": lo, "hi": hi}


def where_inputs(data):
    sc, sa, sb = data.draw(broadcast_shapes(3, **SMALL), label="shapes")
    condition = data.draw(arrays(sc), label="condition") > 0
    return [condition, data.draw(arrays(sa), label="a"), data.draw(arrays(sb), label="b")], {}


MATMUL_SHAPES = {  # (a, b): every rule of NumPy's matmul
    "matrix @ matrix": ((3, 4), (4, 5)),
    "batch @ matrix": ((2, 3, 4), (4, 5)),
    "batch @ batch": ((2, 3, 4), (2, 4, 3)),
    "broadcast batches": ((2, 1, 3, 4), (3, 4, 2)),
    "vector @ matrix": ((4,), (4, 3)),
    "matrix @ vector": ((3, 4), (4,)),
    "batch @ vector": ((2, 3, 4), (4,)),
    "vector @ batch": ((4,), (2, 4, 3)),
    "vector @ vector": ((5,), (5,)),
}


def matmul_inputs(data):
    sa, sb = data.draw(st.sampled_from(sorted(MATMUL_SHAPES.values())), label="shapes")
    return [data.draw(arrays(sa), label="a"), data.draw(arrays(sb), label="b")], {}


def linear_inputs(data):
    batch = data.draw(st.sampled_from([(2,), (3,), (2, 3)]), label="batch")
    n_in, n_out = data.draw(st.integers(1, 5), label="in"), data.draw(st.integers(1, 4), label="out")
    x = data.draw(arrays(batch + (n_in,)), label="x")
    w = data.draw(arrays((n_out, n_in)), label="weight")
    if data.draw(st.booleans(), label="bias"):
        return [x, w, data.draw(arrays((n_out,)), label="bias")], {}
    return [x, w], {}


# ------------------------------------------------------------------ the table
CASES = [
    Case("add", binary(), lambda a, b: a + b),
    Case("sub", binary(), lambda a, b: a - b),
    Case("mul", binary(), lambda a, b: a * b),
    Case("div", binary(b_away_from_zero=True), lambda a, b: a / b),
    Case("functional add/sub/mul/div", binary(b_away_from_zero=True),
         lambda a, b: F.div(F.mul(F.add(a, b), F.sub(a, b)), b),
         lambda a, b: torch.div(torch.mul(torch.add(a, b), torch.sub(a, b)), b)),
    Case("python numbers on both sides", unary(away_from=(0.0,), min_distance=0.5),
         lambda x: (3.0 - x) * 2.5 + 1.0 / x - x / 4 + 2 * x),
    Case("neg", unary(), lambda x: -x, lambda x: -x),
    Case("F.neg", unary(), F.neg, torch.neg),
    Case("pow tensor ** tensor", binary(a_positive=True), lambda a, b: a ** b),
    Case("pow tensor ** number", scalar_exponent, lambda x, exponent: x ** exponent),
    Case("pow number ** tensor", unary(), lambda x: 2.5 ** x),
    Case("exp", unary(), lambda x: x.exp(), torch.exp),
    Case("log", positive_unary, lambda x: x.log(), torch.log),
    Case("sqrt", positive_unary, lambda x: x.sqrt(), torch.sqrt),
    Case("abs", unary(away_from=(0.0,)), lambda x: x.abs(), torch.abs),
    Case("clamp", clamp_bounds, lambda x, lo, hi: x.clamp(lo, hi),
         lambda x, lo, hi: torch.clamp(x, min=lo, max=hi)),
    Case("maximum", binary(untied=True), F.maximum, torch.maximum),
    Case("minimum", binary(untied=True), F.minimum, torch.minimum),
    Case("where", where_inputs, F.where, torch.where),
    Case("matmul", matmul_inputs, lambda a, b: a @ b),
    Case("F.matmul", matmul_inputs, F.matmul, torch.matmul),
    Case("linear", linear_inputs, F.linear, torch.nn.functional.linear),
]


test_gradient, test_torch_parity = case_tests(CASES)


# ------------------------------------------------------------------ conventions and edge cases
def test_ties_and_kinks_follow_torch(backend):
    """At the kinks the (sub)gradient is a convention: pin torch's."""
    values = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    assert_parity(lambda x: x.abs(), torch.abs, [values])                     # sign(0) = 0
    assert_parity(lambda x: x.clamp(0.0, 1.0), lambda x: x.clamp(0.0, 1.0), [values])  # 1 at bounds
    ties = [np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])]
    assert_parity(F.maximum, torch.maximum, ties)                             # ties split 1/2 : 1/2
    assert_parity(F.minimum, torch.minimum, ties)


def test_pow_gradient_of_exponent_at_zero_base(backend):
    """d(a^b)/db = a^b log a is 0 * (-inf) at a = 0; torch (and we) give its limit 0."""
    ours, _ = assert_parity(lambda a, b: a ** b, lambda a, b: a ** b,
                            [np.array([0.0, 1.5]), np.array([2.0, 2.0])])
    assert np.isfinite(ours.numpy()).all()


def test_numpy_scalars_are_numbers(backend):
    """A NumPy scalar beside a float32 tensor does not promote it (as in torch)."""
    x = minicnn.tensor(np.ones(3, dtype=np.float32))
    assert (x * np.float64(2.0)).dtype == np.float32
    assert (np.float64(2.0) + x).dtype == np.float32
    assert (x * np.float64(2.0)).device == x.device


def test_float32_stays_float32(backend):
    x = minicnn.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1) / 3 - x.exp() ** 2 + x.sqrt().log().abs().clamp(0, 1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_gradient_has_the_input_dtype(backend):
    """float32 * float64 computes in float64, but each input's gradient has its own dtype."""
    a = minicnn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = minicnn.tensor(np.full(3, 2.0), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), 2.0)


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp"):
        minicnn.tensor([1.0]).clamp()


def test_linear_rejects_mismatched_features():
    x, w = minicnn.tensor(np.ones((2, 3))), minicnn.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"linear.*3.*5"):
        F.linear(x, w)


def test_maximum_with_a_number(backend):
    x = minicnn.tensor(np.array([-1.0, 2.0]), requires_grad=True)
    y = F.maximum(x, 0.5)
    np.testing.assert_array_equal(y.numpy(), [0.5, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])
