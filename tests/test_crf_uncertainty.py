"""The dense CRF (minicnn.crf) and the uncertainty tools of Kendall & Gal (minicnn.uncertainty).

CRF: the kernel by hand, the energy by hand, mean-field that lowers the free energy and the energy
and cleans a noisy unary on a tiny generated image, on NumPy and the strict backend. Uncertainty:
MC dropout (zero variance without dropout, positive with it, entropy and mutual information
bounds, modes restored), the heteroscedastic losses against hand-computed values and gradient
checks in float64.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import crf, nn
from minicnn import functional as F
from minicnn import uncertainty as U
from minicnn.backend import DEVICE_OF_BACKEND, to_backend, to_numpy
from minicnn.data import make_cells
from minicnn.testing import gradcheck


def t64(a, requires_grad=True):
    return minicnn.Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------------------------------- the dense CRF
def test_pairwise_kernel_by_hand():
    image = np.array([[[0.0, 1.0]]])                     # one row of two pixels, intensities 0 and 1
    K = crf.pairwise_kernel(image, w1=2.0, theta_alpha=3.0, theta_beta=0.5, w2=0.7, theta_gamma=1.5)
    k01 = 2.0 * np.exp(-1 / (2 * 3.0 ** 2) - 1 / (2 * 0.5 ** 2)) + 0.7 * np.exp(-1 / (2 * 1.5 ** 2))
    np.testing.assert_allclose(K, [[0, k01], [k01, 0]], rtol=1e-12)


def test_kernel_is_symmetric_with_zero_diagonal_and_refuses_large_images():
    image = np.random.default_rng(0).uniform(size=(3, 5, 4))
    K = crf.pairwise_kernel(image, theta_beta=0.2)
    assert K.shape == (20, 20)
    np.testing.assert_allclose(K, K.T)
    assert np.all(np.diag(K) == 0) and np.all(K >= 0)
    with pytest.raises(ValueError, match="max_pixels"):
        crf.pairwise_kernel(np.zeros((65, 64)))
    with pytest.raises(ValueError, match="theta_beta"):
        crf.DenseCRF(theta_beta=0.0)


def test_energy_by_hand():
    unary = np.array([[[0.1, 2.0, 0.3]],                 # label 0
                      [[1.5, 0.2, 0.4]]])                # label 1 (L=2, H=1, W=3)
    K = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 2.0], [0.5, 2.0, 0.0]])
    labels = np.array([[0, 1, 1]])
    # unary: 0.1 + 0.2 + 0.4; pairs with different labels: (0, 1) -> 1.0 and (0, 2) -> 0.5
    assert np.isclose(crf.crf_energy(labels, unary, K), 0.7 + 1.5)


def test_mean_field_without_pairwise_terms_returns_the_network_probabilities():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=(4, 5)).transpose(2, 0, 1)
    q = crf.mean_field(crf.unary_from_probabilities(p), np.zeros((20, 20)), n_iterations=3)
    np.testing.assert_allclose(q, p, atol=1e-12)


def _noisy_cells(size=32, seed=3):
    data = make_cells(1, size=size, seed=seed)
    image, mask = data.images[0, 0].astype(np.float64), data.masks[0]
    rng = np.random.default_rng(0)
    p_cell = np.clip(0.5 + 0.25 * (2 * mask - 1) + rng.normal(0, 0.3, mask.shape), 0.02, 0.98)
    return image, mask, np.stack([1 - p_cell, p_cell])


def test_mean_field_lowers_the_energy_and_smooths_a_noisy_unary():
    image, mask, probs = _noisy_cells()
    model = crf.DenseCRF(w1=1.0, theta_alpha=3.0, theta_beta=0.05, w2=1.0, theta_gamma=1.0)
    unary, K = crf.unary_from_probabilities(probs), model.kernel(image)
    q, history = crf.mean_field(unary, K, n_iterations=5, return_history=True)
    np.testing.assert_allclose(q.sum(axis=0), 1.0)
    free = [crf.free_energy(h, unary, K) for h in history]
    assert all(b < a for a, b in zip(free, free[1:])), f"free energy did not decrease: {free}"
    before, after = probs.argmax(0), q.argmax(0)
    assert crf.crf_energy(after, unary, K) < 0.5 * crf.crf_energy(before, unary, K)
    accuracy = lambda labels: (labels == mask).mean()             # noqa: E731
    assert accuracy(before) < 0.85 and accuracy(after) > accuracy(before) + 0.08
    # isolated wrong pixels are what the CRF removes: far fewer label changes between neighbours
    changes = lambda labels: (np.diff(labels, axis=0) != 0).sum() + (np.diff(labels, axis=1) != 0).sum()  # noqa
    assert changes(after) < changes(before) / 2
    np.testing.assert_array_equal(model.predict(probs, image), after)


def test_dense_crf_on_the_backends(backend):
    image, _, probs = _noisy_cells(size=12)
    model = crf.DenseCRF(w1=1.0, theta_alpha=5.0, theta_beta=0.1, w2=1.0, theta_gamma=1.0)
    q_host = model(probs, image)
    q = model(to_backend(probs, backend), to_backend(image, backend))
    np.testing.assert_allclose(to_numpy(q), q_host, atol=1e-12)


# ----------------------------------------------------------------------------- MC dropout
def tiny_net(p=0.5):
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(p),
                         nn.Conv2d(8, 3, 1))


def test_mc_dropout_variance_is_zero_without_dropout_and_positive_with_it():
    model = tiny_net()
    model.train()
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32))
    model(x)                                                   # give BN some running statistics
    plain = U.mc_dropout_predict(model, x, T=5, dropout=False, keep_samples=True)
    assert np.all(plain.variance == 0) and np.all(plain.mutual_information == 0)
    with minicnn.no_grad():
        model.eval()
        expected = F.softmax(model(x), dim=1).numpy()
        model.train()
    np.testing.assert_allclose(plain.mean, expected, rtol=1e-6)
    mc = U.mc_dropout_predict(model, x, T=8)
    assert mc.variance.shape == (2, 3, 6, 6) and mc.entropy.shape == mc.mutual_information.shape == (2, 6, 6)
    assert mc.mean_variance.min() > 0 and mc.mutual_information.max() > 0
    np.testing.assert_allclose(mc.mean.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(mc.entropy <= np.log(3) + 1e-6) and np.all(mc.mutual_information <= mc.entropy + 1e-6)
    assert mc.prediction.shape == (2, 6, 6)
    assert model.training and all(m.training for m in model.modules())      # modes restored


def test_mc_dropout_uses_eval_batch_norm_and_refuses_models_without_dropout():
    model = tiny_net()
    model.train()
    with U.enable_dropout(model):
        assert model.training is False and model[1].training is False and model[3].training is True
    assert model[1].training is True
    model[1].eval()                                  # a frozen batch norm inside a training model stays frozen
    x = minicnn.tensor(np.zeros((2, 1, 4, 4), np.float32))
    for dropout in (True, False):
        U.mc_dropout_predict(model, x, T=2, dropout=dropout)
        assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    with pytest.raises(ValueError, match="no Dropout"):
        U.mc_dropout_predict(tiny_net(p=0.0), minicnn.tensor(np.zeros((1, 1, 4, 4), np.float32)))


def test_mc_dropout_statistics_by_hand():
    """Two forward passes with known probabilities: mean, variance, entropy, mutual information."""
    class Fixed(nn.Module):
        def __init__(self, logits):
            super().__init__()
            self.drop = nn.Dropout(0.5)
            self.logits, self.calls = logits, 0

        def forward(self, x):
            out = self.logits[self.calls % len(self.logits)]
            self.calls += 1
            return minicnn.tensor(out)

    p1, p2 = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    logits = [np.log(p).reshape(1, 2, 1, 1) for p in (p1, p2)]
    result = U.mc_dropout_predict(Fixed(logits), None, T=2)
    mean = (p1 + p2) / 2
    np.testing.assert_allclose(result.mean[0, :, 0, 0], mean, rtol=1e-6)
    np.testing.assert_allclose(result.variance[0, :, 0, 0], (p1 ** 2 + p2 ** 2) / 2 - mean ** 2, atol=1e-7)
    h = lambda p: -(p * np.log(p)).sum()                                   # noqa: E731
    np.testing.assert_allclose(result.entropy[0, 0, 0], h(mean), rtol=1e-6)
    np.testing.assert_allclose(result.mutual_information[0, 0, 0], h(mean) - (h(p1) + h(p2)) / 2, rtol=1e-5)


def test_mc_dropout_regression_adds_the_predicted_noise():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.5))
            self.mean = nn.Conv2d(4, 1, 1)
            self.log_var = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            h = self.body(x)
            return self.mean(h), self.log_var(h)

    net = Net()
    x = minicnn.tensor(np.random.default_rng(0).uniform(size=(1, 1, 5, 5)).astype(np.float32))
    mean, epistemic, aleatoric = U.mc_dropout_regression(net, x, T=6)
    assert mean.shape == epistemic.shape == aleatoric.shape == (1, 1, 5, 5)
    assert epistemic.max() > 0 and aleatoric.min() > 0 and net.training


# ----------------------------------------------------------------------------- aleatoric losses
def test_heteroscedastic_regression_loss_by_hand():
    yhat, s = t64([[0.0, 1.0, 2.0]]), t64([[0.0, np.log(4.0), -np.log(2.0)]])
    y = np.array([[1.0, 3.0, 2.0]])
    losses = U.heteroscedastic_regression_loss(yhat, s, y, reduction="none").numpy()
    expected = [0.5 * 1 * 1 + 0, 0.5 * 0.25 * 4 + 0.5 * np.log(4), 0.5 * 2 * 0 - 0.5 * np.log(2)]
    np.testing.assert_allclose(losses, [expected], rtol=1e-12)
    mean = U.heteroscedastic_regression_loss(yhat, s, y)
    assert np.isclose(mean.item(), np.mean(expected))
    mean.backward()
    # d/dyhat = -exp(-s)(y - yhat) / D,  d/ds = (1 - exp(-s)(y - yhat)^2) / (2 D)
    np.testing.assert_allclose(yhat.grad.numpy(), [[-1 / 3, -0.5 / 3, 0]], rtol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), [[0, 0, 0.5 / 3]], atol=1e-15)
    # with s = 0 it is half the squared error: attenuation off
    zero = U.heteroscedastic_regression_loss(yhat, np.zeros((1, 3)), y)
    assert np.isclose(zero.item(), 0.5 * F.mse_loss(yhat, minicnn.tensor(y)).item())


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 16), broadcast=st.booleans())
def test_heteroscedastic_regression_gradcheck(backend, seed, broadcast):
    rng = np.random.default_rng(seed)
    device = DEVICE_OF_BACKEND[backend]
    yhat = t64(rng.normal(size=(2, 3, 3, 3))).to(device)
    s = t64(rng.normal(size=(2, 1, 3, 3) if broadcast else (2, 3, 3, 3))).to(device)
    y = t64(rng.normal(size=(2, 3, 3, 3))).to(device)
    yhat, s, y = (minicnn.Tensor(t.data, requires_grad=True) for t in (yhat, s, y))
    gradcheck(U.heteroscedastic_regression_loss, yhat, s, y)


def test_heteroscedastic_regression_loss_checks_shapes():
    with pytest.raises(ValueError, match="same shape"):
        U.heteroscedastic_regression_loss(t64(np.zeros((2, 3))), t64(np.zeros((2, 3))), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="broadcast"):
        U.heteroscedastic_regression_loss(t64(np.zeros((2, 3))), t64(np.zeros((2, 2))), np.zeros((2, 3)))


def test_heteroscedastic_classification_loss_by_hand():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 2, 2))
    log_var = rng.normal(size=(2, 1, 2, 2))
    target = rng.integers(0, 3, (2, 2, 2))
    noise = rng.normal(size=(4, 2, 3, 2, 2))
    ours = U.heteroscedastic_classification_loss(t64(logits), t64(log_var), target, noise=noise,
                                                 reduction="none").numpy()
    sampled = logits[None] + np.exp(0.5 * log_var)[None] * noise                   # (T, N, C, H, W)
    softmax = np.exp(sampled) / np.exp(sampled).sum(axis=2, keepdims=True)
    p_true = np.take_along_axis(softmax, target[None, :, None], axis=2)[:, :, 0]    # (T, N, H, W)
    np.testing.assert_allclose(ours, -np.log(p_true.mean(axis=0)), rtol=1e-10)
    # one sample and no noise: the ordinary cross-entropy
    plain = U.heteroscedastic_classification_loss(t64(logits), t64(log_var), target,
                                                  noise=np.zeros((1, 2, 3, 2, 2)))
    assert np.isclose(plain.item(), F.cross_entropy(t64(logits), minicnn.tensor(target)).item())


def test_heteroscedastic_classification_loss_gradcheck():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 3, (2, 2, 2))
    noise = rng.normal(size=(3, 2, 3, 2, 2))
    for shape in ((2, 1, 2, 2), (2, 3, 2, 2)):                           # one sigma per pixel, or per class
        gradcheck(lambda a, b: U.heteroscedastic_classification_loss(a, b, target, noise=noise),
                  t64(rng.normal(size=(2, 3, 2, 2))), t64(rng.normal(size=shape)))


def test_heteroscedastic_classification_loss_draws_its_noise_and_checks_shapes():
    logits, log_var = t64(np.zeros((1, 2, 3, 3))), t64(np.full((1, 1, 3, 3), -20.0))
    target = np.zeros((1, 3, 3), dtype=np.int64)
    # tiny sigma: every sample equals the logits, so the loss is log 2 whatever the noise
    assert np.isclose(U.heteroscedastic_classification_loss(logits, log_var, target, T=5).item(), np.log(2))
    with pytest.raises(ValueError, match="log_variance"):
        U.heteroscedastic_classification_loss(logits, t64(np.zeros((1, 2, 2, 2))), target)
    with pytest.raises(ValueError, match="target"):
        U.heteroscedastic_classification_loss(logits, log_var, np.zeros((1, 2, 3), dtype=np.int64))


# ----------------------------------------------------------------------------- figures
def test_plot_uncertainty_returns_a_figure_with_one_panel_per_map():
    from matplotlib.figure import Figure
    rng = np.random.default_rng(0)
    fig = U.plot_uncertainty(rng.uniform(size=(1, 8, 8)), rng.integers(0, 2, (8, 8)),
                             {"entropy": rng.uniform(size=(8, 8)), "variance": rng.uniform(size=(8, 8))},
                             target=rng.integers(0, 2, (8, 8)))
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["input", "labels", "prediction", "errors", "entropy", "variance"]
