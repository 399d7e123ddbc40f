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
    # BEGIN SOLUTION 11.1
    n, _, height, width = x.shape
    xs = x.reshape(n, x.shape[1], height * width)                  # (N, F_l, HW)
    gs = g.reshape(n, g.shape[1], height * width)                  # (N, F_g, HW)
    hidden = F.relu(w_x @ xs + w_g @ gs + b_g.reshape(-1, 1))      # (N, F_int, HW)
    q = psi @ hidden + b_psi.reshape(-1, 1)                        # (N, 1, HW)
    alpha = F.sigmoid(q).reshape(n, 1, height, width)
    return alpha * x, alpha
    # END SOLUTION


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
    # BEGIN SOLUTION 11.2
    from scipy import ndimage

    counts = np.bincount(mask.ravel(), minlength=num_classes).astype(np.float64)
    present = counts > 0
    class_weight = np.zeros(num_classes)
    class_weight[present] = mask.size / (present.sum() * counts[present])
    weight = class_weight[mask]
    ids = [i for i in np.unique(instances) if i > 0]
    if len(ids) >= 2:
        distances = np.sort(np.stack([ndimage.distance_transform_edt(instances != i) for i in ids]), axis=0)
        border = w0 * np.exp(-(distances[0] + distances[1]) ** 2 / (2 * sigma ** 2))
        weight = weight + np.where(instances == 0, border, 0.0)
    return weight.astype(np.float32)
    # END SOLUTION



def confusion_matrix(pred, target, num_classes):
    """The (num_classes, num_classes) int64 matrix ``n[i, j]`` of integer label arrays ``pred`` and
    ``target`` (same shape, values in ``[0, num_classes)``), on their backend.

    One pass, no Python loop over pixels: pixel (i, j) is the single integer
    ``i * num_classes + j``; count those with ``xp.bincount(...,
    minlength=num_classes**2)`` and reshape. Raises ``ValueError`` when the
    shapes differ.
    """
    # BEGIN SOLUTION 11.3
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: prediction of shape {pred.shape} does not match the target "
                         f"of shape {target.shape}")
    xp = get_array_module(pred, target)
    index = target.reshape(-1).astype(xp.int64) * num_classes + pred.reshape(-1).astype(xp.int64)
    return xp.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
    # END SOLUTION


def pixel_accuracy(cm):
    """The fraction of pixels labelled correctly: ``trace(n) / sum(n)`` of a host confusion matrix."""
    # BEGIN SOLUTION 11.4
    n = np.asarray(cm, dtype=np.float64)
    return float(np.trace(n) / n.sum())
    # END SOLUTION


def mean_iu(cm):
    """The mean intersection over union of a host confusion matrix (classes with an undefined IU are
    left out of the mean; NaN when no class has one)."""
    # BEGIN SOLUTION 11.4
    n = np.asarray(cm, dtype=np.float64)
    intersection = np.diag(n)
    union = n.sum(axis=1) + n.sum(axis=0) - intersection   # t_i + sum_j n_ji - n_ii
    defined = union > 0
    if not defined.any():
        return float("nan")
    return float((intersection[defined] / union[defined]).mean())
    # END SOLUTION
