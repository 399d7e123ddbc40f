"""DANet's self-attention modules: the Position Attention Module (PAM) and the
Channel Attention Module (CAM).

Fu, Liu, Tian, Li, Bao, Fang, Lu, "Dual Attention Network for Scene
Segmentation", CVPR 2019 ([Fu et al., 2019] in docs/bibliography.md); the notation is
the paper's.

Position attention (PAM). From the local feature A (N, C, H, W), with
N_pos = H * W positions (flattened row-major: H major, W minor):

    B = conv1x1_key(A),  C = conv1x1_query(A)      (N, C/8, N_pos)    1x1 convs with biases
    D = conv1x1_value(A)                           (N, C, N_pos)
    s_ji = exp(B_i . C_j) / sum_i exp(B_i . C_j)   how much position i contributes to position j
    E_j  = gamma * sum_i s_ji D_i + A_j            gamma: a learned scalar, initialised to 0

In attention terms, C_j is the *query* at the output position j and B_i the
*key* of the position i that is summed over, so ``S = softmax(query^T key)``
with the softmax over the last (key) axis, and ``out = D S^T``. This is what
the official code computes with its ``query_conv``/``key_conv`` (the paper's
figure labels the two reduced maps the other way round; both are 1x1 convs
of the same shape, so only the names move). The attribute names are the
official code's: ``query_conv``, ``key_conv``, ``value_conv``, ``gamma``.

Channel attention (CAM) has no convolutions. With A reshaped to (N, C, N_pos):

    energy_ji = A_i . A_j                          (N, C, C), a Gram matrix
    x_ji = exp(energy_ji) / sum_i exp(energy_ji)   variant="paper" (the paper and the notes)
    x_ji = exp(max_k energy_jk - energy_ji) / sum_i exp(max_k energy_jk - energy_ji)
                                                   variant="official" (junfu1115/DANet's code)
    E_j  = gamma * sum_i x_ji A_i + A_j            gamma initialised to 0 (the paper's beta)

The official variant is softmax(-energy) (the row maximum cancels in the
softmax), so it gives *dissimilar* channels the larger weights; the authors
kept it because it trained more stably (CASIA-IVA-Lab/DANet issues #9, #48).
It is what the released weights were trained with. The paper's form is the
default here; both run through a max-subtracting (stable) softmax.

Because gamma starts at 0, a freshly built module is the identity and only
gamma receives a gradient at first; everything upstream of the attention
starts learning once gamma moves away from 0.

``last_attention`` (detached, last forward): PAM: S (N, N_pos, N_pos), row j
= weights over positions i for output position j; CAM: X (N, C, C).
Memory grows as N_pos^2: keep maps small.
"""
import numpy as np

from ..conv import Conv2d
from ..layers import Softmax
from ..module import Parameter
from ._common import check_input, reduced_dim
from .base import AttentionModule

__all__ = ["PAM", "CAM"]


class PAM(AttentionModule):
    """Position attention module: y = gamma * (value attended over positions) + x.

    Args:
        in_dim: number of input channels C; query and key have C // 8 channels.
    """

    def __init__(self, in_dim):
        super().__init__()
        qk_dim = reduced_dim(f"PAM(in_dim={in_dim})", in_dim, 8)
        self.in_dim = in_dim
        self.query_conv = Conv2d(in_dim, qk_dim, kernel_size=1)
        self.key_conv = Conv2d(in_dim, qk_dim, kernel_size=1)
        self.value_conv = Conv2d(in_dim, in_dim, kernel_size=1)
        self.gamma = Parameter(np.zeros(1, dtype=np.float32))   # initialised to 0
        self.softmax = Softmax(dim=-1)

    def forward(self, x):
        check_input(self, x, self.in_dim)
        n, c, height, width = x.shape
        positions = height * width
        query = self.query_conv(x).reshape(n, -1, positions).transpose(1, 2)   # (N, N_pos, C/8): C_j
        key = self.key_conv(x).reshape(n, -1, positions)                       # (N, C/8, N_pos): B_i
        energy = query @ key                                                   # [j, i] = C_j . B_i
        attention = self.softmax(energy)                                       # s_ji, rows sum to 1
        value = self.value_conv(x).reshape(n, c, positions)                    # D: (N, C, N_pos)
        out = (value @ attention.transpose(1, 2)).reshape(n, c, height, width)  # sum_i s_ji D_i
        self.keep_attention(attention)
        return self.gamma * out + x

    def extra_repr(self):
        return f"in_dim={self.in_dim}"


class CAM(AttentionModule):
    """Channel attention module: y = gamma * (channels attended over channels) + x.

    Args:
        variant: ``"paper"`` (softmax of the channel Gram matrix, default) or ``"official"``
            (softmax of rowmax - Gram matrix, i.e. of its negative, as the released code).
    """

    VARIANTS = ("paper", "official")

    def __init__(self, variant="paper"):
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"CAM: variant must be one of {self.VARIANTS}, got {variant!r}")
        self.variant = variant
        self.gamma = Parameter(np.zeros(1, dtype=np.float32))   # initialised to 0
        self.softmax = Softmax(dim=-1)

    def forward(self, x):
        check_input(self, x)
        n, c, height, width = x.shape
        features = x.reshape(n, c, height * width)                  # A: (N, C, N_pos)
        energy = features @ features.transpose(1, 2)                # [j, i] = A_j . A_i
        if self.variant == "official":
            energy = energy.amax(dim=-1, keepdim=True) - energy     # max_k E_jk - E_ji
        attention = self.softmax(energy)                            # x_ji, rows sum to 1
        out = (attention @ features).reshape(n, c, height, width)   # sum_i x_ji A_i
        self.keep_attention(attention)
        return self.gamma * out + x

    def extra_repr(self):
        return f"variant={self.variant!r}"
