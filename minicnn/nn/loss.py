"""Loss modules (``torch.nn`` names) wrapping the functions of :mod:`minicnn.ops.losses`.

A loss module only stores its options; ``criterion(input, target)`` calls the
function. Class weights are registered as buffers, as torch does, so they
follow ``.to(device)`` and appear in the state_dict under the same keys.
"""
from .. import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "MSELoss", "DiceLoss"]


class _WeightedLoss(Module):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__()
        self.reduction = reduction
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (N, C) or (N, C, H, W) with class-index or probability targets.

    ``forward(input, target, pixel_weight=None)``: ``pixel_weight`` is a per-pixel
    weight map of the target's shape (the U-Net loss); see ``F.cross_entropy``
    for how ``reduction="mean"`` is normalised.
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target, pixel_weight=None):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing,
                               pixel_weight=pixel_weight)

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, " \
               f"label_smoothing={self.label_smoothing}"


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (use after LogSoftmax over dim 1)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target, pixel_weight=None):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction, pixel_weight=pixel_weight)

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy, numerically stable; ``pos_weight`` weighs positive targets."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(Module):
    """Mean squared error (x - y)^2."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class DiceLoss(Module):
    """Soft Dice loss 1 - D_c averaged over classes (Milletari et al. 2016); see ``F.dice_loss``.

    ``from_logits=True`` applies the softmax over dim 1 first (then it takes the
    same logits as CrossEntropyLoss).
    """

    def __init__(self, smooth=1.0, from_logits=False, squared=True, reduction="mean"):
        super().__init__()
        self.smooth, self.from_logits, self.squared, self.reduction = smooth, from_logits, squared, reduction

    def forward(self, input, target):
        return F.dice_loss(input, target, smooth=self.smooth, from_logits=self.from_logits,
                           squared=self.squared, reduction=self.reduction)

    def extra_repr(self):
        return f"smooth={self.smooth}, from_logits={self.from_logits}, squared={self.squared}, " \
               f"reduction={self.reduction!r}"
