"""Activations (relu, leaky_relu, sigmoid, tanh, softmax, log_softmax) and dropout.

Table-driven as in test_ops_elementwise: a float64 gradient check on every backend and torch
parity in float64 and float32. ReLU and leaky ReLU draw inputs away from their kink at 0.
Softmax, log_softmax and sigmoid must stay finite and match torch at |x| = 1e4.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn.testing import assert_parity
from minicnn.testing.cases import Case, case_tests
from minicnn.testing.strategies import arrays, shapes


SMALL = dict(max_dims=3, max_side=4)


def unary(low=-3.0, high=3.0, away_from=(), with_dim=False, slope=False, p=False):
    def draw(data):
        shape = data.draw(shapes(**SMALL), label="shape")
        options = {}
        if with_dim:
            options["dim"] = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
        if slope:
            options["slope"] = data.draw(st.sampled_from([0.01, 0.2, 1.5]), label="slope")
        if p:
            options["p"] = data.draw(st.sampled_from([0.2, 0.5]), label="p")
            options["seed"] = data.draw(st.integers(0, 1000), label="seed")
        return [data.draw(arrays(shape, low, high, away_from), label="x")], options
    return draw


class Dropout:
    """Dropout is random: the gradient check re-runs it with the same seed (the same mask); torch
    gets the mask minicnn drew, so the parity test checks the scaling 1/(1-p) and the gradient."""

    @staticmethod
    def ours(x, p, seed):
        minicnn.manual_seed(seed)
        out = F.dropout(x, p=p, training=True)
        Dropout.kept = minicnn.backend.to_numpy(out.data) != 0  # inputs are away from 0
        return out

    @staticmethod
    def theirs(x, p, seed):
        return x * torch.as_tensor(Dropout.kept) / (1 - p)


CASES = [
    Case("relu", unary(away_from=(0.0,)), F.relu, TF.relu),
    Case("Tensor.relu", unary(away_from=(0.0,)), lambda x: x.relu(), torch.relu),
    Case("leaky_relu", unary(away_from=(0.0,), slope=True),
         lambda x, slope: F.leaky_relu(x, slope), lambda x, slope: TF.leaky_relu(x, slope)),
    Case("sigmoid", unary(), lambda x: x.sigmoid(), torch.sigmoid),
    Case("F.sigmoid", unary(low=-8, high=8), F.sigmoid, torch.sigmoid),
    Case("tanh", unary(), F.tanh, torch.tanh),
    Case("softmax", unary(with_dim=True), lambda x, dim: F.softmax(x, dim),
         lambda x, dim: TF.softmax(x, dim)),
    Case("Tensor.softmax", unary(with_dim=True), lambda x, dim: x.softmax(dim),
         lambda x, dim: x.softmax(dim)),
    Case("log_softmax", unary(with_dim=True), lambda x, dim: F.log_softmax(x, dim),
         lambda x, dim: TF.log_softmax(x, dim)),
    Case("Tensor.log_softmax", unary(with_dim=True), lambda x, dim: x.log_softmax(dim),
         lambda x, dim: x.log_softmax(dim)),
    Case("dropout", unary(away_from=(0.0,), p=True), Dropout.ours, Dropout.theirs),
]


test_gradient, test_torch_parity = case_tests(CASES)


# ------------------------------------------------------------------ numerical stability
HUGE = np.array([[1e4, -1e4, 0.0, 3.0],
                 [-1e4, -1e4, -1e4 + 1.0, -1e4 + 2.0],
                 [1e4, 1e4 - 1.0, 1e4, -5.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, ours, theirs", [
    ("softmax", lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1)),
    ("softmax dim 0", lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    ("log_softmax", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1)),
    ("log_softmax dim 0", lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0)),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
], ids=lambda v: v if isinstance(v, str) else "")
def test_stable_at_huge_inputs(name, ours, theirs, dtype, backend):
    with np.errstate(over="raise", invalid="raise"):  # an overflow inside would raise here (NumPy)
        out, _ = assert_parity(ours, theirs, [HUGE], dtype=dtype)
    assert np.isfinite(out.numpy()).all()
    x = minicnn.tensor(HUGE.astype(dtype), requires_grad=True)
    ours(x).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_relu_conventions(backend):
    """relu'(0) = 0 (torch's subgradient); relu(-inf) = 0, not nan."""
    x = minicnn.tensor(np.array([-np.inf, -1.0, 0.0, 2.0, np.inf]), requires_grad=True)
    y = F.relu(x)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 0.0, 2.0, np.inf])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 1.0, 1.0])
    assert_parity(lambda t: F.leaky_relu(t, 0.1), lambda t: TF.leaky_relu(t, 0.1),
                  [np.array([-1.0, 0.0, 2.0])])


def test_softmax_with_masked_entries_matches_torch(backend):
    """-inf entries (attention masks) get probability 0 and gradient 0."""
    x = np.array([[0.5, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])
    out, _ = assert_parity(lambda t: F.softmax(t, -1), lambda t: TF.softmax(t, -1), [x])
    np.testing.assert_array_equal(out.numpy()[x == -np.inf], 0.0)


# ------------------------------------------------------------------ dropout semantics
def test_dropout_eval_and_edge_probabilities(backend):
    x = minicnn.tensor(np.ones((4, 5)), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x  # torch: identity in eval mode
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    np.testing.assert_array_equal(zeros.numpy(), 0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


def test_dropout_keeps_the_expected_fraction_and_mean(backend):
    minicnn.manual_seed(3)
    x = minicnn.tensor(np.ones((200, 100)))
    y = F.dropout(x, p=0.3).numpy()
    kept = (y != 0).mean()
    assert abs(kept - 0.7) < 0.02
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_dropout_is_reproducible_with_manual_seed(backend):
    x = minicnn.tensor(np.ones((8, 8)))
    minicnn.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    minicnn.manual_seed(7)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).numpy())


def test_dropout2d_drops_whole_channels(backend):
    x = minicnn.tensor(np.ones((4, 6, 3, 3)), requires_grad=True)
    y = F.dropout2d(x, p=0.5)
    per_channel = y.numpy().reshape(4, 6, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # dL/dx = mask / (1 - p)
