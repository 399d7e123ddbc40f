"""Batch normalisation layers, as in ``torch.nn``: BatchNorm1d ((N, C) or (N, C, L)) and BatchNorm2d
((N, C, H, W)). The equations and the hand-written backward are in :mod:`minicnn.ops.normalization`.

State (torch's state_dict keys): ``weight`` (gamma, ones) and ``bias`` (beta, zeros) when
``affine``; buffers ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``
(int64) when ``track_running_stats``. ``momentum=None`` makes the running statistics a cumulative
average: the factor of step t is 1 / t.
"""
import numpy as np

from .. import functional as F
from .. import init
from ..tensor import Tensor
from ..utils import check_positive_ints
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input shapes they accept."""

    _dims = ()  # accepted input ranks

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *,
                 bias=True):
        super().__init__()
        check_positive_ints(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        C = self.num_features
        if affine:
            self.weight = Parameter(Tensor(np.ones(C, dtype=np.float32)))
            if bias:
                self.bias = Parameter(Tensor(np.zeros(C, dtype=np.float32)))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(C, dtype=np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(C, dtype=np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input):
        name = type(self).__name__
        if input.ndim not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{name}: expected {expected} input (got {input.ndim}D input of shape "
                             f"{tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): expected input with {self.num_features} channels "
                             f"(dim 1), got input of shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1          # in place: the buffer is the same array
            if self.momentum is None:                    # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        # Batch statistics in training, and in evaluation when no running statistics exist.
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        pass_running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if pass_running else None,
                            self.running_var if pass_running else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, per channel C."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) feature maps, per channel C (statistics over N, H, W)."""

    _dims = (4,)
