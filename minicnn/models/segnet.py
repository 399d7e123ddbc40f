"""Encoder-decoder networks that upsample by max-unpooling: DeconvNet and SegNet.

* Noh, Hong & Han, "Learning Deconvolution Network for Semantic Segmentation",
  ICCV 2015 (DeconvNet);
* Badrinarayanan, Kendall & Cipolla, "SegNet: A Deep Convolutional
  Encoder-Decoder Architecture for Image Segmentation", TPAMI 2017;
* Kendall, Badrinarayanan & Cipolla, "Bayesian SegNet", 2015 (the dropout option).

FCN upsamples coarse score maps with one fixed-size up-conv, so "the
detailed structures of an object are often lost or smoothed" (Noh et al., 2015;
[Noh et al., 2015] in docs/bibliography.md).
These two networks instead *mirror* the encoder with a decoder of the same
depth. The key piece is the **pooling / unpooling** pair: each 2x2 max
pooling of the encoder remembers *where* each maximum was (the switch, or
pooling index); the decoder's max-unpooling puts each value back at exactly
that position and zeros elsewhere:

    encoder:   y, idx = max_pool2d(x, 2, 2, return_indices=True)      # idx: argmax, h * W + w
    decoder:   u = max_unpool2d(y', idx, 2, 2, output_size=x.shape)   # y' at idx, 0 elsewhere

The unpooled map is sparse (one non-zero in every 2x2 block) but its non-zeros
sit on the object's strongest edges, so boundaries come back sharp; the
convolutions that follow make the map dense again. The indices cost
2 bits per pooled value instead of the full encoder map that U-Net copies.

* **DeconvNet**: VGG16 encoder (13 convolutions, each + BN + ReLU) with
  fc6 (7x7 conv, valid: pool5's 7x7 map -> 1x1) and fc7 (1x1), then the
  mirrored decoder: deconv-fc6 (a 7x7 transposed conv, 1x1 -> 7x7), and per
  stage max-unpooling + transposed 3x3 convolutions ("deconvolution"
  layers) + BN + ReLU, and a 1x1 convolution to the class scores. It
  segments fixed-size 224x224 object proposals (the paper combines the
  proposals' score maps by a pixel-wise max). 251,805,653 parameters with
  21 classes and the paper's sizes (``DeconvNet.paper()``).
* **SegNet**: the same VGG16 encoder without fully connected layers (14.7M
  parameters instead of 134M, as the paper stresses), a mirrored decoder of
  ordinary 3x3 convolutions + BN + ReLU after each unpooling, and a final
  3x3 convolution to the class scores. Any input size works (the unpooling is
  given the encoder's pre-pooling size). 29,449,355 parameters with the
  paper's 11 CamVid classes (``SegNet.paper()``; the paper's 117 MB model).
  ``dropout=p`` makes it Bayesian SegNet: dropout after the three deepest
  encoder stages and the three deepest decoder stages, kept on at test time
  for Monte Carlo dropout (:mod:`minicnn.uncertainty`).

Both convolutions carry biases before their batch norms, as the authors' Caffe
models do. Defaults are narrow (``base_channels=8``) for the course's 64x64
cells; the stages have 1, 2, 4, 8, 8 times ``base_channels`` channels and
``blocks`` convolutions (VGG16: 2, 2, 3, 3, 3). Every forward pass keeps its
pooling indices in ``model.last_indices`` (finest first) for inspection.
"""
from .. import functional as F
from ..nn.containers import ModuleList, Sequential
from ..nn.conv import Conv2d, ConvTranspose2d
from ..nn.layers import Dropout, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d

__all__ = ["SegNet", "DeconvNet"]

VGG16_BLOCKS = (2, 2, 3, 3, 3)
PAPER_SEGNET = dict(base_channels=64, blocks=VGG16_BLOCKS)
PAPER_DECONVNET = dict(base_channels=64, blocks=VGG16_BLOCKS, fc_channels=4096, input_size=224)


def conv_bn_relu(in_channels, out_channels, kernel_size=3, transposed=False):
    """3x3 convolution (or transposed convolution, DeconvNet's "deconvolution"), BN, ReLU; size kept."""
    conv = ConvTranspose2d if transposed else Conv2d
    return [conv(in_channels, out_channels, kernel_size, padding=kernel_size // 2),
            BatchNorm2d(out_channels), ReLU()]


def _widths(base_channels):
    return [base_channels * m for m in (1, 2, 4, 8, 8)]


def _encoder(in_channels, widths, blocks):
    """One Sequential of (conv, BN, ReLU) x n per stage; the pooling is done in forward."""
    stages, c_in = [], in_channels
    for width, n in zip(widths, blocks):
        layers = []
        for i in range(n):
            layers += conv_bn_relu(c_in if i == 0 else width, width)
        stages.append(Sequential(*layers))
        c_in = width
    return ModuleList(stages)


def _decoder(widths, blocks, transposed, last_layer=True):
    """The mirror of the encoder, deepest stage first: stage s has n_s layers, the first n_s - 1 keep
    its width c_s and the last one maps c_s -> c_{s-1} (c_s -> c_1 for the first stage).
    ``last_layer=False`` leaves out the very last layer (SegNet's classifier takes its place)."""
    stages = []
    for s in reversed(range(len(widths))):
        width, n = widths[s], blocks[s]
        out = widths[s - 1] if s > 0 else widths[0]
        if s == 0 and not last_layer:
            n -= 1
        layers = []
        for i in range(n):
            layers += conv_bn_relu(width, out if i == blocks[s] - 1 else width, transposed=transposed)
        stages.append(Sequential(*layers))
    return ModuleList(stages)


def _check(name, x, in_channels):
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{name}: expected input of shape (N, {in_channels}, H, W), got {tuple(x.shape)}")
    if min(x.shape[2:]) < 32:
        raise ValueError(f"{name}: H and W must be at least 32 (five 2x2 poolings), got {tuple(x.shape[2:])}")


class SegNet(Module):
    """SegNet: VGG encoder, max-unpooling decoder; (N, in_channels, H, W) -> (N, num_classes, H, W).

    Args:
        num_classes: number of classes.
        in_channels: image channels.
        base_channels: channels of the first stage (paper: 64).
        blocks: convolutions per stage (VGG16: 2, 2, 3, 3, 3).
        dropout: Bayesian SegNet's dropout rate (0: plain SegNet; the Bayesian paper uses 0.5).
    """

    def __init__(self, num_classes, in_channels=3, base_channels=8, blocks=VGG16_BLOCKS, dropout=0.0):
        super().__init__()
        if len(blocks) != 5:
            raise ValueError(f"SegNet: blocks must give the convolutions of the 5 stages, got {blocks!r}")
        self.num_classes, self.in_channels, self.dropout_p = num_classes, in_channels, dropout
        widths = _widths(base_channels)
        self.encoder = _encoder(in_channels, widths, blocks)
        self.decoder = _decoder(widths, blocks, transposed=False, last_layer=False)
        # The last layer of the last decoder stage scores the classes: a 3x3 conv, no BN or ReLU.
        self.classifier = Conv2d(widths[0], num_classes, 3, padding=1)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        self.last_indices = None

    @classmethod
    def paper(cls, num_classes=11, in_channels=3, **overrides):
        """The paper's SegNet (VGG16 widths): 29,449,355 parameters for the 11 CamVid classes."""
        return cls(num_classes, in_channels, **{**PAPER_SEGNET, **overrides})

    def forward(self, x):
        _check("SegNet", x, self.in_channels)
        n_stages = len(self.encoder)
        indices, sizes = [], []
        for s, stage in enumerate(self.encoder):
            x = stage(x)
            sizes.append(tuple(x.shape[2:]))
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)     # remember where the maxima were
            indices.append(idx)
            if self.dropout is not None and s >= n_stages - 3:       # Bayesian SegNet, deepest 3 encoders
                x = self.dropout(x)
        self.last_indices = [i.detach() for i in indices]
        for d, stage in enumerate(self.decoder):
            s = n_stages - 1 - d                                     # the encoder stage it mirrors
            x = F.max_unpool2d(x, indices[s], 2, 2, output_size=sizes[s])   # back to the argmax positions
            x = stage(x)
            if self.dropout is not None and d < 3 and s > 0:          # and the deepest 3 decoders
                x = self.dropout(x)
        return self.classifier(x)


class DeconvNet(Module):
    """DeconvNet: VGG encoder with fc6/fc7, mirrored deconvolution network; fixed input size.

    Args:
        num_classes: number of classes.
        in_channels: image channels.
        base_channels: channels of the first stage (paper: 64).
        blocks: convolutions per stage (VGG16: 2, 2, 3, 3, 3).
        fc_channels: width of fc6 and fc7 (paper: 4096).
        input_size: the (square) input size; fc6's kernel is input_size / 32, so that fc6 maps pool5
            to a 1x1 map (paper: 224, a 7x7 kernel).
    """

    def __init__(self, num_classes, in_channels=3, base_channels=8, blocks=VGG16_BLOCKS, fc_channels=64,
                 input_size=64):
        super().__init__()
        if len(blocks) != 5:
            raise ValueError(f"DeconvNet: blocks must give the convolutions of the 5 stages, got {blocks!r}")
        if input_size % 32 or input_size < 32:
            raise ValueError(f"DeconvNet: input_size must be a positive multiple of 32, got {input_size}")
        self.num_classes, self.in_channels, self.input_size = num_classes, in_channels, input_size
        widths = _widths(base_channels)
        k = input_size // 32
        self.encoder = _encoder(in_channels, widths, blocks)
        self.fc6 = Sequential(Conv2d(widths[4], fc_channels, k), BatchNorm2d(fc_channels), ReLU())   # k x k -> 1x1
        self.fc7 = Sequential(Conv2d(fc_channels, fc_channels, 1), BatchNorm2d(fc_channels), ReLU())
        self.deconv_fc6 = Sequential(ConvTranspose2d(fc_channels, widths[4], k), BatchNorm2d(widths[4]),
                                     ReLU())                                                     # 1x1 -> k x k
        self.decoder = _decoder(widths, blocks, transposed=True)
        self.classifier = Conv2d(widths[0], num_classes, 1)
        self.last_indices = None

    @classmethod
    def paper(cls, num_classes=21, in_channels=3, **overrides):
        """The paper's DeconvNet: VGG16 widths, fc 4096, 224x224 inputs; 251,805,653 parameters (21 classes)."""
        return cls(num_classes, in_channels, **{**PAPER_DECONVNET, **overrides})

    def forward(self, x):
        _check("DeconvNet", x, self.in_channels)
        if tuple(x.shape[2:]) != (self.input_size, self.input_size):
            raise ValueError(f"DeconvNet: built for {self.input_size}x{self.input_size} inputs (fc6 covers the "
                             f"whole pool5 map), got {x.shape[2]}x{x.shape[3]}")
        indices = []
        for stage in self.encoder:
            x, idx = F.max_pool2d(stage(x), 2, 2, return_indices=True)
            indices.append(idx)
        self.last_indices = [i.detach() for i in indices]
        x = self.deconv_fc6(self.fc7(self.fc6(x)))
        for d, stage in enumerate(self.decoder):
            x = F.max_unpool2d(x, indices[len(indices) - 1 - d], 2, 2)
            x = stage(x)
        return self.classifier(x)

