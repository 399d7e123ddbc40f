"""Exercise of notebook 9: Selective Kernel's fuse and select (Li et al., CVPR 2019).

SK runs M branches with different receptive fields (3x3 convolutions with
dilations 1, 2, ...) and lets the network choose, per channel, how much of
each branch to keep: an attention over *branches* (not positions).

Write it with minicnn's differentiable ops; the tests compare with
``nn.Fuse`` and ``nn.Select`` (their batch norm replaced by the identity)
and with PyTorch.

Grade with ``minicnn grade 9``.
"""
from minicnn import functional as F


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
    # BEGIN SOLUTION 9.1
    n, m, c = branches.shape[:3]
    s = branches.sum(dim=1).mean(dim=(2, 3))                          # (N, C)
    z = F.relu(s @ fc_weight.transpose(0, 1))                         # (N, d)
    a = (z @ select_weight.transpose(0, 1)).reshape(n, m, c, 1, 1)    # (N, M, C, 1, 1)
    alpha = F.softmax(a, dim=1)
    return (alpha * branches).sum(dim=1)
    # END SOLUTION
