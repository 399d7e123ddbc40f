# GENERATED from solutions/ch07_channel_attention.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 7.1 7.2 7.3`.
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
    # Exercise 7.1: your code here.
    raise NotImplementedError('Exercise 7.1: squeeze-and-excitation (SE). Hint: z = x.mean((2, 3)); s = sigmoid(relu(z @ w1.T + b1) @ w2.T + b2); y = x * s[:, :, None, None]')


def eca_kernel_size(channels, gamma=2, b=1):
    """ECA's adaptive kernel size (Wang et al., CVPR 2020): k = |log2(C) / gamma + b / gamma|_odd.

    As in the official code: truncate t = (log2(C) + b) / gamma to an integer,
    and add 1 when it is even. C = 64 gives 3; 128 to 1024 give 5; 2048
    gives 7. Raise ``ValueError`` for ``channels < 1``.
    """
    # Exercise 7.2: your code here.
    raise NotImplementedError("Exercise 7.2: ECA's adaptive kernel size. Hint: t = int(abs((log2(C) + b) / gamma)); k = t if t is odd else t + 1")


def eca(x, weight):
    """Efficient channel attention: a 1-D convolution over the pooled channels (no bias).

        z = GAP(x)                                         (N, C)
        a_c = sum_{j=0}^{k-1} w_j z_{c + j - (k-1)/2}      zero padding (k - 1) / 2 at both ends
        y = sigmoid(a)[:, :, None, None] * x

    ``weight``: (k,) with k odd. It is a *cross-correlation*, as every
    convolution in deep learning: with w = [1, 10, 100] and z = [1, 0, 0, 0]
    the result is a = [10, 1, 0, 0].
    """
    # Exercise 7.3: your code here.
    raise NotImplementedError('Exercise 7.3: efficient channel attention (ECA). Hint: zero-pad the pooled channels by (k - 1) // 2 on both ends; a[c] = sum_j w[j] z_pad[c + j]')

