"""Gradient checks (central differences, float64) of every attention module, with respect to its
input and its parameters, on inputs and weights that Hypothesis draws.

The rows (which module, which inputs, which parameters) are the table
``minicnn.testing.attention_cases.ATTENTION_CASES``, which ``minicnn gradcheck`` reads too; its
docstring explains the choices (training mode, batch sizes, DANet's gamma).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import nn
from minicnn.testing import gradcheck
from minicnn.testing.attention_cases import ATTENTION_CASES, attention_check
from minicnn.testing.strategies import arrays


@pytest.mark.parametrize("name", list(ATTENTION_CASES))
@settings(max_examples=3)
@given(data=st.data())
def test_module_gradcheck(name, data):
    case = ATTENTION_CASES[name]
    seed = data.draw(st.integers(0, 2**16), label="weight seed")
    xs = [data.draw(arrays(shape, -case.bound, case.bound), label=label) for shape, label in zip(case.shapes, "xg")]
    fn, inputs, names = attention_check(case, seed, xs)
    gradcheck(fn, *inputs, names=names)


def test_danet_zero_gamma_blocks_upstream_gradients():
    """With gamma = 0 (the initialisation) only gamma gets a gradient: why gradchecks set it."""
    pam = nn.PAM(16).double()
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 16, 3, 3)), requires_grad=True)
    (pam(x) ** 2).sum().backward()
    assert np.any(pam.gamma.grad.numpy() != 0)
    for name in ("query_conv.weight", "key_conv.weight", "value_conv.weight"):
        np.testing.assert_array_equal(dict(pam.named_parameters())[name].grad.numpy(), 0.0)
