# GENERATED from solutions/ch09_gather_excite_selective_kernel.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 9.1 9.2`.
"""Exercises of notebook 9: Gather-Excite (Hu et al., NeurIPS 2018) and Selective Kernel (Li et al., CVPR 2019).

* 9.1 Gather-Excite generalises SE's squeeze: it gathers each channel over a
  neighbourhood of extent e instead of the whole map, so the channel gate
  varies over space. The parameter-free variant GE-theta-minus needs only an
  average pooling, a nearest upsampling and a sigmoid.
* 9.2 SK runs M branches with different receptive fields (3x3 convolutions
  with dilations 1, 2, ...) and lets the network choose, per channel, how much
  of each branch to keep: an attention over *branches* (not positions).

Write them with minicnn's differentiable ops; the tests compare with
``nn.GENoParams``, with SK's ``Fuse`` and ``Select`` (their batch norm
replaced by the identity), and with PyTorch.

Grade with ``minicnn grade 9``.
"""
from minicnn import functional as F


def gather_excite(x, extent):
    """Parameter-free Gather-Excite, GE-theta-minus (Hu et al., NeurIPS 2018):

        gather   Z = avg_pool(x)  with kernel 2e - 1, stride e, padding e - 1, border windows
                                  averaging only real pixels (count_include_pad=False);
                                  extent e = 0 means global: Z = GAP(x), (N, C, 1, 1)
        excite   y = sigmoid(nearest_upsample(Z, size=(H, W))) * x

    as ``nn.GENoParams(extent)``.
    """
    # Exercise 9.1: your code here.
    raise NotImplementedError('Exercise 9.1: parameter-free Gather-Excite (GE-theta-minus). Hint: gather with F.avg_pool2d(kernel 2e-1, stride e, padding e-1, count_include_pad=False), excite with nearest upsampling and a sigmoid')


def sk_fuse_select(branches, fc_weight, select_weight):
    """Fuse the branch outputs and select among them.

        U      = sum_m U_m                                   (N, C, H, W)
        s      = GAP(U)                                      (N, C)
        z      = relu(W_fc s)                                (N, d)      (the module puts a BN before the ReLU)
        a      = W_sel z, read as (N, M, C)                  row m*C + c of W_sel belongs to branch m, channel c
        alpha  = softmax(a) over the branch axis m           sums to 1 over the M branches, per channel
        V      = sum_m alpha_m * U_m                         (N, C, H, W)

    ``branches``: (N, M, C, H, W); ``fc_weight``: (d, C); ``select_weight``: (M*C, d).
    Returns V.
    """
    # Exercise 9.2: your code here.
    raise NotImplementedError('Exercise 9.2: Selective Kernel: fuse and select. Hint: U = sum of branches; z = relu(GAP(U) @ W_fc.T); softmax over the branch axis of z @ W_sel.T')
