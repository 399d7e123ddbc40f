# GENERATED from solutions/ch11_unet_segmentation.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 11.1 11.2 11.3 11.4`.
"""Exercises of notebook 11: the attention gate, the U-Net weight map and the segmentation metrics.

* 11.1 The additive attention gate (Oktay et al., 2018; Schlemper et al., 2019)
  scales the skip features of a U-Net by a coefficient per pixel, computed
  from the skip features and a gating signal from the coarser level.
* 11.2 The U-Net weight map (Ronneberger et al., 2015, Eq. 2) weights the
  pixel-wise cross-entropy so that the network learns the thin gaps between
  touching cells.
* 11.3 and 11.4 score a segmentation (FCN paper, Long et al. 2015, Sec. 5).

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

Grade with ``minicnn grade 11``.
"""
import numpy as np

from minicnn import functional as F
from minicnn.backend import get_array_module


def attention_gate(x, g, w_x, w_g, b_g, psi, b_psi):
    """The additive attention gate, on x's own grid (g already resampled to it):

        q     = psi . relu(W_x x + W_g g + b_g) + b_psi       per pixel: 1x1 convolutions
        alpha = sigmoid(q)                                    (N, 1, H, W)
        y     = alpha * x                                     the same alpha for every channel

    ``x``: (N, F_l, H, W); ``g``: (N, F_g, H, W); ``w_x``: (F_int, F_l) (no bias);
    ``w_g``: (F_int, F_g); ``b_g``: (F_int,); ``psi``: (1, F_int); ``b_psi``: (1,).
    Returns ``(y, alpha)``. (As ``nn.AttentionGate(F_l, F_g, F_int, sub_sample_factor=1)``.)
    """
    # Exercise 11.1: your code here.
    raise NotImplementedError('Exercise 11.1: the additive attention gate. Hint: flatten H, W; alpha = sigmoid(psi @ relu(W_x @ x + W_g @ g + b_g) + b_psi); return x * alpha, alpha')


def unet_weight_map(mask, instances, num_classes=2, w0=10.0, sigma=5.0):
    """U-Net's weight map for one image (host NumPy arrays, no gradient):

        w(x) = w_c(x) + w0 exp(-(d1(x) + d2(x))^2 / (2 sigma^2))

    * ``w_c``: class-balancing weights, ``N / (K N_k)`` for a pixel of class k
      (N pixels, N_k of class k, K classes present in ``mask``);
    * ``d1``, ``d2``: the distance to the nearest and the second-nearest cell
      (``instances``: 0 outside cells, 1, 2, ... one id per cell): for cell i,
      ``scipy.ndimage.distance_transform_edt(instances != i)``;
    * the exponential term is added only on pixels outside every cell
      (``instances == 0``), and only when there are at least two cells.

    ``mask``: (H, W) int class labels; returns float32 (H, W), as
    ``minicnn.data.unet_weight_map``.
    """
    # Exercise 11.2: your code here.
    raise NotImplementedError('Exercise 11.2: the U-Net weight map. Hint: w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) outside the cells; d1, d2 from distance transforms')



def confusion_matrix(pred, target, num_classes):
    """The (num_classes, num_classes) int64 matrix ``n[i, j]`` of integer label arrays ``pred`` and
    ``target`` (same shape, values in ``[0, num_classes)``), on their backend.

    One pass, no Python loop over pixels: pixel (i, j) is the single integer
    ``i * num_classes + j``; count those with ``xp.bincount(...,
    minlength=num_classes**2)`` and reshape. Raises ``ValueError`` when the
    shapes differ.
    """
    # Exercise 11.3: your code here.
    raise NotImplementedError('Exercise 11.3: the confusion matrix of a segmentation. Hint: bincount of target * num_classes + pred, with minlength num_classes**2, reshaped')


def pixel_accuracy(cm):
    """The fraction of pixels labelled correctly: ``trace(n) / sum(n)`` of a host confusion matrix."""
    # Exercise 11.4: your code here.
    raise NotImplementedError('Exercise 11.4: pixel accuracy and mean IU. Hint: IU_i = n_ii / (t_i + sum_j n_ji - n_ii); average over the classes whose IU is defined')


def mean_iu(cm):
    """The mean intersection over union of a host confusion matrix (classes with an undefined IU are
    left out of the mean; NaN when no class has one)."""
    # Exercise 11.4: your code here.
    raise NotImplementedError('Exercise 11.4: pixel accuracy and mean IU. Hint: IU_i = n_ii / (t_i + sum_j n_ji - n_ii); average over the classes whose IU is defined')
