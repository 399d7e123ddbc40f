"""Exercises of notebook 5: pooling and batch normalisation, forward and backward, on raw arrays.

Pooling windows: kernel k x k, stride s (default k), no padding; the output
has floor((H - k) / s) + 1 rows. ``sliding_windows(x, (k, k), axis=(2, 3))``
(minicnn.backend) gives a view (N, C, H - k + 1, W - k + 1, k, k) of every
window at stride 1; slice it with ``[:, :, ::s, ::s]``.

Every function works on raw arrays of any backend (``xp = get_array_module(x)``).
The backward exercises are graded with minicnn's forward, so a bug in a
forward costs only that forward's points.

Grade with ``minicnn grade 5``.
"""
from minicnn.backend import get_array_module, scatter_add, sliding_windows


def _windows(x, kernel_size, stride):
    """(N, C, H_out, W_out, k, k): the pooling windows of x (a strided view; never write into it)."""
    return sliding_windows(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::stride, ::stride]


def max_pool2d_forward(x, kernel_size, stride=None):
    """Max pooling. Returns ``(out, indices)``, both (N, C, H_out, W_out):

        out[n, c, i, j]     = max over the window at (i s, j s)
        indices[n, c, i, j] = h * W + w, the flat position in the input plane of that maximum
                              (int64; torch's ``return_indices`` convention)
    """
    # BEGIN SOLUTION 5.1
    xp = get_array_module(x)
    stride = kernel_size if stride is None else stride
    k, (n, c, _, width) = kernel_size, x.shape
    windows = _windows(x, k, stride)
    h_out, w_out = windows.shape[2:4]
    flat = windows.reshape(n, c, h_out, w_out, k * k)
    best = flat.argmax(axis=-1)                                    # 0 .. k*k - 1 inside the window
    out = xp.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    u, v = best // k, best % k                                     # the offset inside the window
    rows = xp.arange(h_out).reshape(h_out, 1) * stride + u         # (N, C, H_out, W_out)
    cols = xp.arange(w_out).reshape(1, w_out) * stride + v
    return out, (rows * width + cols).astype(xp.int64)
    # END SOLUTION


def max_pool2d_backward(grad_output, indices, input_shape):
    """dL/dx of max pooling: each upstream gradient goes to its window's maximum.

    Windows overlap when the stride is smaller than the kernel, so one input
    pixel may be the maximum of several windows and must receive the *sum*
    of their gradients. ``a[idx] += v`` keeps only one of the repeated writes:
    use ``scatter_add(target, idx, values)`` (minicnn.backend), which
    accumulates. Work on the flattened planes: (N, C, H * W).
    """
    # BEGIN SOLUTION 5.2
    xp = get_array_module(grad_output)
    n, c, h, w = input_shape
    grad = xp.zeros((n * c, h * w), dtype=grad_output.dtype)
    planes = xp.arange(n * c).reshape(n * c, 1)                    # which (n, c) plane
    scatter_add(grad, (planes, indices.reshape(n * c, -1)), grad_output.reshape(n * c, -1))
    return grad.reshape(input_shape)
    # END SOLUTION


def avg_pool2d_forward(x, kernel_size, stride=None):
    """Average pooling: the mean of each k x k window, (N, C, H_out, W_out)."""
    # BEGIN SOLUTION 5.3
    stride = kernel_size if stride is None else stride
    return _windows(x, kernel_size, stride).mean(axis=(-2, -1))
    # END SOLUTION


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None):
    """dL/dx of average pooling: every pixel of a window receives grad / k^2 from that window.

    Loop over the kernel offsets (u, v): for a fixed offset, the pixels
    touched by all windows form the strided slice
    ``grad_x[:, :, u : u + s H_out : s, v : v + s W_out : s]`` (no pixel twice),
    so ``+=`` on it is exact.
    """
    # BEGIN SOLUTION 5.4
    xp = get_array_module(grad_output)
    stride = kernel_size if stride is None else stride
    k, s = kernel_size, stride
    h_out, w_out = grad_output.shape[2:]
    grad = xp.zeros(input_shape, dtype=grad_output.dtype)
    share = grad_output / (k * k)
    for u in range(k):
        for v in range(k):
            grad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] += share
    return grad
    # END SOLUTION


def batch_norm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C, H, W) per channel (Ioffe & Szegedy, 2015), as torch:

        training:  mu = mean over (N, H, W),  var = biased variance over (N, H, W)   (m = N H W entries)
                   running_mean <- (1 - momentum) running_mean + momentum mu          (in place)
                   running_var  <- (1 - momentum) running_var  + momentum var m / (m - 1)   (unbiased!)
        eval:      mu, var = running_mean, running_var
        x_hat = (x - mu) / sqrt(var + eps);   y = gamma x_hat + beta

    ``gamma``, ``beta``, ``running_mean``, ``running_var``: (C,). Update the
    running statistics *in place* (``running_mean[...] = ...``). Returns
    ``(y, cache)`` with ``cache = (x_hat, gamma, inv_std, training)``,
    ``inv_std = 1 / sqrt(var + eps)`` of shape (C,): exactly what the backward needs.
    """
    # BEGIN SOLUTION 5.5
    xp = get_array_module(x)
    axes = (0, 2, 3)
    if training:
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mu = x.mean(axis=axes)
        var = ((x - mu.reshape(1, -1, 1, 1)) ** 2).mean(axis=axes)
        running_mean[...] = (1 - momentum) * running_mean + momentum * mu
        running_var[...] = (1 - momentum) * running_var + momentum * var * (m / (m - 1))
    else:
        mu, var = running_mean, running_var
    inv_std = 1.0 / xp.sqrt(var + eps)
    x_hat = (x - mu.reshape(1, -1, 1, 1)) * inv_std.reshape(1, -1, 1, 1)
    y = gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)
    return y, (x_hat, gamma, inv_std, training)
    # END SOLUTION


def batch_norm_backward(grad_output, cache):
    """(dx, dgamma, dbeta) of batch normalisation, from ``cache = (x_hat, gamma, inv_std, training)``.

        dbeta  = sum of grad over (N, H, W)
        dgamma = sum of grad * x_hat over (N, H, W)
        eval:      dx = gamma inv_std grad            (mu and var are constants then)
        training:  derive it (notebook 5, "The backward pass"): the chain rule
                   through x_hat, mu and var, collected into one line that uses
                   grad, x_hat, gamma, inv_std, m = N H W and two sums over the
                   channel. Over each channel your dx must sum to 0 and be
                   orthogonal to x_hat (shifting or scaling a channel's input
                   does not change x_hat).
    """
    # BEGIN SOLUTION 5.6 hint: three paths to each x (through x_hat, mu, var); find dL/dvar and dL/dmu, use sum(x - mu) = 0, rewrite x - mu as x_hat / inv_std; per channel dx sums to 0 and is orthogonal to x_hat
    x_hat, gamma, inv_std, training = cache
    axes = (0, 2, 3)
    dbeta = grad_output.sum(axis=axes)
    dgamma = (grad_output * x_hat).sum(axis=axes)
    scale = (gamma * inv_std).reshape(1, -1, 1, 1)
    if not training:
        return scale * grad_output, dgamma, dbeta
    m = grad_output.shape[0] * grad_output.shape[2] * grad_output.shape[3]
    dx = scale / m * (m * grad_output - dbeta.reshape(1, -1, 1, 1) - x_hat * dgamma.reshape(1, -1, 1, 1))
    return dx, dgamma, dbeta
    # END SOLUTION
