# GENERATED from solutions/ch10_self_attention.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 10.1 10.2`.
"""Exercises of notebook 10: DANet's self-attention (Fu et al., CVPR 2019).

With n = H * W positions, flattened row by row (``x.reshape(N, C, n)``):

* the position attention module (PAM) lets every position j gather the
  values of all positions i, weighted by how well its query matches their
  keys: an n x n attention map per image;
* the channel attention module (CAM) does the same between channels, with a
  C x C map built from the features themselves (no weights but gamma).

Both add the result to the input, scaled by a learned gamma (initialised to
0 in the network, so that the module starts as the identity).

Write them with minicnn's differentiable ops (``@``, ``transpose``,
``F.softmax``, ``amax`` ...); the tests compare with ``nn.PAM``, ``nn.CAM``
and PyTorch.

Grade with ``minicnn grade 10``.
"""
from minicnn import functional as F


def pam(x, wq, bq, wk, bk, wv, bv, gamma):
    """Position attention:

        Q = Wq x + bq,  K = Wk x + bk      (N, C', n)     1x1 convolutions: matrices over channels
        V = Wv x + bv                      (N, C, n)
        E = Q^T K                          (N, n, n)      E[j, i] = q_j . k_i (no 1/sqrt(d) scaling)
        S = softmax(E) over the last axis                  row j: the weights of the positions i
        O = V S^T                          (N, C, n)      O[:, :, j] = sum_i S[j, i] V[:, :, i]
        y = gamma * O + x                  reshaped to (N, C, H, W)

    ``wq``, ``wk``: (C', C); ``bq``, ``bk``: (C',); ``wv``: (C, C); ``bv``: (C,);
    ``gamma``: (1,).
    """
    # Exercise 10.1: your code here.
    raise NotImplementedError("Exercise 10.1: DANet's position attention module (PAM). Hint: E = Q^T K over the n = H W positions; S = softmax(E, -1); out = V @ S^T; y = gamma out + x")


def cam(x, gamma, variant="paper"):
    """Channel attention, with X = x.reshape(N, C, n):

        E = X X^T                          (N, C, C)      a Gram matrix of the channels
        S = softmax(E)                     variant="paper" (the paper's equation)
        S = softmax(rowmax(E) - E)         variant="official" (the released code: softmax(-E))
                                           softmax over the last axis in both cases
        y = gamma * (S X) + x              reshaped to (N, C, H, W)

    ``gamma``: (1,). The energies are sums over all n positions, so they are
    large: use a softmax that subtracts the row maximum (F.softmax does).
    """
    # Exercise 10.2: your code here.
    raise NotImplementedError("Exercise 10.2: DANet's channel attention module (CAM). Hint: E = X X^T (C x C); S = softmax(E) ('paper') or softmax(rowmax(E) - E) ('official') along the last axis; y = gamma (S @ X) + x")
