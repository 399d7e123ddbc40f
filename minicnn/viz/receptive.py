"""Receptive fields: the theoretical one, counted from the layers, and the effective one, measured.

**Theoretical receptive field** of an output pixel: every input pixel that can
change it. Along a chain of layers, with r the field's size and j the *jump*
(the distance, in input pixels, between neighbouring entries of the current map):

    convolution / pooling (kernel k, dilation d, stride s):  r += (k - 1) d j,          j *= s
    transposed convolution (kernel k, dilation d, stride s): r += floor((k - 1) d / s) j, j /= s
    bilinear up-sampling by s (2 taps per output):          r += j,                     j /= s
    nearest up-sampling by s (1 tap):                       r unchanged,               j /= s
    element-wise layers (ReLU, batch norm, dropout...):      unchanged

starting from r = j = 1 (:func:`minicnn.models.context.receptive_field` computes it
for a plain stack). Up-sampling makes the field depend on the pixel: with bilinear
taps, even outputs read inputs (m - 1, m) and odd ones (m, m + 1), so after two
up-samplings a field can be a few pixels larger than the recursion says.
:func:`theoretical_receptive_field` therefore tracks the exact *range of positions*
of one output pixel back through the leaf layers, in the reverse of the order they
were called. That is exact for a chain, and for a U-Net, whose longest path (down
the contracting path and up the expanding one) passes through every layer in call
order; the skip connections are shorter paths inside it. Operations written inline
in a forward (``F.max_pool2d``) are not seen; global pooling makes the field the
whole image.

**Effective receptive field** (Luo et al., 2016: Luo, Li, Urtasun and Zemel): how much each
input pixel actually influences the centre output pixel, measured as the
gradient

    ERF[u, v] = mean over random inputs x of  sum_c | d y[centre] / d x[c, u, v] |

(backward from a gradient that is 1 at the centre pixel of every output channel
and 0 elsewhere). Luo et al. show that it is roughly Gaussian and occupies only a
fraction of the theoretical field: the centre is reached by many more paths than
the border. :func:`effective_size` reports the side of the smallest square that
holds a given share of it.
"""
from __future__ import annotations

import math
import numpy as np

from ..autograd import enable_grad, no_grad
from ..backend import to_numpy
from ..tensor import Tensor

__all__ = ["theoretical_receptive_field", "field_size", "effective_receptive_field", "support_size",
           "effective_size", "plot_receptive_fields"]

def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _conv_padding(module, axis):
    """Leading padding of a convolution or pooling along ``axis`` (0: H, 1: W); 'same' as torch pads it."""
    padding = getattr(module, "padding", 0)
    if padding == "valid":
        return 0
    if padding == "same":
        k, d = _pair(module.kernel_size)[axis], _pair(getattr(module, "dilation", 1))[axis]
        return d * (k - 1) // 2
    return _pair(padding)[axis]


def _inputs_of(module, axis, lo, hi, in_size, out_size):
    """The input positions [lo', hi'] (one axis) on which outputs [lo, hi] of one layer call depend."""
    name = type(module).__name__
    if name.startswith("Adaptive"):                        # global pooling: everything
        return 0, in_size - 1
    if name == "ConvTranspose2d":                          # o = i s - p + u d,  u = 0 .. k-1
        k, d, s = (_pair(getattr(module, a))[axis] for a in ("kernel_size", "dilation", "stride"))
        p = _pair(module.padding)[axis]
        first, last = -(-(lo + p - (k - 1) * d) // s), (hi + p) // s
    elif name.startswith("Upsampl"):
        ratio = in_size / out_size
        if "linear" not in module.mode:                    # nearest: i = floor(o * in / out)
            first, last = math.floor(lo * ratio), math.floor(hi * ratio)
        else:                                              # two taps: floor(src), floor(src) + 1
            if module.align_corners:
                source = lambda o: o * (in_size - 1) / max(out_size - 1, 1)   # noqa: E731
            else:
                source = lambda o: max((o + 0.5) * ratio - 0.5, 0.0)            # noqa: E731
            first, last = math.floor(source(lo)), math.floor(source(hi)) + 1
    elif hasattr(module, "kernel_size"):                   # convolution, max / average pooling
        k = _pair(module.kernel_size)[axis]
        d = _pair(getattr(module, "dilation", 1) or 1)[axis]
        s = _pair(getattr(module, "stride", None) or module.kernel_size)[axis]
        p = _conv_padding(module, axis)
        first, last = lo * s - p, hi * s - p + (k - 1) * d
    elif in_size == out_size:                              # element-wise: ReLU, batch norm, ...
        first, last = lo, hi
    else:
        raise ValueError(f"theoretical_receptive_field: no rule for {name}, which changes the size "
                         f"{in_size} -> {out_size}")
    return max(first, 0), min(last, in_size - 1)


def theoretical_receptive_field(model, input_shape, position=None):
    """The input rows and columns that can change one output pixel: ``((top, bottom), (left, right))``.

    Runs ``model`` once on zeros of ``input_shape`` (N, C, H, W), records its leaf layers
    in call order, then walks back from the output ``position`` (default: the centre)
    layer by layer, mapping each range of output positions to the range of input
    positions it reads (clipped to the map, as the real network is). The size of the
    field is ``bottom - top + 1`` by ``right - left + 1``; away from the borders of a
    chain of convolutions it is the r of the recursion above.
    """
    calls = []
    handles = [m.register_forward_hook(lambda mod, args, out: calls.append((mod, args[0].shape, out.shape)))
               for m in model.modules() if not any(True for _ in m.children())]
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    try:
        with no_grad():
            model(Tensor(np.zeros(input_shape, dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
    if not calls:
        raise ValueError(f"theoretical_receptive_field: {type(model).__name__} called no layer")
    out_shape = calls[-1][2]
    row, col = position if position is not None else (out_shape[2] // 2, out_shape[3] // 2)
    box = [(row, row), (col, col)]
    for module, in_shape, out_shape in reversed(calls):
        box = [_inputs_of(module, a, *box[a], in_shape[2 + a], out_shape[2 + a]) for a in range(2)]
    return tuple(box)


def field_size(box):
    """``(height, width)`` of a field ``((top, bottom), (left, right))``."""
    (top, bottom), (left, right) = box
    return (bottom - top + 1, right - left + 1)


def effective_receptive_field(model, input_shape=None, samples=8, position=None, seed=0, inputs=None):
    """Luo et al.'s effective receptive field: (H, W) array, the mean |gradient| of the centre output pixel.

    Args:
        model: maps (N, C, H, W) to a spatial output (N, C', H', W'). Use eval mode for batch norm
            (the samples go through the model as one batch).
        input_shape: (C, H, W) or (N, C, H, W) (N is ignored: ``samples`` images are drawn).
        samples: how many standard-normal random inputs to average over.
        position: the output pixel (row, column); default: the centre of the output.
        seed: the seed of the random inputs.
        inputs: optional (N, C, H, W) array of inputs to use instead of random ones.
    """
    dtype = next((p.dtype for p in model.parameters()), np.float32)
    if inputs is None:
        if input_shape is None:
            raise ValueError("effective_receptive_field: give input_shape (C, H, W) or inputs (N, C, H, W)")
        c, h, w = tuple(input_shape)[-3:]
        inputs = np.random.default_rng(seed).standard_normal((samples, c, h, w))
    x = Tensor(np.asarray(to_numpy(getattr(inputs, "data", inputs))).astype(dtype), requires_grad=True)
    with enable_grad():
        y = model(x)
    if not isinstance(y, Tensor) or y.ndim != 4:
        raise ValueError("effective_receptive_field: the model must return a (N, C, H, W) map, got "
                         f"{getattr(y, 'shape', type(y).__name__)}")
    row, col = position if position is not None else (y.shape[2] // 2, y.shape[3] // 2)
    if not (0 <= row < y.shape[2] and 0 <= col < y.shape[3]):
        raise ValueError(f"effective_receptive_field: position {(row, col)} is outside the output "
                         f"{tuple(y.shape[2:])}")
    seed_grad = np.zeros(y.shape, dtype=y.dtype)
    seed_grad[:, :, row, col] = 1.0
    y.backward(seed_grad)
    return np.abs(to_numpy(x.grad.data)).sum(axis=1).mean(axis=0)


def support_size(field, threshold=0.0):
    """``(height, width)`` of the bounding box of the entries above ``threshold`` (``(0, 0)`` if none)."""
    rows, cols = np.nonzero(np.asarray(field) > threshold)
    if rows.size == 0:
        return (0, 0)
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


def effective_size(field, share=0.95):
    """Side of the smallest square window (anywhere) that holds ``share`` of the field's total.

    Window sums come from a summed-area table: ``S[i, j]`` = sum of ``field[:i, :j]``, so the
    sum over rows i..i+s-1 and columns j..j+s-1 is ``S[i+s, j+s] - S[i, j+s] - S[i+s, j] + S[i, j]``.
    """
    field = np.asarray(field, dtype=np.float64)
    total = field.sum()
    if total <= 0:
        return 0
    table = np.zeros((field.shape[0] + 1, field.shape[1] + 1))
    table[1:, 1:] = field.cumsum(axis=0).cumsum(axis=1)
    for side in range(1, max(field.shape) + 1):
        h, w = min(side, field.shape[0]), min(side, field.shape[1])
        sums = table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]
        if sums.max() >= share * total * (1 - 1e-12):
            return side
    return max(field.shape)


def plot_receptive_fields(fields, theoretical=None, fig=None):
    """One panel per field (``{title: (H, W) array}``): the ERF (log scale) and the theoretical box.

    ``theoretical``: ``{title: ((top, bottom), (left, right))}`` from
    :func:`theoretical_receptive_field`, drawn as a cyan box.
    """
    from matplotlib.patches import Rectangle

    from ..plots import _new_figure

    fig = fig if fig is not None else _new_figure((3.2 * len(fields), 3.3))
    axes = np.atleast_1d(fig.subplots(1, len(fields)))
    for ax, (title, field) in zip(axes, fields.items()):
        field = np.asarray(field, dtype=np.float64)
        shown = np.log10(np.where(field > 0, field / max(field.max(), 1e-300), np.nan))
        ax.imshow(shown, cmap="magma", vmin=-4, vmax=0, interpolation="nearest")
        half, most = effective_size(field, 0.5), effective_size(field, 0.95)
        label = f"{title}\nhalf / 95 % of the influence within {half} / {most} px"
        if theoretical and title in theoretical:
            (top, bottom), (left, right) = theoretical[title]
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                                   ec="cyan", lw=1.2))
            label += f"\ntheoretical: {bottom - top + 1} x {right - left + 1} px"
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
