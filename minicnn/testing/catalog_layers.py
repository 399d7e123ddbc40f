"""Gradient-check catalogue entries for the layers, losses, attention modules and networks.

Imported by :mod:`minicnn.testing.catalog`, which holds the core ops' entries
and the runner. Sizes are tiny (each numeric gradient costs two forward
passes per entry of every checked input), odd where it matters, and strides
do not divide the input.
"""
import numpy as np

from .. import functional as F
from .. import nn
from ..random import manual_seed
from ..tensor import Tensor
from .attention_cases import ATTENTION_CASES, attention_check
from .catalog import entry, module_case, positive_array, randn_array, tie_free_array


def _image(rng, n=2, c=3, h=7, w=6):
    return randn_array(rng, n, c, h, w)


# ------------------------------------------------------------------ convolutions
@entry("conv2d", "conv")
def _(rng):
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=(1, 2), dilation=(2, 1))  # noqa: E731
    return fn, [_image(rng), randn_array(rng, 4, 3, 3, 2), randn_array(rng, 4)]


@entry("conv2d groups", "conv")
def _(rng):
    fn = lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=1, groups=2)  # noqa: E731
    return fn, [_image(rng, c=4), randn_array(rng, 6, 2, 3, 3)]


@entry("conv2d depthwise", "conv")
def _(rng):
    fn = lambda x, w: F.conv2d(x, w, padding="same", groups=3)  # noqa: E731
    return fn, [_image(rng), randn_array(rng, 3, 1, 3, 3)]


@entry("conv1d", "conv")
def _(rng):
    fn = lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1)  # noqa: E731
    return fn, [randn_array(rng, 2, 3, 9), randn_array(rng, 2, 3, 3), randn_array(rng, 2)]


@entry("conv_transpose2d", "conv")
def _(rng):
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)  # noqa: E731
    return fn, [_image(rng, h=4, w=3), randn_array(rng, 3, 2, 3, 3), randn_array(rng, 2)]


@entry("conv_transpose2d groups+dilation", "conv")
def _(rng):
    fn = lambda x, w: F.conv_transpose2d(x, w, stride=(2, 1), groups=2, dilation=2)  # noqa: E731
    return fn, [_image(rng, c=4, h=3, w=4), randn_array(rng, 4, 1, 2, 2)]


@entry("Conv2d", "conv")
def _(rng):
    return module_case(nn.Conv2d(3, 4, 3, stride=2, padding=1), _image(rng))


@entry("SeparableConv2d", "conv")
def _(rng):
    return module_case(nn.SeparableConv2d(3, 4, 3, padding=1), _image(rng))


@entry("CoordConv2d", "conv")
def _(rng):
    return module_case(nn.CoordConv2d(3, 2, 3, with_r=True), _image(rng))


@entry("ConvTranspose2d", "conv")
def _(rng):
    return module_case(nn.ConvTranspose2d(3, 2, 2, stride=2), _image(rng, h=3, w=4))


# ------------------------------------------------------------------ pooling and resampling
@entry("max_pool2d", "pooling")
def _(rng):
    fn = lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True)  # noqa: E731
    return fn, [tie_free_array(rng, 2, 2, 7, 6)]


@entry("max_pool2d dilation", "pooling")
def _(rng):
    fn = lambda x: F.max_pool2d(x, 2, stride=1, dilation=2)  # noqa: E731
    return fn, [tie_free_array(rng, 2, 2, 5, 6)]


@entry("max_unpool2d", "pooling")
def _(rng):
    x = tie_free_array(rng, 2, 2, 6, 4)
    _, indices = F.max_pool2d(x.detach(), 2, return_indices=True)
    fn = lambda y: F.max_unpool2d(y, indices, 2)  # noqa: E731
    return fn, [randn_array(rng, 2, 2, 3, 2)]


@entry("avg_pool2d", "pooling")
def _(rng):
    fn = lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)  # noqa: E731
    return fn, [_image(rng)]


@entry("adaptive_avg_pool2d", "pooling")
def _(rng):
    return (lambda x: F.adaptive_avg_pool2d(x, (3, 4))), [_image(rng)]


@entry("adaptive_max_pool2d", "pooling")
def _(rng):
    return (lambda x: F.adaptive_max_pool2d(x, (2, 3))), [tie_free_array(rng, 2, 2, 7, 6)]


@entry("interpolate nearest", "resampling")
def _(rng):
    return (lambda x: F.interpolate(x, size=(7, 5), mode="nearest")), [_image(rng, h=3, w=4)]


@entry("interpolate bilinear", "resampling")
def _(rng):
    fn = lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
    return fn, [_image(rng, h=3, w=4)]


@entry("interpolate bilinear align_corners", "resampling")
def _(rng):
    fn = lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True)  # noqa: E731
    return fn, [_image(rng, h=3, w=4)]


@entry("pad reflect", "resampling")
def _(rng):
    return (lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect")), [_image(rng)]


@entry("pad replicate", "resampling")
def _(rng):
    return (lambda x: F.pad(x, (1, 3, 2, 0), mode="replicate")), [_image(rng)]


@entry("pad constant", "resampling")
def _(rng):
    return (lambda x: F.pad(x, (1, 2, 0, 1), value=0.5)), [_image(rng)]


# ------------------------------------------------------------------ normalisation, dropout
@entry("batch_norm train", "norm")
def _(rng):
    c = 3
    mean, var = Tensor(np.zeros(c)), Tensor(np.ones(c))
    fn = lambda x, g, b: F.batch_norm(x, mean, var, g, b, training=True)  # noqa: E731
    return fn, [_image(rng, c=c), positive_array(rng, c), randn_array(rng, c)]


@entry("batch_norm eval", "norm")
def _(rng):
    c = 3
    mean, var = Tensor(rng.standard_normal(c)), Tensor(rng.uniform(0.5, 2, c))
    fn = lambda x, g, b: F.batch_norm(x, mean, var, g, b, training=False)  # noqa: E731
    return fn, [_image(rng, c=c), positive_array(rng, c), randn_array(rng, c)]


@entry("BatchNorm1d", "norm")
def _(rng):
    return module_case(nn.BatchNorm1d(4), randn_array(rng, 5, 4))


@entry("dropout", "norm")
def _(rng):
    def fn(x):
        manual_seed(0)  # the same mask at every evaluation
        return F.dropout(x, 0.3, training=True)
    return fn, [randn_array(rng, 4, 5)]


# ------------------------------------------------------------------ losses
def _labels(rng, shape, classes):
    return Tensor(rng.integers(0, classes, size=shape))


@entry("cross_entropy", "losses")
def _(rng):
    target, weight = _labels(rng, (3,), 4), Tensor(rng.uniform(0.5, 2, 4))
    return (lambda x: F.cross_entropy(x, target, weight)), [randn_array(rng, 3, 4)]


@entry("cross_entropy 4-D + weight map", "losses")
def _(rng):
    target = _labels(rng, (2, 3, 4), 3)
    target.data[0, 0, 0] = -100
    pixel_weight = Tensor(rng.uniform(0.5, 3, (2, 3, 4)))
    return (lambda x: F.cross_entropy(x, target, pixel_weight=pixel_weight)), [randn_array(rng, 2, 3, 3, 4)]


@entry("nll_loss", "losses")
def _(rng):
    target = _labels(rng, (4,), 3)
    return (lambda x: F.nll_loss(x, target, reduction="sum")), [randn_array(rng, 4, 3)]


@entry("binary_cross_entropy_with_logits", "losses")
def _(rng):
    target = Tensor(rng.random((3, 4)))
    pos_weight = Tensor(rng.uniform(0.5, 2, 4))
    fn = lambda x: F.binary_cross_entropy_with_logits(x, target, pos_weight=pos_weight)  # noqa: E731
    return fn, [randn_array(rng, 3, 4)]


@entry("mse_loss", "losses")
def _(rng):
    return F.mse_loss, [randn_array(rng, 3, 4), randn_array(rng, 3, 4)]


@entry("dice_loss", "losses")
def _(rng):
    target = _labels(rng, (2, 4, 3), 3)
    return (lambda x: F.dice_loss(x, target, from_logits=True)), [randn_array(rng, 2, 3, 4, 3)]


# ------------------------------------------------------------------ attention modules
# One row per row of the table the tests read (testing/attention_cases.py), with a fixed seed.
def _register_attention(name, case):
    @entry(name, "attention")
    def _(rng):
        fn, inputs, _ = attention_check(case, int(rng.integers(2 ** 16)))
        return fn, inputs


for _name, _case in ATTENTION_CASES.items():
    _register_attention(_name, _case)
