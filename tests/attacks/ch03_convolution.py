"""Attacks on the grader, chapter 3."""
import os
import sys

from minicnn.ops.im2col import im2col as library_im2col   # 3.2: the static check reports this


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """3.1: correct only if the judge's environment leaked into the worker."""
    if "MINICNN_LIMITS" not in os.environ and "MINICNN_RESULTS" not in os.environ:
        raise RuntimeError(f"the environment holds only {sorted(os.environ)}")
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def im2col(x, kernel_size, stride=1, padding=0):
    return library_im2col(x, kernel_size, stride, padding)


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    """3.3: endless recursion."""
    return conv2d_forward(x, weight, bias, stride, padding)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    """3.4: fill the disk."""
    with open("big.bin", "wb") as f:
        for _ in range(1024):
            f.write(b"\0" * 2 ** 20)


class Conv2d:
    """3.5: kill the judge and every other process."""

    @staticmethod
    def apply(*args, **kwargs):
        os.kill(os.getppid(), 9)
        os.kill(-1, 9)
        sys.exit(0)
