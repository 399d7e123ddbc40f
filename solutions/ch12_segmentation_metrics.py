"""Exercises of notebook 12: scoring a segmentation (FCN paper, Long et al. 2015, Sec. 5).

Let ``n[i, j]`` be the number of pixels of true class ``i`` predicted as
class ``j`` (the confusion matrix: rows are the truth, columns the
prediction), and ``t_i = sum_j n[i, j]`` the number of pixels of class ``i``.

    pixel accuracy   sum_i n_ii / sum_i t_i
    mean IU          (1 / n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)

``sum_j n_ji`` counts the pixels *predicted* as ``i``, so the denominator of
class ``i``'s IU (intersection over union) is the union of the true and the
predicted region, ``n_ii`` their intersection. A class absent from both the
target and the prediction has IU 0/0: leave it out of the mean (``n_cl``
counts the classes whose IU is defined), as ``minicnn.metrics`` does.

Grade with ``minicnn grade 12``.
"""
import numpy as np

from minicnn.backend import get_array_module


def confusion_matrix(pred, target, num_classes):
    """The (num_classes, num_classes) int64 matrix ``n[i, j]`` of integer label arrays ``pred`` and
    ``target`` (same shape, values in ``[0, num_classes)``), on their backend.

    One pass, no Python loop over pixels: pixel (i, j) is the single integer
    ``i * num_classes + j``; count those with ``xp.bincount(...,
    minlength=num_classes**2)`` and reshape. Raises ``ValueError`` when the
    shapes differ.
    """
    # BEGIN SOLUTION 12.1
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: prediction of shape {pred.shape} does not match the target "
                         f"of shape {target.shape}")
    xp = get_array_module(pred, target)
    index = target.reshape(-1).astype(xp.int64) * num_classes + pred.reshape(-1).astype(xp.int64)
    return xp.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    # END SOLUTION


def pixel_accuracy(cm):
    """The fraction of pixels labelled correctly: ``trace(n) / sum(n)`` of a host confusion matrix."""
    # BEGIN SOLUTION 12.2
    n = np.asarray(cm, dtype=np.float64)
    return float(np.trace(n) / n.sum())
    # END SOLUTION


def mean_iu(cm):
    """The mean intersection over union of a host confusion matrix (classes with an undefined IU are
    left out of the mean; NaN when no class has one)."""
    # BEGIN SOLUTION 12.2
    n = np.asarray(cm, dtype=np.float64)
    intersection = np.diag(n)
    union = n.sum(axis=1) + n.sum(axis=0) - intersection   # t_i + sum_j n_ji - n_ii
    defined = union > 0
    if not defined.any():
        return float("nan")
    return float((intersection[defined] / union[defined]).mean())
    # END SOLUTION
