"""The additive attention gate of Attention U-Net and attention-gated networks.

Oktay et al., "Attention U-Net: Learning Where to Look for the Pancreas",
MIDL 2018; Schlemper et al., "Attention gated networks: Learning to leverage
salient regions in medical images", Medical Image Analysis 2019 ([Oktay et al., 2018],
[Schlemper et al., 2019] in docs/bibliography.md).

A skip feature x_l (N, F_l, H, W) is gated by a coarser *gating signal*
g (N, F_g, H_g, W_g) that carries context from deeper layers. Each position
gets a coefficient alpha in (0, 1) (additive attention):

    q     = psi^T relu(W_x^T x_l + W_g^T g + b_g) + b_psi       per position
    alpha = sigmoid(q)                                          (N, 1, H, W), one value for all channels
    y     = alpha * x_l

W_x, W_g and psi are 1x1 convolutions (linear maps over channels) with
F_int intermediate channels:

* ``theta`` = W_x (F_l -> F_int), no bias (b_g lives in phi). It is an
  s x s convolution of stride s = ``sub_sample_factor``: the default s = 2
  (the official code's) computes the gate on a grid twice as coarse as x,
  which is usually g's own grid in a U-Net; s = 1 makes theta a 1x1
  convolution and computes the gate on x's grid;
* ``phi`` = W_g (F_g -> F_int) with bias b_g; its output is resampled
  (bilinear, ``align_corners=False``) to theta's grid, so g may be coarser;
* ``psi`` (F_int -> 1) with bias b_psi. For s > 1, alpha is resampled
  (bilinear) back to x's H x W.

The names ``theta``, ``phi``, ``psi`` and ``inter_channels`` (default
F_l // 2, at least 1) are those of the official implementation
(ozan-oktay/Attention-Gated-Networks, ``GridAttentionBlock2D`` in
"concatenation" mode). Its optional output transform (a 1x1 conv and batch
norm after the gate) is left to the network that uses the gate.

``self.attention_map`` (and, as on every attention module,
``self.last_attention``) holds alpha of the last forward pass on x's grid,
detached, (N, 1, H, W).
"""
from ... import functional as F
from ...utils import check_positive_ints
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ._common import check_input
from .base import AttentionModule

__all__ = ["AttentionGate"]


class AttentionGate(AttentionModule):
    """Additive attention gate: y = sigmoid(psi(relu(theta(x) + resample(phi(g))))) * x.

    Args:
        in_channels: F_l, channels of the gated feature x.
        gating_channels: F_g, channels of the gating signal g.
        inter_channels: F_int (default ``max(in_channels // 2, 1)``).
        sub_sample_factor: s; theta is an s x s convolution of stride s (default 2, as the
            official code; 1 computes the gate on x's own grid).
        mode: interpolation mode of the resampling, ``"bilinear"`` (default) or ``"nearest"``.

    ``forward(x, g)`` returns the gated x (same shape as x).
    """

    def __init__(self, in_channels, gating_channels, inter_channels=None, sub_sample_factor=2,
                 mode="bilinear"):
        super().__init__()
        if inter_channels is None:
            inter_channels = max(in_channels // 2, 1)
        name = f"AttentionGate(in_channels={in_channels}, gating_channels={gating_channels})"
        check_positive_ints(name, in_channels=in_channels, gating_channels=gating_channels,
                       inter_channels=inter_channels, sub_sample_factor=sub_sample_factor)
        if mode not in ("bilinear", "nearest"):
            raise ValueError(f"{name}: mode must be 'bilinear' or 'nearest', got {mode!r}")
        self.in_channels, self.gating_channels = in_channels, gating_channels
        self.inter_channels, self.sub_sample_factor, self.mode = inter_channels, sub_sample_factor, mode
        self.theta = Conv2d(in_channels, inter_channels, kernel_size=sub_sample_factor,
                            stride=sub_sample_factor, bias=False)
        self.phi = Conv2d(gating_channels, inter_channels, kernel_size=1)
        self.psi = Conv2d(inter_channels, 1, kernel_size=1)
        self.relu = ReLU()
        self.sigmoid = Sigmoid()
        self.attention_map = None

    def _resample(self, t, size):
        if tuple(t.shape[2:]) == tuple(size):
            return t
        if self.mode == "bilinear":
            return F.interpolate(t, size=size, mode="bilinear", align_corners=False)
        return F.interpolate(t, size=size, mode="nearest")

    def forward(self, x, g):
        check_input(self, x, self.in_channels)
        if g.ndim != 4 or g.shape[1] != self.gating_channels or g.shape[0] != x.shape[0]:
            raise ValueError(f"{type(self).__name__}: expected a gating signal of shape "
                             f"({x.shape[0]}, {self.gating_channels}, H_g, W_g), got {tuple(g.shape)}")
        theta_x = self.theta(x)                                     # W_x x: (N, F_int, H/s, W/s)
        phi_g = self._resample(self.phi(g), theta_x.shape[2:])      # W_g g + b_g on theta's grid
        q = self.psi(self.relu(theta_x + phi_g))                    # (N, 1, H/s, W/s)
        alpha = self._resample(self.sigmoid(q), x.shape[2:])        # back to x's grid when s > 1
        self.keep_attention(alpha)
        self.attention_map = self.last_attention
        return alpha * x

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, gating_channels={self.gating_channels}, "
                f"inter_channels={self.inter_channels}, sub_sample_factor={self.sub_sample_factor}")
