"""Layers that change the sampling grid of feature maps, as in ``torch.nn``:

* upsampling: ``Upsample`` (nearest or bilinear, by size or scale factor), ``UpsamplingNearest2d``,
  ``UpsamplingBilinear2d`` (align_corners=True), see :mod:`minicnn.ops.interpolate`;
* padding: ``ZeroPad2d``, ``ConstantPad2d``, ``ReflectionPad2d``, ``ReplicationPad2d``,
  ``CircularPad2d``, see :mod:`minicnn.ops.padding`. ``padding`` is an int (all four sides) or
  (left, right, top, bottom).
"""
from .. import functional as F
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "ZeroPad2d", "ConstantPad2d",
           "ReflectionPad2d", "ReplicationPad2d", "CircularPad2d"]


def _float_or_tuple(scale_factor):
    if scale_factor is None:
        return None
    if isinstance(scale_factor, (list, tuple)):
        return tuple(float(f) for f in scale_factor)
    return float(scale_factor)


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor`` with ``F.interpolate`` ('nearest', 'nearest-exact',
    'bilinear' or 'area')."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = _float_or_tuple(scale_factor)
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode='nearest')``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode='bilinear', align_corners=True)`` (the corner pixels of input and output align)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


def _four(padding, name):
    if isinstance(padding, (list, tuple)):
        if len(padding) != 4:
            raise ValueError(f"{name}: padding must be an int or a 4-tuple (left, right, top, bottom), "
                             f"got {padding!r}")
        return tuple(int(p) for p in padding)
    return (int(padding),) * 4


class _Pad2d(Module):
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _four(padding, type(self).__name__)

    def _check_input(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
                             f"got shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input(input)
        return F.pad(input, self.padding, mode=self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad2d(_Pad2d):
    """Pad the last two dimensions with ``value``."""

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        self._check_input(input)
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad2d(_Pad2d):
    """Pad by mirroring about the edge (the edge entry itself is not repeated)."""

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad by repeating the edge entry."""

    mode = "replicate"


class CircularPad2d(_Pad2d):
    """Pad by wrapping around (periodic boundary)."""

    mode = "circular"
