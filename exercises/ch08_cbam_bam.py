# GENERATED from solutions/ch08_cbam_bam.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 8.1 8.2 8.3`.
"""Exercises of notebook 8: CBAM and BAM, channel *and* spatial attention.

Write them with minicnn's differentiable ops (``x.mean``, ``x.amax``,
``F.conv2d``, ``F.relu``, ``F.sigmoid``, ``minicnn.cat`` ...); autograd gives
the backward. The tests compare output and gradients with minicnn's modules
(``nn.CBAMChannelAttention``, ``nn.CBAMSpatialAttention``, ``nn.BAM``) and
with PyTorch.

Grade with ``minicnn grade 8``.
"""
import minicnn
from minicnn import functional as F


def mlp(v, w0, b0, w1, b1):
    """The shared two-layer MLP of CBAM's channel attention: W1 relu(W0 v + b0) + b1, v: (N, C)."""
    return F.relu(v @ w0.transpose(0, 1) + b0) @ w1.transpose(0, 1) + b1


def cbam_channel_attention(x, w0, b0, w1, b1):
    """CBAM's channel attention (Woo et al., ECCV 2018):

        Mc = sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x)))       (N, C, 1, 1)
        y  = Mc * x

    AvgPool and MaxPool are global (over H and W); *one* MLP (use :func:`mlp`)
    sees both pooled vectors. ``w0``: (C/r, C), ``b0``: (C/r,), ``w1``:
    (C, C/r), ``b1``: (C,).
    """
    # Exercise 8.1: your code here.
    raise NotImplementedError("Exercise 8.1: CBAM's channel attention. Hint: one shared MLP on the average- and the max-pooled vector; add before the sigmoid")


def cbam_spatial_attention(x, weight, bias):
    """CBAM's spatial attention:

        P  = [mean over channels of x ; max over channels of x]     (N, 2, H, W), in that order
        Ms = sigmoid(conv_kxk(P) + bias)                            (N, 1, H, W), padding k // 2
        y  = Ms * x

    ``weight``: (1, 2, k, k) with k odd (7 in the paper); ``bias``: (1,).
    """
    # Exercise 8.2: your code here.
    raise NotImplementedError("Exercise 8.2: CBAM's spatial attention. Hint: stack [mean over channels, max over channels] into (N, 2, H, W); 7x7 conv with padding 3; sigmoid")


def bam(x, params, dilation=4, combine="sum"):
    """The bottleneck attention module (Park et al., BMVC 2018), without its batch norms:

        channel  Mc = W1 relu(W0 GAP(x) + b0) + b1                         (N, C, 1, 1)
        spatial  Ms = conv1x1_3(relu(conv3x3_2(relu(conv3x3_1(relu(conv1x1_0(x)))))))   (N, 1, H, W)
                 both 3x3 convolutions dilated by ``dilation`` with padding ``dilation``
        combine  M  = sigmoid(Mc + Ms)   (combine="sum", the paper)
                 M  = sigmoid(Mc * Ms)   (combine="product", the official code)
        output   y  = (1 + M) * x

    ``params`` holds Tensors: ``"channel.w0"`` (C/r, C), ``"channel.b0"`` (C/r,),
    ``"channel.w1"`` (C, C/r), ``"channel.b1"`` (C,); ``"spatial.w0"`` (C/r, C, 1, 1),
    ``"spatial.w1"``, ``"spatial.w2"`` (C/r, C/r, 3, 3), ``"spatial.w3"`` (1, C/r, 1, 1),
    and the biases ``"spatial.b0"`` ... ``"spatial.b3"``.
    """
    # Exercise 8.3: your code here.
    raise NotImplementedError('Exercise 8.3: the bottleneck attention module (BAM). Hint: y = (1 + sigmoid(M_c + M_s)) * x; the spatial branch uses 3x3 convs with dilation 4 and padding 4')
