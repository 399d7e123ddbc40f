"""Cross-entropy and negative log-likelihood over class scores, as ``torch.nn.functional``.

Class scores follow torch's layout: the class dimension is dim 1, so logits
are (N, C) for classification and (N, C, H, W) for segmentation (any
(N, C, d1, d2, ...) works), with integer targets of shape (N,) or
(N, H, W) = (N, d1, d2, ...), or (for cross_entropy) class probabilities of
the input's shape.

``NLLLoss`` has a hand-written backward (the gather of the target's
log-probability, scattered back); cross_entropy is nll_loss(log_softmax(x)),
and autograd composes their backward passes. The weighted mean with a pixel
weight map is the U-Net loss (Ronneberger et al., "U-Net: convolutional
networks for biomedical image segmentation", 2015, eq. 1); label smoothing is
Szegedy et al., "Rethinking the Inception architecture for computer vision", 2016.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from .activations import log_softmax
from .loss_args import (add_batch_axis, as_constant, batch_single_sample, check_reduction, class_view,
                        element_weights, is_floating_target, to_one_hot)

__all__ = ["cross_entropy", "nll_loss"]


# =========================================================================== the Function
class NLLLoss(Function):
    """Negative log-likelihood of the target class, from log-probabilities.

    For element i (a sample, or a pixel) with target class t_i and weight w_i
    (see :func:`element_weights`):

        forward:   l_i = -w_i * logp[i, t_i]          (a *gather* along the class dim)
                   sum  = sum_i l_i
                   mean = sum_i l_i / sum_i w_i       (torch's weighted mean)

        backward:  dL/dlogp[i, c] = -w_i * g_i  if c == t_i, else 0
                   (g_i = dL/dl_i; for "mean" g = dL/dmean / sum_i w_i)

    i.e. the upstream gradient is scattered back to the target entries only.
    """

    def forward(self, log_probs, target, element_weight, reduction):
        xp = get_array_module(log_probs)
        self.target, self.element_weight, self.reduction = target, element_weight, reduction
        self.num_classes, self.dtype = log_probs.shape[1], log_probs.dtype
        picked = xp.take_along_axis(log_probs, xp.expand_dims(target, 1), axis=1)
        losses = -element_weight * xp.squeeze(picked, axis=1)
        if reduction == "none":
            return losses
        total = losses.sum()
        if reduction == "sum":
            return total
        self.denominator = element_weight.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            return total / self.denominator  # nan when every element is ignored, as torch

    def backward(self, grad):
        g = grad
        if self.reduction == "mean":
            # A zero denominator means every w_i is 0: the gradient is 0 (as torch), not nan.
            xp = get_array_module(grad)
            g = grad / xp.where(self.denominator == 0, 1, self.denominator).astype(grad.dtype)
        coefficient = -self.element_weight * g  # g is 0-d ("sum", "mean") or per element ("none")
        one_hot = to_one_hot(self.target, self.num_classes, self.dtype)
        return one_hot * get_array_module(grad).expand_dims(coefficient, 1)


# =========================================================================== user functions
def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean", pixel_weight=None):
    """Negative log-likelihood loss (``torch.nn.functional.nll_loss``).

    ``input``: log-probabilities (N, C) or (N, C, d1, ...) (or (C,) for one
    sample); ``target``: class indices (N,) or (N, d1, ...), int64.
    ``weight``: optional per-class weights (C,). Entries whose target equals
    ``ignore_index`` contribute nothing, not even to the mean's denominator.
    ``pixel_weight``: optional per-element weights of the target's shape (an
    extension of torch; see :func:`cross_entropy`).
    """
    op = "nll_loss"
    check_reduction(op, reduction)
    input, target, unbatched = batch_single_sample(op, input, target)
    if unbatched:
        target, pixel_weight = add_batch_axis(target), add_batch_axis(pixel_weight)
    safe_target, w, _ = element_weights(op, input, target, weight, ignore_index, pixel_weight)
    out = NLLLoss.apply(input, target=safe_target, element_weight=w, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, pixel_weight=None):
    """Softmax cross-entropy from logits (``torch.nn.functional.cross_entropy``), with a U-Net weight map.

    ``input``: logits (N, C), (N, C, H, W) or (N, C, d1, ...), classes along dim 1.
    ``target``: class indices (N,) / (N, H, W) (int64), or class probabilities of
    the input's shape (float), as in torch.

    Built as nll_loss(log_softmax(input, dim=1)): the log-sum-exp inside
    log_softmax keeps it finite for logits of any size, whereas log(softmax(x))
    underflows to log(0) = -inf.

    For class-index targets, element i (a sample or a pixel) has the loss and weight

        l_i = -w_i * log p_{t_i}(x_i),     w_i = weight[t_i] * pixel_weight_i   (0 if t_i == ignore_index)

    and ``reduction="mean"`` returns sum_i l_i / sum_i w_i.

    **pixel_weight and the mean.** The U-Net paper (Ronneberger et al. 2015,
    eq. 1) trains with the weighted energy E = -sum_x w(x) log p_{l(x)}(x), a
    *sum* over pixels with a precomputed weight map w(x) that stresses the thin
    borders between touching cells. ``pixel_weight=w`` with ``reduction="sum"``
    is exactly that E. With ``reduction="mean"`` we divide by the sum of the
    weights, sum_i w_i, not by the number of pixels, because

    * it is torch's rule for ``weight`` extended to per-element weights: passing
      ``pixel_weight=weight[target]`` gives the same number as ``weight=weight``;
    * it is a weighted average of per-pixel losses, so its size stays that of an
      unweighted cross-entropy (about log C at the start) whatever the weight
      map, which keeps learning rates and loss curves comparable. Border pixels
      still pull w(x) times harder than others within an image.

    The weight map is data: it gets no gradient.

    ``label_smoothing`` = eps (Szegedy et al. 2016) mixes the target with the
    uniform distribution, as torch: loss = (1 - eps) * nll + eps / C * sum_c (-w_c log p_c),
    both terms with the same element weights and the same mean denominator.

    For probability targets y (torch's rule), l_i = -sum_c weight_c y_ic log p_ic and
    "mean" divides by the number of elements (by sum_i pixel_weight_i when given);
    ``ignore_index`` is not allowed there.
    """
    op = "cross_entropy"
    check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    input, target, unbatched = batch_single_sample(op, input, target)
    if unbatched:
        target, pixel_weight = add_batch_axis(target), add_batch_axis(pixel_weight)
    log_probs = log_softmax(input, dim=1)
    if is_floating_target(target):
        out = _cross_entropy_probabilities(op, log_probs, target, weight, ignore_index, reduction,
                                           label_smoothing, pixel_weight)
    else:
        out = _cross_entropy_indices(op, log_probs, target, weight, ignore_index, reduction,
                                     label_smoothing, pixel_weight)
    return out.reshape(()) if unbatched and reduction == "none" else out


def _cross_entropy_indices(op, log_probs, target, weight, ignore_index, reduction, eps, pixel_weight):
    safe_target, w, kept = element_weights(op, log_probs, target, weight, ignore_index, pixel_weight)
    nll = NLLLoss.apply(log_probs, target=safe_target, element_weight=w, reduction=reduction)
    if eps == 0.0:
        return nll
    # The smoothing term: -sum_c weight_c log p_c per element, with the element's
    # pixel weight and ignore mask (but not weight[t_i], which it replaces).
    num_classes = log_probs.shape[1]
    if weight is None:
        per_element = -log_probs.sum(1)
    else:
        class_weight = class_view(as_constant(op, "weight", weight, log_probs), log_probs.ndim)
        per_element = -(log_probs * class_weight).sum(1)
    smooth = per_element * kept
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        # (if everything is ignored the nll term is already nan; dividing by 1 keeps the gradient 0)
        xp, denominator = log_probs.xp, w.sum()
        smooth = smooth.sum() / xp.asarray(xp.where(denominator == 0, 1, denominator), dtype=w.dtype)
    return (1 - eps) * nll + (eps / num_classes) * smooth


def _cross_entropy_probabilities(op, log_probs, target, weight, ignore_index, reduction, eps,
                                 pixel_weight):
    if ignore_index != -100:
        raise ValueError(f"{op}: ignore_index is not supported with class-probability (float) targets")
    y = as_constant(op, "target", target, log_probs) if not isinstance(target, Tensor) else target
    if tuple(y.shape) != log_probs.shape:
        raise ValueError(f"{op}: a float target holds class probabilities and must have the input's "
                         f"shape {log_probs.shape}, got {tuple(y.shape)}")
    num_classes = log_probs.shape[1]
    if eps > 0.0:
        y = y * (1 - eps) + eps / num_classes
    terms = log_probs * y
    if weight is not None:
        terms = terms * class_view(as_constant(op, "weight", weight, log_probs), log_probs.ndim)
    losses = -terms.sum(1)
    if pixel_weight is not None:
        pw = as_constant(op, "pixel_weight", pixel_weight, log_probs)
        if tuple(pw.shape) != losses.shape:
            raise ValueError(f"{op}: pixel_weight must have shape {losses.shape}, got {tuple(pw.shape)}")
        losses = losses * pw
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.mean() if pixel_weight is None else losses.sum() / log_probs.xp.asarray(pw.sum())
