"""The bad-input table: what a demanding user gets wrong, and what minicnn answers.

Every row is a call that cannot be done right. minicnn must raise, with the
expected exception type, and the message must name the op or layer and the
values or shapes involved (the row's ``words``, all of which must appear).
Where the row has a torch twin, torch refuses it too: this is the evidence for
"where torch raises, we raise" (torch 2.13, CPU). Rows without a twin are
minicnn's own (checkpoint files, the command line, minicnn-only layers) or
cases where torch silently does something wrong-looking that we refuse on
purpose (then the row says so in its id).

Three tables: the Python API, checkpoint files given to ``minicnn.load``, and
the command line (exit code 2, the subcommand's usage line, no traceback).
"""
import math
import pickle
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pytest

import minicnn
from minicnn import functional as F
from minicnn import nn, optim
from minicnn.cli import main


def t(*shape, dtype=np.float32, requires_grad=False):
    """A minicnn tensor of seeded normal values."""
    data = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return minicnn.tensor(data, requires_grad=requires_grad)


def ints(*values):
    return minicnn.tensor(np.array(values, dtype=np.int64))


def param(*shape):
    return nn.Parameter(t(*shape))


def _trainer():
    import minicnn.train
    model = nn.Linear(2, 2)
    return minicnn.train.Trainer(model, optim.SGD(model.parameters(), lr=0.1), F.cross_entropy, [],
                                 metrics="classification", progress=False)


@dataclass
class Case:
    id: str
    call: Callable
    error: type
    words: tuple
    torch: Optional[Callable] = None   # the same mistake in torch (receives the torch module)


def _tt(torch, *shape, dtype=None):
    return torch.randn(*shape, dtype=dtype or torch.float32)


API = [
    # ------------------------------------------------------------------ convolution
    Case("conv2d: input channels differ from the weight's", lambda: F.conv2d(t(2, 3, 8, 8), t(4, 2, 3, 3)),
         ValueError, ("conv2d", "(4, 2, 3, 3)", "(2, 3, 8, 8)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 2, 3, 8, 8), _tt(T, 4, 2, 3, 3))),
    Case("conv2d: a 2-D input", lambda: F.conv2d(t(8, 8), t(4, 3, 3, 3)),
         ValueError, ("conv2d", "4-D", "(8, 8)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 8, 8), _tt(T, 4, 3, 3, 3))),
    Case("conv2d: kernel larger than the padded input", lambda: F.conv2d(t(1, 3, 2, 2), t(4, 3, 3, 3)),
         ValueError, ("conv2d", "(3, 3)", "(1, 3, 2, 2)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 2, 2), _tt(T, 4, 3, 3, 3))),
    Case("conv2d: stride 0", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), stride=0),
         ValueError, ("conv2d", "stride", "0"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), stride=0)),
    Case("conv2d: negative padding", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), padding=-1),
         ValueError, ("conv2d", "padding", "-1"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), padding=-1)),
    Case("conv2d: dilation 0", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), dilation=0),
         ValueError, ("conv2d", "dilation", "0"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), dilation=0)),
    Case("conv2d: channels not divisible by groups", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), groups=2),
         ValueError, ("conv2d", "groups=2", "(1, 3, 8, 8)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), groups=2)),
    Case("conv2d: groups 0", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), groups=0),
         ValueError, ("conv2d", "groups", "0"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), groups=0)),
    Case("conv2d: bias of the wrong length", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), t(3)),
         ValueError, ("conv2d", "(4,)", "(3,)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), _tt(T, 3))),
    Case("conv2d: padding='same' with stride 2",
         lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), stride=2, padding="same"),
         ValueError, ("conv2d", "same", "(2, 2)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), stride=2, padding="same")),
    Case("conv2d: unknown padding string", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), padding="full"),
         ValueError, ("conv2d", "'full'", "same"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), padding="full")),
    Case("conv2d: a 3-D weight", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3)),
         ValueError, ("conv2d", "4-D weight", "(4, 3, 3)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3))),
    Case("conv_transpose2d: input channels differ", lambda: F.conv_transpose2d(t(1, 3, 8, 8), t(4, 2, 3, 3)),
         ValueError, ("conv_transpose2d", "(4, 2, 3, 3)", "(1, 3, 8, 8)"),
         lambda T: T.nn.functional.conv_transpose2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 2, 3, 3))),
    Case("conv_transpose2d: output_padding >= stride",
         lambda: F.conv_transpose2d(t(1, 3, 8, 8), t(3, 2, 3, 3), stride=2, output_padding=2),
         ValueError, ("conv_transpose2d", "output_padding=(2, 2)", "stride=(2, 2)"),
         lambda T: T.nn.functional.conv_transpose2d(_tt(T, 1, 3, 8, 8), _tt(T, 3, 2, 3, 3), stride=2,
                                                     output_padding=2)),
    Case("conv_transpose2d: stride 0", lambda: F.conv_transpose2d(t(1, 3, 8, 8), t(3, 2, 3, 3), stride=0),
         ValueError, ("conv_transpose2d", "stride", "0"),
         lambda T: T.nn.functional.conv_transpose2d(_tt(T, 1, 3, 8, 8), _tt(T, 3, 2, 3, 3), stride=0)),
    Case("Conv2d: in_channels not divisible by groups", lambda: nn.Conv2d(3, 8, 3, groups=2),
         ValueError, ("Conv2d", "in_channels=3", "groups=2"), lambda T: T.nn.Conv2d(3, 8, 3, groups=2)),
    Case("Conv2d: out_channels not divisible by groups", lambda: nn.Conv2d(4, 6, 3, groups=4),
         ValueError, ("Conv2d", "out_channels=6", "groups=4"), lambda T: T.nn.Conv2d(4, 6, 3, groups=4)),
    Case("Conv2d: unknown padding_mode", lambda: nn.Conv2d(3, 8, 3, padding_mode="foo"),
         ValueError, ("Conv2d", "padding_mode", "'foo'"), lambda T: T.nn.Conv2d(3, 8, 3, padding_mode="foo")),
    Case("Conv2d: forward with the wrong channel count", lambda: nn.Conv2d(3, 8, 3)(t(1, 4, 8, 8)),
         ValueError, ("conv2d", "(8, 3, 3, 3)", "(1, 4, 8, 8)"),
         lambda T: T.nn.Conv2d(3, 8, 3)(_tt(T, 1, 4, 8, 8))),
    Case("Conv2d: kernel_size 0 (torch only fails at the first forward)", lambda: nn.Conv2d(3, 8, 0),
         ValueError, ("Conv2d", "kernel_size=0")),
    # ------------------------------------------------------------------ linear
    Case("Linear: input features differ", lambda: nn.Linear(4, 3)(t(2, 5)),
         ValueError, ("Linear(4, 3)", "4 features", "(2, 5)"), lambda T: T.nn.Linear(4, 3)(_tt(T, 2, 5))),
    # ------------------------------------------------------------------ pooling
    Case("max_pool2d: kernel_size 0", lambda: F.max_pool2d(t(1, 1, 4, 4), 0),
         ValueError, ("max_pool2d", "kernel_size", "(0, 0)"),
         lambda T: T.nn.functional.max_pool2d(_tt(T, 1, 1, 4, 4), 0)),
    Case("max_pool2d: kernel larger than the input", lambda: F.max_pool2d(t(1, 1, 2, 2), 3),
         ValueError, ("max_pool2d", "3x3", "(1, 1, 2, 2)"),
         lambda T: T.nn.functional.max_pool2d(_tt(T, 1, 1, 2, 2), 3)),
    Case("max_pool2d: padding over half the kernel", lambda: F.max_pool2d(t(1, 1, 4, 4), 2, padding=2),
         ValueError, ("max_pool2d", "padding=(2, 2)", "kernel_size=(2, 2)"),
         lambda T: T.nn.functional.max_pool2d(_tt(T, 1, 1, 4, 4), 2, padding=2)),
    Case("max_pool2d: stride 0", lambda: F.max_pool2d(t(1, 1, 4, 4), 2, stride=0),
         ValueError, ("max_pool2d", "stride", "(0, 0)"),
         lambda T: T.nn.functional.max_pool2d(_tt(T, 1, 1, 4, 4), 2, stride=0)),
    Case("max_pool2d: a 2-D input", lambda: F.max_pool2d(t(4, 4), 2),
         ValueError, ("max_pool2d", "4-D", "(4, 4)"), lambda T: T.nn.functional.max_pool2d(_tt(T, 4, 4), 2)),
    Case("max_pool2d: dilation 0", lambda: F.max_pool2d(t(1, 1, 4, 4), 2, dilation=0),
         ValueError, ("max_pool2d", "dilation", "(0, 0)"),
         lambda T: T.nn.functional.max_pool2d(_tt(T, 1, 1, 4, 4), 2, dilation=0)),
    Case("MaxPool2d: kernel_size 0", lambda: nn.MaxPool2d(0)(t(1, 1, 4, 4)),
         ValueError, ("max_pool2d", "kernel_size", "(0, 0)"), lambda T: T.nn.MaxPool2d(0)(_tt(T, 1, 1, 4, 4))),
    Case("avg_pool2d: padding over half the kernel", lambda: F.avg_pool2d(t(1, 1, 4, 4), 2, padding=2),
         ValueError, ("avg_pool2d", "padding=(2, 2)", "kernel_size=(2, 2)"),
         lambda T: T.nn.functional.avg_pool2d(_tt(T, 1, 1, 4, 4), 2, padding=2)),
    Case("avg_pool2d: divisor_override 0", lambda: F.avg_pool2d(t(1, 1, 4, 4), 2, divisor_override=0),
         ValueError, ("avg_pool2d", "divisor_override", "zero"),
         lambda T: T.nn.functional.avg_pool2d(_tt(T, 1, 1, 4, 4), 2, divisor_override=0)),
    Case("adaptive_avg_pool2d: negative output size", lambda: F.adaptive_avg_pool2d(t(1, 1, 4, 4), -1),
         ValueError, ("adaptive_avg_pool2d", "output_size", "-1"),
         lambda T: T.nn.functional.adaptive_avg_pool2d(_tt(T, 1, 1, 4, 4), -1)),
    Case("max_unpool2d: an index outside the output",
         lambda: F.max_unpool2d(t(1, 1, 2, 2), minicnn.tensor(np.full((1, 1, 2, 2), 99)), 2),
         ValueError, ("max_unpool2d", "99", "4x4"),
         lambda T: T.nn.functional.max_unpool2d(_tt(T, 1, 1, 2, 2), T.full((1, 1, 2, 2), 99), 2)),
    Case("max_unpool2d: indices of another shape",
         lambda: F.max_unpool2d(t(1, 1, 2, 2), minicnn.tensor(np.zeros((1, 1, 3, 3), np.int64)), 2),
         ValueError, ("max_unpool2d", "(1, 1, 2, 2)", "(1, 1, 3, 3)"),
         lambda T: T.nn.functional.max_unpool2d(_tt(T, 1, 1, 2, 2), T.zeros(1, 1, 3, 3, dtype=T.int64), 2)),
    # ------------------------------------------------------------------ interpolation and padding
    Case("interpolate: both size and scale_factor", lambda: F.interpolate(t(1, 1, 2, 2), size=4, scale_factor=2),
         ValueError, ("interpolate", "size", "scale_factor"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2), size=4, scale_factor=2)),
    Case("interpolate: neither size nor scale_factor", lambda: F.interpolate(t(1, 1, 2, 2)),
         ValueError, ("interpolate", "size", "scale_factor"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2))),
    Case("interpolate: unknown mode", lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=2, mode="cubic"),
         ValueError, ("interpolate", "'cubic'", "bilinear"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2), scale_factor=2, mode="cubic")),
    Case("interpolate: output size 0", lambda: F.interpolate(t(1, 1, 2, 2), size=0),
         ValueError, ("interpolate", "H: 2, W: 2", "H: 0, W: 0"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2), size=0)),
    Case("interpolate: negative scale_factor", lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=-1),
         ValueError, ("interpolate", "H: 2, W: 2", "H: -2, W: -2"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2), scale_factor=-1)),
    Case("interpolate: align_corners with nearest",
         lambda: F.interpolate(t(1, 1, 2, 2), scale_factor=2, align_corners=True),
         ValueError, ("interpolate", "align_corners", "mode='nearest'"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 1, 2, 2), scale_factor=2, align_corners=True)),
    Case("interpolate: bilinear on a 3-D input", lambda: F.interpolate(t(1, 2, 2), scale_factor=2, mode="bilinear"),
         ValueError, ("interpolate", "4-D", "(1, 2, 2)"),
         lambda T: T.nn.functional.interpolate(_tt(T, 1, 2, 2), scale_factor=2, mode="bilinear")),
    Case("Upsample: unknown mode", lambda: nn.Upsample(scale_factor=2, mode="cubic")(t(1, 1, 2, 2)),
         ValueError, ("interpolate", "'cubic'"),
         lambda T: T.nn.Upsample(scale_factor=2, mode="cubic")(_tt(T, 1, 1, 2, 2))),
    Case("pad: odd padding length", lambda: F.pad(t(1, 1, 2, 2), (1,)),
         ValueError, ("pad", "divisible by 2", "1"), lambda T: T.nn.functional.pad(_tt(T, 1, 1, 2, 2), (1,))),
    Case("pad: reflect padding as large as the input",
         lambda: F.pad(t(1, 1, 2, 2), (2, 2, 2, 2), mode="reflect"),
         ValueError, ("pad", "(2, 2)", "(1, 1, 2, 2)"),
         lambda T: T.nn.functional.pad(_tt(T, 1, 1, 2, 2), (2, 2, 2, 2), mode="reflect")),
    Case("pad: unknown mode", lambda: F.pad(t(1, 1, 2, 2), (1, 1), mode="wrap"),
         ValueError, ("pad", "'wrap'", "circular"),
         lambda T: T.nn.functional.pad(_tt(T, 1, 1, 2, 2), (1, 1), mode="wrap")),
    Case("pad: more pairs than dimensions", lambda: F.pad(t(2, 2), (1, 1, 1, 1, 1, 1)),
         ValueError, ("pad", "6", "dimension 2"), lambda T: T.nn.functional.pad(_tt(T, 2, 2), (1, 1, 1, 1, 1, 1))),
    Case("ZeroPad2d: cropping more than the input", lambda: nn.ZeroPad2d(-3)(t(1, 1, 4, 4)),
         ValueError, ("pad", "-3", "(1, 1, 4, 4)"), lambda T: T.nn.ZeroPad2d(-3)(_tt(T, 1, 1, 4, 4))),
    # ------------------------------------------------------------------ normalisation and dropout
    Case("batch_norm: one value per channel in training", lambda: F.batch_norm(t(1, 3), None, None, training=True),
         ValueError, ("more than 1 value per channel", "(1, 3)"),
         lambda T: T.nn.functional.batch_norm(_tt(T, 1, 3), None, None, training=True)),
    Case("batch_norm: running_mean of the wrong length", lambda: F.batch_norm(t(2, 3, 4, 4), t(4), t(4)),
         ValueError, ("batch_norm", "running_mean", "3 elements", "(4,)"),
         lambda T: T.nn.functional.batch_norm(_tt(T, 2, 3, 4, 4), _tt(T, 4), _tt(T, 4))),
    Case("batch_norm: weight of the wrong length",
         lambda: F.batch_norm(t(2, 3, 4, 4), None, None, weight=t(2), training=True),
         ValueError, ("batch_norm", "weight", "3 elements", "(2,)"),
         lambda T: T.nn.functional.batch_norm(_tt(T, 2, 3, 4, 4), None, None, weight=_tt(T, 2), training=True)),
    Case("BatchNorm2d: wrong channel count", lambda: nn.BatchNorm2d(3)(t(2, 4, 2, 2)),
         ValueError, ("BatchNorm2d(3)", "3 channels", "(2, 4, 2, 2)"),
         lambda T: T.nn.BatchNorm2d(3)(_tt(T, 2, 4, 2, 2))),
    Case("BatchNorm2d: a 3-D input", lambda: nn.BatchNorm2d(3)(t(3, 2, 2)),
         ValueError, ("BatchNorm2d", "4D", "(3, 2, 2)"), lambda T: T.nn.BatchNorm2d(3)(_tt(T, 3, 2, 2))),
    Case("BatchNorm1d: a 4-D input", lambda: nn.BatchNorm1d(3)(t(2, 3, 2, 2)),
         ValueError, ("BatchNorm1d", "2D or 3D", "(2, 3, 2, 2)"),
         lambda T: T.nn.BatchNorm1d(3)(_tt(T, 2, 3, 2, 2))),
    Case("BatchNorm2d: 0 features (torch fails at the first forward)", lambda: nn.BatchNorm2d(0),
         ValueError, ("BatchNorm2d", "num_features", "0")),
    Case("dropout: p above 1", lambda: F.dropout(t(3), p=1.5),
         ValueError, ("dropout", "between 0 and 1", "1.5"), lambda T: T.nn.functional.dropout(_tt(T, 3), p=1.5)),
    Case("dropout: negative p", lambda: F.dropout(t(3), p=-0.1),
         ValueError, ("dropout", "between 0 and 1", "-0.1"),
         lambda T: T.nn.functional.dropout(_tt(T, 3), p=-0.1)),
    Case("Dropout: p = 2", lambda: nn.Dropout(2),
         ValueError, ("Dropout", "between 0 and 1", "2"), lambda T: T.nn.Dropout(2)),
    # ------------------------------------------------------------------ losses
    Case("cross_entropy: a class index above C - 1", lambda: F.cross_entropy(t(2, 3), ints(0, 5)),
         IndexError, ("cross_entropy", "[0, 2]", "5"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, 5]))),
    Case("cross_entropy: a negative class index", lambda: F.cross_entropy(t(2, 3), ints(0, -2)),
         IndexError, ("cross_entropy", "[0, 2]", "-2"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, -2]))),
    Case("cross_entropy: target batch differs", lambda: F.cross_entropy(t(2, 3), ints(0, 1, 2)),
         ValueError, ("cross_entropy", "(2, 3)", "(3,)"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, 1, 2]))),
    Case("cross_entropy: probability target of another shape", lambda: F.cross_entropy(t(2, 3), t(2, 4)),
         ValueError, ("cross_entropy", "(2, 3)", "(2, 4)"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), _tt(T, 2, 4))),
    Case("cross_entropy: unknown reduction", lambda: F.cross_entropy(t(2, 3), ints(0, 1), reduction="avg"),
         ValueError, ("cross_entropy", "reduction", "'avg'"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, 1]), reduction="avg")),
    Case("cross_entropy: class weights of the wrong length",
         lambda: F.cross_entropy(t(2, 3), ints(0, 1), weight=t(2)),
         ValueError, ("cross_entropy", "(3,)", "(2,)"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, 1]), weight=_tt(T, 2))),
    Case("cross_entropy: label_smoothing above 1",
         lambda: F.cross_entropy(t(2, 3), ints(0, 1), label_smoothing=1.5),
         ValueError, ("cross_entropy", "label_smoothing", "1.5"),
         lambda T: T.nn.functional.cross_entropy(_tt(T, 2, 3), T.tensor([0, 1]), label_smoothing=1.5)),
    Case("nll_loss: float class indices", lambda: F.nll_loss(t(2, 3), minicnn.tensor(np.array([0.0, 1.0]))),
         TypeError, ("nll_loss", "int64", "float64"),
         lambda T: T.nn.functional.nll_loss(_tt(T, 2, 3), T.tensor([0.0, 1.0]))),
    Case("binary_cross_entropy_with_logits: target shape differs",
         lambda: F.binary_cross_entropy_with_logits(t(2, 3), t(3, 2)),
         ValueError, ("binary_cross_entropy_with_logits", "(3, 2)", "(2, 3)"),
         lambda T: T.nn.functional.binary_cross_entropy_with_logits(_tt(T, 2, 3), _tt(T, 3, 2))),
    Case("dice_loss: negative smooth",
         lambda: F.dice_loss(t(2, 2, 3, 3), minicnn.tensor(np.zeros((2, 3, 3), np.int64)), smooth=-1),
         ValueError, ("dice_loss", "smooth", "-1")),
    Case("clamp: neither min nor max", lambda: minicnn.clamp(t(3)),
         ValueError, ("clamp", "min", "max"), lambda T: T.clamp(_tt(T, 3))),
    # ------------------------------------------------------------------ autograd
    Case("backward: a non-scalar output without grad", lambda: t(3, requires_grad=True).exp().backward(),
         RuntimeError, ("backward", "scalar outputs", "(3,)"), lambda T: _tt(T, 3).requires_grad_().exp().backward()),
    Case("backward: nothing requires grad", lambda: t(3).sum().backward(),
         RuntimeError, ("backward", "does not require grad"), lambda T: _tt(T, 3).sum().backward()),
    Case("backward: twice through a freed graph",
         lambda: (lambda y: (y.backward(), y.backward()))(t(3, requires_grad=True).exp().sum()),
         RuntimeError, ("second time", "retain_graph=True"),
         lambda T: (lambda y: (y.backward(), y.backward()))(_tt(T, 3).requires_grad_().exp().sum())),
    Case("backward: grad of another shape", lambda: t(3, requires_grad=True).exp().backward(t(2)),
         RuntimeError, ("backward", "(2,)", "(3,)"), lambda T: _tt(T, 3).requires_grad_().exp().backward(_tt(T, 2))),
    Case("tensor: an int tensor that requires grad", lambda: minicnn.tensor(np.array([1, 2]), requires_grad=True),
         RuntimeError, ("floating-point", "int64"), lambda T: T.tensor([1, 2], requires_grad=True)),
    Case("item: of a 3-element tensor", lambda: t(3).item(),
         ValueError, ("item()", "one-element", "(3,)"), lambda T: _tt(T, 3).item()),
    Case("to: an unknown device", lambda: t(3).to("tpu"),
         minicnn.backend.BackendError, ("device", "'tpu'", "'cpu'"), lambda T: _tt(T, 3).to("tpu")),
    Case("set_backend: an unknown backend", lambda: minicnn.set_backend("tpu"),
         minicnn.backend.BackendError, ("backend", "'tpu'", "'numpy'")),
    # ------------------------------------------------------------------ reductions and shapes (already checked)
    Case("sum: dim 2 of a 2-D tensor", lambda: minicnn.sum(t(2, 3), dim=2),
         IndexError, ("sum", "[-2, 1]", "got 2"), lambda T: T.sum(_tt(T, 2, 3), dim=2)),
    Case("mean: dim -3 of a 2-D tensor", lambda: minicnn.mean(t(2, 3), dim=-3),
         IndexError, ("mean", "[-2, 1]", "got -3"), lambda T: T.mean(_tt(T, 2, 3), dim=-3)),
    Case("mean: a dim listed twice", lambda: minicnn.mean(t(2, 3), dim=(0, 0)),
         ValueError, ("mean", "dim (0, 0)", "more than once"), lambda T: T.mean(_tt(T, 2, 3), dim=(0, 0))),
    Case("var: dim 5 of a 2-D tensor", lambda: minicnn.var(t(2, 3), dim=5),
         IndexError, ("var", "[-2, 1]", "got 5"), lambda T: T.var(_tt(T, 2, 3), dim=5)),
    Case("cat: sizes differ outside dim", lambda: minicnn.cat([t(2, 3), t(2, 4)], dim=0),
         ValueError, ("cat", "(2, 3)", "(2, 4)"), lambda T: T.cat([_tt(T, 2, 3), _tt(T, 2, 4)], dim=0)),
    Case("cat: an empty list", lambda: minicnn.cat([], dim=0),
         ValueError, ("cat", "non-empty"), lambda T: T.cat([], dim=0)),
    Case("stack: shapes differ", lambda: minicnn.stack([t(2, 3), t(3, 2)]),
         ValueError, ("stack", "(2, 3)", "(3, 2)"), lambda T: T.stack([_tt(T, 2, 3), _tt(T, 3, 2)])),
    Case("stack: an empty list", lambda: minicnn.stack([]),
         ValueError, ("stack", "non-empty"), lambda T: T.stack([])),
    Case("permute: a repeated dim", lambda: t(2, 3).permute(0, 0),
         ValueError, ("permute", "(0, 0)", "2 dimensions"), lambda T: _tt(T, 2, 3).permute(0, 0)),
    Case("permute: too few dims", lambda: t(2, 3, 4).permute(0, 1),
         ValueError, ("permute", "(0, 1)", "3 dimensions"), lambda T: _tt(T, 2, 3, 4).permute(0, 1)),
    Case("transpose: dim 2 of a 2-D tensor", lambda: t(2, 3).transpose(0, 2),
         IndexError, ("transpose", "[-2, 1]", "got 2"), lambda T: _tt(T, 2, 3).transpose(0, 2)),
    Case("reshape: to a size that does not fit", lambda: t(2, 3).reshape(4, 2),
         ValueError, ("reshape", "[4, 2]", "size 6"), lambda T: _tt(T, 2, 3).reshape(4, 2)),
    Case("reshape: -1 that cannot be inferred", lambda: t(2, 3).reshape(-1, 4),
         ValueError, ("reshape", "[-1, 4]", "size 6"), lambda T: _tt(T, 2, 3).reshape(-1, 4)),
    Case("reshape: two -1", lambda: t(2, 3).reshape(-1, -1),
         ValueError, ("reshape", "only one dimension can be inferred", "[-1, -1]"),
         lambda T: _tt(T, 2, 3).reshape(-1, -1)),
    Case("reshape: -2", lambda: t(2, 3).reshape(-2, 3),
         ValueError, ("reshape", "invalid shape dimension -2", "[-2, 3]"), lambda T: _tt(T, 2, 3).reshape(-2, 3)),
    Case("view: of a transposed tensor", lambda: t(2, 3).transpose(0, 1).view(6),
         RuntimeError, ("view", "(3, 2)", "(6,)", "Use .reshape(...) instead"),
         lambda T: _tt(T, 2, 3).transpose(0, 1).view(6)),
    Case("view: of a strided slice", lambda: t(4, 3)[::2].view(6),
         RuntimeError, ("view", "(2, 3)", "(6,)", "reshape"), lambda T: _tt(T, 4, 3)[::2].view(6)),
    Case("view: to a size that does not fit", lambda: t(2, 3).view(5),
         ValueError, ("view", "[5]", "size 6"), lambda T: _tt(T, 2, 3).view(5)),
    Case("flatten: start_dim after end_dim", lambda: t(2, 3, 4).flatten(1, 0),
         ValueError, ("flatten", "start_dim=1", "end_dim=0", "(2, 3, 4)"), lambda T: _tt(T, 2, 3, 4).flatten(1, 0)),
    Case("flatten: start_dim 5 of a 3-D tensor", lambda: t(2, 3, 4).flatten(5),
         IndexError, ("flatten", "[-3, 2]", "got 5"), lambda T: _tt(T, 2, 3, 4).flatten(5)),
    Case("Flatten: start_dim 5 of a 2-D tensor", lambda: nn.Flatten(5)(t(2, 3)),
         IndexError, ("flatten", "[-2, 1]", "got 5"), lambda T: T.nn.Flatten(5)(_tt(T, 2, 3))),
    Case("squeeze: dim 2 of a 2-D tensor", lambda: t(2, 3).squeeze(2),
         IndexError, ("squeeze", "[-2, 1]", "got 2"), lambda T: _tt(T, 2, 3).squeeze(2)),
    Case("unsqueeze: dim 3 of a 2-D tensor", lambda: t(2, 3).unsqueeze(3),
         IndexError, ("unsqueeze", "[-3, 2]", "got 3"), lambda T: _tt(T, 2, 3).unsqueeze(3)),
    Case("unsqueeze: dim -4 of a 2-D tensor", lambda: t(2, 3).unsqueeze(-4),
         IndexError, ("unsqueeze", "[-3, 2]", "got -4"), lambda T: _tt(T, 2, 3).unsqueeze(-4)),
    Case("unsqueeze: a float dim", lambda: t(2, 3).unsqueeze(1.0),
         TypeError, ("unsqueeze", "dim must be an int", "1.0"), lambda T: _tt(T, 2, 3).unsqueeze(1.0)),
    Case("cat: dim 2 of 2-D tensors", lambda: minicnn.cat([t(2, 3), t(2, 3)], dim=2),
         IndexError, ("cat", "[-2, 1]", "got 2"), lambda T: T.cat([_tt(T, 2, 3), _tt(T, 2, 3)], dim=2)),
    Case("cat: dim -3 of 2-D tensors", lambda: minicnn.cat([t(2, 3), t(2, 3)], dim=-3),
         IndexError, ("cat", "[-2, 1]", "got -3"), lambda T: T.cat([_tt(T, 2, 3), _tt(T, 2, 3)], dim=-3)),
    Case("stack: dim 3 of 2-D tensors", lambda: minicnn.stack([t(2, 3), t(2, 3)], dim=3),
         IndexError, ("stack", "[-3, 2]", "got 3"), lambda T: T.stack([_tt(T, 2, 3), _tt(T, 2, 3)], dim=3)),
    Case("permute: dim 2 of a 2-D tensor", lambda: t(2, 3).permute(0, 2),
         IndexError, ("permute", "[-2, 1]", "got 2"), lambda T: _tt(T, 2, 3).permute(0, 2)),
    Case("expand: a non-singleton dimension", lambda: t(2, 3).expand(4, 3),
         ValueError, ("expand", "(4)", "(2)", "(2, 3)"), lambda T: _tt(T, 2, 3).expand(4, 3)),
    Case("expand: fewer sizes than dimensions", lambda: t(2, 3).expand(3),
         ValueError, ("expand", "(1)", "(2)", "(2, 3)"), lambda T: _tt(T, 2, 3).expand(3)),
    Case("index: a float index tensor", lambda: t(4)[minicnn.tensor(np.array([0.0, 1.0]))],
         IndexError, ("index", "float64", "(2,)", ".long()"), lambda T: _tt(T, 4)[T.tensor([0.0, 1.0])]),
    # ------------------------------------------------------------------ dtypes (torch's rules)
    Case("conv2d: a float32 input with a float64 weight",
         lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3, dtype=np.float64)),
         TypeError, ("conv2d", "float32", "float64", "(1, 3, 8, 8)", "(4, 3, 3, 3)"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3, dtype=T.float64))),
    Case("conv2d: an int64 image with a float32 weight",
         lambda: F.conv2d(minicnn.tensor(np.ones((1, 3, 8, 8), np.int64)), t(4, 3, 3, 3)),
         TypeError, ("conv2d", "int64", "float32"),
         lambda T: T.nn.functional.conv2d(T.ones(1, 3, 8, 8, dtype=T.int64), _tt(T, 4, 3, 3, 3))),
    Case("conv2d: a float64 bias", lambda: F.conv2d(t(1, 3, 8, 8), t(4, 3, 3, 3), t(4, dtype=np.float64)),
         TypeError, ("conv2d", "bias", "float32", "float64"),
         lambda T: T.nn.functional.conv2d(_tt(T, 1, 3, 8, 8), _tt(T, 4, 3, 3, 3), _tt(T, 4, dtype=T.float64))),
    Case("conv2d: bool images", lambda: F.conv2d(minicnn.tensor(np.ones((1, 1, 4, 4), bool)),
                                                 minicnn.tensor(np.ones((1, 1, 3, 3), bool))),
         TypeError, ("conv2d", "bool", "(1, 1, 4, 4)"),
         lambda T: T.nn.functional.conv2d(T.ones(1, 1, 4, 4, dtype=T.bool), T.ones(1, 1, 3, 3, dtype=T.bool))),
    Case("conv_transpose2d: mixed precision",
         lambda: F.conv_transpose2d(t(1, 3, 4, 4, dtype=np.float64), t(3, 2, 3, 3)),
         TypeError, ("conv_transpose2d", "float64", "float32"),
         lambda T: T.nn.functional.conv_transpose2d(_tt(T, 1, 3, 4, 4, dtype=T.float64), _tt(T, 3, 2, 3, 3))),
    Case("Conv2d: a float64 batch through float32 weights", lambda: nn.Conv2d(3, 4, 3)(t(1, 3, 8, 8, dtype=np.float64)),
         TypeError, ("conv2d", "float64", "float32"),
         lambda T: T.nn.Conv2d(3, 4, 3)(_tt(T, 1, 3, 8, 8, dtype=T.float64))),
    Case("matmul: float32 @ float64", lambda: minicnn.matmul(t(2, 3), t(3, 4, dtype=np.float64)),
         TypeError, ("matmul", "float32", "float64", "(2, 3)", "(3, 4)"),
         lambda T: T.matmul(_tt(T, 2, 3), _tt(T, 3, 4, dtype=T.float64))),
    Case("matmul: bool matrices", lambda: minicnn.matmul(minicnn.tensor(np.ones((2, 2), bool)),
                                                         minicnn.tensor(np.ones((2, 2), bool))),
         TypeError, ("matmul", "bool", "(2, 2)"),
         lambda T: T.matmul(T.ones(2, 2, dtype=T.bool), T.ones(2, 2, dtype=T.bool))),
    Case("linear: float32 input, float64 weight", lambda: F.linear(t(2, 4), t(3, 4, dtype=np.float64)),
         TypeError, ("linear", "float32", "float64", "(2, 4)", "(3, 4)"),
         lambda T: T.nn.functional.linear(_tt(T, 2, 4), _tt(T, 3, 4, dtype=T.float64))),
    Case("Linear: a float64 batch through float32 weights", lambda: nn.Linear(4, 3)(t(2, 4, dtype=np.float64)),
         TypeError, ("linear", "float64", "float32"), lambda T: T.nn.Linear(4, 3)(_tt(T, 2, 4, dtype=T.float64))),
    Case("softmax: int64 scores", lambda: F.softmax(ints(1, 2), dim=0),
         TypeError, ("softmax", "int64", "(2,)", ".float()"),
         lambda T: T.nn.functional.softmax(T.tensor([1, 2]), dim=0)),
    Case("softmax: bool", lambda: F.softmax(minicnn.tensor(np.array([True, False])), dim=0),
         TypeError, ("softmax", "bool"), lambda T: T.nn.functional.softmax(T.tensor([True, False]), dim=0)),
    Case("log_softmax: int64", lambda: F.log_softmax(ints(1, 2), dim=0),
         TypeError, ("log_softmax", "int64"), lambda T: T.nn.functional.log_softmax(T.tensor([1, 2]), dim=0)),
    Case("leaky_relu: int64", lambda: F.leaky_relu(ints(-1, 2)),
         TypeError, ("leaky_relu", "int64"), lambda T: T.nn.functional.leaky_relu(T.tensor([-1, 2]))),
    Case("relu: bool", lambda: F.relu(minicnn.tensor(np.array([True]))),
         TypeError, ("relu", "bool", "(1,)"), lambda T: T.nn.functional.relu(T.tensor([True]))),
    Case("neg: bool", lambda: -minicnn.tensor(np.array([True])),
         TypeError, ("neg", "bool"), lambda T: -T.tensor([True])),
    Case("sub: two bool tensors", lambda: minicnn.tensor(np.array([True])) - minicnn.tensor(np.array([False])),
         TypeError, ("sub", "bool", "logical_xor"), lambda T: T.tensor([True]) - T.tensor([False])),
    Case("mean: int64", lambda: minicnn.mean(ints(1, 2, 3)),
         TypeError, ("mean", "int64", "(3,)"), lambda T: T.mean(T.tensor([1, 2, 3]))),
    Case("var: int64", lambda: minicnn.var(ints(1, 2, 3)),
         TypeError, ("var", "int64", "(3,)"), lambda T: T.var(T.tensor([1, 2, 3]))),
    Case("batch_norm: int64 activations", lambda: F.batch_norm(minicnn.tensor(np.ones((2, 3), np.int64)), None, None,
                                                               training=True),
         TypeError, ("batch_norm", "int64", "(2, 3)"),
         lambda T: T.nn.functional.batch_norm(T.ones(2, 3, dtype=T.int64), None, None, training=True)),
    Case("dropout: int64", lambda: F.dropout(ints(1, 2, 3), 0.5),
         TypeError, ("dropout", "int64"), lambda T: T.nn.functional.dropout(T.tensor([1, 2, 3]), 0.5)),
    Case("dropout2d: p = 1.5", lambda: F.dropout2d(t(1, 2, 3, 3), 1.5),
         ValueError, ("dropout2d", "between 0 and 1", "1.5"),
         lambda T: T.nn.functional.dropout2d(_tt(T, 1, 2, 3, 3), 1.5)),
    Case("mse_loss: int64", lambda: F.mse_loss(ints(1, 2), ints(1, 3)),
         TypeError, ("mse_loss", "int64"), lambda T: T.nn.functional.mse_loss(T.tensor([1, 2]), T.tensor([1, 3]))),
    Case("cross_entropy: int64 logits", lambda: F.cross_entropy(minicnn.tensor(np.ones((2, 3), np.int64)), ints(0, 1)),
         TypeError, ("cross_entropy", "int64", "(2, 3)"),
         lambda T: T.nn.functional.cross_entropy(T.ones(2, 3, dtype=T.int64), T.tensor([0, 1]))),
    Case("nll_loss: int64 log-probabilities", lambda: F.nll_loss(minicnn.tensor(np.ones((2, 3), np.int64)), ints(0, 1)),
         TypeError, ("nll_loss", "int64"), lambda T: T.nn.functional.nll_loss(T.ones(2, 3, dtype=T.int64),
                                                                              T.tensor([0, 1]))),
    Case("interpolate: an int64 image, bilinear (it came back all zeros)",
         lambda: F.interpolate(minicnn.tensor(np.full((1, 1, 2, 2), 5, np.int64)), scale_factor=2, mode="bilinear"),
         TypeError, ("interpolate", "bilinear", "int64", "(1, 1, 2, 2)"),
         lambda T: T.nn.functional.interpolate(T.full((1, 1, 2, 2), 5), scale_factor=2, mode="bilinear")),
    Case("interpolate: an int64 image, area (it came back all zeros)",
         lambda: F.interpolate(minicnn.tensor(np.full((1, 1, 4, 4), 5, np.int64)), size=2, mode="area"),
         TypeError, ("interpolate", "area", "int64"),
         lambda T: T.nn.functional.interpolate(T.full((1, 1, 4, 4), 5), size=2, mode="area")),
    Case("interpolate: a uint8 image, area", lambda: F.interpolate(minicnn.tensor(np.full((1, 1, 4, 4), 5, np.uint8)),
                                                                   size=2, mode="area"),
         TypeError, ("interpolate", "area", "uint8"),
         lambda T: T.nn.functional.interpolate(T.full((1, 1, 4, 4), 5, dtype=T.uint8), size=2, mode="area")),
    Case("interpolate: a uint8 image, bilinear (torch rounds in fixed point; we refuse)",
         lambda: F.interpolate(minicnn.tensor(np.full((1, 1, 2, 2), 5, np.uint8)), scale_factor=2, mode="bilinear"),
         TypeError, ("interpolate", "bilinear", "uint8")),
    Case("adaptive_avg_pool2d: an int64 image (it came back all zeros)",
         lambda: F.adaptive_avg_pool2d(minicnn.tensor(np.full((1, 1, 4, 4), 5, np.int64)), 2),
         TypeError, ("adaptive_avg_pool2d", "int64", "(1, 1, 4, 4)"),
         lambda T: T.nn.functional.adaptive_avg_pool2d(T.full((1, 1, 4, 4), 5), 2)),
    Case("adaptive_avg_pool2d: a uint8 image", lambda: F.adaptive_avg_pool2d(
        minicnn.tensor(np.full((1, 1, 4, 4), 5, np.uint8)), 1),
         TypeError, ("adaptive_avg_pool2d", "uint8"),
         lambda T: T.nn.functional.adaptive_avg_pool2d(T.full((1, 1, 4, 4), 5, dtype=T.uint8), 1)),
    Case("avg_pool2d: an int32 image", lambda: F.avg_pool2d(minicnn.tensor(np.ones((1, 1, 4, 4), np.int32)), 2),
         TypeError, ("avg_pool2d", "int32"),
         lambda T: T.nn.functional.avg_pool2d(T.ones(1, 1, 4, 4, dtype=T.int32), 2)),
    Case("batch_norm: eps = -1 in training", lambda: F.batch_norm(t(2, 3, 4, 4), None, None, training=True, eps=-1),
         ValueError, ("batch_norm", "eps", "positive", "-1"),
         lambda T: T.nn.functional.batch_norm(_tt(T, 2, 3, 4, 4), None, None, training=True, eps=-1)),
    Case("batch_norm: eps = 0 in training", lambda: F.batch_norm(t(2, 3, 4, 4), None, None, training=True, eps=0),
         ValueError, ("batch_norm", "eps", "0"),
         lambda T: T.nn.functional.batch_norm(_tt(T, 2, 3, 4, 4), None, None, training=True, eps=0)),
    Case("BatchNorm2d: eps = -1", lambda: nn.BatchNorm2d(3, eps=-1)(t(2, 3, 2, 2)),
         ValueError, ("batch_norm", "eps", "-1"), lambda T: T.nn.BatchNorm2d(3, eps=-1)(_tt(T, 2, 3, 2, 2))),
    Case("batch_norm: eps = -1 in evaluation (torch would return NaN)",
         lambda: F.batch_norm(t(2, 3), t(3), t(3).abs(), training=False, eps=-1),
         ValueError, ("batch_norm", "eps", "-1")),
    # ------------------------------------------------------------------ shapes of binary ops and reductions
    Case("add: shapes that do not broadcast", lambda: minicnn.add(t(2, 3), t(4, 3)),
         ValueError, ("add", "(2, 3)", "(4, 3)"), lambda T: T.add(_tt(T, 2, 3), _tt(T, 4, 3))),
    Case("+: (2, 3) + (3, 2)", lambda: t(2, 3) + t(3, 2),
         ValueError, ("add", "(2, 3)", "(3, 2)"), lambda T: _tt(T, 2, 3) + _tt(T, 3, 2)),
    Case("*: (2, 3) * (4,)", lambda: t(2, 3) * t(4),
         ValueError, ("mul", "(2, 3)", "(4,)"), lambda T: _tt(T, 2, 3) * _tt(T, 4)),
    Case("/: (5,) / (2,)", lambda: t(5) / t(2), ValueError, ("div", "(5,)", "(2,)"), lambda T: _tt(T, 5) / _tt(T, 2)),
    Case("-: a string", lambda: t(2) - "a", TypeError, ("sub", "str", "'a'"), lambda T: _tt(T, 2) - "a"),
    Case("+: None", lambda: t(2) + None, TypeError, ("add", "NoneType"), lambda T: _tt(T, 2) + None),
    Case("**: a string", lambda: t(3) ** "a", TypeError, ("pow", "str"), lambda T: _tt(T, 3) ** "a"),
    Case("matmul: inner sizes differ", lambda: minicnn.matmul(t(2, 3), t(4, 5)),
         ValueError, ("matmul", "(2, 3)", "(4, 5)", "3 columns", "4 rows"),
         lambda T: T.matmul(_tt(T, 2, 3), _tt(T, 4, 5))),
    Case("@: (2, 3) @ (2, 3)", lambda: t(2, 3) @ t(2, 3),
         ValueError, ("matmul", "(2, 3)", "3 columns", "2 rows"), lambda T: _tt(T, 2, 3) @ _tt(T, 2, 3)),
    Case("matmul: a 0-d operand", lambda: minicnn.matmul(t(), t(3)),
         ValueError, ("matmul", "()", "(3,)", "at least 1 dimension"), lambda T: T.matmul(T.tensor(1.0), _tt(T, 3))),
    Case("matmul: batch shapes that do not broadcast", lambda: minicnn.matmul(t(2, 2, 3), t(3, 3, 4)),
         ValueError, ("matmul", "(2, 2, 3)", "(3, 3, 4)"), lambda T: T.matmul(_tt(T, 2, 2, 3), _tt(T, 3, 3, 4))),
    Case("linear: a bias of the wrong length", lambda: F.linear(t(2, 4), t(3, 4), t(4)),
         ValueError, ("linear", "(3,)", "(4,)"),
         lambda T: T.nn.functional.linear(_tt(T, 2, 4), _tt(T, 3, 4), _tt(T, 4))),
    Case("softmax: dim 3 of a 2-D tensor", lambda: F.softmax(t(2, 3), dim=3),
         IndexError, ("softmax", "[-2, 1]", "got 3"), lambda T: T.nn.functional.softmax(_tt(T, 2, 3), dim=3)),
    Case("log_softmax: dim -3 of a 2-D tensor", lambda: F.log_softmax(t(2, 3), dim=-3),
         IndexError, ("log_softmax", "[-2, 1]", "got -3"), lambda T: T.nn.functional.log_softmax(_tt(T, 2, 3), dim=-3)),
    Case("Softmax: dim 4 of a 2-D tensor", lambda: nn.Softmax(dim=4)(t(2, 3)),
         IndexError, ("softmax", "[-2, 1]", "got 4"), lambda T: T.nn.Softmax(dim=4)(_tt(T, 2, 3))),
    Case("max: of an empty tensor", lambda: minicnn.max(t(0)),
         IndexError, ("max()", "(0,)", "non-empty"), lambda T: T.max(_tt(T, 0))),
    Case("amax: over an empty dim", lambda: minicnn.amax(t(0, 3), dim=0),
         IndexError, ("amax()", "(0, 3)"), lambda T: T.amax(_tt(T, 0, 3), dim=0)),
    Case("argmax: of an empty tensor", lambda: minicnn.argmax(t(0)),
         IndexError, ("argmax()", "(0,)"), lambda T: T.argmax(_tt(T, 0))),
    Case("min: along an empty dim", lambda: minicnn.min(t(2, 0), dim=1),
         IndexError, ("min()", "(2, 0)"), lambda T: T.min(_tt(T, 2, 0), dim=1)),
    # ------------------------------------------------------------------ creating tensors
    Case("tensor: a list of strings", lambda: minicnn.tensor(["a"]),
         TypeError, ("tensor", "<U1", "strings", "(1,)"), lambda T: T.tensor(["a"])),
    Case("tensor: None", lambda: minicnn.tensor(None),
         TypeError, ("tensor", "could not infer dtype", "NoneType"), lambda T: T.tensor(None)),
    Case("tensor: an object array", lambda: minicnn.tensor(np.array([1, None], dtype=object)),
         TypeError, ("tensor", "object", "(2,)"), lambda T: T.tensor(np.array([1, None], dtype=object))),
    Case("tensor: a list holding None", lambda: minicnn.tensor([None, 1.0]),
         TypeError, ("tensor", "object"), lambda T: T.tensor([None, 1.0])),
    Case("tensor: a dict", lambda: minicnn.tensor({"a": 1}),
         TypeError, ("tensor", "dict"), lambda T: T.tensor({"a": 1})),
    Case("tensor: a ragged list", lambda: minicnn.tensor([[1, 2], [3]]),
         ValueError, ("tensor", "rectangular", "[[1, 2], [3]]"), lambda T: T.tensor([[1, 2], [3]])),
    Case("tensor: a numbers-and-strings list", lambda: minicnn.tensor([1, "a"]),
         TypeError, ("tensor", "strings", "(2,)"), lambda T: T.tensor([1, "a"])),
    Case("tensor: dates", lambda: minicnn.tensor(np.array(["2020-01-01"], dtype="datetime64[D]")),
         TypeError, ("tensor", "datetime64[D]", "dates")),
    Case("Tensor: a string", lambda: minicnn.Tensor("abc"),
         TypeError, ("tensor", "str", "'abc'"), lambda T: T.tensor("abc")),
    Case("zeros: a negative size", lambda: minicnn.zeros(-1),
         ValueError, ("zeros", "negative dimension", "[-1]"), lambda T: T.zeros(-1)),
    Case("zeros: a float size", lambda: minicnn.zeros(2.5),
         TypeError, ("zeros", "(2.5,)", "float"), lambda T: T.zeros(2.5)),
    Case("ones: a negative size", lambda: minicnn.ones(2, -1),
         ValueError, ("ones", "negative dimension", "[2, -1]"), lambda T: T.ones(2, -1)),
    Case("randn: a negative size", lambda: minicnn.randn(-3),
         ValueError, ("randn", "negative dimension", "[-3]"), lambda T: T.randn(-3)),
    Case("where: a float condition", lambda: minicnn.where(t(3), t(3), t(3)),
         TypeError, ("where", "bool", "float32"), lambda T: T.where(_tt(T, 3), _tt(T, 3), _tt(T, 3))),
    Case("where: shapes that do not broadcast", lambda: minicnn.where(minicnn.tensor(np.array([True, False])),
                                                                      t(3), t(3)),
         ValueError, ("where", "(2,)", "(3,)"),
         lambda T: T.where(T.tensor([True, False]), _tt(T, 3), _tt(T, 3))),
    Case("mse_loss: shapes that do not broadcast", lambda: F.mse_loss(t(2, 3), t(3, 2)),
         ValueError, ("mse_loss", "(2, 3)", "(3, 2)"), lambda T: T.nn.functional.mse_loss(_tt(T, 2, 3), _tt(T, 3, 2))),
    # ------------------------------------------------------------------ attention modules and networks
    Case("SE: reduction_factor 0", lambda: nn.SE(16, reduction_factor=0),
         ValueError, ("SE(in_dim=16)", "reduction_factor", "0")),
    Case("SE: a bottleneck of 0 channels", lambda: nn.SE(4, reduction_factor=16),
         ValueError, ("SE(in_dim=4)", "4 // 16 = 0")),
    Case("SE: wrong channel count", lambda: nn.SE(16)(t(1, 8, 4, 4)),
         ValueError, ("SE(in_dim=16", "16 input channels", "(1, 8, 4, 4)")),
    Case("CBAM: wrong channel count", lambda: nn.CBAM(16)(t(1, 8, 4, 4)),
         ValueError, ("CBAM(in_dim=16)", "16 input channels", "(1, 8, 4, 4)")),
    Case("PAM: wrong channel count", lambda: nn.PAM(16)(t(1, 8, 4, 4)),
         ValueError, ("PAM(in_dim=16)", "16 input channels", "(1, 8, 4, 4)")),
    Case("CAM: a 3-D input", lambda: nn.CAM()(t(8, 4, 4)),
         ValueError, ("CAM", "4-D", "(8, 4, 4)")),
    Case("BAM: a batch of 1 in training (its pooled batch norm needs 2)", lambda: nn.BAM(16)(t(1, 16, 8, 8)),
         ValueError, ("BAM(in_dim=16", "batch of at least 2", "(1, 16, 8, 8)", ".eval()")),
    Case("BAMChannelAttention: a batch of 1 in training", lambda: nn.BAMChannelAttention(16)(t(1, 16, 4, 4)),
         ValueError, ("BAMChannelAttention(in_dim=16", "batch of at least 2", "(1, 16, 4, 4)")),
    Case("SK: a batch of 1 in training", lambda: nn.SK(64)(t(1, 64, 8, 8)),
         ValueError, ("SK(in_dim=64", "batch of at least 2", "(1, 64, 8, 8)")),
    Case("BAM: 0 channels", lambda: nn.BAM(0),
         ValueError, ("BAMChannelAttention(in_dim=0)", "0 // 16 = 0")),
    Case("SK: channels not divisible by its groups", lambda: nn.SK(16),
         ValueError, ("SK(in_dim=16)", "groups=32", "16")),
    Case("AttentionGate: gating signal with the wrong channels",
         lambda: nn.AttentionGate(8, 16, 4)(t(1, 8, 8, 8), t(1, 8, 4, 4)),
         ValueError, ("AttentionGate", "(1, 16, H_g, W_g)", "(1, 8, 4, 4)")),
    Case("UNet: depth 0", lambda: minicnn.models.UNet(in_channels=1, num_classes=2, depth=0),
         ValueError, ("UNet", "depth", "0")),
    Case("UNet: an input size valid padding cannot take",
         lambda: minicnn.models.UNet(in_channels=1, num_classes=2, base_channels=4, depth=3)(t(1, 1, 20, 20)),
         ValueError, ("UNet(padding='valid', depth=3)", "input size 20")),
    Case("UNet: wrong input channels",
         lambda: minicnn.models.UNet(in_channels=1, num_classes=2, base_channels=4, depth=2)(t(1, 3, 16, 16)),
         ValueError, ("UNet", "(N, 1, H, W)", "(1, 3, 16, 16)")),
    Case("resnet18: unknown attention", lambda: minicnn.models.resnet18(attention="transformer"),
         ValueError, ("ResNet", "'transformer'", "'se'")),
    # ------------------------------------------------------------------ modules and state dicts
    Case("load_state_dict: a missing key", lambda: nn.Linear(2, 3).load_state_dict({"weight": np.ones((3, 2))}),
         RuntimeError, ("Linear", "Missing key", '"bias"'),
         lambda T: T.nn.Linear(2, 3).load_state_dict({"weight": T.ones(3, 2)})),
    Case("load_state_dict: a shape mismatch",
         lambda: nn.Linear(2, 3).load_state_dict({"weight": np.ones((3, 3)), "bias": np.ones(3)}),
         RuntimeError, ("Linear", "weight", "(3, 3)", "(3, 2)"),
         lambda T: T.nn.Linear(2, 3).load_state_dict({"weight": T.ones(3, 3), "bias": T.ones(3)})),
    Case("load_state_dict: a string where an array belongs",
         lambda: nn.Linear(2, 3).load_state_dict({"weight": "abc", "bias": np.ones(3)}),
         RuntimeError, ("Linear", '"weight"', "'abc'"),
         lambda T: T.nn.Linear(2, 3).load_state_dict({"weight": "abc", "bias": T.ones(3)})),
    Case("load_state_dict: numbers written as strings (they were parsed)",
         lambda: nn.Linear(1, 1).load_state_dict({"weight": [["1.5"]], "bias": ["2"]}),
         RuntimeError, ("Linear", '"weight"', "array of numbers", "<U3"),
         lambda T: T.nn.Linear(1, 1).load_state_dict({"weight": [["1.5"]], "bias": ["2"]})),
    Case("load_state_dict: a string array for a buffer",
         lambda: nn.BatchNorm2d(2).load_state_dict({"weight": np.ones(2), "bias": np.ones(2),
                                                    "running_mean": np.ones(2), "running_var": np.ones(2),
                                                    "num_batches_tracked": np.array("3")}),
         RuntimeError, ("BatchNorm2d", '"num_batches_tracked"', "'3'")),
    Case("load_state_dict: a list instead of a dict", lambda: nn.Linear(1, 1).load_state_dict([1, 2]),
         TypeError, ("Linear.load_state_dict", "dict-like", "list"),
         lambda T: T.nn.Linear(1, 1).load_state_dict([1, 2])),
    Case("add_module: a name with a dot", lambda: nn.Module().add_module("a.b", nn.Linear(1, 1)),
         KeyError, ("module name", "a.b"), lambda T: T.nn.Module().add_module("a.b", T.nn.Linear(1, 1))),
    Case("add_module: not a module", lambda: nn.Module().add_module("a", 3),
         TypeError, ("int is not a Module subclass", "'a'"), lambda T: T.nn.Module().add_module("a", 3)),
    Case("register_parameter: a plain tensor", lambda: nn.Module().register_parameter("w", t(2)),
         TypeError, ("'Tensor'", "parameter 'w'", "Parameter or None"),
         lambda T: T.nn.Module().register_parameter("w", _tt(T, 2))),
    Case("Sequential: an int among the layers", lambda: nn.Sequential(nn.Linear(1, 1), 5),
         TypeError, ("Sequential", "int is not a Module subclass", "'1'"),
         lambda T: T.nn.Sequential(T.nn.Linear(1, 1), 5)),
    Case("ModuleList: appending an int", lambda: nn.ModuleList().append(3),
         TypeError, ("ModuleList", "int is not a Module subclass"), lambda T: T.nn.ModuleList().append(3)),
    Case("Linear: called on a string", lambda: nn.Linear(2, 3)("abc"),
         TypeError, ("Linear(2, 3)", "must be a Tensor", "str"), lambda T: T.nn.Linear(2, 3)("abc")),
    Case("conv2d: a list as input", lambda: F.conv2d([[1.0]], t(1, 1, 1, 1)),
         TypeError, ("conv2d", "must be a Tensor", "list"),
         lambda T: T.nn.functional.conv2d([[1.0]], _tt(T, 1, 1, 1, 1))),
    Case("max_pool2d: a string", lambda: F.max_pool2d("image", 2),
         TypeError, ("max_pool2d", "must be a Tensor", "str"), lambda T: T.nn.functional.max_pool2d("image", 2)),
    Case("Conv2d: in_channels -1", lambda: nn.Conv2d(-1, 8, 3),
         ValueError, ("Conv2d", "in_channels", "-1"), lambda T: T.nn.Conv2d(-1, 8, 3)),
    Case("Conv2d: out_channels 2.5", lambda: nn.Conv2d(3, 2.5, 3),
         TypeError, ("Conv2d", "out_channels", "2.5", "float"), lambda T: T.nn.Conv2d(3, 2.5, 3)),
    Case("Linear: in_features -1", lambda: nn.Linear(-1, 3),
         ValueError, ("Linear", "in_features", "-1"), lambda T: T.nn.Linear(-1, 3)),
    # ------------------------------------------------------------------ optimisers and schedules (torch's words)
    Case("SGD: negative lr", lambda: optim.SGD([param(2)], lr=-1),
         ValueError, ("SGD", "Invalid learning rate: -1"), lambda T: T.optim.SGD([_tt(T, 2)], lr=-1)),
    Case("SGD: negative momentum", lambda: optim.SGD([param(2)], lr=0.1, momentum=-1),
         ValueError, ("SGD", "Invalid momentum value: -1"),
         lambda T: T.optim.SGD([_tt(T, 2)], lr=0.1, momentum=-1)),
    Case("SGD: negative weight_decay", lambda: optim.SGD([param(2)], lr=0.1, weight_decay=-1),
         ValueError, ("SGD", "Invalid weight_decay value: -1"),
         lambda T: T.optim.SGD([_tt(T, 2)], lr=0.1, weight_decay=-1)),
    Case("SGD: Nesterov without momentum", lambda: optim.SGD([param(2)], lr=0.1, nesterov=True),
         ValueError, ("SGD", "Nesterov momentum requires a momentum and zero dampening"),
         lambda T: T.optim.SGD([_tt(T, 2)], lr=0.1, nesterov=True)),
    Case("SGD: Nesterov with dampening",
         lambda: optim.SGD([param(2)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
         ValueError, ("SGD", "Nesterov momentum requires a momentum and zero dampening"),
         lambda T: T.optim.SGD([_tt(T, 2)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    Case("SGD: NaN lr (torch's SGD lets it through; every weight would become NaN)",
         lambda: optim.SGD([param(2)], lr=math.nan), ValueError, ("SGD", "Invalid learning rate: nan")),
    Case("SGD: infinite lr", lambda: optim.SGD([param(2)], lr=math.inf),
         ValueError, ("SGD", "Invalid learning rate: inf")),
    Case("SGD: lr as a string", lambda: optim.SGD([param(2)], lr="0.1"),
         TypeError, ("SGD", "learning rate", "'0.1'", "str"), lambda T: T.optim.SGD([_tt(T, 2)], lr="0.1")),
    Case("SGD: a group with a negative lr", lambda: optim.SGD([{"params": [param(2)], "lr": -0.5}], lr=0.1),
         ValueError, ("SGD", "Invalid learning rate: -0.5")),
    Case("Adam: negative lr", lambda: optim.Adam([param(2)], lr=-1),
         ValueError, ("Adam", "Invalid learning rate: -1"), lambda T: T.optim.Adam([_tt(T, 2)], lr=-1)),
    Case("Adam: NaN lr", lambda: optim.Adam([param(2)], lr=math.nan),
         ValueError, ("Adam", "Invalid learning rate: nan"), lambda T: T.optim.Adam([_tt(T, 2)], lr=math.nan)),
    Case("Adam: negative eps", lambda: optim.Adam([param(2)], eps=-1),
         ValueError, ("Adam", "Invalid epsilon value: -1"), lambda T: T.optim.Adam([_tt(T, 2)], eps=-1)),
    Case("Adam: NaN eps", lambda: optim.Adam([param(2)], eps=math.nan),
         ValueError, ("Adam", "Invalid epsilon value: nan"), lambda T: T.optim.Adam([_tt(T, 2)], eps=math.nan)),
    Case("Adam: beta1 = 1", lambda: optim.Adam([param(2)], betas=(1.0, 0.9)),
         ValueError, ("Adam", "Invalid beta parameter at index 0: 1.0"),
         lambda T: T.optim.Adam([_tt(T, 2)], betas=(1.0, 0.9))),
    Case("Adam: beta2 = 1", lambda: optim.Adam([param(2)], betas=(0.9, 1.0)),
         ValueError, ("Adam", "Invalid beta parameter at index 1: 1.0"),
         lambda T: T.optim.Adam([_tt(T, 2)], betas=(0.9, 1.0))),
    Case("Adam: negative beta1", lambda: optim.Adam([param(2)], betas=(-0.1, 0.9)),
         ValueError, ("Adam", "Invalid beta parameter at index 0: -0.1"),
         lambda T: T.optim.Adam([_tt(T, 2)], betas=(-0.1, 0.9))),
    Case("Adam: NaN beta1", lambda: optim.Adam([param(2)], betas=(math.nan, 0.9)),
         ValueError, ("Adam", "Invalid beta parameter at index 0: nan"),
         lambda T: T.optim.Adam([_tt(T, 2)], betas=(math.nan, 0.9))),
    Case("Adam: one beta", lambda: optim.Adam([param(2)], betas=(0.9,)),
         ValueError, ("Adam", "betas", "(0.9,)"), lambda T: T.optim.Adam([_tt(T, 2)], betas=(0.9,))),
    Case("Adam: negative weight_decay", lambda: optim.Adam([param(2)], weight_decay=-1),
         ValueError, ("Adam", "Invalid weight_decay value: -1"),
         lambda T: T.optim.Adam([_tt(T, 2)], weight_decay=-1)),
    Case("AdamW: NaN lr", lambda: optim.AdamW([param(2)], lr=math.nan),
         ValueError, ("AdamW", "Invalid learning rate: nan"), lambda T: T.optim.AdamW([_tt(T, 2)], lr=math.nan)),
    Case("AdamW: negative weight_decay", lambda: optim.AdamW([param(2)], weight_decay=-0.5),
         ValueError, ("AdamW", "Invalid weight_decay value: -0.5"),
         lambda T: T.optim.AdamW([_tt(T, 2)], weight_decay=-0.5)),
    Case("Optimizer: an empty parameter list", lambda: optim.Adam([]),
         ValueError, ("Adam", "empty parameter list"), lambda T: T.optim.Adam([])),
    Case("Optimizer: a parameter in two groups", lambda: (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}],
                                                                                lr=0.1))(param(2)),
         ValueError, ("SGD", "more than one parameter group"),
         lambda T: (lambda p: T.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1))(_tt(T, 2))),
    Case("Optimizer: a single tensor instead of an iterable", lambda: optim.SGD(param(2), lr=0.1),
         TypeError, ("SGD", "single tensor"), lambda T: T.optim.SGD(_tt(T, 2), lr=0.1)),
    Case("Optimizer.load_state_dict: a dict without param_groups",
         lambda: optim.SGD([param(2)], lr=0.1).load_state_dict({"state": {}}),
         ValueError, ("SGD.load_state_dict", "'param_groups'", "['state']"),
         lambda T: T.optim.SGD([_tt(T, 2)], lr=0.1).load_state_dict({"state": {}})),
    Case("Optimizer.load_state_dict: a group with a negative lr",
         lambda: optim.SGD([param(2)], lr=0.1).load_state_dict(
             {"state": {}, "param_groups": [dict(optim.SGD([param(2)], lr=0.1).param_groups[0], params=[0],
                                                 lr=-1)]}),
         ValueError, ("SGD", "Invalid learning rate: -1")),
    Case("Optimizer.load_state_dict: a step count given as a string",
         lambda: (lambda p: optim.Adam([p]).load_state_dict(
             {"state": {0: {"step": "3", "exp_avg": np.zeros(2), "exp_avg_sq": np.zeros(2)}},
              "param_groups": [dict(optim.Adam([param(2)]).param_groups[0], params=[0])]}))(param(2)),
         TypeError, ("load_state_dict", "'step'", "'3'")),
    Case("StepLR: step_size 0", lambda: optim.lr_scheduler.StepLR(optim.SGD([param(2)], lr=0.1), step_size=0),
         ValueError, ("StepLR", "step_size", "0")),
    Case("CosineAnnealingLR: T_max 0",
         lambda: optim.lr_scheduler.CosineAnnealingLR(optim.SGD([param(2)], lr=0.1), T_max=0),
         ValueError, ("CosineAnnealingLR", "T_max", "0")),
    Case("MultiStepLR: decreasing milestones",
         lambda: optim.lr_scheduler.MultiStepLR(optim.SGD([param(2)], lr=0.1), milestones=[3, 1]),
         ValueError, ("MultiStepLR", "milestones", "[3, 1]")),
    Case("StepLR: not an optimiser", lambda: optim.lr_scheduler.StepLR("sgd", step_size=1),
         TypeError, ("StepLR", "str", "not an Optimizer")),
    # ------------------------------------------------------------------ data, metrics, seeds
    Case("DataLoader: batch_size 0", lambda: minicnn.data.DataLoader(minicnn.data.TensorDataset(np.ones((4, 2))),
                                                                     batch_size=0),
         ValueError, ("DataLoader", "batch_size", "0"),
         lambda T: T.utils.data.DataLoader(T.utils.data.TensorDataset(T.ones(4, 2)), batch_size=0)),
    Case("DataLoader: batch_size 1.5", lambda: minicnn.data.DataLoader(minicnn.data.TensorDataset(np.ones((4, 2))),
                                                                       batch_size=1.5),
         ValueError, ("DataLoader", "batch_size", "1.5"),
         lambda T: T.utils.data.DataLoader(T.utils.data.TensorDataset(T.ones(4, 2)), batch_size=1.5)),
    Case("TensorDataset: arrays of different lengths",
         lambda: minicnn.data.TensorDataset(np.ones((4, 2)), np.ones(3)),
         ValueError, ("TensorDataset", "[4, 3]"),
         lambda T: T.utils.data.TensorDataset(T.ones(4, 2), T.ones(3))),
    Case("CellsDataset: no images", lambda: minicnn.data.CellsDataset(0),
         ValueError, ("make_cells", "n_images >= 1", "got 0")),
    Case("CellsDataset: size 0", lambda: minicnn.data.CellsDataset(2, size=0),
         ValueError, ("make_cells", "size >= 8", "0")),
    Case("DigitsDataset: limit 0", lambda: minicnn.data.DigitsDataset(limit=0),
         ValueError, ("DigitsDataset", "limit", "0")),
    Case("Trainer.fit: 0 epochs", lambda: _trainer().fit(0), ValueError, ("Trainer.fit", "positive int", "0")),
    Case("Trainer.fit: 2.5 epochs", lambda: _trainer().fit(2.5), ValueError, ("Trainer.fit", "2.5")),
    Case("Trainer: unknown metrics", lambda: minicnn.train.Trainer(nn.Linear(1, 1), optim.SGD([param(1)], lr=0.1),
                                                                   None, [], metrics="iou"),
         ValueError, ("Trainer", "metrics", "'iou'")),
    Case("confusion_matrix: prediction and target shapes differ",
         lambda: minicnn.metrics.confusion_matrix(np.zeros((2, 3)), np.zeros((3, 3)), 2),
         ValueError, ("confusion_matrix", "(2, 3)", "(3, 3)")),
    Case("manual_seed: a negative seed (NumPy's generators refuse it)", lambda: minicnn.manual_seed(-1),
         ValueError, ("manual_seed", ">= 0", "-1")),
    Case("manual_seed: a string", lambda: minicnn.manual_seed("a"),
         TypeError, ("manual_seed", "'a'", "str"), lambda T: T.manual_seed("a")),
    Case("manual_seed: a float (torch truncates it silently)", lambda: minicnn.manual_seed(1.5),
         TypeError, ("manual_seed", "1.5", "float")),
    Case("xavier_uniform_: a 1-D tensor", lambda: minicnn.init.xavier_uniform_(nn.Parameter(minicnn.zeros(3))),
         ValueError, ("fan in and fan out", "(3,)"), lambda T: T.nn.init.xavier_uniform_(T.zeros(3))),
    Case("summary: an input the model cannot take", lambda: minicnn.summary(nn.Linear(2, 3), (1, 5)),
         ValueError, ("Linear(2, 3)", "2 features", "(1, 5)")),
    # ------------------------------------------------------------------ checkpoint files (API side)
    Case("load: caps that are not sizes", lambda: minicnn.load("x.npz", max_bytes=-1),
         ValueError, ("minicnn.load", "max_bytes", "-1")),
    Case("save: a set inside the object", lambda: minicnn.save({"s": {1, 2}}, "never-written.npz"),
         TypeError, ("minicnn.save", "['s']", "set")),
    Case("save: a tuple key", lambda: minicnn.save({(1, 2): np.ones(2)}, "never-written.npz"),
         TypeError, ("minicnn.save", "(1, 2)", "tuple")),
    Case("save: an object array", lambda: minicnn.save({"o": np.array([None, 1], dtype=object)}, "x.npz"),
         TypeError, ("minicnn.save", "['o']", "object array")),
]


@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_the_api_refuses_with_a_clear_error(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # rows that name files work in an empty folder
    with pytest.raises(case.error) as info:
        case.call()
    message = str(info.value)
    missing = [w for w in case.words if w not in message]
    assert not missing, f"the message lacks {missing}: {message!r}"
    assert "Traceback" not in message and not info.type.__module__.startswith("numpy")
    assert list(tmp_path.iterdir()) == []            # and nothing was written


WITH_TORCH = [c for c in API if c.torch is not None]


@pytest.mark.parametrize("case", WITH_TORCH, ids=[c.id for c in WITH_TORCH])
def test_torch_refuses_the_same_calls(case, torch):
    import warnings
    with warnings.catch_warnings(), pytest.raises(Exception):
        warnings.simplefilter("ignore")              # torch warns before refusing some of them
        case.torch(torch)


# ============================================================================ checkpoint files
def _npy(shape, dtype="<f8", data=b""):
    import io
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def _zip(path, entries):
    import zipfile
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)


def _savez(path, **arrays):
    with open(path, "wb") as f:                      # np.savez(path) would append ".npz" to the name
        np.savez(f, **arrays)


def _meta(path, text, **arrays):
    _savez(path, __minicnn__=np.array(text), **arrays)


def _truncated(path, fraction):
    minicnn.save({"w": np.arange(100.0), "epoch": 3}, path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def _torch_file(path):
    import torch
    torch.save({"w": torch.ones(2)}, path)


def _legacy_torch_file(path):
    import torch
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)


FILES = [
    ("empty", lambda p: p.write_bytes(b""), ("is empty", "0 bytes")),
    ("random bytes", lambda p: p.write_bytes(np.random.default_rng(1).bytes(1000)),
     ("not a minicnn checkpoint", "starts with")),
    ("text", lambda p: p.write_text("epoch,loss\n1,0.5\n"), ("starts with b'epoch,lo'",)),
    (".npy", lambda p: p.write_bytes(_npy((2,), data=bytes(16))), ("single .npy array", "numpy.load")),
    ("pickle", lambda p: p.write_bytes(pickle.dumps({"a": 1})), ("pickle file", "arbitrary code")),
    ("torch.save", _torch_file, ("torch.save file", "torch.load")),
    ("legacy torch.save", _legacy_torch_file, ("pickle file",)),
    ("object array", lambda p: _savez(p, a=np.array([{"x": 1}], dtype=object)), ("needs pickle", "'a'")),
    ("truncated to 10%", lambda p: _truncated(p, 0.1), ("damaged or truncated",)),
    ("truncated to 90%", lambda p: _truncated(p, 0.9), ("damaged or truncated",)),
    ("a zip of text files", lambda p: _zip(p, {"notes.txt": b"hi"}), ("'notes.txt'", "not a .npy")),
    ("a header claiming 8 TiB", lambda p: _zip(p, {"w.npy": _npy((1 << 40,), data=bytes(8))}),
     ("'w'", "(1099511627776,)", "8.0 TiB", "max_array_bytes")),
    ("a header larger than its data", lambda p: _zip(p, {"w.npy": _npy((4,), data=bytes(8))}),
     ("'w'", "(4,)", "32 bytes", "holds 8")),
    ("a negative shape", lambda p: _zip(p, {"w.npy": _npy((-4,), data=b"")}), ("'w'", "(-4,)")),
    ("metadata that is not JSON", lambda p: _meta(p, "{oops"), ("not valid JSON", "JSONDecodeError")),
    ("metadata nested 100000 deep", lambda p: _meta(p, "[" * 100_000 + "]" * 100_000),
     ("not valid JSON", "RecursionError")),
    ("metadata naming a missing array",
     lambda p: _meta(p, '{"format": "minicnn-npz", "version": 1, "tree": {"array": "ghost"}}'),
     ("'ghost'", "does not hold")),
    ("metadata of another format", lambda p: _meta(p, '{"format": "keras", "tree": {}}'), ("format 'keras'",)),
    ("metadata of a newer version",
     lambda p: _meta(p, '{"format": "minicnn-npz", "version": 7, "tree": {"value": 1}}'), ("version 7", "newer")),
    ("metadata with a dict as a plain value",
     lambda p: _meta(p, '{"format": "minicnn-npz", "version": 1, "tree": {"value": {"a": 1}}}'),
     ("plain value", "{'a': 1}")),
    ("metadata as a number array", lambda p: _savez(p, __minicnn__=np.arange(3)), ("__minicnn__", "(3,)")),
]


@pytest.mark.parametrize("make, words", [(m, w) for _, m, w in FILES], ids=[i for i, _, _ in FILES])
def test_load_refuses_bad_files_with_a_value_error(tmp_path, make, words):
    path = tmp_path / "bad.ckpt"
    make(path)
    with pytest.raises(ValueError) as info:
        minicnn.load(path)
    message = str(info.value)
    assert message.startswith("minicnn.load: ") and "bad.ckpt" in message
    missing = [w for w in words if w not in message]
    assert not missing, f"the message lacks {missing}: {message!r}"


# ============================================================================ the command line
CELLS = ["train", "unet", "--dataset", "cells", "--image-size", "16", "--n-train", "4", "--n-val", "2",
         "--no-progress"]
DIGITS = ["train", "resnet18", "--dataset", "digits", "--no-progress"]

CLI = [
    ("--epochs 0", [*CELLS, "--epochs", "0"], ("--epochs", "positive integer", "0")),
    ("--epochs -3", [*CELLS, "--epochs", "-3"], ("--epochs", "positive integer", "-3")),
    ("--epochs 2.5", [*CELLS, "--epochs", "2.5"], ("--epochs", "integer", "'2.5'")),
    ("--epochs ten", [*CELLS, "--epochs", "ten"], ("--epochs", "integer", "'ten'")),
    ("--lr -1", [*CELLS, "--lr", "-1"], ("--lr", "finite number > 0", "-1")),
    ("--lr 0", [*CELLS, "--lr", "0"], ("--lr", "finite number > 0", "0")),
    ("--lr nan", [*CELLS, "--lr", "nan"], ("--lr", "finite number > 0", "nan")),
    ("--lr inf", [*CELLS, "--lr", "inf"], ("--lr", "finite number > 0", "inf")),
    ("--lr fast", [*CELLS, "--lr", "fast"], ("--lr", "a number", "'fast'")),
    ("--batch-size 0", [*CELLS, "--batch-size", "0"], ("--batch-size", "positive integer", "0")),
    ("--n-train 0", [*CELLS, "--n-train", "0"], ("--n-train", "positive integer", "0")),
    ("--n-val 0", [*CELLS, "--n-val", "0"], ("--n-val", "positive integer", "0")),
    ("--width 0", [*CELLS, "--width", "0"], ("--width", "positive integer", "0")),
    ("--depth 0", [*CELLS, "--depth", "0"], ("--depth", "positive integer", "0")),
    ("--reduction 0", [*DIGITS, "--attention", "se", "--reduction", "0"], ("--reduction", "positive integer", "0")),
    ("--image-size 0", [*CELLS, "--image-size", "0"], ("--image-size", "positive integer", "0")),
    ("--seed -1", [*CELLS, "--seed", "-1"], ("--seed", ">= 0", "-1")),
    ("digits --n-train 0", [*DIGITS, "--n-train", "0"], ("--n-train", "positive integer", "0")),
    ("demo --epochs 0", ["demo", "--epochs", "0"], ("--epochs", "positive integer", "0")),
    ("demo --seed -5", ["demo", "--seed", "-5"], ("--seed", ">= 0", "-5")),
    ("demo --out in a file", ["demo", "--out", "{tmp}/file.txt/demo.png"], ("--out", "is a file, not a folder")),
    ("demo --out unknown format", ["demo", "--out", "{tmp}/demo.bmpx"], ("--out", "'bmpx'", "png")),
    ("gradcheck --seed -1", ["gradcheck", "--seed", "-1"], ("--seed", ">= 0", "-1")),
    ("--metrics-out is a folder", [*CELLS, "--metrics-out", "{tmp}"], ("--metrics-out", "is a folder")),
    ("--metrics-out under a file", [*CELLS, "--metrics-out", "{tmp}/file.txt/m.json"],
     ("--metrics-out", "file.txt is a file")),
    ("--metrics-out unwritable", [*CELLS, "--metrics-out", "/proc/minicnn/m.json"],
     ("--metrics-out", "cannot write in /proc")),
    ("--plot unknown format", [*CELLS, "--plot", "{tmp}/p.figure"], ("--plot", "'figure'", "svg")),
    ("--plot under a file", [*CELLS, "--plot", "{tmp}/file.txt/p.png"], ("--plot", "is a file, not a folder")),
    ("--checkpoint-dir is a file", [*CELLS, "--checkpoint-dir", "{tmp}/file.txt"],
     ("--checkpoint-dir", "is a file, not a folder")),
    ("--resume missing", [*CELLS, "--resume", "{tmp}/missing.npz"], ("--resume", "missing.npz", "no such file")),
    ("--resume a folder", [*CELLS, "--resume", "{tmp}"], ("--resume", "is a folder", "last.npz")),
    ("--resume a text file", [*CELLS, "--resume", "{tmp}/file.txt"], ("--resume", "not a minicnn checkpoint")),
    ("--resume an npz of something else", [*CELLS, "--resume", "{tmp}/plain.npz"],
     ("--resume", "not a checkpoint written by minicnn train", "lacks epoch")),
    ("unknown model", ["train", "vgg99", "--dataset", "cells"], ("unknown model 'vgg99'", "unet")),
    ("unknown dataset", ["train", "unet", "--dataset", "mnist"], ("unknown dataset 'mnist'", "cells")),
    ("unknown attention", [*DIGITS, "--attention", "transformer"], ("unknown attention 'transformer'", "se")),
    ("model and dataset do not fit", ["train", "resnet18", "--dataset", "cells"], ("does not fit", "unet")),
]


@pytest.mark.parametrize("argv, words", [(a, w) for _, a, w in CLI], ids=[i for i, _, _ in CLI])
def test_the_command_line_exits_2_with_the_usage_line(tmp_path, capsys, monkeypatch, argv, words):
    import minicnn.train

    def no_work(*args, **kwargs):
        raise AssertionError("the mistake was noticed only after the work had started")
    monkeypatch.setattr(minicnn.train.Trainer, "fit", no_work)
    (tmp_path / "file.txt").write_text("a file, not a folder")
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: minicnn ") and "Traceback" not in err
    missing = [w for w in words if w not in err]
    assert not missing, f"stderr lacks {missing}: {err!r}"


# ============================================================================ what torch accepts, we accept
def test_a_layer_without_inputs_is_built_as_in_torch(torch):
    """``Conv2d(0, 8, 3)`` and ``Linear(0, 3)``: torch warns that initialising zero elements is a no-op and
    builds the layer (its output is the bias); minicnn did divide by the fan-in of zero."""
    for ours, theirs, x in ((lambda: nn.Conv2d(0, 8, 3), lambda: torch.nn.Conv2d(0, 8, 3), None),
                            (lambda: nn.Linear(0, 3), lambda: torch.nn.Linear(0, 3), (2, 0))):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            layer = ours()
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            reference = theirs()
        assert tuple(layer.weight.shape) == tuple(reference.weight.shape)
        if x is None:
            continue
        out = layer(minicnn.zeros(*x)).numpy()
        expected_shape = tuple(reference(torch.zeros(*x)).shape)
        assert out.shape == expected_shape
        np.testing.assert_array_equal(out, np.broadcast_to(
            layer.bias.numpy().reshape((-1,) + (1,) * (len(expected_shape) - 2)), expected_shape))


def test_the_table_has_at_least_150_rows():
    assert len(API) + len(FILES) + len(CLI) >= 150


# ============================================================================ results that were silently wrong
def test_max_pool2d_sends_the_gradient_of_a_window_holding_nan_to_the_nan_as_torch(torch, backend):
    from minicnn.ops.pooling import max_pool2d_naive
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = np.nan                          # some windows hold one NaN, some several
    for kwargs in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, dilation=2)):
        ours = minicnn.tensor(x, requires_grad=True)
        y, indices = F.max_pool2d(ours, return_indices=True, **kwargs)
        upstream = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(minicnn.tensor(upstream))
        theirs = torch.tensor(x, requires_grad=True)
        ty, tindices = torch.nn.functional.max_pool2d(theirs, return_indices=True, **kwargs)
        ty.backward(torch.tensor(upstream))
        np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
        np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())        # NaN where torch has NaN
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
        np.testing.assert_array_equal(max_pool2d_naive(x, **kwargs)[1], tindices.numpy())


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
def test_an_empty_batch_gives_zero_weight_and_bias_gradients_as_torch(op, torch, backend):
    weight_shape = (4, 3, 3, 3) if op == "conv2d" else (3, 4, 3, 3)
    x = minicnn.tensor(np.zeros((0, 3, 5, 5), np.float32), requires_grad=True)
    w = minicnn.tensor(np.ones(weight_shape, np.float32), requires_grad=True)
    b = minicnn.tensor(np.ones(4, np.float32), requires_grad=True)
    out = getattr(F, op)(x, w, b)
    out.sum().backward()
    tx, tw, tb = (torch.tensor(a.numpy(), requires_grad=True) for a in (x, w, b))
    tout = getattr(torch.nn.functional, op)(tx, tw, tb)
    tout.sum().backward()
    assert out.shape == tuple(tout.shape)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        assert ours.grad is not None, "an empty batch left a gradient None (torch: zeros)"
        np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_a_convolution_without_input_channels_gives_its_bias():
    """``Conv2d(0, 8, 3)``: the sum over no channel is 0, so the output is the bias (torch returns an
    empty (N, 0, H, W) tensor here; we keep the arithmetic), and the weight gradient is empty."""
    with pytest.warns(UserWarning, match="zero-element"):
        layer = nn.Conv2d(0, 8, 3)
    out = layer(minicnn.zeros(2, 0, 5, 5))
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(layer.bias.numpy()[None, :, None, None],
                                                               (2, 8, 3, 3)))
    out.sum().backward()
    assert layer.weight.grad.shape == (8, 0, 3, 3)
    np.testing.assert_array_equal(layer.bias.grad.numpy(), np.full(8, 18.0))
