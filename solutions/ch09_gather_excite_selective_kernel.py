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
    # BEGIN SOLUTION 9.1
    height, width = x.shape[2:]
    if extent == 0:
        gathered = x.mean(dim=(2, 3), keepdim=True)
    else:
        gathered = F.avg_pool2d(x, kernel_size=2 * extent - 1, stride=extent, padding=extent - 1,
                                count_include_pad=False)
    gate = F.sigmoid(F.interpolate(gathered, size=(height, width), mode="nearest"))
    return gate * x
    # END SOLUTION


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
    # BEGIN SOLUTION 9.2
    n, m, c = branches.shape[:3]
    s = branches.sum(dim=1).mean(dim=(2, 3))                          # (N, C)
    z = F.relu(s @ fc_weight.transpose(0, 1))                         # (N, d)
    a = (z @ select_weight.transpose(0, 1)).reshape(n, m, c, 1, 1)    # (N, M, C, 1, 1)
    alpha = F.softmax(a, dim=1)
    return (alpha * branches).sum(dim=1)
    # END SOLUTION
