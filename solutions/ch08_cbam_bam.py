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
    # BEGIN SOLUTION 8.1
    n, c = x.shape[:2]
    avg = x.mean(dim=(2, 3))                 # (N, C)
    peak = x.amax(dim=(2, 3))                # (N, C)
    attention = F.sigmoid(mlp(avg, w0, b0, w1, b1) + mlp(peak, w0, b0, w1, b1))
    return attention.reshape(n, c, 1, 1) * x
    # END SOLUTION


def cbam_spatial_attention(x, weight, bias):
    """CBAM's spatial attention:

        P  = [mean over channels of x ; max over channels of x]     (N, 2, H, W), in that order
        Ms = sigmoid(conv_kxk(P) + bias)                            (N, 1, H, W), padding k // 2
        y  = Ms * x

    ``weight``: (1, 2, k, k) with k odd (7 in the paper); ``bias``: (1,).
    """
    # BEGIN SOLUTION 8.2
    pooled = minicnn.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
    k = weight.shape[-1]
    attention = F.sigmoid(F.conv2d(pooled, weight, bias, padding=k // 2))
    return attention * x
    # END SOLUTION


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
    # BEGIN SOLUTION 8.3
    n, c = x.shape[:2]
    p = params
    z = x.mean(dim=(2, 3))
    channel = F.relu(z @ p["channel.w0"].transpose(0, 1) + p["channel.b0"]) @ p["channel.w1"].transpose(0, 1)
    channel = (channel + p["channel.b1"]).reshape(n, c, 1, 1)                         # Mc
    s = F.relu(F.conv2d(x, p["spatial.w0"], p["spatial.b0"]))
    s = F.relu(F.conv2d(s, p["spatial.w1"], p["spatial.b1"], padding=dilation, dilation=dilation))
    s = F.relu(F.conv2d(s, p["spatial.w2"], p["spatial.b2"], padding=dilation, dilation=dilation))
    spatial = F.conv2d(s, p["spatial.w3"], p["spatial.b3"])                           # Ms
    if combine == "sum":
        attention = F.sigmoid(channel + spatial)
    elif combine == "product":
        attention = F.sigmoid(channel * spatial)
    else:
        raise ValueError(f"bam: combine must be 'sum' or 'product', got {combine!r}")
    return (attention + 1) * x
    # END SOLUTION
