"""One table of gradient checks for the attention modules, read by the tests and by ``minicnn gradcheck``.

A row names a module's constructor, the shapes of its inputs (the feature map x, and the gating
signal g of an attention gate), which parameters to check (all of them, a list of names, or none)
and the range of the inputs. ``tests/test_attention_gradcheck.py`` runs every row with inputs and
weights that Hypothesis draws; the ``minicnn gradcheck`` table (``catalog_layers.py``) runs every
row once with a fixed seed.

Modules run in training mode (batch norm uses the batch statistics, the harder backward). Where
batch norm sees a pooled (N, C, 1, 1) map the batch is 3 (with 2 samples every normalised value
is +-1 and the gradient vanishes). DANet's gamma starts at 0, which would leave every parameter
before it without gradient, so it is set to 0.7 here. The residual-attention module has ~300
parameters; there the check covers the input and one weight of every part (pre, trunk, each
mask level, skip, up, head, post), and the parity tests compare all of them with PyTorch.
"""
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from .. import init, nn
from ..random import manual_seed
from ..tensor import Tensor

__all__ = ["AttentionCase", "ATTENTION_CASES", "attention_check"]


@dataclass
class AttentionCase:
    """A row: ``build()`` -> module; input shapes; parameter names (None: all; (): none); input range."""

    build: Callable
    shapes: Sequence[tuple]
    params: Optional[Sequence[str]] = None
    bound: float = 2.0


def _set_gamma(module):
    init.constant_(module.gamma, 0.7)
    return module


def _X(*shape):
    """The input shapes of a module with one input, the feature map x."""
    return (shape,)

ATTENTION_CASES = {
    "SE": AttentionCase(lambda: nn.SE(8, reduction_factor=4), _X(2, 8, 4, 4)),
    "SEVar1": AttentionCase(lambda: nn.SEVar1(), _X(2, 8, 3, 4)),
    "SEVar2": AttentionCase(lambda: nn.SEVar2(8), _X(2, 8, 3, 4)),
    "SEVar3": AttentionCase(lambda: nn.SEVar3(8), _X(2, 8, 3, 4)),
    "ECA": AttentionCase(lambda: nn.ECA(3), _X(2, 8, 4, 3)),
    "CBAM": AttentionCase(lambda: nn.CBAM(8, reduction_factor=4, kernel_size=3), _X(2, 8, 4, 4)),
    "BAM sum": AttentionCase(lambda: nn.BAM(8, reduction_factor=4, dilation=2), _X(2, 8, 6, 6)),
    "BAM product": AttentionCase(lambda: nn.BAM(8, reduction_factor=4, dilation=2, combine="product"),
                                 _X(2, 8, 6, 6)),
    "BAM sum dilation 1": AttentionCase(lambda: nn.BAM(8, reduction_factor=4, dilation=1), _X(3, 8, 3, 3)),
    "BAM product dilation 1": AttentionCase(lambda: nn.BAM(8, reduction_factor=4, dilation=1, combine="product"),
                                            _X(3, 8, 3, 3)),
    "GENoParams-global": AttentionCase(lambda: nn.GENoParams(0), _X(2, 4, 4, 4)),
    "GENoParams-e2": AttentionCase(lambda: nn.GENoParams(2), _X(2, 4, 5, 4)),
    "GEParams-e2": AttentionCase(lambda: nn.GEParams(8, 2), _X(2, 8, 6, 6)),
    "GEParams-e4": AttentionCase(lambda: nn.GEParams(4, 4), _X(2, 4, 5, 5)),
    "GEParams-global": AttentionCase(lambda: nn.GEParams(4, 0, spatial_dim=3), _X(3, 4, 3, 3)),
    "GEParamsPlus-global": AttentionCase(lambda: nn.GEParamsPlus(8, 0, spatial_dim=3, reduction_factor=4),
                                         _X(3, 8, 3, 3)),
    "GEParamsPlus-global 5x6": AttentionCase(
        lambda: nn.GEParamsPlus(8, 0, spatial_dim=(5, 6), reduction_factor=4), _X(3, 8, 5, 6)),
    "GEParamsPlus-e2": AttentionCase(lambda: nn.GEParamsPlus(8, 2, reduction_factor=4), _X(2, 8, 4, 4)),
    "SK": AttentionCase(lambda: nn.SK(8, groups=4, reduction_factor=4), _X(3, 8, 3, 3)),
    "SK groups=2": AttentionCase(lambda: nn.SK(8, n_branches=2, groups=2, reduction_factor=4), _X(3, 8, 5, 6)),
    "SK-stride2": AttentionCase(lambda: nn.SK(4, n_branches=3, stride=2, groups=4, reduction_factor=2),
                                _X(3, 4, 4, 4)),
    "PAM": AttentionCase(lambda: _set_gamma(nn.PAM(16)), _X(2, 16, 3, 2), bound=1.0),
    "CAM paper": AttentionCase(lambda: _set_gamma(nn.CAM()), _X(2, 6, 3, 3), bound=0.5),
    "CAM official": AttentionCase(lambda: _set_gamma(nn.CAM("official")), _X(2, 6, 3, 3), bound=0.5),
    "AttentionGate": AttentionCase(lambda: nn.AttentionGate(4, 6, inter_channels=3), ((2, 4, 6, 6), (2, 6, 3, 3))),
    "AttentionGate s=1": AttentionCase(lambda: nn.AttentionGate(4, 6, inter_channels=3, sub_sample_factor=1),
                                       ((2, 4, 5, 5), (2, 6, 3, 3))),
    "AttentionGate s=2": AttentionCase(lambda: nn.AttentionGate(4, 6, inter_channels=3, sub_sample_factor=2),
                                       ((2, 4, 5, 5), (2, 6, 3, 3))),
    "ResidualUnit": AttentionCase(lambda: nn.ResidualUnit(8), _X(2, 8, 3, 3)),
    "ResidualUnit-projection": AttentionCase(lambda: nn.ResidualUnit(4, 8, stride=2), _X(2, 4, 4, 4)),
    "ResidualAttentionModule": AttentionCase(
        lambda: nn.ResidualAttentionModule(4, depth=2, p=1, t=1, r=1), _X(2, 4, 4, 4),
        ["pre.0.conv2.weight", "trunk.0.conv3.weight", "trunk.0.bn1.weight", "down.0.0.conv1.weight",
         "down.1.1.conv2.weight", "skips.0.conv3.weight", "up.0.0.conv1.weight", "mask_head.0.bias",
         "mask_head.2.weight", "mask_head.5.weight", "post.0.conv2.weight"], bound=1.0),
    # all ~40 parameter tensors of depth 1 would be slow; the input's gradient crosses every branch
    "ResidualAttentionModule depth=1": AttentionCase(lambda: nn.ResidualAttentionModule(4, depth=1),
                                                     _X(2, 4, 6, 6), params=()),
}


def attention_check(case, seed, arrays=None):
    """``(fn, inputs, names)`` for :func:`~minicnn.testing.gradcheck` of one row.

    The weights are initialised from ``seed``; ``arrays`` (one float64 array per input shape) default
    to uniform draws in [-bound, bound] from the same seed.
    """
    manual_seed(seed)
    module = case.build().to("float64").train()
    if arrays is None:
        rng = np.random.default_rng(seed)
        arrays = [rng.uniform(-case.bound, case.bound, shape) for shape in case.shapes]
    inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    named = list(module.named_parameters())
    if case.params is not None:
        wanted = dict(named)
        named = [(n, wanted[n]) for n in case.params]
    labels = ["x", "g"][:len(inputs)] + [n for n, _ in named]
    n_inputs = len(inputs)
    return (lambda *ts: module(*ts[:n_inputs])), inputs + [p for _, p in named], labels
