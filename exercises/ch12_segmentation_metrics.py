# GENERATED from solutions/ch12_segmentation_metrics.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 12.1 12.2`.
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
    # Exercise 12.1: your code here.
    raise NotImplementedError('Exercise 12.1: the confusion matrix of a segmentation. Hint: bincount of target * num_classes + pred, with minlength num_classes**2, reshaped')


def pixel_accuracy(cm):
    """The fraction of pixels labelled correctly: ``trace(n) / sum(n)`` of a host confusion matrix."""
    # Exercise 12.2: your code here.
    raise NotImplementedError('Exercise 12.2: pixel accuracy and mean IU. Hint: IU_i = n_ii / (t_i + sum_j n_ji - n_ii); average over the classes whose IU is defined')


def mean_iu(cm):
    """The mean intersection over union of a host confusion matrix (classes with an undefined IU are
    left out of the mean; NaN when no class has one)."""
    # Exercise 12.2: your code here.
    raise NotImplementedError('Exercise 12.2: pixel accuracy and mean IU. Hint: IU_i = n_ii / (t_i + sum_j n_ji - n_ii); average over the classes whose IU is defined')
