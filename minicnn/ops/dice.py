"""The soft Dice loss of segmentation (Milletari, Navab & Ahmadi, "V-Net: fully convolutional neural
networks for volumetric medical image segmentation", 2016, eq. 1).

Composed from existing ops: autograd derives the backward.
"""
from .activations import softmax
from .loss_args import check_class_target, check_reduction, integer_target, to_one_hot

__all__ = ["dice_loss"]


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
    check_reduction(op, reduction)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, d1, ...), got {input.shape}")
    if smooth < 0:
        raise ValueError(f"{op}: smooth must be >= 0, got {smooth}")
    num_classes = input.shape[1]
    t = integer_target(op, target, input)
    check_class_target(op, input, t)
    if bool(((t < 0) | (t >= num_classes)).any()):
        raise IndexError(f"{op}: target contains class indices outside [0, {num_classes - 1}]")
    probs = softmax(input, dim=1) if from_logits else input
    g = to_one_hot(t, num_classes, input.dtype)
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
