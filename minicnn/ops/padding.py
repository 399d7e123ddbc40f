"""Padding, as ``torch.nn.functional.pad``: constant, reflect, replicate and circular.

``pad`` lists (before, after) pairs starting from the LAST dimension, as torch:
(left, right) pads the width, (left, right, top, bottom) the width and the
height. Along one padded axis of size n, output position p (p = -before ...
n + after - 1, in input coordinates) reads

    constant:   the value (outside [0, n))
    reflect:    x[-p] on the left, x[2(n-1) - p] on the right  (mirror about the edge entry, not repeating it)
    replicate:  x[clip(p, 0, n-1)]                             (repeat the edge entry)
    circular:   x[p mod n]                                      (wrap around; after any cropping)

Negative pads crop. Reflect, replicate and circular are *gathers*: each output
entry is a copy of one input entry, so the backward adds every output gradient
into the entry it was copied from. The interior is copied once (a slice); the
border copies may repeat an entry (replicate copies the edge ``after`` times),
so they accumulate with ``scatter_add``. The constant border is not a function
of x at all: the backward of constant padding is a slice.

Reflection padding is the "mirror" boundary of U-Net's overlap-tile strategy
[Ronneberger et al., 2015] and of image-to-image networks (docs/bibliography.md).
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module, scatter_add

__all__ = ["pad"]

MODES = ("constant", "reflect", "replicate", "circular")


# =========================================================================== one axis
def source_indices(n, before, after, mode):
    """For each output position along one axis of size n, the input index it copies (NumPy int64)."""
    p = np.arange(-before, n + after)
    if mode == "reflect":
        p = np.abs(p)                              # left:  -p
        return np.where(p > n - 1, 2 * (n - 1) - p, p)  # right: 2(n-1) - p
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    if mode == "circular":  # wrap around the kept range [a, b) (negative pads crop first, as torch)
        a, b = max(-before, 0), n - max(-after, 0)
        return a + np.mod(p - a, b - a)
    raise ValueError(f"pad: no source indices for mode {mode!r}")


# =========================================================================== the definition, as loops
def _source_pixel(h, w, H, W, mode):
    """The input pixel that output position (h, w) (in input coordinates) copies, or None (a constant).

    reflect mirrors about the edge pixel (-1 -> 1), replicate repeats it (-1 -> 0), circular wraps.
    """
    if mode == "constant":
        return (h, w) if 0 <= h < H and 0 <= w < W else None
    if mode == "reflect":
        h = -h if h < 0 else (2 * (H - 1) - h if h > H - 1 else h)
        w = -w if w < 0 else (2 * (W - 1) - w if w > W - 1 else w)
    elif mode == "replicate":
        h, w = min(max(h, 0), H - 1), min(max(w, 0), W - 1)
    elif mode == "circular":
        h, w = h % H, w % W
    return h, w


def pad2d_naive(x, padding, mode="constant", value=0.0):
    """Pad the last two dimensions of an (N, C, H, W) NumPy array with loops over every output pixel.

    ``padding`` = (left, right, top, bottom), non-negative.
    """
    left, right, top, bottom = padding
    N, C, H, W = x.shape
    y = np.full((N, C, H + top + bottom, W + left + right), value, dtype=x.dtype)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            source = _source_pixel(i - top, j - left, H, W, mode)
            if source is not None:
                y[:, :, i, j] = x[:, :, source[0], source[1]]
    return y


def pad2d_backward_naive(grad_output, input_shape, padding, mode="constant"):
    """dL/dx of ``pad2d_naive``: every output gradient added to the input entry it copied."""
    left, right, top, bottom = padding
    N, C, H, W = input_shape
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for i in range(grad_output.shape[2]):
        for j in range(grad_output.shape[3]):
            source = _source_pixel(i - top, j - left, H, W, mode)
            if source is not None:
                grad_input[:, :, source[0], source[1]] += grad_output[:, :, i, j]
    return grad_input


# =========================================================================== the Functions
class ConstantPad(Function):
    """y = value everywhere, with x copied into the middle.   dL/dx = the middle of dL/dy."""

    def forward(self, x, pairs, value):
        xp = get_array_module(x)
        out_shape, in_slices, out_slices = [], [], []
        for n, (before, after) in zip(x.shape, pairs):
            out_shape.append(n + before + after)
            # Negative pads crop: the kept input range and where it lands in the output.
            in_slices.append(slice(max(-before, 0), n - max(-after, 0)))
            out_slices.append(slice(max(before, 0), max(before, 0) + max(n - max(-before, 0) - max(-after, 0), 0)))
        self.input_shape, self.in_slices, self.out_slices = x.shape, tuple(in_slices), tuple(out_slices)
        y = xp.full(out_shape, value, dtype=x.dtype)
        y[self.out_slices] = x[self.in_slices]
        return y

    def backward(self, grad):
        xp = get_array_module(grad)
        grad_input = xp.zeros(self.input_shape, dtype=grad.dtype)
        grad_input[self.in_slices] = grad[self.out_slices]
        return grad_input


class IndexPad(Function):
    """Reflect / replicate / circular: y = x gathered along each padded axis with ``source_indices``.

    dL/dx: for each axis (last gather first), the interior gradient slice goes
    back to its entries, and each border gradient is scatter-added into the entry it copied.
    """

    def forward(self, x, pairs, mode):
        xp = get_array_module(x)
        self.steps = []
        for axis, (before, after) in enumerate(pairs):
            if before == 0 and after == 0:
                continue
            n = x.shape[axis]
            source = source_indices(n, before, after, mode)
            self.steps.append((axis, n, before, after, source))
            x = xp.take(x, xp.asarray(source), axis=axis)
        return x

    def backward(self, grad):
        xp = get_array_module(grad)
        for axis, n, before, after, source in reversed(self.steps):
            lead = (slice(None),) * axis
            grad_in_shape = grad.shape[:axis] + (n,) + grad.shape[axis + 1:]
            grad_input = xp.zeros(grad_in_shape, dtype=grad.dtype)
            # interior: output positions that copy x[p] for p in [0, n): a slice on both sides
            lo, hi = max(before, 0), len(source) - max(after, 0)
            if hi > lo:
                start = int(source[lo])
                grad_input[lead + (slice(start, start + hi - lo),)] += grad[lead + (slice(lo, hi),)]
            for border in (slice(0, lo), slice(hi, len(source))):
                if border.stop > border.start:
                    moved = xp.moveaxis(grad[lead + (border,)], axis, 0)
                    target = xp.moveaxis(grad_input, axis, 0)     # a view: adds land in grad_input
                    scatter_add(target, xp.asarray(source[border]), moved)
            grad = grad_input
        return grad


# =========================================================================== user functions
def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` by ``pad`` = (left, right, top, bottom, ...) from the last dimension backwards,
    as ``torch.nn.functional.pad``. Modes: 'constant' (``value``, default 0; negative pads crop),
    'reflect', 'replicate', 'circular' (on the last 1-3 dimensions of a batched or unbatched input)."""
    _check_pad(input, pad, mode, value)
    pairs = [(0, 0)] * input.ndim
    for d in range(len(pad) // 2):
        pairs[input.ndim - 1 - d] = (int(pad[2 * d]), int(pad[2 * d + 1]))
    if mode == "constant":
        for axis, (before, after) in enumerate(pairs):
            kept = input.shape[axis] - max(-before, 0) - max(-after, 0)
            if input.shape[axis] + before + after < 0 or kept < 0:
                raise ValueError(f"pad: the input size {input.shape[axis]}, plus negative padding {before} and "
                                 f"{after}, resulted in a negative output size at dimension {axis} of input "
                                 f"of shape {tuple(input.shape)}")
        return ConstantPad.apply(input, pairs=tuple(pairs), value=0.0 if value is None else value)
    return IndexPad.apply(input, pairs=tuple(pairs), mode=mode)


# =========================================================================== argument checks
def _check_pad(input, pad, mode, value):
    if not isinstance(pad, (list, tuple)):
        raise TypeError(f"pad: pad must be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    for p in pad:
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"pad: pad must be a tuple of ints, but found {p!r} of type {type(p).__name__}")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2 ((before, after) pairs), got {len(pad)}")
    if len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length should be at most two times the input dimension, but got "
                         f"padding length {len(pad)} and input of dimension {input.ndim}")
    if mode not in MODES:
        raise ValueError(f"pad: unrecognised padding mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "constant":
        return
    if value is not None and value != 0:
        raise ValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument (got value={value})')
    k = len(pad) // 2
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise ValueError(f"pad: padding size {len(pad)} is not supported for {input.ndim}-D input in mode "
                         f"{mode!r}. Supported combinations for non-constant padding: 2-D or 3-D input with "
                         "padding size 2 (last dimension), 3-D or 4-D input with padding size 4 (last 2 "
                         "dimensions), 4-D or 5-D input with padding size 6 (last 3 dimensions)")
    for d in range(k):
        axis = input.ndim - 1 - d
        n, before, after = input.shape[axis], pad[2 * d], pad[2 * d + 1]
        if n == 0:
            raise ValueError(f"pad: mode {mode!r} needs non-empty padded dimensions, got input of shape "
                             f"{tuple(input.shape)}")
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"pad: padding size should be less than the corresponding input dimension in "
                             f"reflect mode, but got padding ({before}, {after}) at dimension {axis} of input "
                             f"of shape {tuple(input.shape)}")
        kept = n - max(-before, 0) - max(-after, 0)
        if mode == "circular" and (before > kept or after > kept):
            raise ValueError(f"pad: padding ({before}, {after}) at dimension {axis} of input of shape "
                             f"{tuple(input.shape)} would wrap around more than once in circular mode")
    if min(pad) < 0 and mode != "constant":
        for d in range(k):
            axis = input.ndim - 1 - d
            if input.shape[axis] + pad[2 * d] + pad[2 * d + 1] < 1:
                raise ValueError(f"pad: negative padding {pad[2 * d:2 * d + 2]} leaves nothing of dimension "
                                 f"{axis} of input of shape {tuple(input.shape)}")
