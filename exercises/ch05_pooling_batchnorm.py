# GENERATED from solutions/ch05_pooling_batchnorm.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 5.1 5.2 5.3 5.4 5.5 5.6`.
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
    # Exercise 5.1: your code here.
    raise NotImplementedError('Exercise 5.1: max pooling forward, with the argmax indices. Hint: sliding windows (N, C, H_out, W_out, k, k); the flat index is row * W + column of the input')


def max_pool2d_backward(grad_output, indices, input_shape):
    """dL/dx of max pooling: each upstream gradient goes to its window's maximum.

    Windows overlap when the stride is smaller than the kernel, so one input
    pixel may be the maximum of several windows and must receive the *sum*
    of their gradients. ``a[idx] += v`` keeps only one of the repeated writes:
    use ``scatter_add(target, idx, values)`` (minicnn.backend), which
    accumulates. Work on the flattened planes: (N, C, H * W).
    """
    # Exercise 5.2: your code here.
    raise NotImplementedError('Exercise 5.2: max pooling backward. Hint: scatter_add the gradient at the saved flat indices (windows overlap: never use a[idx] += v)')


def avg_pool2d_forward(x, kernel_size, stride=None):
    """Average pooling: the mean of each k x k window, (N, C, H_out, W_out)."""
    # Exercise 5.3: your code here.
    raise NotImplementedError('Exercise 5.3: average pooling forward. Hint: the mean over the last two axes of the sliding windows')


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None):
    """dL/dx of average pooling: every pixel of a window receives grad / k^2 from that window.

    Loop over the kernel offsets (u, v): for a fixed offset, the pixels
    touched by all windows form the strided slice
    ``grad_x[:, :, u : u + s H_out : s, v : v + s W_out : s]`` (no pixel twice),
    so ``+=`` on it is exact.
    """
    # Exercise 5.4: your code here.
    raise NotImplementedError('Exercise 5.4: average pooling backward. Hint: every input pixel of a window receives grad / (k * k); loop over the kernel offsets')


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
    # Exercise 5.5: your code here.
    raise NotImplementedError('Exercise 5.5: batch normalisation forward, train and eval. Hint: mean and biased variance over (N, H, W); update the running variance with the unbiased one')


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
    # Exercise 5.6: your code here.
    raise NotImplementedError('Exercise 5.6: batch normalisation backward. Hint: three paths to each x (through x_hat, mu, var); find dL/dvar and dL/dmu, use sum(x - mu) = 0, rewrite x - mu as x_hat / inv_std; per channel dx sums to 0 and is orthogonal to x_hat')
