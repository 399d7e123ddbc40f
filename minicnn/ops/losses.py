"""Loss functions, as ``torch.nn.functional``: cross_entropy, nll_loss,
binary_cross_entropy_with_logits, mse_loss, plus the soft Dice loss of
segmentation.

Every loss takes a ``reduction``:

* ``"none"``: one loss per element (per sample, or per pixel for images);
* ``"sum"``:  their sum;
* ``"mean"``: their (weighted) mean, the default. How each loss defines the
  mean is written in its docstring.

Class scores follow torch's layout: the class dimension is dim 1, so logits
are (N, C) for classification and (N, C, H, W) for segmentation (any
(N, C, d1, d2, ...) works), with integer targets of shape (N,) or
(N, H, W) = (N, d1, d2, ...).

One file per loss (this one holds the simplest, :func:`mse_loss`, and
re-exports the others):

* ``cross_entropy.py``: :func:`cross_entropy`, :func:`nll_loss` (hand-written
  backward of ``NLLLoss``: the gather of the target's log-probability);
* ``binary_cross_entropy.py``: :func:`binary_cross_entropy_with_logits`
  (hand-written backward, exact at x = 0);
* ``dice.py``: :func:`dice_loss`, composed from existing ops;
* ``loss_args.py``: what they share (reduction, targets, class and pixel weights).
"""
import warnings

from ..tensor import Tensor
from .binary_cross_entropy import binary_cross_entropy_with_logits
from .cross_entropy import cross_entropy, nll_loss
from .dice import dice_loss
from .loss_args import as_constant, check_reduction

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss", "dice_loss"]


def mse_loss(input, target, *, reduction="mean"):
    """l_i = (x_i - y_i)^2 (``torch.nn.functional.mse_loss``); "mean" over all elements.

    Composed from sub and mul: dl/dx = 2 (x - y), dl/dy = -2 (x - y).
    """
    op = "mse_loss"
    check_reduction(op, reduction)
    if not isinstance(target, Tensor):
        target = Tensor._from_op(as_constant(op, "target", target, input))
    if target.shape != input.shape:
        warnings.warn(f"{op}: using a target size {target.shape} that is different to the input size "
                      f"{input.shape}. This will likely lead to incorrect results due to broadcasting.",
                      UserWarning, stacklevel=2)
    diff = input - target
    losses = diff * diff
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
