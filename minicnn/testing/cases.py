"""One harness for the tables of op cases: a row per op, the same two tests for every row.

A :class:`Case` names an op, says how to draw its inputs with Hypothesis (kinks and ties kept
away by the drawer, once) and gives the same computation in minicnn and in torch. Every table
gets the same two tests from :func:`case_tests`:

* ``test_gradient``: central differences in float64 with a random upstream gradient
  (:func:`~minicnn.testing.gradcheck`), on every backend (the tests' ``backend`` fixture);
* ``test_torch_parity``: forward and every input gradient against torch, in float64 and float32
  (:func:`~minicnn.testing.assert_parity`).

(tinygrad's ``helper_test_op`` and MyGrad's test factory do the same: a whole op test is one row.)
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..tensor import tensor
from .gradcheck import gradcheck
from .parity import assert_parity

__all__ = ["Case", "check_gradient", "check_parity", "case_tests", "check_against_naive", "pinned"]


@dataclass
class Case:
    """One op: how to draw its inputs, and the same computation in minicnn and in torch."""

    name: str
    draw: Callable  # data -> (list of NumPy arrays, dict of options)
    ours: Callable  # (*minicnn tensors, **options) -> Tensor
    theirs: Callable = None  # (*torch tensors, **options) -> torch.Tensor; default: same as ours

    def __post_init__(self):
        self.theirs = self.theirs or self.ours


def check_gradient(case, data):
    """Gradient-check ``case.ours`` on inputs drawn from ``data`` (floating inputs require grad)."""
    arrays_, options = case.draw(data)
    tensors = [tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays_]
    gradcheck(lambda *ts: case.ours(*ts, **options), *tensors)


def check_parity(case, data, dtype):
    """Forward and every gradient of ``case.ours`` against ``case.theirs`` (torch), in ``dtype``."""
    arrays_, options = case.draw(data)
    assert_parity(lambda *ts: case.ours(*ts, **options), lambda *ts: case.theirs(*ts, **options),
                  arrays_, dtype=dtype)


def case_tests(cases):
    """``(test_gradient, test_torch_parity)`` over every row of ``cases``, for a test module to keep:

        test_gradient, test_torch_parity = case_tests(CASES)
    """
    import pytest
    from hypothesis import given
    from hypothesis import strategies as st

    ids = [c.name for c in cases]

    @pytest.mark.parametrize("case", cases, ids=ids)
    @given(data=st.data())
    def test_gradient(case, backend, data):
        check_gradient(case, data)

    @pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
    @pytest.mark.parametrize("case", cases, ids=ids)
    @given(data=st.data())
    def test_torch_parity(case, dtype, backend, data):
        check_parity(case, data, dtype)

    return test_gradient, test_torch_parity


def check_against_naive(ours, naive_forward, arrays, naive_backward=None, seed=0, rtol=1e-12, atol=1e-12):
    """A fast op against its loop version: the forward, and (with ``naive_backward``) every gradient
    for a random upstream gradient.

    ``ours(*tensors)`` is the fast op; ``naive_forward(*arrays)`` and ``naive_backward(grad, *arrays)``
    (one gradient per array) are the loops; an array may be None (no bias): it gets no gradient.
    """
    tensors = [None if a is None else tensor(a, requires_grad=naive_backward is not None) for a in arrays]
    out = ours(*tensors)
    np.testing.assert_allclose(out.numpy(), naive_forward(*arrays), rtol=rtol, atol=atol, err_msg="forward")
    if naive_backward is None:
        return
    grad = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(grad)
    for i, (t, expected) in enumerate(zip(tensors, naive_backward(grad, *arrays))):
        if t is not None:
            np.testing.assert_allclose(t.grad.numpy(), expected, rtol=rtol, atol=atol, err_msg=f"input {i}")


def pinned(examples, argname="cfg"):
    """A decorator adding every one of ``examples`` (the awkward cases a test must always run) as a
    Hypothesis ``@example(argname=...)`` to a ``@given`` test; Hypothesis draws the rest."""
    from hypothesis import example

    def decorate(test):
        for value in examples:
            test = example(**{argname: value})(test)
        return test
    return decorate
