"""Exercises of notebook 7: channel attention, written with minicnn's differentiable ops.

Each function takes a feature map ``x`` (a Tensor, (N, C, H, W)) and its
weights as Tensors, and returns ``a * x`` for a gate ``a`` in (0, 1). Write
them with minicnn functions (``x.mean``, ``F.relu``, ``F.sigmoid``, ``@``,
``minicnn.cat`` ...): autograd then gives the backward.
The tests compare your output and gradients with minicnn's modules
(``nn.SE``, ``nn.ECA``) and with PyTorch.

Grade with ``minicnn grade 7``.
"""
import math

import minicnn
from minicnn import functional as F


def se(x, w1, b1, w2, b2):
    """Squeeze-and-excitation (Hu et al., CVPR 2018):

        z = GAP(x)                          (N, C)         squeeze: the mean over H and W
        s = sigmoid(W2 relu(W1 z + b1) + b2)   (N, C)      excitation: a bottleneck MLP
        y = s[:, :, None, None] * x                        scale every channel

    ``w1``: (C/r, C), ``b1``: (C/r,), ``w2``: (C, C/r), ``b2``: (C,) (the
    weights of ``nn.SE``'s two 1x1 convolutions, reshaped to matrices).
    """
    # BEGIN SOLUTION 7.1
    n, c = x.shape[:2]
    z = x.mean(dim=(2, 3))                              # (N, C)
    hidden = F.relu(z @ w1.transpose(0, 1) + b1)        # (N, C/r)
    s = F.sigmoid(hidden @ w2.transpose(0, 1) + b2)     # (N, C)
    return s.reshape(n, c, 1, 1) * x
    # END SOLUTION


def eca_kernel_size(channels, gamma=2, b=1):
    """ECA's adaptive kernel size (Wang et al., CVPR 2020): k = |log2(C) / gamma + b / gamma|_odd.

    As in the official code: truncate t = (log2(C) + b) / gamma to an integer,
    and add 1 when it is even. C = 64 gives 3; 128 to 1024 give 5; 2048
    gives 7. Raise ``ValueError`` for ``channels < 1``.
    """
    # BEGIN SOLUTION 7.2
    if channels < 1:
        raise ValueError(f"eca_kernel_size: channels must be positive, got {channels}")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1
    # END SOLUTION


def eca(x, weight):
    """Efficient channel attention: a 1-D convolution over the pooled channels (no bias).

        z = GAP(x)                                         (N, C)
        a_c = sum_{j=0}^{k-1} w_j z_{c + j - (k-1)/2}      zero padding (k - 1) / 2 at both ends
        y = sigmoid(a)[:, :, None, None] * x

    ``weight``: (k,) with k odd. It is a *cross-correlation*, as every
    convolution in deep learning: with w = [1, 10, 100] and z = [1, 0, 0, 0]
    the result is a = [10, 1, 0, 0].
    """
    # BEGIN SOLUTION 7.3
    n, c = x.shape[:2]
    k = weight.shape[0]
    half = (k - 1) // 2
    z = x.mean(dim=(2, 3))                                        # (N, C)
    zeros = minicnn.Tensor(z.xp.zeros((n, half), dtype=z.dtype))
    z_pad = minicnn.cat([zeros, z, zeros], dim=1)                 # (N, C + k - 1)
    a = sum(weight[j] * z_pad[:, j:j + c] for j in range(k))      # a_c = sum_j w_j z_pad[c + j]
    return F.sigmoid(a).reshape(n, c, 1, 1) * x
    # END SOLUTION

