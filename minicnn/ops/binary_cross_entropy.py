"""Binary cross-entropy on logits, as ``torch.nn.functional.binary_cross_entropy_with_logits``.

The sigmoid and the log are fused into one numerically stable expression
(the log-sum-exp trick), with a hand-written backward: composing max and abs
would give the subgradient 0 at x = 0 instead of the true sigma(0) - y.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .loss_args import as_constant, check_reduction

__all__ = ["binary_cross_entropy_with_logits"]


# =========================================================================== the Function
class BCEWithLogits(Function):
    """Binary cross-entropy on logits x with targets y in [0, 1] (and pos_weight p, default 1).

    With sigma the sigmoid, l = -[p y log sigma(x) + (1 - y) log(1 - sigma(x))]. Using
    log sigma(x) = -softplus(-x) and log(1 - sigma(x)) = -x - softplus(-x):

        forward:   l = (1 - y) x + (1 + (p - 1) y) softplus(-x)
                   softplus(-x) = log(1 + e^-x) = max(-x, 0) + log(1 + e^-|x|)   (never overflows)
                   (for p = 1: l = max(x, 0) - x y + log(1 + e^-|x|))

        backward:  dl/dx = (1 + (p - 1) y) sigma(x) - p y        (= sigma(x) - y for p = 1)
                   dl/dy = -x + (p - 1) softplus(-x)              (= -x for p = 1)

    Written by hand: composing max and abs would give the subgradient 0 at x = 0
    instead of the true sigma(0) - y.
    """

    def forward(self, x, y, pos_weight=None):
        xp = get_array_module(x)
        self.softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        self.log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        self.x, self.y, self.pos_weight = x, y, pos_weight
        return (1 - y) * x + self.log_weight * self.softplus_neg

    def backward(self, grad):
        xp = get_array_module(grad)
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        if need_x:
            e = xp.exp(-xp.abs(self.x))
            sigma = xp.where(self.x >= 0, 1 / (1 + e), e / (1 + e))
            p = 1 if self.pos_weight is None else self.pos_weight
            grad_x = grad * (self.log_weight * sigma - p * self.y)
        if need_y:
            d = -self.x if self.pos_weight is None else -self.x + (self.pos_weight - 1) * self.softplus_neg
            grad_y = grad * d
        return grad_x, grad_y


# =========================================================================== user functions
def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step (as torch's binary_cross_entropy_with_logits).

    ``target`` has the input's shape (values in [0, 1]). ``weight`` multiplies
    each element's loss (broadcast); ``pos_weight`` multiplies the positive
    term (broadcast along the trailing dims, e.g. (C,) for (N, C) multi-label
    logits). "mean" is the plain mean over elements, weighted or not, as torch.
    """
    op = "binary_cross_entropy_with_logits"
    check_reduction(op, reduction)
    if not isinstance(target, Tensor):
        target = Tensor._from_op(as_constant(op, "target", target, input))
    if target.shape != input.shape:
        raise ValueError(f"{op}: Target size {target.shape} must be the same as input size {input.shape}")
    pw = None
    if pos_weight is not None:
        pw = as_constant(op, "pos_weight", pos_weight, input)
        try:
            fits = np.broadcast_shapes(pw.shape, input.shape) == input.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{op}: pos_weight of shape {tuple(pw.shape)} does not broadcast to the "
                             f"input's shape {input.shape}")
    losses = BCEWithLogits.apply(input, target, pos_weight=pw)
    if weight is not None:
        losses = losses * as_constant(op, "weight", weight, input)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
