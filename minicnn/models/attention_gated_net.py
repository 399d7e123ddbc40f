"""The attention-gated classification network of Schlemper et al. (2019).

Schlemper, Oktay, Schaap, Heinrich, Kainz, Glocker, Rueckert, "Attention
gated networks: Learning to leverage salient regions in medical images",
Medical Image Analysis 2019 (the official code: ozan-oktay/Attention-Gated-
Networks, ``sononet_grid_attention``).

A plain VGG-like feature extractor, five blocks of 3x3 convolutions (padding 1)
with 2x2 max pooling between them (AG-Sononet, the paper's network)::

    conv1: 3 x [conv 3x3, 8 filters, ReLU]      H
    conv2: 3 x [conv 3x3, 16 filters, ReLU]     H/2
    conv3: 3 x [conv 3x3, 32 filters, ReLU]     H/4    (1)
    conv4: 2 x [conv 3x3, 64 filters, ReLU]     H/8    (2)
    conv5: 2 x [conv 3x3, 64 filters, ReLU]     H/16   (3)

A classifier that only looks at (3) sees a coarse, global summary. Here two
additive attention gates (:class:`~minicnn.nn.AttentionGate`, 64
intermediate channels, no sub-sampling) use (3) as the gating signal g to pick
out the positions of (1) and (2) that matter for the class:

    alpha_k = sigmoid(psi(relu(W_x x_k + resample(W_g g))))       (N, 1, H_k, W_k)
    f_k     = 1/(H_k W_k) sum_{h,w} alpha_k[h, w] x_k[:, h, w]     attention-weighted pooling, k = 1, 2
    f_3     = 1/(H_3 W_3) sum_{h,w} g[:, h, w]                    global average pooling

Aggregation then predicts the class from the three vectors:

* ``"concat"`` (the official default): one Linear layer on cat[f_1, f_2, f_3] (32 + 64 + 64).
* ``"mean"``: one Linear layer per vector, the three predictions averaged.

The official code sums alpha * x over the positions; the mean used here is
the same up to the factor 1 / (H_k W_k) and keeps the logits independent of
the image size. Batch norm after every convolution (``batch_norm=True``) is
the official code's choice (the seed lists only conv + ReLU).

``model.attention_maps()`` returns [alpha_1, alpha_2] of the last forward pass.
Inputs need H, W >= 16 (four poolings).
"""
from ..nn.attention.attention_gate import AttentionGate
from ..nn.containers import Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Linear, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import MaxPool2d
from ..ops import cat

__all__ = ["AttentionGatedClassifier", "conv_block"]

AGGREGATIONS = ("concat", "mean")


def conv_block(in_channels, out_channels, n_convs, batch_norm=True):
    """``n_convs`` x [3x3 conv (padding 1) - (BN) - ReLU] as a Sequential."""
    layers = []
    for k in range(n_convs):
        layers.append(Conv2d(in_channels if k == 0 else out_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(out_channels))
        layers.append(ReLU())
    return Sequential(*layers)


class AttentionGatedClassifier(Module):
    """Attention-gated classifier: (N, in_channels, H, W) -> (N, num_classes) scores.

    Args:
        in_channels: image channels (default 1).
        num_classes: number of classes (default 10).
        channels: filters of the five blocks (default (8, 16, 32, 64, 64), the paper's).
        n_convs: convolutions per block (default (3, 3, 3, 2, 2)).
        batch_norm: batch norm after every convolution (default True, the official code).
        aggregation: ``"concat"`` (default) or ``"mean"``, see the module docstring.
    """

    def __init__(self, in_channels=1, num_classes=10, channels=(8, 16, 32, 64, 64), n_convs=(3, 3, 3, 2, 2),
                 batch_norm=True, aggregation="concat"):
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"AttentionGatedClassifier: aggregation must be one of {AGGREGATIONS}, "
                             f"got {aggregation!r}")
        if len(channels) != 5 or len(n_convs) != 5:
            raise ValueError(f"AttentionGatedClassifier: channels and n_convs need 5 entries (one per block), "
                             f"got channels={channels!r}, n_convs={n_convs!r}")
        self.in_channels, self.num_classes, self.aggregation = in_channels, num_classes, aggregation
        c1, c2, c3, c4, c5 = channels
        self.conv1 = conv_block(in_channels, c1, n_convs[0], batch_norm)
        self.conv2 = conv_block(c1, c2, n_convs[1], batch_norm)
        self.conv3 = conv_block(c2, c3, n_convs[2], batch_norm)     # (1)
        self.conv4 = conv_block(c3, c4, n_convs[3], batch_norm)     # (2)
        self.conv5 = conv_block(c4, c5, n_convs[4], batch_norm)     # (3), the gating signal
        self.pool = MaxPool2d(kernel_size=2, stride=2)
        # Gates on (1) and (2), gated by (3), with c4 (64) intermediate channels, on x's own grid.
        self.gate1 = AttentionGate(c3, c5, inter_channels=c4, sub_sample_factor=1)
        self.gate2 = AttentionGate(c4, c5, inter_channels=c4, sub_sample_factor=1)
        if aggregation == "concat":
            self.classifier = Linear(c3 + c4 + c5, num_classes)
        else:
            self.classifier1 = Linear(c3, num_classes)
            self.classifier2 = Linear(c4, num_classes)
            self.classifier3 = Linear(c5, num_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels or min(x.shape[2:]) < 16:
            raise ValueError(f"AttentionGatedClassifier: expected input of shape (N, {self.in_channels}, H, W) "
                             f"with H, W >= 16 (four 2x2 poolings), got {tuple(x.shape)}")
        x1 = self.conv3(self.pool(self.conv2(self.pool(self.conv1(x)))))   # (1)
        x2 = self.conv4(self.pool(x1))                                       # (2)
        g = self.conv5(self.pool(x2))                                        # (3)

        f1 = self.gate1(x1, g).mean(dim=(2, 3))     # attention-weighted pooling of (1): (N, c3)
        f2 = self.gate2(x2, g).mean(dim=(2, 3))     # of (2): (N, c4)
        f3 = g.mean(dim=(2, 3))                     # global average pooling of (3): (N, c5)

        if self.aggregation == "concat":
            return self.classifier(cat([f1, f2, f3], dim=1))
        return (self.classifier1(f1) + self.classifier2(f2) + self.classifier3(f3)) / 3

    def attention_maps(self):
        """[alpha_1, alpha_2]: the gates' coefficients on (1) and (2) of the last forward pass."""
        return [self.gate1.attention_map, self.gate2.attention_map]

    def extra_repr(self):
        return f"in_channels={self.in_channels}, num_classes={self.num_classes}, " \
               f"aggregation={self.aggregation!r}"
