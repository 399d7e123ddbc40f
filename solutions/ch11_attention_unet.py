"""Exercises of notebook 11: the attention gate and the U-Net weight map.

* The additive attention gate (Oktay et al., 2018; Schlemper et al., 2019)
  scales the skip features of a U-Net by a coefficient per pixel, computed
  from the skip features and a gating signal from the coarser level.
* The U-Net weight map (Ronneberger et al., 2015, Eq. 2) weights the pixel-wise
  cross-entropy so that the network learns the thin gaps between touching
  cells.

Grade with ``minicnn grade 11``.
"""
import numpy as np

from minicnn import functional as F


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
