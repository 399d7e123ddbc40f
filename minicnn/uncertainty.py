"""Uncertainty for segmentation: Monte Carlo dropout (epistemic) and heteroscedastic losses (aleatoric).

Kendall & Gal, "What Uncertainties Do We Need in Bayesian Deep Learning for
Computer Vision?", NIPS 2017 [Kendall & Gal, 2017]; Gal & Ghahramani, "Dropout as a
Bayesian Approximation", ICML 2016.

Two kinds of uncertainty:

* **epistemic** (model) uncertainty: the weights are uncertain because the
  data were finite; more data explains it away. A Bayesian network has a
  posterior p(W | X, Y) over its weights; dropout training fits a simple
  distribution q(W) to it (each dropout mask is one draw W_t ~ q). **MC
  dropout** keeps dropout *on* at test time and averages T stochastic passes
  (:func:`mc_dropout_predict`):

      p = (1/T) sum_t softmax(f^{W_t}(x))                       predictive mean
      Var_c = (1/T) sum_t p_{t,c}^2 - p_c^2                     predictive variance (per class)
      H(p) = -sum_c p_c log p_c                                 entropy of the mean probability
      I = H(p) - (1/T) sum_t H(p_t)                             mutual information (epistemic part)

  Batch norm stays in eval mode (its running statistics); only the
  ``Dropout`` / ``Dropout2d`` layers sample (:func:`enable_dropout`). For
  regression the predictive variance adds the predicted noise
  (:func:`mc_dropout_regression`):  (1/T) sum y_t^2 - ((1/T) sum y_t)^2 + (1/T) sum sigma_t^2.

* **aleatoric** uncertainty: noise in the observations themselves (blurry
  boundaries, occlusions); more data does not remove it. *Heteroscedastic*
  noise depends on the input, so the network predicts it, per pixel, beside
  its output ("learned loss attenuation"):

  regression (:func:`heteroscedastic_regression_loss`), with s = log sigma^2 for stability:

      L = (1/D) sum_i [ 1/2 exp(-s_i) (y_i - yhat_i)^2 + 1/2 s_i ]

  a pixel may claim a large variance to down-weight its residual, but pays
  1/2 s_i for it;

  classification (:func:`heteroscedastic_classification_loss`): corrupt the
  logits with Gaussian noise of the predicted scale and average the
  softmax over T samples (Monte Carlo integration):

      xhat_t = f + sigma * eps_t,  eps_t ~ N(0, I)
      L = -(1/D) sum_i log( (1/T) sum_t softmax(xhat_{i,t})[y_i] )

:func:`plot_uncertainty` draws an image, its labels, the prediction, the errors
and uncertainty maps side by side (a ``matplotlib.figure.Figure``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from . import functional as F
from .autograd import Function, no_grad, unbroadcast
from .backend import get_array_module, to_numpy
from .nn.layers import Dropout
from .random import generator
from .tensor import Tensor
from .utils import unwrap

__all__ = ["enable_dropout", "MCDropoutPrediction", "mc_dropout_predict", "mc_dropout_regression",
           "entropy", "heteroscedastic_regression_loss", "heteroscedastic_classification_loss",
           "plot_uncertainty"]


# =========================================================================== MC dropout
@contextlib.contextmanager
def enable_dropout(model, dropout=True):
    """Inside the block: ``model`` in eval mode except its Dropout / Dropout2d layers, which keep
    sampling masks (all in eval mode with ``dropout=False``). Every module's previous mode is
    restored afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    if dropout:
        for m in model.modules():
            if isinstance(m, Dropout):          # Dropout2d is a Dropout too
                m.training = True
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def _has_dropout(model):
    return any(isinstance(m, Dropout) and m.p > 0 for m in model.modules())


def entropy(p, axis=1):
    """H(p) = -sum_c p_c log p_c along ``axis`` (0 log 0 = 0), in nats; raw arrays in and out."""
    xp = get_array_module(p)
    return -(p * xp.log(xp.where(p > 0, p, 1.0))).sum(axis=axis)


def _mean_and_variance(samples):
    """Mean and (biased) variance over axis 0, shifted by the first sample: exactly 0 for equal samples."""
    shifted = samples - samples[0:1]
    mean_shift = shifted.mean(axis=0)
    variance = ((shifted - mean_shift[None]) ** 2).mean(axis=0)
    return samples[0] + mean_shift, variance


@dataclass
class MCDropoutPrediction:
    """What :func:`mc_dropout_predict` returns (raw arrays on the model's backend).

    mean (N, C, H, W): predictive mean probability; variance (N, C, H, W): per-class variance of the
    sampled probabilities; entropy (N, H, W): H(mean); mutual_information (N, H, W): H(mean) minus
    the mean entropy of the samples; samples (T, N, C, H, W) if kept.
    """

    mean: object
    variance: object
    entropy: object
    mutual_information: object
    samples: object = None

    @property
    def prediction(self):
        """The labels argmax_c of the predictive mean (N, H, W)."""
        return self.mean.argmax(axis=1)

    @property
    def mean_variance(self):
        """The per-class variance averaged over the classes (N, H, W), Bayesian SegNet's uncertainty map."""
        return self.variance.mean(axis=1)


def mc_dropout_predict(model, x, T=20, dropout=True, keep_samples=False):
    """T stochastic forward passes with dropout on (MC dropout); see the module docstring.

    ``model(x)`` must return class scores (N, C, ...) (logits). ``dropout=False`` runs the
    plain eval-mode network T times (all samples equal: variance and mutual information 0).
    Raises ``ValueError`` when ``dropout=True`` and the model has no dropout layer (its
    samples would all be equal).
    """
    if T < 1:
        raise ValueError(f"mc_dropout_predict: T must be at least 1, got {T}")
    if dropout and not _has_dropout(model):
        raise ValueError(f"mc_dropout_predict: {type(model).__name__} has no Dropout layer with p > 0, so MC "
                         "dropout would return T identical samples (build it with dropout, or pass dropout=False)")
    samples = []
    with no_grad(), enable_dropout(model, dropout):
        for _ in range(T):
            samples.append(F.softmax(model(x), dim=1).data)
    xp = get_array_module(samples[0])
    samples = xp.stack(samples)                                   # (T, N, C, H, W)
    mean, variance = _mean_and_variance(samples)
    h_mean = entropy(mean, axis=1)
    mutual_information = xp.maximum(h_mean - entropy(samples, axis=2).mean(axis=0), 0.0)   # >= 0 (Jensen)
    return MCDropoutPrediction(mean, variance, h_mean, mutual_information, samples if keep_samples else None)


def mc_dropout_regression(model, x, T=20):
    """MC dropout for a regression network returning ``(yhat, log_variance)`` (or only ``yhat``).

    Returns ``(mean, epistemic, aleatoric)`` raw arrays: the predictive mean (1/T) sum yhat_t, the
    variance of the yhat_t, and the mean predicted noise (1/T) sum sigma_t^2 (0 without a
    log-variance output); the predictive variance is epistemic + aleatoric (Kendall & Gal).
    """
    if T < 1:
        raise ValueError(f"mc_dropout_regression: T must be at least 1, got {T}")
    means, variances = [], []
    with no_grad(), enable_dropout(model):
        for _ in range(T):
            out = model(x)
            if isinstance(out, tuple):
                yhat, log_variance = out
                variances.append(log_variance.exp().data)
            else:
                yhat = out
            means.append(yhat.data)
    xp = get_array_module(means[0])
    mean, epistemic = _mean_and_variance(xp.stack(means))
    aleatoric = xp.stack(variances).mean(axis=0) if variances else xp.zeros_like(mean)
    return mean, epistemic, aleatoric


# =========================================================================== aleatoric losses
class HeteroscedasticRegression(Function):
    """l = 1/2 exp(-s) (y - yhat)^2 + 1/2 s  (elementwise).

        dl/dyhat = -exp(-s) (y - yhat)
        dl/ds    = 1/2 (1 - exp(-s) (y - yhat)^2)
        dl/dy    = exp(-s) (y - yhat)
    """

    def forward(self, yhat, s, y):
        xp = get_array_module(yhat)
        self.shapes = (yhat.shape, s.shape, y.shape)
        self.residual = y - yhat
        self.precision = xp.exp(-s)                       # 1 / sigma^2
        return 0.5 * self.precision * self.residual ** 2 + 0.5 * s

    def backward(self, grad):
        weighted = grad * self.precision * self.residual
        grad_yhat = unbroadcast(-weighted, self.shapes[0])
        grad_s = unbroadcast(0.5 * grad * (1.0 - self.precision * self.residual ** 2), self.shapes[1])
        grad_y = unbroadcast(weighted, self.shapes[2]) if self.needs_input_grad[2] else None
        return grad_yhat, grad_s, grad_y


def _as_tensor(value, like):
    if isinstance(value, Tensor):
        return value
    xp = like.xp
    return Tensor._from_op(xp.asarray(value, dtype=like.dtype))


def heteroscedastic_regression_loss(input, log_variance, target, reduction="mean"):
    """Kendall & Gal's regression loss with learned noise: 1/2 exp(-s) (y - yhat)^2 + 1/2 s, s = log sigma^2.

    ``input`` (yhat) and ``target`` share a shape; ``log_variance`` has that shape or broadcasts to it
    (e.g. one sigma per pixel for several outputs). ``reduction``: "mean" (the paper's 1/D sum),
    "sum" or "none".
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"heteroscedastic_regression_loss: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    target = _as_tensor(target, input)
    log_variance = _as_tensor(log_variance, input)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"heteroscedastic_regression_loss: input {tuple(input.shape)} and target "
                         f"{tuple(target.shape)} must have the same shape")
    try:
        np.broadcast_shapes(tuple(log_variance.shape), tuple(input.shape))
    except ValueError:
        raise ValueError(f"heteroscedastic_regression_loss: log_variance of shape {tuple(log_variance.shape)} "
                         f"does not broadcast to the input's shape {tuple(input.shape)}") from None
    if np.broadcast_shapes(tuple(log_variance.shape), tuple(input.shape)) != tuple(input.shape):
        raise ValueError(f"heteroscedastic_regression_loss: log_variance of shape {tuple(log_variance.shape)} "
                         f"is larger than the input {tuple(input.shape)}")
    losses = HeteroscedasticRegression.apply(input, log_variance, target)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def heteroscedastic_classification_loss(logits, log_variance, target, T=10, noise=None, reduction="mean"):
    """Kendall & Gal's classification loss with learned logit noise (Monte Carlo over T samples).

        xhat_t = logits + exp(s / 2) eps_t,  eps_t ~ N(0, I),  s = log sigma^2
        l_i    = -log( (1/T) sum_t softmax(xhat_{i,t})[y_i] )
               = -( logsumexp_t log_softmax(xhat_{i,t})[y_i] - log T )

    Args:
        logits: (N, C, ...) scores.
        log_variance: (N, 1, ...) (one sigma per pixel) or (N, C, ...) (one per class).
        target: (N, ...) integer labels.
        T: Monte Carlo samples (ignored when ``noise`` is given).
        noise: optional eps of shape (T, N, C, ...) (for reproducible tests); default drawn from
            minicnn's seeded generator.
        reduction: "mean" over the pixels, "sum" or "none" (N, ...).

    Composed from differentiable ops (log_softmax, exp, log, sum); the log-sum-exp over the samples
    subtracts the (constant) maximum first for stability.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"heteroscedastic_classification_loss: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    if logits.ndim < 2:
        raise ValueError(f"heteroscedastic_classification_loss: logits must be (N, C, ...), got "
                         f"{tuple(logits.shape)}")
    xp = logits.xp
    log_variance = _as_tensor(log_variance, logits)
    if log_variance.ndim != logits.ndim or log_variance.shape[1] not in (1, logits.shape[1]) or \
            tuple(log_variance.shape[2:]) != tuple(logits.shape[2:]) or log_variance.shape[0] != logits.shape[0]:
        raise ValueError(f"heteroscedastic_classification_loss: log_variance must be (N, 1, ...) or (N, C, ...) "
                         f"like the logits {tuple(logits.shape)}, got {tuple(log_variance.shape)}")
    target_raw = xp.asarray(unwrap(target))
    if tuple(target_raw.shape) != (logits.shape[0],) + tuple(logits.shape[2:]):
        raise ValueError(f"heteroscedastic_classification_loss: target must be (N, ...) = "
                         f"{(logits.shape[0],) + tuple(logits.shape[2:])}, got {tuple(target_raw.shape)}")
    if noise is None:
        noise = generator(xp).standard_normal((T,) + tuple(logits.shape)).astype(logits.dtype)
    else:
        noise = unwrap(noise) if isinstance(noise, Tensor) else xp.asarray(noise, dtype=logits.dtype)
        if noise.ndim != logits.ndim + 1 or tuple(noise.shape[1:]) != tuple(logits.shape):
            raise ValueError(f"heteroscedastic_classification_loss: noise must be (T,) + {tuple(logits.shape)}, "
                             f"got {tuple(noise.shape)}")
    T = noise.shape[0]
    classes = xp.arange(logits.shape[1]).reshape((1, -1) + (1,) * (logits.ndim - 2))
    one_hot = Tensor._from_op((target_raw[:, None] == classes).astype(logits.dtype))

    sigma = (0.5 * log_variance).exp()
    sampled = logits.unsqueeze(0) + sigma.unsqueeze(0) * Tensor._from_op(noise)      # (T, N, C, ...)
    log_p = F.log_softmax(sampled, dim=2)
    log_p_true = (log_p * one_hot.unsqueeze(0)).sum(dim=2)                           # (T, N, ...)
    peak = Tensor._from_op(log_p_true.data.max(axis=0, keepdims=True))              # constant shift
    # log (1/T) sum_t exp(a_t) = log mean_t exp(a_t - m) + m,  m = max_t a_t
    log_mean = (log_p_true - peak).exp().mean(dim=0).log() + peak.squeeze(0)
    losses = -log_mean
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# =========================================================================== figures
def plot_uncertainty(image, prediction, maps, target=None, fig=None, cmap="magma"):
    """Input, (labels,) prediction, (errors,) and one panel per uncertainty map, in one row.

    Args:
        image: (H, W) or (1, H, W) or (3, H, W) image.
        prediction: (H, W) labels.
        maps: dict title -> (H, W) map (entropy, variance, mutual information, predicted sigma...).
        target: optional (H, W) labels; adds the labels and the error map (prediction != target).
        fig: a Figure (or sub-figure) to draw into; default a new one.

    Returns the ``matplotlib.figure.Figure`` (built without pyplot).
    """
    from matplotlib.figure import Figure

    def host(a):
        return np.asarray(to_numpy(unwrap(a)), dtype=np.float64)

    image = host(image)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    panels = [("input", image, "gray")]
    prediction = host(prediction)
    if target is not None:
        target = host(target)
        panels.append(("labels", target, "viridis"))
    panels.append(("prediction", prediction, "viridis"))
    if target is not None:
        panels.append(("errors", (prediction != target).astype(float), "Reds"))
    for name, m in maps.items():
        panels.append((name, host(m), cmap))
    n = len(panels)
    if fig is None:
        fig = Figure(figsize=(2.2 * n, 2.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, a, colours) in zip(axes, panels):
        shown = ax.imshow(a, cmap=colours, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if name in maps:
            fig.colorbar(shown, ax=ax, shrink=0.75)
    return fig

