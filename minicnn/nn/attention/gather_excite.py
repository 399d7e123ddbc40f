"""Gather-Excite (GE): GE-theta-minus, GE-theta and GE-theta-plus.

Hu, Shen, Albanie, Sun, Vedaldi, "Gather-Excite: Exploiting Feature Context
in Convolutional Neural Networks", NeurIPS 2018.

A *gather* operator xi_G pools each channel over large neighbourhoods of
spatial extent e; an *excite* operator xi_E spreads the result back to every
position as a gate:

    Z = xi_G(x)                                  (N, C, ceil(H/e), ceil(W/e)), or (N, C, 1, 1) for e = 0
    y = x * sigmoid(interpolate_nearest(xi_E(Z), size=(H, W)))

Extent 0 means a *global* gather (one value per channel).

* ``GENoParams`` (GE-theta-minus): xi_G is average pooling with kernel 2e - 1,
  stride e and padding e - 1, whose border windows average only the real
  entries (``count_include_pad=False``); global: the mean over H and W.
  xi_E is the identity. The global version equals SE-Var1.
* ``GEParams`` (GE-theta): xi_G is log2(e) depthwise 3x3 convolutions of stride
  2 (no bias), each followed by batch norm, with ReLU *between* them (none
  after the last). Global: one depthwise convolution whose kernel covers the
  whole H x W map (no padding, no bias), then batch norm; the module then only
  accepts inputs of that size, given as ``spatial_dim`` when it is built.
* ``GEParamsPlus`` (GE-theta-plus): the GE-theta gather, then an SE-style MLP
  as xi_E: 1x1 conv C -> C/16 (bias), ReLU, 1x1 conv C/16 -> C (bias).

Names and layout follow the article "Attention in Vision" [BobMcDear, 2022]
(docs/bibliography.md), so its state_dicts load
(``gather.0.weight``, ``gather.1.running_mean``, ``gather.3.weight`` ...), with one
correction: the article builds the strided layers as ``n_layers * [conv, bn,
relu]``, which repeats the *same* three module objects, so all its
downsampling steps share one set of weights. Here every step has its own
layers. The official GE-theta-plus model also puts a ReLU after the gather's
batch norm; the article (and this code) does not.

``self.last_attention`` holds the gate sigmoid(...) of the last forward pass
at full resolution, detached, (N, C, H, W).
"""
import math

from ... import functional as F
from ...utils import pair
from ..containers import Sequential
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ..normalization import BatchNorm2d
from ..pooling import AdaptiveAvgPool2d, AvgPool2d
from ._common import check_input, reduced_dim
from .base import AttentionModule

__all__ = ["GENoParams", "GEParams", "GEParamsPlus"]


def _check_extent(name, extent, power_of_two):
    ok = isinstance(extent, int) and extent >= 0
    if ok and power_of_two and extent != 0:
        ok = extent >= 2 and (extent & (extent - 1)) == 0
    if not ok:
        expected = "0 (global) or a power of two >= 2" if power_of_two else "0 (global) or a positive integer"
        raise ValueError(f"{name}: extent must be {expected}, got {extent!r}")


class _GatherExcite(AttentionModule):
    """Shared forward: y = x * sigmoid(nearest_upsample(excite(gather(x)), (H, W)))."""

    in_dim = None
    spatial_dim = None

    def excite(self, gathered):
        return gathered

    def forward(self, x):
        check_input(self, x, self.in_dim)
        height, width = x.shape[2:]
        if self.spatial_dim is not None and (height, width) != self.spatial_dim:
            raise ValueError(f"{type(self).__name__}: built for inputs of spatial size {self.spatial_dim} "
                             f"(spatial_dim), got {(height, width)} (input shape {tuple(x.shape)})")
        gathered = self.gather(x)
        attention = F.interpolate(self.excite(gathered), size=(height, width), mode="nearest")
        attention = self.sigmoid(attention)
        self.keep_attention(attention)
        return attention * x

    def extra_repr(self):
        parts = [] if self.in_dim is None else [f"in_dim={self.in_dim}"]
        parts.append(f"extent={self.extent}")
        if self.spatial_dim is not None:
            parts.append(f"spatial_dim={self.spatial_dim}")
        return ", ".join(parts)


class GENoParams(_GatherExcite):
    """GE-theta-minus: parameter-free gather (average pooling) and excite.

    Args:
        extent: e; 0 for a global extent. The map is pooled with kernel 2e - 1 and stride e.
    """

    def __init__(self, extent):
        super().__init__()
        _check_extent("GENoParams", extent, power_of_two=False)
        self.extent = extent
        if extent == 0:
            self.gather = AdaptiveAvgPool2d(output_size=1)
        else:
            kernel_size = 2 * extent - 1
            self.gather = AvgPool2d(kernel_size=kernel_size, stride=extent, padding=kernel_size // 2,
                                    count_include_pad=False)
        self.sigmoid = Sigmoid()


def _parametric_gather(name, in_dim, extent, spatial_dim):
    """The GE-theta gather: depthwise convolutions and batch norms (ReLU between steps)."""
    if extent == 0:
        if spatial_dim is None:
            raise ValueError(f"{name}: a global extent (extent=0) needs spatial_dim, the input's (H, W), "
                             "because its depthwise kernel covers the whole map; got spatial_dim=None")
        return Sequential(
            Conv2d(in_dim, in_dim, kernel_size=spatial_dim, groups=in_dim, bias=False),
            BatchNorm2d(in_dim),
        )
    layers = []
    for step in range(int(math.log2(extent))):
        if step > 0:
            layers.append(ReLU())
        # New objects on every step: each downsampling step has its own weights.
        layers.append(Conv2d(in_dim, in_dim, kernel_size=3, stride=2, padding=1, groups=in_dim, bias=False))
        layers.append(BatchNorm2d(in_dim))
    return Sequential(*layers)


class GEParams(_GatherExcite):
    """GE-theta: a learned depthwise gather, parameter-free excite.

    Args:
        in_dim: number of input channels C.
        extent: e, 0 (global) or a power of two: log2(e) stride-2 depthwise convolutions.
        spatial_dim: (H, W) or an int, the input's spatial size; required for extent 0
            (the kernel size), and checked against every input when given.
    """

    def __init__(self, in_dim, extent, spatial_dim=None):
        super().__init__()
        name = f"{type(self).__name__}(in_dim={in_dim}, extent={extent})"
        _check_extent(name, extent, power_of_two=True)
        self.in_dim, self.extent = in_dim, extent
        self.spatial_dim = None if spatial_dim is None else pair(spatial_dim, "spatial_dim", type(self).__name__)
        self.gather = _parametric_gather(name, in_dim, extent, self.spatial_dim)
        self.sigmoid = Sigmoid()


class GEParamsPlus(GEParams):
    """GE-theta-plus: the GE-theta gather plus an SE-style MLP (1x1 convs with biases) as excite.

    Args:
        in_dim, extent, spatial_dim: as for :class:`GEParams`.
        reduction_factor: r of the MLP's hidden layer, C // r channels (16 in the paper and article).
    """

    def __init__(self, in_dim, extent, spatial_dim=None, reduction_factor=16):
        super().__init__(in_dim, extent, spatial_dim)
        bottleneck_dim = reduced_dim(f"GEParamsPlus(in_dim={in_dim})", in_dim, reduction_factor)
        self.mlp = Sequential(
            Conv2d(in_dim, bottleneck_dim, kernel_size=1),
            ReLU(),
            Conv2d(bottleneck_dim, in_dim, kernel_size=1),
        )

    def excite(self, gathered):
        return self.mlp(gathered)
