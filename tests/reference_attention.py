"""PyTorch reference implementations of the attention modules, for parity tests.

Written from the papers' equations and the course notes (seeds 001-003), not
from the article's code. Each class keeps its parameters in the *layout* of
the article "Attention in Vision" (seed 004) (same attribute names, so the
same state_dict keys) but computes its forward pass its own way, mostly with
``torch.nn.functional`` calls and ``einsum`` in the papers' index notation.
So a parity test checks minicnn's composition against an independent one.

``ARTICLE_KEYS`` lists the state_dict keys that the article's modules (bugs
fixed: distinct layers per step, no undefined names) produce, written out by
hand from its snippets, for the key-compatibility tests.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def _conv1x1(x, conv):
    """A 1x1 convolution on a (N, C) vector: x W^T + b (the weight is (out, in, 1, 1))."""
    out = x @ conv.weight.flatten(1).T
    return out if conv.bias is None else out + conv.bias


def _bn(x, bn):
    """Batch norm of (N, C, ...) through the module's parameters, buffers and mode (as bn(x) does)."""
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                        training=bn.training, momentum=bn.momentum, eps=bn.eps)


def _bn_vector(v, bn):
    """Batch norm of an (N, C) vector held by a BatchNorm2d (as on a (N, C, 1, 1) map)."""
    return _bn(v[:, :, None, None], bn)[:, :, 0, 0]


# ----------------------------------------------------------------------------- SE and variants
class SE(nn.Module):
    """Hu et al. 2018: a = sigmoid(W2 relu(W1 z + b1) + b2), z = GAP(x); y = a * x."""

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        hidden = in_dim // reduction_factor
        self.excitation = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.ReLU(),
                                        nn.Conv2d(hidden, in_dim, 1), nn.Sigmoid())

    def forward(self, x):
        z = x.mean(dim=(2, 3))
        a = torch.sigmoid(_conv1x1(torch.relu(_conv1x1(z, self.excitation[0])), self.excitation[2]))
        return x * a[:, :, None, None]


class SEVar1(nn.Module):
    """ECA paper: a = sigmoid(z)."""

    def forward(self, x):
        return x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True))


class SEVar2(nn.Module):
    """ECA paper: a_c = sigmoid(w_c z_c + b_c), a depthwise 1x1 conv."""

    def __init__(self, in_dim, bias=True):
        super().__init__()
        self.excitation = nn.Sequential(nn.Conv2d(in_dim, in_dim, 1, groups=in_dim, bias=bias), nn.Sigmoid())

    def forward(self, x):
        conv = self.excitation[0]
        logits = x.mean(dim=(2, 3)) * conv.weight.flatten()
        if conv.bias is not None:
            logits = logits + conv.bias
        return x * torch.sigmoid(logits)[:, :, None, None]


class SEVar3(nn.Module):
    """ECA paper: a = sigmoid(W z + b), W: C x C."""

    def __init__(self, in_dim, bias=True):
        super().__init__()
        self.excitation = nn.Sequential(nn.Conv2d(in_dim, in_dim, 1, bias=bias), nn.Sigmoid())

    def forward(self, x):
        return x * torch.sigmoid(_conv1x1(x.mean(dim=(2, 3)), self.excitation[0]))[:, :, None, None]


# ----------------------------------------------------------------------------- ECA
class ECA(nn.Module):
    """Wang et al. 2020: a_c = sum_j w_j z_{c+j-(k-1)/2} (zero padded), y = sigmoid(a) * x."""

    def __init__(self, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x):
        z = x.mean(dim=(2, 3))                                   # (N, C)
        k = self.conv.weight.shape[-1]
        padded = F.pad(z, (k // 2, k // 2))
        windows = padded.unfold(1, k, 1)                         # (N, C, k): z_{c-(k-1)/2 .. c+(k-1)/2}
        a = (windows * self.conv.weight.reshape(1, 1, k)).sum(-1)
        return x * torch.sigmoid(a)[:, :, None, None]


def eca_kernel_size(channels, gamma=2, b=1):
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


# ----------------------------------------------------------------------------- CBAM
class CBAMChannelAttention(nn.Module):
    """Woo et al. 2018: Mc = sigmoid(MLP(avg) + MLP(max)), one shared MLP."""

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        hidden = in_dim // reduction_factor
        self.mlp = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, in_dim, 1))

    def mlp_vector(self, v):
        return _conv1x1(torch.relu(_conv1x1(v, self.mlp[0])), self.mlp[2])

    def forward(self, x):
        avg = x.mean(dim=(2, 3))
        mx = x.flatten(2).max(dim=2).values
        mc = torch.sigmoid(self.mlp_vector(avg) + self.mlp_vector(mx))
        return x * mc[:, :, None, None]


class CBAMSpatialAttention(nn.Module):
    """Ms = sigmoid(conv_k([mean_c; max_c])) with bias, y = Ms * x."""

    def __init__(self, kernel_size=7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x):
        pooled = torch.stack([x.mean(dim=1), x.max(dim=1).values], dim=1)
        k = self.conv.weight.shape[-1]
        ms = torch.sigmoid(F.conv2d(pooled, self.conv.weight, self.conv.bias, padding=k // 2))
        return x * ms


class CBAM(nn.Module):
    def __init__(self, in_dim, reduction_factor=16, kernel_size=7):
        super().__init__()
        self.channel_attention = CBAMChannelAttention(in_dim, reduction_factor)
        self.spatial_attention = CBAMSpatialAttention(kernel_size)

    def forward(self, x):
        return self.spatial_attention(self.channel_attention(x))


# ----------------------------------------------------------------------------- BAM
class BAMChannelAttention(nn.Module):
    """Park et al. 2018 (code layout): Mc = W1 relu(BN(W0 GAP(x) + b0)) + b1."""

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        hidden = in_dim // reduction_factor
        self.mlp = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(),
                                 nn.Conv2d(hidden, in_dim, 1))

    def forward(self, x):
        hidden = torch.relu(_bn_vector(_conv1x1(x.mean(dim=(2, 3)), self.mlp[0]), self.mlp[1]))
        return _conv1x1(hidden, self.mlp[3])[:, :, None, None]


class BAMSpatialAttention(nn.Module):
    """Ms = conv1x1(relu BN dconv3x3 (relu BN dconv3x3 (relu BN conv1x1(x))))."""

    def __init__(self, in_dim, reduction_factor=16, dilation=4):
        super().__init__()
        hidden = in_dim // reduction_factor
        self.dilation = dilation
        self.reduce_1 = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU())
        self.layers = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.BatchNorm2d(hidden), nn.ReLU())
        self.reduce_2 = nn.Conv2d(hidden, 1, 1)

    def forward(self, x):
        d = self.dilation
        h = torch.relu(_bn(F.conv2d(x, self.reduce_1[0].weight, self.reduce_1[0].bias), self.reduce_1[1]))
        for conv, bn in ((self.layers[0], self.layers[1]), (self.layers[3], self.layers[4])):
            h = torch.relu(_bn(F.conv2d(h, conv.weight, conv.bias, padding=d, dilation=d), bn))
        return F.conv2d(h, self.reduce_2.weight, self.reduce_2.bias)


class BAM(nn.Module):
    """y = x + x * sigmoid(Mc + Ms) (paper) or x + x * sigmoid(Mc * Ms) (code)."""

    def __init__(self, in_dim, reduction_factor=16, dilation=4, combine="sum"):
        super().__init__()
        self.combine = combine
        self.channel_attention = BAMChannelAttention(in_dim, reduction_factor)
        self.spatial_attention = BAMSpatialAttention(in_dim, reduction_factor, dilation)

    def forward(self, x):
        mc, ms = self.channel_attention(x), self.spatial_attention(x)
        m = torch.sigmoid(mc + ms if self.combine == "sum" else mc * ms)
        return x + x * m


# ----------------------------------------------------------------------------- Gather-Excite
def _nearest_excite(x, logits):
    return x * torch.sigmoid(F.interpolate(logits, size=x.shape[2:], mode="nearest"))


class GENoParams(nn.Module):
    """Hu et al. 2018: avg-pool gather (kernel 2e-1, stride e), nearest excite, sigmoid."""

    def __init__(self, extent):
        super().__init__()
        self.extent = extent

    def forward(self, x):
        e = self.extent
        if e == 0:
            gathered = x.mean(dim=(2, 3), keepdim=True)
        else:
            gathered = F.avg_pool2d(x, 2 * e - 1, stride=e, padding=e - 1, count_include_pad=False)
        return _nearest_excite(x, gathered)


class GEParams(nn.Module):
    """GE-theta: depthwise conv gather (+BN, ReLU between the stride-2 steps)."""

    def __init__(self, in_dim, extent, spatial_dim=None):
        super().__init__()
        self.extent = extent
        if extent == 0:
            self.gather = nn.Sequential(nn.Conv2d(in_dim, in_dim, spatial_dim, groups=in_dim, bias=False),
                                        nn.BatchNorm2d(in_dim))
        else:
            layers = []
            for step in range(int(math.log2(extent))):
                layers += [nn.Conv2d(in_dim, in_dim, 3, stride=2, padding=1, groups=in_dim, bias=False),
                           nn.BatchNorm2d(in_dim), nn.ReLU()]
            self.gather = nn.Sequential(*layers[:-1])

    def gathered(self, x):
        convs = [m for m in self.gather if isinstance(m, nn.Conv2d)]
        bns = [m for m in self.gather if isinstance(m, nn.BatchNorm2d)]
        h = x
        for step, (conv, bn) in enumerate(zip(convs, bns)):
            if step > 0:
                h = torch.relu(h)
            if self.extent == 0:
                h = F.conv2d(h, conv.weight, groups=h.shape[1])
            else:
                h = F.conv2d(h, conv.weight, stride=2, padding=1, groups=h.shape[1])
            h = _bn(h, bn)
        return h

    def forward(self, x):
        return _nearest_excite(x, self.gathered(x))


class GEParamsPlus(GEParams):
    """GE-theta-plus: the GE-theta gather, then W2 relu(W1 . + b1) + b2 (1x1 convs)."""

    def __init__(self, in_dim, extent, spatial_dim=None, reduction_factor=16):
        super().__init__(in_dim, extent, spatial_dim)
        hidden = in_dim // reduction_factor
        self.mlp = nn.Sequential(nn.Conv2d(in_dim, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, in_dim, 1))

    def forward(self, x):
        z = self.gathered(x)
        h = torch.relu(F.conv2d(z, self.mlp[0].weight, self.mlp[0].bias))
        return _nearest_excite(x, F.conv2d(h, self.mlp[2].weight, self.mlp[2].bias))


# ----------------------------------------------------------------------------- Selective Kernel
class _Branch(nn.Module):
    def __init__(self, in_dim, stride, groups, dilation):
        super().__init__()
        self.conv = nn.Conv2d(in_dim, in_dim, 3, stride=stride, padding=dilation, dilation=dilation,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(in_dim)


class _Holder(nn.Module):
    """A bare container, so that parameters get the article's dotted names."""


class SK(nn.Module):
    """Li et al. 2019: U_m = relu(BN(conv_m x)); z = relu(BN(W GAP(sum U_m))); softmax_m(W_m z); sum."""

    def __init__(self, in_dim, n_branches=2, stride=1, groups=32, reduction_factor=16, min_reduced_dim=0):
        super().__init__()
        d = max(in_dim // reduction_factor, min_reduced_dim)
        self.stride, self.groups, self.n_branches = stride, groups, n_branches
        self.split = _Holder()
        self.split.branches = nn.ModuleList([_Branch(in_dim, stride, groups, m) for m in range(1, n_branches + 1)])
        self.fuse = _Holder()
        self.fuse.fc = nn.Sequential(nn.Conv2d(in_dim, d, 1, bias=False), nn.BatchNorm2d(d), nn.ReLU())
        self.select = _Holder()
        self.select.fc = nn.Conv2d(d, n_branches * in_dim, 1, bias=False)

    def forward(self, x):
        us = []
        for m, branch in enumerate(self.split.branches, start=1):
            u = F.conv2d(x, branch.conv.weight, stride=self.stride, padding=m, dilation=m, groups=self.groups)
            us.append(torch.relu(_bn(u, branch.bn)))
        s = sum(us).mean(dim=(2, 3))                                        # (N, C)
        z = torch.relu(_bn_vector(_conv1x1(s, self.fuse.fc[0]), self.fuse.fc[1]))
        n, c = s.shape
        a = _conv1x1(z, self.select.fc).reshape(n, self.n_branches, c)      # row m*C + c -> (m, c)
        alpha = torch.softmax(a, dim=1)
        return sum(alpha[:, m, :, None, None] * us[m] for m in range(self.n_branches))


# ----------------------------------------------------------------------------- DANet
class PAM(nn.Module):
    """Fu et al. 2019 (notes' notation): s_ji = softmax_i(B_i . C_j), E_j = gamma sum_i s_ji D_i + A_j.

    C = query_conv(A) (at the output position j), B = key_conv(A), D = value_conv(A).
    """

    def __init__(self, in_dim):
        super().__init__()
        self.query_conv = nn.Conv2d(in_dim, in_dim // 8, 1)
        self.key_conv = nn.Conv2d(in_dim, in_dim // 8, 1)
        self.value_conv = nn.Conv2d(in_dim, in_dim, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, a):
        n, c, h, w = a.shape
        cq = self.query_conv(a).flatten(2)       # C_j: (N, C/8, N_pos)
        bk = self.key_conv(a).flatten(2)         # B_i
        d = self.value_conv(a).flatten(2)        # D_i: (N, C, N_pos)
        logits = torch.einsum("nki,nkj->nji", bk, cq)          # [j, i] = B_i . C_j
        s = torch.softmax(logits, dim=2)                       # normalised over i
        out = torch.einsum("nji,nci->ncj", s, d)               # sum_i s_ji D_i
        return self.gamma * out.reshape(n, c, h, w) + a


class CAM(nn.Module):
    """x_ji = softmax_i(A_i . A_j) (paper) or softmax_i(max_k E_jk - E_ji) (official code)."""

    def __init__(self, variant="paper"):
        super().__init__()
        self.variant = variant
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, a):
        n, c, h, w = a.shape
        flat = a.flatten(2)
        energy = torch.einsum("nip,njp->nji", flat, flat)
        if self.variant == "official":
            energy = energy.max(dim=2, keepdim=True).values - energy
        x = torch.softmax(energy, dim=2)
        out = torch.einsum("nji,nip->njp", x, flat)
        return self.gamma * out.reshape(n, c, h, w) + a


# ----------------------------------------------------------------------------- attention gate
class AttentionGate(nn.Module):
    """Oktay et al. 2018: alpha = sigmoid(psi^T relu(W_x^T x + W_g^T g + b_g) + b_psi), y = alpha x."""

    def __init__(self, in_channels, gating_channels, inter_channels=None, sub_sample_factor=2,
                 mode="bilinear"):
        super().__init__()
        inter = inter_channels or max(in_channels // 2, 1)
        self.s, self.mode = sub_sample_factor, mode
        self.theta = nn.Conv2d(in_channels, inter, sub_sample_factor, stride=sub_sample_factor, bias=False)
        self.phi = nn.Conv2d(gating_channels, inter, 1)
        self.psi = nn.Conv2d(inter, 1, 1)

    def _resize(self, t, size):
        if t.shape[2:] == size:
            return t
        if self.mode == "bilinear":
            return F.interpolate(t, size=size, mode="bilinear", align_corners=False)
        return F.interpolate(t, size=size, mode="nearest")

    def forward(self, x, g):
        wx = F.conv2d(x, self.theta.weight, stride=self.s)
        wg = self._resize(torch.einsum("nchw,kc->nkhw", g, self.phi.weight.flatten(1))
                          + self.phi.bias[:, None, None], wx.shape[2:])
        q = torch.einsum("nkhw,k->nhw", torch.relu(wx + wg), self.psi.weight.flatten()) + self.psi.bias
        alpha = self._resize(torch.sigmoid(q)[:, None], x.shape[2:])
        return alpha * x


# ----------------------------------------------------------------------------- residual attention
class ResidualUnit(nn.Module):
    """Pre-activation bottleneck (He et al. 2016), projection of the pre-activated input."""

    def __init__(self, in_channels, out_channels=None, stride=1):
        super().__init__()
        out_channels = out_channels or in_channels
        mid = out_channels // 4
        self.stride = stride
        self.bn1, self.conv1 = nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, out_channels, 1, bias=False)
        self.shortcut = (nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
                         if in_channels != out_channels or stride != 1 else None)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        h = F.conv2d(pre, self.conv1.weight)
        h = F.conv2d(F.relu(self.bn2(h)), self.conv2.weight, stride=self.stride, padding=1)
        h = F.conv2d(F.relu(self.bn3(h)), self.conv3.weight)
        return h + (x if self.shortcut is None else F.conv2d(pre, self.shortcut.weight, stride=self.stride))


class ResidualAttentionModule(nn.Module):
    """Wang et al. 2017: (1 + M(x)) * T(x), the mask an hourglass written recursively here."""

    def __init__(self, in_channels, depth=3, p=1, t=2, r=1):
        super().__init__()
        units = lambda k: nn.Sequential(*[ResidualUnit(in_channels) for _ in range(k)])  # noqa: E731
        self.depth = depth
        self.pre, self.trunk, self.post = units(p), units(t), units(p)
        self.down = nn.ModuleList([units(2 * r if i == depth - 1 else r) for i in range(depth)])
        self.skips = nn.ModuleList([ResidualUnit(in_channels) for _ in range(depth - 1)])
        self.up = nn.ModuleList([units(r) for _ in range(depth - 1)])
        self.mask_head = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                                       nn.Conv2d(in_channels, in_channels, 1, bias=False),
                                       nn.BatchNorm2d(in_channels), nn.ReLU(),
                                       nn.Conv2d(in_channels, in_channels, 1, bias=False), nn.Sigmoid())

    def hourglass(self, x, level):
        """Mask features at the scale of x, from pooling level ``level`` downwards."""
        m = self.down[level](F.max_pool2d(x, 3, 2, 1))
        if level == self.depth - 1:
            return m
        deeper = self.hourglass(m, level + 1)
        up = F.interpolate(deeper, size=m.shape[2:], mode="bilinear", align_corners=True)
        return self.up[level](up + self.skips[level](m))

    def forward(self, x):
        x = self.pre(x)
        trunk = self.trunk(x)
        mask_features = F.interpolate(self.hourglass(x, 0), size=trunk.shape[2:], mode="bilinear",
                                      align_corners=True)
        return self.post((1 + self.mask_head(mask_features)) * trunk)


# ----------------------------------------------------------------------------- helpers for tests
def randomize_(module, seed=0, scale=0.5):
    """Give every parameter and batch-norm buffer random values (in place), so that parity tests do
    not run on the identity-like default initialisation (BN weight 1, bias 0, statistics 0/1,
    DANet gamma 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + torch.rand(p.shape, generator=gen, dtype=p.dtype))
            elif _is_bn_param(module, name):
                p.copy_(1.0 + scale * (torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)
                        if name.endswith("weight") else
                        scale * (torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5))
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(scale * torch.randn(b.shape, generator=gen, dtype=b.dtype))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen, dtype=b.dtype))
    return module


def _is_bn_param(module, name):
    owner = module
    for part in name.split(".")[:-1]:
        owner = getattr(owner, part)
    return isinstance(owner, nn.modules.batchnorm._BatchNorm)


# The article's modules' state_dict keys, written out from its snippets (seed 004), with its bugs
# fixed (one set of layers per GE downsampling step; SK's Branch without the stray out_dim). Each
# entry: (constructor of ours, its arguments, the keys). BN modules contribute weight, bias,
# running_mean, running_var, num_batches_tracked.
def _bn_keys(prefix):
    return [f"{prefix}.{k}" for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]


ARTICLE_KEYS = {
    "SE": (dict(in_dim=32), ["excitation.0.weight", "excitation.0.bias", "excitation.2.weight",
                             "excitation.2.bias"]),
    "SEVar1": (dict(), []),
    "SEVar2": (dict(in_dim=16), ["excitation.0.weight", "excitation.0.bias"]),
    "SEVar3": (dict(in_dim=16), ["excitation.0.weight", "excitation.0.bias"]),
    "ECA": (dict(kernel_size=3), ["conv.weight"]),
    "CBAMChannelAttention": (dict(in_dim=32), ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]),
    "CBAMSpatialAttention": (dict(kernel_size=7), ["conv.weight", "conv.bias"]),
    "CBAM": (dict(in_dim=32), ["channel_attention.mlp.0.weight", "channel_attention.mlp.0.bias",
                               "channel_attention.mlp.2.weight", "channel_attention.mlp.2.bias",
                               "spatial_attention.conv.weight", "spatial_attention.conv.bias"]),
    "BAMChannelAttention": (dict(in_dim=32), ["mlp.0.weight", "mlp.0.bias", *_bn_keys("mlp.1"),
                                              "mlp.3.weight", "mlp.3.bias"]),
    "BAMSpatialAttention": (dict(in_dim=32), [
        "reduce_1.0.weight", "reduce_1.0.bias", *_bn_keys("reduce_1.1"),
        "layers.0.weight", "layers.0.bias", *_bn_keys("layers.1"),
        "layers.3.weight", "layers.3.bias", *_bn_keys("layers.4"),
        "reduce_2.weight", "reduce_2.bias"]),
    "GENoParams": (dict(extent=2), []),
    "GEParams": (dict(in_dim=16, extent=4), ["gather.0.weight", *_bn_keys("gather.1"),
                                             "gather.3.weight", *_bn_keys("gather.4")]),
    "GEParamsPlus": (dict(in_dim=32, extent=0, spatial_dim=7), [
        "gather.0.weight", *_bn_keys("gather.1"),
        "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"]),
    "SK": (dict(in_dim=32, groups=8), [
        "split.branches.0.conv.weight", *_bn_keys("split.branches.0.bn"),
        "split.branches.1.conv.weight", *_bn_keys("split.branches.1.bn"),
        "fuse.fc.0.weight", *_bn_keys("fuse.fc.1"), "select.fc.weight"]),
}
ARTICLE_KEYS["BAM"] = (dict(in_dim=32), [
    *("channel_attention." + k for k in ARTICLE_KEYS["BAMChannelAttention"][1]),
    *("spatial_attention." + k for k in ARTICLE_KEYS["BAMSpatialAttention"][1])])


# The article's forward compositions (seed 004), bugs fixed, run on a reference module's own
# submodules: a cross-check that the equation-based references above agree with the article.
def _article_se(m, x):
    return m.excitation(F.adaptive_avg_pool2d(x, 1)) * x


def _article_eca(m, x):
    pooled = F.adaptive_avg_pool2d(x, 1).squeeze(2).transpose(1, 2)        # (N, 1, C)
    return torch.sigmoid(m.conv(pooled)).transpose(1, 2).unsqueeze(2) * x


def _article_cbam_channel(m, x):
    attention = m.mlp(F.adaptive_avg_pool2d(x, 1)) + m.mlp(F.adaptive_max_pool2d(x, 1))
    return torch.sigmoid(attention) * x


def _article_cbam_spatial(m, x):
    pooled = torch.cat([x.mean(dim=1, keepdim=True), x.max(dim=1, keepdim=True).values], dim=1)
    return torch.sigmoid(m.conv(pooled)) * x


def _article_bam(m, x):
    channel = m.channel_attention.mlp(F.adaptive_avg_pool2d(x, 1))
    spatial = m.spatial_attention.reduce_2(m.spatial_attention.layers(m.spatial_attention.reduce_1(x)))
    combined = channel + spatial if m.combine == "sum" else channel * spatial
    return (torch.sigmoid(combined) + 1) * x


def _article_ge(m, x):
    gathered = m.gather(x)
    if isinstance(m, GEParamsPlus):
        gathered = m.mlp(gathered)
    return torch.sigmoid(F.interpolate(gathered, size=x.shape[2:], mode="nearest")) * x


def _article_sk(m, x):
    branches = torch.stack([torch.relu(b.bn(b.conv(x))) for b in m.split.branches], dim=1)
    z = m.fuse.fc(F.adaptive_avg_pool2d(branches.sum(1), 1))
    n, k, c = branches.shape[:3]
    attention = torch.softmax(m.select.fc(z).reshape(n, k, c, 1, 1), dim=1)
    return (attention * branches).sum(1)


def _danet_code_pam(m, x):
    """The official DANet code's PAM formulation (bmm), for the cross-check."""
    n, c, h, w = x.shape
    query = m.query_conv(x).view(n, -1, h * w).permute(0, 2, 1)
    key = m.key_conv(x).view(n, -1, h * w)
    attention = torch.softmax(torch.bmm(query, key), dim=-1)
    value = m.value_conv(x).view(n, -1, h * w)
    out = torch.bmm(value, attention.permute(0, 2, 1)).view(n, c, h, w)
    return m.gamma * out + x


def _danet_code_cam(m, x):
    n, c, h, w = x.shape
    query = x.view(n, c, -1)
    energy = torch.bmm(query, query.permute(0, 2, 1))
    if m.variant == "official":
        energy = torch.max(energy, -1, keepdim=True)[0].expand_as(energy) - energy
    out = torch.bmm(torch.softmax(energy, dim=-1), query).view(n, c, h, w)
    return m.gamma * out + x


ARTICLE_FORWARD = {
    SE: _article_se, SEVar2: _article_se, SEVar3: _article_se, ECA: _article_eca,
    CBAMChannelAttention: _article_cbam_channel, CBAMSpatialAttention: _article_cbam_spatial,
    BAM: _article_bam, GEParams: _article_ge, GEParamsPlus: _article_ge, SK: _article_sk,
    PAM: _danet_code_pam, CAM: _danet_code_cam,
}
