"""U-Net (Ronneberger, Fischer, Brox, MICCAI 2015) and Attention U-Net (Oktay et al., MIDL 2018).

A contracting path of ``depth`` levels, each two 3x3 convolutions + ReLU and a
2x2 max pooling, doubles the channels at every level (64 -> 128 -> 256 -> 512
-> 1024 in the paper); an expanding path climbs back: an "up-convolution"
halves the channels and doubles the size, the feature map of the same level
of the contracting path is *copied* (centre-cropped when needed) and
concatenated, and two 3x3 convolutions + ReLU follow. A final 1x1 convolution
maps the 64 channels to the class scores ([Ronneberger et al., 2015] in
docs/bibliography.md; the sizes of the 3x3 conv, 2x2 max pooling and 2x2 up-conv):

    level i (0 = full resolution) has c_i = base_channels * 2**i channels
    encoder[i]:  x_i  = double_conv(pool(x_{i-1}))                       c_{i-1} -> c_i
    decoder[i]:  y_i  = double_conv(cat[crop(x_i), up(y_{i+1})])          2 c_i -> c_i
    head:        scores = conv1x1(y_0)                                    c_0 -> num_classes

Two versions, chosen with ``padding``:

* ``"valid"`` (the paper's network, the default): unpadded convolutions, so
  every 3x3 convolution trims 2 pixels and the output is smaller than the
  input (572x572 -> 388x388; for depth 4 an input of 16 b + 124 gives an output
  of 16 b - 60, b >= 4). The skip features are larger than the up-sampled maps
  and are centre-cropped. Only some input sizes work: every map before a
  pooling must have an even size; :meth:`UNet.output_size` says which and
  :meth:`UNet.valid_input_size` finds the nearest one. Predict a large image
  tile by tile with overlap (the paper's overlap-tile strategy).
* ``"same"`` (the variant used in practice, e.g. milesial/Pytorch-UNet):
  padding 1 keeps the size, so the output has the input's size; H and W must be
  divisible by 2**depth.

Other options: ``batch_norm`` (after every 3x3 conv, before the ReLU; the paper
has none), ``upsampling`` (``"transpose"``: the paper's 2x2 stride-2
transposed convolution; ``"bilinear"``: bilinear up-sampling by 2,
``align_corners=False``, followed by a 1x1 convolution that halves the
channels, which avoids the checkerboard artefacts of transposed convolutions),
``dropout`` (the paper drops out at the end of the contracting path; the
rate is not given, default 0 = off), and ``attention_gates``.

With ``attention_gates=True`` (Attention U-Net), every skip feature x_i is
multiplied by attention coefficients alpha_i in (0, 1) from an additive
:class:`~minicnn.nn.AttentionGate` before the concatenation, gated by the
coarser feature y_{i+1} of the expanding path (the bottleneck for the deepest
level). The gates use the official code's sub-sampling factor 2, so the gate is
computed on y_{i+1}'s grid; in "valid" mode the skip is cropped *before*
gating. The official 3-D network has no gate on the finest level; here every
level is gated. ``model.attention_maps()`` returns the alpha maps of the last
forward pass, ``[alpha_0, ..., alpha_{depth-1}]`` (finest first), each
(N, 1, H_i, W_i).

Parameters of the paper's network (in_channels=1, num_classes=2,
base_channels=64, depth=4, valid, transposed convolutions, no batch norm):
31,030,658. Initialisation: the paper's, a Gaussian with std sqrt(2 / N), N the
number of incoming connections (kaiming normal, fan_in), for every 3x3 and 1x1
convolution; biases and transposed convolutions keep PyTorch's default.
"""
from .. import functional as F
from .. import init
from ..nn.attention.attention_gate import AttentionGate
from ..nn.containers import ModuleList, Sequential
from ..nn.conv import Conv2d, ConvTranspose2d
from ..nn.layers import Dropout, Identity
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import MaxPool2d
from ..nn.resampling import Upsample
from ..ops import cat

__all__ = ["UNet", "DoubleConv", "UpBlock", "center_crop"]

PADDINGS = ("valid", "same")
UPSAMPLINGS = ("transpose", "bilinear")


def center_crop(x, size):
    """The central ``size = (h, w)`` window of ``x`` (N, C, H, W); its backward zero-pads the gradient."""
    h, w = size
    height, width = x.shape[2], x.shape[3]
    if h > height or w > width:
        raise ValueError(f"center_crop: cannot crop a {height}x{width} map to {h}x{w}")
    if (h, w) == (height, width):
        return x
    top, left = (height - h) // 2, (width - w) // 2
    return x[:, :, top:top + h, left:left + w]


class DoubleConv(Module):
    """Two [3x3 conv - (BN) - ReLU] layers: U-Net's unit of every level.

    ``padding="valid"`` trims 2 pixels per convolution (4 per unit); ``"same"`` keeps the size.
    """

    def __init__(self, in_channels, out_channels, padding="valid", batch_norm=False):
        super().__init__()
        pad = 0 if padding == "valid" else 1
        self.conv1 = Conv2d(in_channels, out_channels, kernel_size=3, padding=pad)
        self.bn1 = BatchNorm2d(out_channels) if batch_norm else None
        self.conv2 = Conv2d(out_channels, out_channels, kernel_size=3, padding=pad)
        self.bn2 = BatchNorm2d(out_channels) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x if self.bn1 is None else self.bn1(x))
        x = self.conv2(x)
        return F.relu(x if self.bn2 is None else self.bn2(x))


class UpBlock(Module):
    """One level of the expanding path: ``up`` (x2, in_channels -> out_channels) and ``conv``.

    ``forward(x, skip)`` = conv(cat[crop(skip), up(x)]), the skip first (as in the paper's figure).
    """

    def __init__(self, in_channels, out_channels, padding="valid", batch_norm=False, upsampling="transpose"):
        super().__init__()
        if upsampling == "transpose":
            self.up = ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        else:
            self.up = Sequential(Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                 Conv2d(in_channels, out_channels, kernel_size=1))
        self.conv = DoubleConv(2 * out_channels, out_channels, padding, batch_norm)

    def forward(self, x, skip):
        up = self.up(x)
        skip = center_crop(skip, up.shape[2:])
        return self.conv(cat([skip, up], dim=1))


class UNet(Module):
    """U-Net for semantic segmentation: (N, in_channels, H, W) -> (N, num_classes, H_out, W_out).

    Args:
        in_channels: image channels (default 1, the paper's grey-level microscopy images).
        num_classes: output channels, one score map per class (default 2: cell / background).
        base_channels: channels of the first level (default 64); level i has base * 2**i.
        depth: number of poolings (default 4).
        padding: ``"valid"`` (the paper, default: the output is smaller than the input) or ``"same"``.
        batch_norm: batch norm after every 3x3 convolution (default False, as the paper).
        upsampling: ``"transpose"`` (the paper's 2x2 up-conv, default) or ``"bilinear"`` (+ 1x1 conv).
        attention_gates: gate every skip connection with an AttentionGate (Attention U-Net).
        dropout: dropout rate at the end of the contracting path (default 0: none).
    """

    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4, padding="valid",
                 batch_norm=False, upsampling="transpose", attention_gates=False, dropout=0.0):
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"UNet: padding must be one of {PADDINGS}, got {padding!r}")
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"UNet: upsampling must be one of {UPSAMPLINGS}, got {upsampling!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"UNet: depth must be a positive integer, got {depth!r}")
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        self.padding, self.upsampling = padding, upsampling
        channels = [base_channels * 2 ** i for i in range(depth + 1)]

        self.encoder = ModuleList([DoubleConv(in_channels if i == 0 else channels[i - 1], channels[i],
                                              padding, batch_norm) for i in range(depth + 1)])
        self.pool = MaxPool2d(kernel_size=2, stride=2)
        self.dropout = Dropout(dropout) if dropout > 0 else Identity()
        self.decoder = ModuleList([UpBlock(channels[i + 1], channels[i], padding, batch_norm, upsampling)
                                   for i in range(depth)])
        if attention_gates:
            self.gates = ModuleList([AttentionGate(channels[i], channels[i + 1]) for i in range(depth)])
        else:
            self.gates = None
        self.head = Conv2d(channels[0], num_classes, kernel_size=1)
        self._attention_maps = []
        self._init_weights()

    def _init_weights(self):
        """The paper's initialisation: std sqrt(2 / fan_in) for the U-Net's own convolutions."""
        gate_parts = set() if self.gates is None else {id(m) for m in self.gates.modules()}
        for m in self.modules():
            if isinstance(m, Conv2d) and id(m) not in gate_parts:
                init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    # ------------------------------------------------------------------ sizes
    def _trace_size(self, size):
        """Follow one spatial size through the network; None if some step does not fit."""
        trim = 4 if self.padding == "valid" else 0      # two 3x3 convolutions per level
        for _ in range(self.depth):                     # contracting path
            size -= trim
            if size <= 0 or size % 2:
                return None
            size //= 2
        size -= trim                                    # bottleneck
        if size <= 0:
            return None
        for _ in range(self.depth):                     # expanding path
            size = 2 * size - trim
            if size <= 0:
                return None
        return size

    def output_size(self, size):
        """The output size for an input of spatial size ``size`` (one side), or a ValueError."""
        out = self._trace_size(size)
        if out is None:
            lower, upper = self.valid_input_size(size, "down"), self.valid_input_size(size, "up")
            if self.padding == "valid":
                rule = (f"with valid padding every map before a pooling must have an even size and every "
                        f"map a positive one (depth {self.depth}: sizes {self._size_rule()})")
            else:
                rule = f"with same padding it must be divisible by 2**depth = {2 ** self.depth}"
            nearest = " or ".join(str(s) for s in (lower, upper) if s is not None)
            raise ValueError(f"UNet(padding={self.padding!r}, depth={self.depth}): input size {size} does "
                             f"not fit; {rule}. Nearest valid input sizes: {nearest}")
        return out

    def _size_rule(self):
        step = 2 ** self.depth
        offset = 4 * (2 ** (self.depth + 1) - 1)        # s = 2**d * b + 4 (2**(d+1) - 1)
        return f"{step} b + {offset}, b >= {self._min_bottom()}"

    def _min_bottom(self):
        b = 1
        while self._trace_size(2 ** self.depth * b + 4 * (2 ** (self.depth + 1) - 1)) is None:
            b += 1
        return b

    def valid_input_size(self, size, direction="nearest"):
        """The nearest input size that fits (``direction``: ``"nearest"``, ``"up"`` or ``"down"``).

        ``"down"`` returns None when no smaller size fits.
        """
        if direction == "nearest":
            lower, upper = self.valid_input_size(size, "down"), self.valid_input_size(size, "up")
            return upper if lower is None or upper - size < size - lower else lower
        step = 1 if direction == "up" else -1
        candidate = size
        while candidate > 0:
            if self._trace_size(candidate) is not None:
                return candidate
            candidate += step
        return None

    # ------------------------------------------------------------------ forward
    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"UNet: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        for side in x.shape[2:]:
            self.output_size(side)                      # raises with the nearest valid sizes

        skips = []                                      # contracting path
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        x = self.dropout(skips.pop())                   # the bottleneck

        self._attention_maps = [None] * self.depth
        for i in reversed(range(self.depth)):           # expanding path, deepest level first
            up_size = (2 * x.shape[2], 2 * x.shape[3])
            skip = center_crop(skips[i], up_size)
            if self.gates is not None:
                skip = self.gates[i](skip, x)           # alpha_i * skip, gated by the coarser x
                self._attention_maps[i] = self.gates[i].attention_map
            x = self.decoder[i](x, skip)
        return self.head(x)

    def attention_maps(self):
        """The attention gates' alpha maps of the last forward pass, finest level first (empty without gates)."""
        if self.gates is None:
            return []
        return list(self._attention_maps)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, num_classes={self.num_classes}, depth={self.depth}, "
                f"padding={self.padding!r}, upsampling={self.upsampling!r}")
