"""Graded tests of notebook 13 (exercises/ch13_segmentation_networks.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, assert_same_as, constants, graded, rng, t64
import minicnn
from minicnn import functional as F
from minicnn import models, nn
from minicnn.autograd import Function
from minicnn.backend import backend_of_array, to_backend
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays
from minicnn.uncertainty import mc_dropout_predict as reference_mc_dropout

MODULE = "ch13_segmentation_networks"


@pytest.fixture
def ch13(load):
    return load(MODULE)


def identity_batch_norms(module):
    """float64, eval mode, and every BatchNorm2d an exact identity (running_var = 1 - eps)."""
    module.to("float64")
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = np.ones(m.num_features)
            m.bias.data = np.zeros(m.num_features)
            m.running_mean.data = np.zeros(m.num_features)
            m.running_var.data = np.full(m.num_features, 1.0 - m.eps)
    return module.eval()


# --------------------------------------------------------------------------- 13.1 ASPP
def _aspp_weights(c, c_out, n_rates, seed):
    r = rng(seed)
    return (r.normal(0, 0.5, (c_out, c, 1, 1)), [r.normal(0, 0.3, (c_out, c, 3, 3)) for _ in range(n_rates)],
            r.normal(0, 0.5, (c_out, c, 1, 1)), r.normal(0, 0.4, (c_out, (n_rates + 2) * c_out, 1, 1)))


def _torch_aspp(torch, rates):
    tf = torch.nn.functional

    def aspp(x, w0, *rest):
        *atrous, w_pool, w_project = rest
        branches = [tf.relu(tf.conv2d(x, w0))]
        branches += [tf.relu(tf.conv2d(x, w, padding=r, dilation=r)) for w, r in zip(atrous, rates)]
        pooled = tf.relu(tf.conv2d(tf.adaptive_avg_pool2d(x, 1), w_pool))
        branches.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]))
        return tf.relu(tf.conv2d(torch.cat(branches, 1), w_project))
    return aspp


@pytest.mark.ex13_1
@pytest.mark.parametrize("rates", [(1, 2), (2, 3, 5)])
def test_aspp_matches_the_minicnn_module(ch13, rates):
    c, c_out = 3, 2
    w0, atrous, w_pool, w_project = _aspp_weights(c, c_out, len(rates), 1)
    module = identity_batch_norms(models.ASPP(c, rates, out_channels=c_out, dropout=0.0))
    module.convs[0][0].weight.data = w0
    for k, w in enumerate(atrous):
        module.convs[k + 1][0].weight.data = w
    module.convs[len(rates) + 1].conv.weight.data = w_pool
    module.project[0].weight.data = w_project
    weights = constants(w0, *atrous, w_pool, w_project)

    def ours(x):
        return ch13.aspp(x, weights[0], weights[1:1 + len(rates)], rates, weights[-2], weights[-1])

    assert_same_as(ours, module, [rng(2).normal(size=(2, c, 6, 7))])


@pytest.mark.ex13_1
@graded(max_examples=4)
@given(data=st.data(), rates=st.sampled_from([(1,), (1, 2), (2, 4, 6)]))
def test_aspp_matches_torch_and_gradcheck(ch13, torch, data, rates):
    c, c_out = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
    x = data.draw(arrays((2, c, data.draw(st.integers(3, 5)), data.draw(st.integers(3, 5)))))
    w0, atrous, w_pool, w_project = _aspp_weights(c, c_out, len(rates), data.draw(st.integers(0, 50)))
    k = len(rates)

    def ours(x, w0, *rest):
        return ch13.aspp(x, w0, list(rest[:k]), rates, rest[k], rest[k + 1])

    assert_parity(ours, _torch_aspp(torch, rates), [x, w0, *atrous, w_pool, w_project])
    gradcheck(ours, *(t64(a) for a in [x, w0, *atrous, w_pool, w_project]))


# --------------------------------------------------------------------------- 13.2 pyramid pooling
@pytest.mark.ex13_2
@pytest.mark.parametrize("size, bins", [((6, 6), 3), ((7, 5), 3), ((4, 5), 6), ((5, 5), 1)])
def test_adaptive_avg_pool2d_matches_minicnn_and_torch(ch13, torch, size, bins):
    x = rng(3).normal(size=(2, 3) + size)
    assert_same_as(lambda t: ch13.adaptive_avg_pool2d(t, bins), lambda t: F.adaptive_avg_pool2d(t, bins), [x])
    expected = torch.nn.functional.adaptive_avg_pool2d(torch.tensor(x), bins).numpy()
    with minicnn.no_grad():
        assert_close(ch13.adaptive_avg_pool2d(t64(x), bins), expected,
                     what="adaptive average pooling (compared with torch)")


@pytest.mark.ex13_2
@pytest.mark.parametrize("bins", [(1, 2, 3, 6), (1, 3)])
def test_pyramid_pooling_matches_the_minicnn_module(ch13, bins):
    c, c_red = 4, 2
    weights = [rng(4 + b).normal(0, 0.5, (c_red, c, 1, 1)) for b in bins]
    module = identity_batch_norms(models.PyramidPoolingModule(c, bins, reduction_channels=c_red))
    for stage, w in zip(module.stages, weights):
        stage[1].weight.data = w
    fixed = constants(*weights)
    assert_same_as(lambda t: ch13.pyramid_pooling(t, fixed, bins), module, [rng(5).normal(size=(2, c, 7, 6))])


@pytest.mark.ex13_2
@graded(max_examples=4)
@given(data=st.data())
def test_pyramid_pooling_matches_torch_and_gradcheck(ch13, torch, data):
    bins = (1, 2, 3)
    c = data.draw(st.integers(1, 3))
    x = data.draw(arrays((2, c, data.draw(st.integers(3, 6)), data.draw(st.integers(3, 6)))))
    weights = [rng(b).normal(0, 0.5, (2, c, 1, 1)) for b in bins]
    tf = torch.nn.functional

    def reference(x, *ws):
        levels = [x]
        for w, b in zip(ws, bins):
            pooled = tf.relu(tf.conv2d(tf.adaptive_avg_pool2d(x, b), w))
            levels.append(tf.interpolate(pooled, size=x.shape[2:], mode="bilinear", align_corners=True))
        return torch.cat(levels, 1)

    def ours(x, *ws):
        return ch13.pyramid_pooling(x, list(ws), bins)

    assert_parity(ours, reference, [x, *weights])
    gradcheck(ours, *(t64(a) for a in [x, *weights]))


# --------------------------------------------------------------------------- 13.3 max-unpooling backward
def _pooled(seed, shape=(2, 3, 6, 8)):
    x = t64(rng(seed).permutation(np.prod(shape)).reshape(shape) / 10.0, requires_grad=False)   # no ties
    y, indices = F.max_pool2d(x, 2, 2, return_indices=True)
    return x, y.numpy(), indices.numpy()


@pytest.mark.ex13_3
@graded(max_examples=10)
@given(seed=st.integers(0, 1000))
def test_max_unpool_backward_matches_minicnn(ch13, seed):
    x, y, indices = _pooled(seed)
    upstream = rng(seed).normal(size=x.shape)
    values = t64(y)
    F.max_unpool2d(values, minicnn.tensor(indices), 2, 2, output_size=x.shape[2:]).backward(upstream)
    assert_close(ch13.max_unpool2d_backward(upstream, indices), values.grad,
                 what="dL/dx of max-unpooling (compared with minicnn)")


@pytest.mark.ex13_3
def test_max_unpool_backward_by_hand_and_on_the_strict_backend(ch13):
    indices = np.array([[[[4, 7], [12, 11]]]])                  # the maxima of a 4x4 plane
    grad = np.arange(16.0).reshape(1, 1, 4, 4)
    assert_close(ch13.max_unpool2d_backward(grad, indices), [[[[4., 7.], [12., 11.]]]],
                 what="each input reads the gradient at its index")
    out = ch13.max_unpool2d_backward(to_backend(grad, "strict"), to_backend(indices, "strict"))
    assert backend_of_array(out) == "strict", "stay on the gradient's backend (xp = get_array_module(...))"


@pytest.mark.ex13_3
def test_max_unpool_gradcheck(ch13):
    x, y, indices = _pooled(7, shape=(1, 2, 4, 6))

    class Unpool(Function):
        def forward(self, values):
            return ch13.max_unpool2d_forward(values, indices, x.shape[2:])

        def backward(self, grad):
            return ch13.max_unpool2d_backward(grad, indices)

    gradcheck(lambda v: Unpool.apply(v), t64(y))


# --------------------------------------------------------------------------- 13.4 MC dropout
def _net():
    minicnn.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Dropout(0.5),
                          nn.Conv2d(6, 3, 1)).to("float64")
    model.train()
    with minicnn.no_grad():             # running statistics that differ from any batch's statistics
        model(minicnn.tensor(rng(0).normal(2.0, 3.0, size=(4, 1, 5, 5))))
    return model


@pytest.mark.ex13_4
def test_mc_dropout_matches_minicnn(ch13):
    model = _net()
    x = minicnn.tensor(rng(1).normal(size=(2, 1, 5, 5)))
    minicnn.manual_seed(11)
    mean, variance, entropy, mutual_information = ch13.mc_dropout_predict(model, x, T=6)
    minicnn.manual_seed(11)
    expected = reference_mc_dropout(model, x, T=6)
    assert_close(mean, expected.mean, rtol=1e-9, what="predictive mean (dropout on, batch norm in eval mode)")
    assert_close(variance, expected.variance, rtol=1e-6, atol=1e-12, what="predictive variance")
    assert_close(entropy, expected.entropy, rtol=1e-9, what="entropy of the mean probability")
    assert_close(mutual_information, expected.mutual_information, rtol=1e-6, atol=1e-12,
                 what="mutual information")
    assert float(np.asarray(variance).max()) > 1e-4, "dropout must stay on: the T samples differ"


@pytest.mark.ex13_4
@pytest.mark.parametrize("train", [True, False])
def test_mc_dropout_restores_the_modes(ch13, train):
    model = _net()
    model.train(train)
    ch13.mc_dropout_predict(model, minicnn.tensor(rng(2).normal(size=(1, 1, 5, 5))), T=2)
    wrong = [type(m).__name__ for m in model.modules() if m.training != train]
    assert not wrong, f"the training flag of {', '.join(wrong)} is not restored to {train}: " \
                      "restore every module's training flag"


@pytest.mark.ex13_4
def test_mc_dropout_statistics_by_hand(ch13):
    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)
            self.calls = 0

        def forward(self, x):
            p = [np.array([0.9, 0.1]), np.array([0.5, 0.5])][self.calls % 2]
            self.calls += 1
            return minicnn.tensor(np.log(p).reshape(1, 2, 1, 1))

    mean, variance, entropy, mi = ch13.mc_dropout_predict(Fixed(), None, T=2)
    h = lambda p: -(p * np.log(p)).sum()                                # noqa: E731
    assert_close(np.asarray(mean).reshape(2), [0.7, 0.3], rtol=1e-9)
    assert_close(np.asarray(variance).reshape(2), [0.04, 0.04], rtol=1e-6)
    assert_close(np.asarray(entropy).reshape(()), h(np.array([0.7, 0.3])), rtol=1e-9)
    assert_close(np.asarray(mi).reshape(()), h(np.array([0.7, 0.3])) - (h(np.array([0.9, 0.1])) + np.log(2)) / 2,
                 rtol=1e-6)
