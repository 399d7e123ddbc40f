"""Fully convolutional networks: FCN-32s, FCN-16s and FCN-8s.

Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015 ([Long et al., 2015] in docs/bibliography.md), the first
fully convolutional segmentation network.

Three ideas turn a classification network into a segmentation network:

1. **Convolutionalise the classifier.** A fully connected layer is a
   convolution whose kernel covers its whole input: VGG16's fc6 (7x7x512 ->
   4096) becomes a 7x7 convolution, fc7 (4096 -> 4096) a 1x1 convolution.
   The network then accepts any image size and outputs a *map* of class
   scores, one score vector per 32x32 block of pixels ("score_fr").
2. **Upsample in the network.** A transposed convolution ("up-conv",
   "deconvolution") with kernel 2f, stride f and padding f/2 enlarges a map
   exactly f times. Initialised with the bilinear kernel (:func:`bilinear_kernel`)
   it *is* bilinear interpolation, and training may improve on it.
3. **Skip connections: global "what" + local "where".** The stride-32 scores
   know *what* is in the image but not precisely *where*. FCN-16s adds scores
   predicted from pool4 (stride 16) to the 2x-upsampled stride-32 scores;
   FCN-8s also adds scores from pool3 (stride 8):

       score_fr    = classifier(pool5)                                  stride 32
       FCN-32s:    out = up32(score_fr)
       fuse_pool4  = up2(score_fr) + score_pool4(pool4)                 stride 16
       FCN-16s:    out = up16(fuse_pool4)
       fuse_pool3  = up2(fuse_pool4) + score_pool3(pool3)               stride 8
       FCN-8s:     out = up8(fuse_pool3)

   The paper's mean IU on a subset of PASCAL VOC 2011 val: 59.4 (32s), 62.4 (16s), 62.7 (8s).

Layer names follow the authors' Caffe models (``fc6``, ``fc7``, ``score_fr``,
``score_pool4``, ``score_pool3``, ``upscore2``, ``upscore_pool4``,
``upscore8``, ``upscore16``, ``upscore``). As in the paper the score layers
start at zero (so FCN-16s starts out as FCN-32s, FCN-8s as FCN-16s) and the
up-convs, which have no bias, start bilinear. The paper then fixes the last
up-conv to bilinear; here every up-conv stays learnable.

Simplification: the Caffe models pad the image by 100 pixels and crop the
score maps back (so that any image size works with an unpadded 7x7 fc6); here
fc6 is padded by kernel_size // 2 instead, the score maps are exactly
H/32 x W/32, and H and W must be multiples of 32. The parameter count is
the same.

Sizes. ``paper=True`` in :func:`fcn8s` etc. builds the paper's FCN-VGG16:
``base_channels=64`` (VGG16 stages 64, 128, 256, 512, 512 with 2, 2, 3, 3, 3
convolutions), ``fc_channels=4096``, ``fc_kernel_size=7``, no batch norm,
dropout 0.5: 134,489,759 parameters for FCN-8s with 21 classes (the paper's
Table 1 says 134M for FCN-VGG16). The default is a narrow network
(``base_channels=8``, ``fc_channels=64``, 3x3 fc6, batch norm after every
convolution of the backbone) that trains from scratch on the generated cells.
"""
import numpy as np

from .. import functional as F
from .. import init
from ..backend import to_backend
from ..nn.containers import Sequential
from ..nn.conv import Conv2d, ConvTranspose2d
from ..nn.layers import Dropout, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..utils import check_positive_ints

__all__ = ["FCN", "fcn32s", "fcn16s", "fcn8s", "bilinear_kernel", "bilinear_init_", "vgg_stage",
           "FCN_VARIANTS"]

FCN_VARIANTS = ("32s", "16s", "8s")
VGG16_BLOCKS = (2, 2, 3, 3, 3)
#: The paper's FCN-VGG16 (pass to FCN, or use ``fcn8s(..., paper=True)``).
PAPER = dict(base_channels=64, blocks=VGG16_BLOCKS, fc_channels=4096, fc_kernel_size=7, batch_norm=False,
             dropout=0.5)


# =========================================================================== bilinear up-convs
def bilinear_kernel(kernel_size, dtype=np.float64):
    """The (k, k) kernel that makes a transposed convolution do bilinear interpolation.

    One axis: with the factor f = ceil(k / 2) and the centre c = f - 1 (k odd)
    or f - 1/2 (k even),

        w[i] = 1 - |i - c| / f,        i = 0 .. k-1,

    a triangle (the "hat" function of linear interpolation) sampled at the
    taps; the 2-D kernel is the outer product w[i] w[j]. For k = 2f, stride f
    and padding f/2, every output pixel then mixes its two nearest input pixels
    per axis with weights (1 - t, t): bilinear upsampling by f (the FCN
    authors' ``upsample_filt``, the ``bilinear`` filler of Caffe). k = 4:
    w = [1/4, 3/4, 3/4, 1/4].
    """
    check_positive_ints("bilinear_kernel", kernel_size=kernel_size)
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    w = 1.0 - np.abs(np.arange(kernel_size) - center) / factor
    return np.outer(w, w).astype(dtype)


def bilinear_init_(up_conv):
    """Fill a ``ConvTranspose2d(C, C, k, ...)`` with bilinear interpolation, channel by channel.

    weight[a, b] = bilinear_kernel(k) if a == b else 0, so each channel is
    upsampled on its own (no mixing between classes); the bias, if any, is 0.
    """
    if not isinstance(up_conv, ConvTranspose2d):
        raise TypeError(f"bilinear_init_: expected a ConvTranspose2d, got {type(up_conv).__name__}")
    c_in, c_out, kh, kw = up_conv.weight.shape
    if c_in != c_out or kh != kw or up_conv.groups != 1:
        raise ValueError(f"bilinear_init_: needs a square kernel and in_channels == out_channels (groups 1), got "
                         f"weight of shape {tuple(up_conv.weight.shape)} and groups={up_conv.groups}")
    weight = np.zeros((c_in, c_out, kh, kw))
    weight[np.arange(c_in), np.arange(c_in)] = bilinear_kernel(kh)
    up_conv.weight.data = to_backend(weight.astype(up_conv.weight.dtype), up_conv.weight.backend)
    if up_conv.bias is not None:
        init.zeros_(up_conv.bias)
    return up_conv


def _up_conv(channels, factor):
    """A bilinear-initialised ``ConvTranspose2d`` that enlarges a map exactly ``factor`` times
    (kernel 2 factor, stride factor, padding factor / 2; no bias, as in the Caffe models)."""
    return bilinear_init_(ConvTranspose2d(channels, channels, kernel_size=2 * factor, stride=factor,
                                          padding=factor // 2, bias=False))


# =========================================================================== the VGG backbone
def vgg_stage(in_channels, out_channels, n_convs, batch_norm):
    """``n_convs`` x (3x3 conv, padding 1 [, BN], ReLU): one VGG stage, before its 2x2 max pooling."""
    layers = []
    for i in range(n_convs):
        layers.append(Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(out_channels))
        layers.append(ReLU())
    return Sequential(*layers)


class FCN(Module):
    """FCN-32s, FCN-16s or FCN-8s on a VGG-style backbone: (N, in_channels, H, W) -> (N, num_classes, H, W).

    Args:
        num_classes: number of classes (score maps).
        variant: ``"32s"``, ``"16s"`` or ``"8s"`` (the stride of the finest scores that are fused).
        in_channels: image channels.
        base_channels: channels of the first stage; the stages have 1, 2, 4, 8, 8 times as many (VGG: 64).
        blocks: convolutions per stage (VGG16: 2, 2, 3, 3, 3).
        fc_channels: width of fc6 and fc7 (VGG16: 4096).
        fc_kernel_size: kernel of fc6 (VGG16: 7).
        batch_norm: batch norm after every backbone convolution (the paper has none).
        dropout: dropout after fc6 and fc7 (paper: 0.5).

    H and W must be multiples of 32. See the module docstring for the paper's sizes.
    """

    def __init__(self, num_classes, variant="8s", in_channels=3, base_channels=8, blocks=VGG16_BLOCKS,
                 fc_channels=64, fc_kernel_size=3, batch_norm=True, dropout=0.5):
        super().__init__()
        if variant not in FCN_VARIANTS:
            raise ValueError(f"FCN: variant must be one of {FCN_VARIANTS}, got {variant!r}")
        if len(blocks) != 5:
            raise ValueError(f"FCN: blocks must give the convolutions of the 5 VGG stages, got {blocks!r}")
        self.variant, self.num_classes, self.in_channels = variant, num_classes, in_channels
        widths = [base_channels * m for m in (1, 2, 4, 8, 8)]
        inputs = [in_channels] + widths[:-1]
        self.conv1 = vgg_stage(inputs[0], widths[0], blocks[0], batch_norm)      # then pool1: stride 2
        self.conv2 = vgg_stage(inputs[1], widths[1], blocks[1], batch_norm)      # pool2: stride 4
        self.conv3 = vgg_stage(inputs[2], widths[2], blocks[2], batch_norm)      # pool3: stride 8
        self.conv4 = vgg_stage(inputs[3], widths[3], blocks[3], batch_norm)      # pool4: stride 16
        self.conv5 = vgg_stage(inputs[4], widths[4], blocks[4], batch_norm)      # pool5: stride 32
        # the classifier, convolutionalised: fc6 is a k x k convolution, fc7 a 1x1 convolution
        self.fc6 = Conv2d(widths[4], fc_channels, fc_kernel_size, padding=fc_kernel_size // 2)
        self.drop6 = Dropout(dropout)
        self.fc7 = Conv2d(fc_channels, fc_channels, 1)
        self.drop7 = Dropout(dropout)
        self.score_fr = Conv2d(fc_channels, num_classes, 1)
        score_layers = [self.score_fr]
        if variant == "32s":
            self.upscore = _up_conv(num_classes, 32)
        else:
            self.score_pool4 = Conv2d(widths[3], num_classes, 1)
            self.upscore2 = _up_conv(num_classes, 2)
            score_layers.append(self.score_pool4)
            if variant == "16s":
                self.upscore16 = _up_conv(num_classes, 16)
            else:
                self.score_pool3 = Conv2d(widths[2], num_classes, 1)
                self.upscore_pool4 = _up_conv(num_classes, 2)
                self.upscore8 = _up_conv(num_classes, 8)
                score_layers.append(self.score_pool3)
        for layer in score_layers:          # the paper: scoring layers start at zero
            init.zeros_(layer.weight)
            init.zeros_(layer.bias)

    @classmethod
    def paper(cls, num_classes=21, variant="8s", in_channels=3, **overrides):
        """The paper's FCN-VGG16 (VGG16 backbone, fc6/fc7 of 4096 channels, 7x7 fc6, no batch norm)."""
        return cls(num_classes, variant, in_channels, **{**PAPER, **overrides})

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"FCN-{self.variant}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"FCN-{self.variant}: H and W must be multiples of 32 (five 2x2 poolings), got "
                             f"{x.shape[2]}x{x.shape[3]}")

    def forward(self, x):
        self._check_input(x)
        pool = lambda h: F.max_pool2d(h, 2, 2)                       # noqa: E731
        pool3 = pool(self.conv3(pool(self.conv2(pool(self.conv1(x))))))   # stride 8
        pool4 = pool(self.conv4(pool3))                                    # stride 16
        pool5 = pool(self.conv5(pool4))                                    # stride 32
        h = self.drop6(F.relu(self.fc6(pool5)))
        h = self.drop7(F.relu(self.fc7(h)))
        score = self.score_fr(h)                                           # what: coarse class scores
        if self.variant == "32s":
            return self.upscore(score)
        fuse_pool4 = self.upscore2(score) + self.score_pool4(pool4)        # + where, from stride 16
        if self.variant == "16s":
            return self.upscore16(fuse_pool4)
        fuse_pool3 = self.upscore_pool4(fuse_pool4) + self.score_pool3(pool3)   # + where, from stride 8
        return self.upscore8(fuse_pool3)

    def extra_repr(self):
        return f"variant={self.variant!r}"


def _build(variant, num_classes, in_channels, paper, kwargs):
    if paper:
        return FCN.paper(num_classes, variant, in_channels, **kwargs)
    return FCN(num_classes, variant, in_channels, **kwargs)


def fcn32s(num_classes=21, in_channels=3, paper=False, **kwargs):
    """FCN-32s (scores of pool5 only, upsampled 32x). ``paper=True``: FCN-VGG16, 136,152,917 parameters
    for 21 classes (1,806,336 of them in the 64x64 up-conv)."""
    return _build("32s", num_classes, in_channels, paper, kwargs)


def fcn16s(num_classes=21, in_channels=3, paper=False, **kwargs):
    """FCN-16s (pool5 + pool4 scores, upsampled 16x). ``paper=True``: VGG16 size, 134,815,994 parameters
    for 21 classes."""
    return _build("16s", num_classes, in_channels, paper, kwargs)


def fcn8s(num_classes=21, in_channels=3, paper=False, **kwargs):
    """FCN-8s (pool5 + pool4 + pool3 scores, upsampled 8x). ``paper=True``: VGG16 size, 134,489,759
    parameters for 21 classes."""
    return _build("8s", num_classes, in_channels, paper, kwargs)
