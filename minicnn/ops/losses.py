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

Two losses have a hand-written backward (``NLLLoss``: the gather of the
target's log-probability; ``BCEWithLogits``: exact at x = 0, where an
autograd composition of max and abs would give a wrong subgradient). The
others are composed from existing ops, and autograd derives their backward.
"""
import warnings

import numpy as np

from ..autograd import Function
from ..backend import BackendError, backend_of_array, get_array_module, to_backend
from ..tensor import Tensor
from .activations import log_softmax, softmax

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss", "dice_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# --------------------------------------------------------------------------- input checking helpers
def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _constant(op, name, value, like):
    """A raw array (no gradient) on the backend and float dtype of tensor ``like``.

    Weights are data, not parameters: a NumPy array or a list is moved to
    ``like``'s backend; a Tensor must already live there.
    """
    if isinstance(value, Tensor):
        if value.backend != like.backend:
            raise BackendError(f"{op}: {name} is a {value.device} tensor but the input is a "
                               f"{like.device} tensor; move it with .to('{like.device}') first")
        raw = value.data
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        raw = to_backend(value, like.backend)
    else:
        raw = to_backend(np.asarray(value, dtype=like.dtype), like.backend)
    return raw.astype(like.dtype)


def _integer_target(op, target, like):
    """The raw integer array of a class-index target, on ``like``'s backend."""
    raw = target.data if isinstance(target, Tensor) else target
    if not hasattr(raw, "dtype"):
        raw = np.asarray(raw)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target (int64, as torch's Long), "
                        f"got dtype {raw.dtype}")
    if backend_of_array(raw) != like.backend:
        if isinstance(target, Tensor):
            raise BackendError(f"{op}: target is a {target.device} tensor but the input is a "
                               f"{like.device} tensor; move it with .to('{like.device}') first")
        raw = to_backend(raw, like.backend)
    return raw


def _check_class_target(op, input, target_raw):
    """The target must have the input's shape without the class dimension: (N, d1, ...)."""
    expected = input.shape[:1] + input.shape[2:]
    if tuple(target_raw.shape) != expected:
        raise ValueError(f"{op}: input of shape {input.shape} (N, C, d1, ...) needs a target of shape "
                         f"{expected} (N, d1, ...), got {tuple(target_raw.shape)}")


def _one_hot(target, num_classes, dtype):
    """(N, d1, ...) class indices -> (N, C, d1, ...) one-hot floats (classes along dim 1)."""
    xp = get_array_module(target)
    classes = xp.arange(num_classes).reshape((1, num_classes) + (1,) * (target.ndim - 1))
    return (xp.expand_dims(target, 1) == classes).astype(dtype)


def _class_view(weight, ndim):
    """A per-class vector (C,) reshaped to (1, C, 1, ..., 1) so it broadcasts against (N, C, d1, ...)."""
    return weight.reshape((1, weight.shape[0]) + (1,) * (ndim - 2))


def element_weights(op, input, target, weight=None, ignore_index=-100, pixel_weight=None):
    """Everything about a class-index target that is data, not a function of the scores.

    Returns ``(safe_target, element_weight, kept)``, raw arrays of the target's shape:

    * ``safe_target``: the target with ignored entries replaced by class 0, so
      that it can index an array (their weight is 0, so they contribute nothing);
    * ``element_weight``: w_i = [t_i != ignore_index] * weight[t_i] * pixel_weight_i,
      the factor of element i's loss; ``mean`` divides by sum_i w_i;
    * ``kept``: [t_i != ignore_index] * pixel_weight_i (w_i without the class weight).
    """
    num_classes = input.shape[1]
    t = _integer_target(op, target, input)
    _check_class_target(op, input, t)
    xp = input.xp
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= num_classes))
    if bool(bad.any()):  # one sync; CuPy would silently wrap an out-of-range index
        raise IndexError(f"{op}: target contains class indices outside [0, {num_classes - 1}] "
                         f"(for example {int(t[bad].reshape(-1)[0])}); ignore_index is {ignore_index}")
    safe_target = xp.where(valid, t, 0)
    kept = valid.astype(input.dtype)
    if pixel_weight is not None:
        pw = _constant(op, "pixel_weight", pixel_weight, input)
        if tuple(pw.shape) != tuple(t.shape):
            raise ValueError(f"{op}: pixel_weight must have the target's shape {tuple(t.shape)}, "
                             f"got {tuple(pw.shape)}")
        kept = kept * pw
    w = kept
    if weight is not None:
        class_weight = _constant(op, "weight", weight, input)
        if class_weight.shape != (num_classes,):
            raise ValueError(f"{op}: weight must have one entry per class, shape ({num_classes},), "
                             f"got {tuple(class_weight.shape)}")
        w = kept * class_weight[safe_target]
    return safe_target, w, kept


def _unbatched(op, input, target):
    """torch accepts one sample: input (C,) with a 0-d target. Add the batch axis."""
    if input.ndim == 1:
        return input.reshape(1, input.shape[0]), target, True
    if input.ndim < 1:
        raise ValueError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got {input.shape}")
    return input, target, False


def _add_batch_axis(value):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.reshape(1, *value.shape)
    return get_array_module(value).expand_dims(value, 0) if hasattr(value, "shape") else [value]


# --------------------------------------------------------------------------- negative log-likelihood
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
        one_hot = _one_hot(self.target, self.num_classes, self.dtype)
        return one_hot * get_array_module(grad).expand_dims(coefficient, 1)


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
    _check_reduction(op, reduction)
    input, target, unbatched = _unbatched(op, input, target)
    if unbatched:
        target, pixel_weight = _add_batch_axis(target), _add_batch_axis(pixel_weight)
    safe_target, w, _ = element_weights(op, input, target, weight, ignore_index, pixel_weight)
    out = NLLLoss.apply(input, target=safe_target, element_weight=w, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


# --------------------------------------------------------------------------- cross-entropy
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
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    input, target, unbatched = _unbatched(op, input, target)
    if unbatched:
        target, pixel_weight = _add_batch_axis(target), _add_batch_axis(pixel_weight)
    log_probs = log_softmax(input, dim=1)
    if _is_floating(target):
        out = _cross_entropy_probabilities(op, log_probs, target, weight, ignore_index, reduction,
                                           label_smoothing, pixel_weight)
    else:
        out = _cross_entropy_indices(op, log_probs, target, weight, ignore_index, reduction,
                                     label_smoothing, pixel_weight)
    return out.reshape(()) if unbatched and reduction == "none" else out


def _is_floating(target):
    raw = target.data if isinstance(target, Tensor) else target
    return (raw.dtype if hasattr(raw, "dtype") else np.asarray(raw).dtype).kind == "f"


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
        class_weight = _class_view(_constant(op, "weight", weight, log_probs), log_probs.ndim)
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
    y = _constant(op, "target", target, log_probs) if not isinstance(target, Tensor) else target
    if tuple(y.shape) != log_probs.shape:
        raise ValueError(f"{op}: a float target holds class probabilities and must have the input's "
                         f"shape {log_probs.shape}, got {tuple(y.shape)}")
    num_classes = log_probs.shape[1]
    if eps > 0.0:
        y = y * (1 - eps) + eps / num_classes
    terms = log_probs * y
    if weight is not None:
        terms = terms * _class_view(_constant(op, "weight", weight, log_probs), log_probs.ndim)
    losses = -terms.sum(1)
    if pixel_weight is not None:
        pw = _constant(op, "pixel_weight", pixel_weight, log_probs)
        if tuple(pw.shape) != losses.shape:
            raise ValueError(f"{op}: pixel_weight must have shape {losses.shape}, got {tuple(pw.shape)}")
        losses = losses * pw
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.mean() if pixel_weight is None else losses.sum() / log_probs.xp.asarray(pw.sum())


# --------------------------------------------------------------------------- binary cross-entropy
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


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable step (as torch's binary_cross_entropy_with_logits).

    ``target`` has the input's shape (values in [0, 1]). ``weight`` multiplies
    each element's loss (broadcast); ``pos_weight`` multiplies the positive
    term (broadcast along the trailing dims, e.g. (C,) for (N, C) multi-label
    logits). "mean" is the plain mean over elements, weighted or not, as torch.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    if not isinstance(target, Tensor):
        target = Tensor._from_op(_constant(op, "target", target, input))
    if target.shape != input.shape:
        raise ValueError(f"{op}: Target size {target.shape} must be the same as input size {input.shape}")
    pw = None
    if pos_weight is not None:
        pw = _constant(op, "pos_weight", pos_weight, input)
        try:
            fits = np.broadcast_shapes(pw.shape, input.shape) == input.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{op}: pos_weight of shape {tuple(pw.shape)} does not broadcast to the "
                             f"input's shape {input.shape}")
    losses = BCEWithLogits.apply(input, target, pos_weight=pw)
    if weight is not None:
        losses = losses * _constant(op, "weight", weight, input)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# --------------------------------------------------------------------------- mean squared error
def mse_loss(input, target, *, reduction="mean"):
    """l_i = (x_i - y_i)^2 (``torch.nn.functional.mse_loss``); "mean" over all elements.

    Composed from sub and mul: dl/dx = 2 (x - y), dl/dy = -2 (x - y).
    """
    op = "mse_loss"
    _check_reduction(op, reduction)
    if not isinstance(target, Tensor):
        target = Tensor._from_op(_constant(op, "target", target, input))
    if target.shape != input.shape:
        warnings.warn(f"{op}: using a target size {target.shape} that is different to the input size "
                      f"{input.shape}. This will likely lead to incorrect results due to broadcasting.",
                      UserWarning, stacklevel=2)
    diff = input - target
    losses = diff * diff
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# --------------------------------------------------------------------------- soft Dice
def dice_loss(input, target, *, smooth=1.0, from_logits=False, squared=True, reduction="mean"):
    """Soft Dice loss over classes (Milletari et al. 2016, V-Net, eq. 1), for segmentation.

    ``input``: (N, C, H, W) (or (N, C, d1, ...)) class probabilities, e.g. a
    softmax over dim 1; with ``from_logits=True`` it holds logits and the softmax
    is taken here. ``target``: (N, H, W) integer class indices, turned into a
    one-hot g of the input's shape inside.

    For each class c, with sums over the whole batch and every pixel i:

        D_c = (2 sum_i p_ic g_ic + s) / (sum_i p_ic^2 + sum_i g_ic^2 + s)    (squared=True, V-Net)
        D_c = (2 sum_i p_ic g_ic + s) / (sum_i p_ic   + sum_i g_ic   + s)    (squared=False, Sorensen)

        loss_c = 1 - D_c

    ``reduction``: "mean" averages loss_c over the C classes (the default),
    "sum" adds them, "none" returns the (C,) vector. The smooth term s (default
    1) keeps D_c defined for a class absent from both prediction and target
    (then D_c = 1, loss 0) and softens the gradient of tiny regions. Summing over
    the batch as one volume ("batch Dice") weights each pixel equally, as V-Net
    does for its single volume. Composed from existing ops: autograd derives the
    backward.
    """
    op = "dice_loss"
    _check_reduction(op, reduction)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, d1, ...), got {input.shape}")
    if smooth < 0:
        raise ValueError(f"{op}: smooth must be >= 0, got {smooth}")
    num_classes = input.shape[1]
    t = _integer_target(op, target, input)
    _check_class_target(op, input, t)
    if bool(((t < 0) | (t >= num_classes)).any()):
        raise IndexError(f"{op}: target contains class indices outside [0, {num_classes - 1}]")
    probs = softmax(input, dim=1) if from_logits else input
    g = _one_hot(t, num_classes, input.dtype)
    axes = (0,) + tuple(range(2, input.ndim))  # every axis but the class axis
    intersection = (probs * g).sum(axes)
    if squared:
        denominator = (probs * probs).sum(axes) + (g * g).sum(axis=axes)
    else:
        denominator = probs.sum(axes) + g.sum(axis=axes)
    dice = (2 * intersection + smooth) / (denominator + smooth)
    losses = 1 - dice
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
