"""Exercises of notebook 13: the segmentation networks' building blocks.

* 13.1 DeepLabv3's atrous spatial pyramid pooling (ASPP), from convolutions;
* 13.2 PSPNet's pyramid pooling module, with your own adaptive average pooling;
* 13.3 the backward pass of max-unpooling (SegNet, DeconvNet), on raw arrays;
* 13.4 Monte Carlo dropout prediction (Kendall & Gal): mean, variance, entropy, mutual information.

13.1 and 13.2 use minicnn's differentiable functions (``F.conv2d``, ``F.relu``,
``F.cat``, ``F.interpolate`` ...), so their backward passes come for free; the
tests compare them with ``minicnn.models.ASPP`` and
``minicnn.models.PyramidPoolingModule`` (whose batch norms are made identities)
and with PyTorch. 13.3 works on raw arrays of any backend
(``xp = get_array_module(x)``).

Grade with ``minicnn grade 13``.
"""
from minicnn import functional as F
from minicnn.autograd import no_grad
from minicnn.backend import get_array_module
from minicnn.nn.layers import Dropout


def aspp(x, w_1x1, w_atrous, rates, w_pool, w_project):
    """Atrous spatial pyramid pooling (DeepLabv3), without batch norm and biases.

    Five branches of the same input x (N, C, H, W), each followed by a ReLU:

        b_0 = relu(conv1x1(x, w_1x1))                                       w_1x1: (C', C, 1, 1)
        b_k = relu(conv3x3(x, w_atrous[k], dilation r_k, padding r_k))      w_atrous[k]: (C', C, 3, 3)
        b_4 = relu(conv1x1(mean of x over H, W, w_pool)), copied to H x W    w_pool: (C', C, 1, 1)
        y   = relu(conv1x1(concat[b_0, b_1, ..., b_4] along channels, w_project))   w_project: (C', 5 C', 1, 1)

    (``len(rates)`` atrous branches: 3 in the paper, rates 6, 12, 18.) Padding = rate keeps H x W.
    Upsampling a 1 x 1 map bilinearly copies it: ``expand`` (or ``F.interpolate``) does that.
    """
    # BEGIN SOLUTION 13.1
    n, _, height, width = x.shape
    branches = [F.relu(F.conv2d(x, w_1x1))]
    for w, rate in zip(w_atrous, rates):
        branches.append(F.relu(F.conv2d(x, w, padding=rate, dilation=rate)))
    pooled = F.relu(F.conv2d(x.mean(dim=(2, 3), keepdim=True), w_pool))       # (N, C', 1, 1)
    branches.append(pooled.expand(n, pooled.shape[1], height, width))
    return F.relu(F.conv2d(F.cat(branches, dim=1), w_project))
    # END SOLUTION


def adaptive_avg_pool2d(x, output_size):
    """Average pooling into an ``output_size`` x ``output_size`` grid of bins (torch's adaptive rule):

        row bin i covers rows floor(i H / b) to ceil((i + 1) H / b)   (end excluded), b = output_size

    and the same for the columns. Bins may overlap and differ in size by one. Build the output
    from slices ``x[:, :, r0:r1, c0:c1].mean(dim=(2, 3), keepdim=True)`` with ``F.cat``.
    """
    # BEGIN SOLUTION 13.2
    height, width = x.shape[2:]
    b = output_size

    def bins(size):
        return [((i * size) // b, -((-(i + 1) * size) // b)) for i in range(b)]

    rows = []
    for r0, r1 in bins(height):
        cells = [x[:, :, r0:r1, c0:c1].mean(dim=(2, 3), keepdim=True) for c0, c1 in bins(width)]
        rows.append(F.cat(cells, dim=3))
    return F.cat(rows, dim=2)
    # END SOLUTION


def pyramid_pooling(x, weights, bins=(1, 2, 3, 6)):
    """PSPNet's pyramid pooling module, without batch norm:

        for each bin size b with its weight w_b (C', C, 1, 1):
            p_b = relu(conv1x1(adaptive_avg_pool2d(x, b), w_b))             (N, C', b, b)
            u_b = bilinear upsampling of p_b to H x W, align_corners=True
        y = concat[x, u_1, u_2, ...] along channels                          (N, C + len(bins) C', H, W)

    Use your ``adaptive_avg_pool2d`` and ``F.interpolate``.
    """
    # BEGIN SOLUTION 13.2
    size = tuple(x.shape[2:])
    levels = [x]
    for w, b in zip(weights, bins):
        pooled = F.relu(F.conv2d(adaptive_avg_pool2d(x, b), w))
        levels.append(F.interpolate(pooled, size=size, mode="bilinear", align_corners=True))
    return F.cat(levels, dim=1)
    # END SOLUTION


def max_unpool2d_forward(x, indices, output_size):
    """Max-unpooling (given): y[n, c] is zero except y[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j].

    ``indices`` come from ``F.max_pool2d(..., return_indices=True)`` (h * W + w in each plane);
    ``output_size`` = (H, W) of the map before the pooling.
    """
    xp = get_array_module(x)
    n, c = x.shape[:2]
    height, width = output_size
    out = xp.zeros((n * c, height * width), dtype=x.dtype)
    planes = xp.arange(n * c).reshape(n * c, 1)
    out[planes, indices.reshape(n * c, -1)] = x.reshape(n * c, -1)
    return out.reshape(n, c, height, width)


def max_unpool2d_backward(grad_output, indices):
    """dL/dx of max-unpooling: every input x[n, c, i, j] was written to one output position
    indices[n, c, i, j], so its gradient is the upstream gradient read back at that position:

        dL/dx[n, c, i, j] = grad_output[n, c].flat[indices[n, c, i, j]]

    (a gather: the transpose of the forward's scatter). Returns an array of ``indices``' shape.
    """
    # BEGIN SOLUTION 13.3
    xp = get_array_module(grad_output)
    n, c = grad_output.shape[:2]
    planes = grad_output.reshape(n * c, -1)
    flat = indices.reshape(n * c, -1)
    return xp.take_along_axis(planes, flat, axis=1).reshape(indices.shape)
    # END SOLUTION


def mc_dropout_predict(model, x, T=10):
    """MC dropout: T stochastic forward passes with dropout *on* and everything else in eval mode.

    Returns raw arrays ``(mean, variance, entropy, mutual_information)``:

        p_t  = softmax(model(x), dim=1).data, t = 1..T      (N, C, H, W) each, computed without gradients
        mean = (1/T) sum_t p_t                               (N, C, H, W)
        variance = (1/T) sum_t p_t^2 - mean^2                (N, C, H, W)
        entropy  = -sum_c mean_c log mean_c                  (N, H, W)
        mutual_information = entropy - (1/T) sum_t (-sum_c p_{t,c} log p_{t,c})   (N, H, W)

    Put the model in eval mode (batch norm uses its running statistics), then switch only its
    ``Dropout`` modules (``isinstance(m, Dropout)``; Dropout2d is one) back to training; restore
    every module's ``training`` flag at the end. Run the passes in order, one per t.
    """
    # BEGIN SOLUTION 13.4
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    for m in model.modules():
        if isinstance(m, Dropout):
            m.training = True
    try:
        with no_grad():
            samples = [F.softmax(model(x), dim=1).data for _ in range(T)]
    finally:
        for m, mode in modes:
            m.training = mode
    xp = get_array_module(samples[0])
    p = xp.stack(samples)
    mean = p.mean(axis=0)
    variance = (p ** 2).mean(axis=0) - mean ** 2

    def entropy(q, axis):
        return -(q * xp.log(xp.where(q > 0, q, 1.0))).sum(axis=axis)

    h_mean = entropy(mean, 1)
    return mean, variance, h_mean, h_mean - entropy(p, 2).mean(axis=0)
    # END SOLUTION
