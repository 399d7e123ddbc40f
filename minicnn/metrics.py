"""Evaluation metrics for segmentation and classification.

Segmentation scores follow the FCN paper (Long, Shelhamer & Darrell, 2015,
Sec. 5, "Metrics"). Let ``n_ij`` be the number of pixels of class ``i``
predicted to belong to class ``j`` (the confusion matrix: rows are the true
class, columns the prediction), ``n_cl`` the number of classes and
``t_i = sum_j n_ij`` the number of pixels of class ``i``. Then

* pixel accuracy:           ``sum_i n_ii / sum_i t_i``
* mean accuracy:            ``(1/n_cl) sum_i n_ii / t_i``
* mean IU:                  ``(1/n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)``
* frequency weighted IU:    ``(sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)``

``sum_j n_ji`` is the number of pixels *predicted* as class ``i``, so the
denominator of the IU is the union of the true and the predicted region of
class ``i`` and ``n_ii`` their intersection. We also report the per-class IU
(``iou``) and Dice coefficient ``2 n_ii / (t_i + sum_j n_ji)``.

Classes that are absent (a choice the paper leaves open): a class with
``t_i = 0`` has no accuracy, and a class that appears neither in the target
nor in the prediction has no IU or Dice (0/0). Such values are NaN in the
per-class arrays and are *left out of the means*: ``n_cl`` counts only the
classes whose ratio is defined (a NaN-mean over the present classes). A class
that is predicted but absent from the target has IU 0 and does count, which
penalises false positives. In the frequency-weighted IU an absent class has
weight ``t_i = 0`` anyway.

The counting runs on the array's own backend (``xp.bincount``), so NumPy,
CuPy and minicnn Tensors all work; only the small ``n_cl x n_cl`` matrix is
brought to the host to compute the scores.
"""
from __future__ import annotations

import numpy as np

from .backend import get_array_module, to_numpy
from .utils import unwrap

__all__ = ["confusion_matrix", "scores_from_confusion_matrix", "segmentation_scores", "top1_accuracy"]


def _labels(pred, target, where):
    """Turn scores ``(N, C, ...)`` into labels ``(N, ...)`` when ``pred`` has one axis more than ``target``."""
    pred, target = unwrap(pred), unwrap(target)
    xp = get_array_module(pred, target)
    pred, target = xp.asarray(pred), xp.asarray(target)
    if pred.ndim == target.ndim + 1:
        pred = pred.argmax(axis=1)
    if pred.shape != target.shape:
        raise ValueError(f"{where}: prediction of shape {pred.shape} does not match target of shape "
                         f"{target.shape} (pass labels of the target's shape, or scores with a class "
                         f"axis 1)")
    return xp, pred, target


def confusion_matrix(pred, target, num_classes, ignore_index=None):
    """The ``num_classes x num_classes`` matrix ``n[i, j]``: pixels of true class ``i`` predicted as ``j``.

    ``pred`` holds labels of ``target``'s shape, or scores/logits with an extra
    class axis 1 (then the argmax is taken). Pixels whose target equals
    ``ignore_index`` are not counted. Returns an int64 array on the inputs'
    backend.
    """
    xp, pred, target = _labels(pred, target, "confusion_matrix")
    pred = pred.reshape(-1).astype(xp.int64)
    target = target.reshape(-1).astype(xp.int64)
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    out_of_range = (target < 0) | (target >= num_classes) | (pred < 0) | (pred >= num_classes)
    if bool(out_of_range.any()):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {num_classes}) (num_classes="
                         f"{num_classes}), got target in [{int(target.min())}, {int(target.max())}] and "
                         f"prediction in [{int(pred.min())}, {int(pred.max())}]")
    # Pixel (i, j) gets the single index i * num_classes + j; counting those indices fills the matrix.
    counts = xp.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _ratio(numerator, denominator):
    """``numerator / denominator`` with NaN where the denominator is 0 (no warning)."""
    out = np.full(numerator.shape, np.nan)
    defined = denominator > 0
    out[defined] = numerator[defined] / denominator[defined]
    return out


def _nanmean(values):
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def scores_from_confusion_matrix(cm):
    """The FCN scores (and per-class IU and Dice) of a confusion matrix (rows = target).

    Returns a dict with ``pixel_accuracy``, ``mean_accuracy``, ``mean_iu`` and
    ``fw_iu`` (floats) and ``iou``, ``dice`` (per-class NumPy arrays, NaN for
    classes absent from both target and prediction). See the module docstring.
    """
    n = to_numpy(unwrap(cm)).astype(np.float64)
    n_ii = np.diag(n)
    t = n.sum(axis=1)                 # t_i = sum_j n_ij: pixels of true class i
    predicted = n.sum(axis=0)         # sum_j n_ji: pixels predicted as class i
    union = t + predicted - n_ii
    iou = _ratio(n_ii, union)
    total = t.sum()
    present = union > 0
    return {
        "pixel_accuracy": float(n_ii.sum() / total) if total > 0 else float("nan"),
        "mean_accuracy": _nanmean(_ratio(n_ii, t)),
        "mean_iu": _nanmean(iou),
        "fw_iu": float((t[present] * iou[present]).sum() / total) if total > 0 else float("nan"),
        "iou": iou,
        "dice": _ratio(2.0 * n_ii, t + predicted),
    }


def segmentation_scores(pred, target, num_classes, ignore_index=None):
    """Pixel accuracy, mean accuracy, mean IU, frequency-weighted IU, per-class IU and Dice.

    ``pred``: labels of ``target``'s shape, or scores with a class axis 1.
    Over a whole data set, add the batches' :func:`confusion_matrix` es and
    call :func:`scores_from_confusion_matrix` once (averaging per-batch
    scores would weight small batches wrongly).
    """
    return scores_from_confusion_matrix(confusion_matrix(pred, target, num_classes, ignore_index))


def top1_accuracy(logits_or_pred, target):
    """The fraction of samples whose highest-scoring class (or given label) equals the target."""
    xp, pred, target = _labels(logits_or_pred, target, "top1_accuracy")
    if target.size == 0:
        raise ValueError("top1_accuracy: empty target")
    return float((pred == target).mean())
