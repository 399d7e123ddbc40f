"""Batch normalisation (Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network
Training by Reducing Internal Covariate Shift", Algorithm 1 [Ioffe & Szegedy, 2015]; the deconvolution
network of Noh et al., 2015 puts it after every convolution; see docs/bibliography.md).

For every channel c, over the M = N * (spatial size) entries of that channel:

    mu    = (1/M) sum x                    sigma^2 = (1/M) sum (x - mu)^2   (biased: divide by M)
    x_hat = (x - mu) / sqrt(sigma^2 + eps)
    y     = gamma * x_hat + beta

In training the batch statistics normalise, and the running statistics are
updated in place with torch's momentum convention

    running_mean = (1 - momentum) * running_mean + momentum * mu
    running_var  = (1 - momentum) * running_var  + momentum * sigma^2 * M / (M - 1)   (unbiased)

In evaluation the running statistics replace mu and sigma^2 (then y is an
affine function of x).

Backward (training), with dy = dL/dy and sums over the M entries of a channel
(paper, section 3; the closed form is derived by treating mu and sigma as
functions of every x):

    dbeta  = sum dy
    dgamma = sum dy * x_hat
    dx     = (gamma / sqrt(sigma^2 + eps)) * (dy - dbeta / M - x_hat * dgamma / M)
           = (1/M) gamma inv_std (M dy - sum dy - x_hat sum(dy x_hat))

One fused Function computes all three; ``batch_norm_naive`` and
``batch_norm_backward_naive`` spell them out with loops over the channels.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..utils import check_floating, unwrap

__all__ = ["batch_norm"]


# =========================================================================== the definition, as loops
def batch_norm_naive(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                     eps=1e-5):
    """Batch normalisation with a loop over channels (NumPy arrays); updates the running statistics in
    place like ``batch_norm``. Returns ``(y, cache)`` where ``cache`` feeds the naive backward."""
    C = x.shape[1]
    y = np.empty_like(x)
    cache = []
    for c in range(C):
        xc = x[:, c]                                   # every entry of channel c
        if training:
            m = xc.size
            mu = xc.sum() / m
            var = ((xc - mu) ** 2).sum() / m           # biased
            if running_mean is not None:
                running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mu
                running_var[c] = (1 - momentum) * running_var[c] + momentum * var * m / (m - 1)
        else:
            mu, var = running_mean[c], running_var[c]
        x_hat = (xc - mu) / np.sqrt(var + eps)
        gamma = 1.0 if weight is None else weight[c]
        beta = 0.0 if bias is None else bias[c]
        y[:, c] = gamma * x_hat + beta
        cache.append((x_hat, gamma, 1.0 / np.sqrt(var + eps)))
    return y, (cache, training)


def batch_norm_backward_naive(grad_output, cache):
    """(dx, dgamma, dbeta) of ``batch_norm_naive``, channel by channel, from the closed form."""
    per_channel, training = cache
    dx = np.empty_like(grad_output)
    C = grad_output.shape[1]
    dgamma, dbeta = np.zeros(C), np.zeros(C)
    for c, (x_hat, gamma, inv_std) in enumerate(per_channel):
        dy = grad_output[:, c]
        m = dy.size
        dbeta[c] = dy.sum()
        dgamma[c] = (dy * x_hat).sum()
        if training:
            dx[:, c] = (1.0 / m) * gamma * inv_std * (m * dy - dbeta[c] - x_hat * dgamma[c])
        else:
            dx[:, c] = gamma * inv_std * dy
    return dx, dgamma, dbeta


# =========================================================================== the Function
def _flatten_spatial(x):
    """View (N, C, *spatial) as (N, C, S): each channel's entries are then x3[:, c, :]."""
    return x.reshape(x.shape[0], x.shape[1], -1)


def _per_channel_sum(xp, a, b=None):
    """sum over n and s of a[n, c, s] (times b[n, c, s]): one number per channel.

    The sum of products is one dot product per (n, c) row (a batched matrix
    product of (1, S) by (S, 1)), then a sum over n: faster than einsum's
    generic loop.
    """
    if b is None:
        return xp.einsum("ncs->c", a)
    return (a[:, :, None, :] @ b[:, :, :, None])[:, :, 0, 0].sum(axis=0)


def _plane(xp, v, S):
    """A per-channel vector v (C,) repeated along a contiguous (C, S) plane, to combine with (N, C, S).

    Same values as broadcasting v[:, None], but NumPy runs an elementwise
    operation 1.5-3x faster when every operand is contiguous along the
    inner axis than when one is a (C, 1) column broadcast along it
    (measured: benchmarks/RESULTS.md); the plane is 1/N of the data.
    """
    return xp.ascontiguousarray(xp.broadcast_to(v[:, None], (v.shape[0], S)))


class BatchNorm(Function):
    """y = gamma x_hat + beta with batch (training) or running (evaluation) statistics.

    ``running_mean`` / ``running_var`` are raw arrays (or None) updated in place
    in training; they are options, not inputs, so no gradient flows to them.

    To spare passes over the data, x_hat is never stored: with
    scale = gamma / sqrt(sigma^2 + eps), y = (x - mu) * scale + beta, and
    backward uses x_hat = (x - mu) / sqrt(sigma^2 + eps) only inside sums.
    Every elementwise step writes into an array made for it (``out=``), and
    the per-channel constants are :func:`_plane` s. Passes over the data:
    forward 5 (sum, x - mu, sum of squares, times scale, plus beta), backward
    6 (two sums and the 4 steps of dx = a dy + b (x - mu) + c below).
    """

    def forward(self, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = get_array_module(x)
        x3 = _flatten_spatial(x)
        N, C, S = x3.shape
        M = N * S
        if training:
            mean = _per_channel_sum(xp, x3) / M
            centred = xp.subtract(x3, _plane(xp, mean, S))             # x - mu
            var = _per_channel_sum(xp, centred, centred) / M          # biased, for normalising
            if running_mean is not None:
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean.astype(running_mean.dtype)
            if running_var is not None:
                unbiased = var * (M / (M - 1))
                running_var[...] = (1 - momentum) * running_var + momentum * unbiased.astype(running_var.dtype)
        else:
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
            centred = None                                            # x - mu is formed only inside sums
        inv_std = x.dtype.type(1) / xp.sqrt(var + eps)
        scale = inv_std if weight is None else weight * inv_std      # gamma / sqrt(sigma^2 + eps)
        if training:
            y = xp.multiply(centred, _plane(xp, scale, S))            # (x - mu) scale
            shift = bias
        else:
            y = xp.multiply(x3, _plane(xp, scale, S))                 # x scale + (beta - mu scale)
            shift = -mean * scale if bias is None else bias - mean * scale
        if shift is not None:
            y += _plane(xp, shift, S)
        # In training the backward needs only x - mu: not keeping x itself frees the input as soon as
        # the caller drops it (a whole activation map per layer: 61 MiB in an attention U-Net step).
        self.training, self.centred, self.mean = training, centred, mean
        self.x3 = None if training else x3
        self.inv_std, self.scale = inv_std, scale
        return y.reshape(x.shape)

    def backward(self, grad):
        xp = get_array_module(grad)
        g3 = _flatten_spatial(grad)
        N, C, S = g3.shape
        M = N * S
        grad_bias = _per_channel_sum(xp, g3)                          # dbeta = sum dy
        # dgamma = sum dy x_hat = inv_std * sum dy (x - mu)
        if self.training:
            grad_weight = self.inv_std * _per_channel_sum(xp, g3, self.centred)
        else:
            grad_weight = self.inv_std * (_per_channel_sum(xp, g3, self.x3) - self.mean * grad_bias)
        grad_input = None
        if self.needs_input_grad[0]:
            grad_input = xp.multiply(g3, _plane(xp, self.scale, S))   # gamma inv_std dy
            if self.training:  # mu and sigma depend on x too: the two extra terms of the closed form
                # - gamma inv_std (x_hat dgamma / M + dbeta / M), with x_hat = (x - mu) inv_std
                correction = xp.multiply(self.centred, _plane(xp, self.scale * self.inv_std * grad_weight / M, S))
                grad_input -= correction
                grad_input -= _plane(xp, self.scale * grad_bias / M, S)
            grad_input = grad_input.reshape(grad.shape)
        return (grad_input,
                grad_weight if self.needs_input_grad[1] else None,
                grad_bias if self.needs_input_grad[2] else None)


# =========================================================================== user functions
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation over dim 1 of an (N, C), (N, C, L) or (N, C, H, W) tensor, as
    ``torch.nn.functional.batch_norm``. ``running_mean`` / ``running_var`` (Tensors or None) are
    updated in place when ``training``."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    check_floating("batch_norm", input)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps != eps or eps < 0 or \
            (training and eps == 0):
        raise ValueError(f"batch_norm: eps must be positive{' during training' if training else ''} "
                         f"(it keeps 1 / sqrt(var + eps) finite), but got {eps!r}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_per_channel(name, t, C)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must be given in evaluation mode "
                         "(training=False)")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"batch_norm: momentum must be a float, got {momentum!r} (the BatchNorm modules turn "
                        "momentum=None into a cumulative average, 1 / num_batches_tracked)")
    if training:
        values_per_channel = input.numel() // C if C else 0
        if values_per_channel <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input size "
                             f"{tuple(input.shape)}")
    raw = [unwrap(t) for t in (running_mean, running_var)]
    return BatchNorm.apply(input, weight, bias, running_mean=raw[0], running_var=raw[1],
                           training=bool(training), momentum=float(momentum), eps=float(eps))


# =========================================================================== argument checks
def _check_per_channel(name, t, C):
    if t is not None and tuple(t.shape) != (C,):
        raise ValueError(f"batch_norm: {name} should contain {C} elements (one per channel of the input), "
                         f"got shape {tuple(t.shape)}")
