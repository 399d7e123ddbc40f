"""Exercises of notebook 6: Hypothesis strategies for gradient checks.

A property-based test states a property ("the analytic gradient equals the
numerical one") for *every* input a strategy can draw; Hypothesis draws
examples, and when one fails it *shrinks* it to a minimal failing case. The
quality of such a test is the quality of its strategy:

* it must draw only valid inputs (a convolution whose window is larger than
  the padded input has no output), without throwing most draws away
  (``assume`` and ``.filter`` waste draws, and Hypothesis gives up when too
  many are rejected): draw the parameters first and derive the rest;
* it must stay away from the points where the gradient does not exist
  (ReLU at 0, ties inside a max-pooling window): there the central
  difference and the backward rule disagree although both are right.

Grade with ``minicnn grade 6``.
"""
import numpy as np
from hypothesis import strategies as st


@st.composite
def conv_geometries(draw, max_batch=2, max_channels=3, max_kernel=3, max_stride=3, max_dilation=2,
                    max_padding=2, max_extra=4):
    """A valid 2-D convolution geometry, as a dict with the keys

        batch, in_channels, out_channels, height, width,
        kernel_size, stride, padding, dilation          (ints; square kernels, equal strides...)

    Valid means the output has at least one pixel along each axis:

        height + 2 padding >= dilation (kernel_size - 1) + 1     (the window fits)

    and ``padding <= (dilation (kernel_size - 1) + 1) // 2`` (no window made of padding only, as
    torch's pooling requires). Draw kernel, dilation and padding first, then choose the height and
    width so that the window fits, plus up to ``max_extra`` pixels: then no draw is wasted and
    strides that do not divide the size evenly come up as often as those that do.
    """
    # BEGIN SOLUTION 6.1
    kernel_size = draw(st.integers(1, max_kernel))
    dilation = draw(st.integers(1, max_dilation))
    span = dilation * (kernel_size - 1) + 1                 # the dilated window
    padding = draw(st.integers(0, min(max_padding, span // 2)))
    smallest = max(1, span - 2 * padding)                   # height + 2 padding >= span
    return {
        "batch": draw(st.integers(1, max_batch)),
        "in_channels": draw(st.integers(1, max_channels)),
        "out_channels": draw(st.integers(1, max_channels)),
        "height": draw(st.integers(smallest, smallest + max_extra)),
        "width": draw(st.integers(smallest, smallest + max_extra)),
        "kernel_size": kernel_size,
        "stride": draw(st.integers(1, max_stride)),
        "padding": padding,
        "dilation": dilation,
    }
    # END SOLUTION


@st.composite
def tie_free_arrays(draw, shape, low=-2.0, high=2.0):
    """A float64 array of ``shape`` whose entries are distinct and at least ``(high - low) / (2 size)``
    apart, all in ``[low, high]`` (size = number of entries).

    Chainer's recipe: a random permutation of ``0 .. size-1`` plus a jitter
    drawn from ``U(0.3, 0.7)``, scaled to ``[low, high]``; consecutive values
    then differ by at least 0.6 steps of ``(high - low) / size``. Draw one
    integer seed with Hypothesis and make the array with
    ``np.random.default_rng(seed)``: Hypothesis can replay and shrink one
    integer far more easily than hundreds of floats.
    """
    # BEGIN SOLUTION 6.2
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = rng.permutation(size) + rng.uniform(0.3, 0.7, size)   # in (0, size)
    return (low + (high - low) * values / size).reshape(shape)
    # END SOLUTION
