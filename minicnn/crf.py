"""A small, exact fully connected CRF with mean-field inference (the post-processing of DeepLab v1/v2).

Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with
Gaussian Edge Potentials", NIPS 2011; Chen et al., DeepLab ([Krähenbühl & Koltun, 2011],
[Chen et al., 2015] in docs/bibliography.md).

A network's per-pixel probabilities P(x_i) ignore each other; a fully
connected conditional random field couples *every* pair of pixels. For a
labelling x (one label per pixel) the energy is

    E(x) = sum_i theta_i(x_i) + sum_{i<j} theta_ij(x_i, x_j)
    theta_i(x_i)      = -log P(x_i)                                            (unary: the network)
    theta_ij(x_i,x_j) = mu(x_i, x_j) [ w1 exp(-|p_i - p_j|^2 / (2 sa^2) - |I_i - I_j|^2 / (2 sb^2))
                                      + w2 exp(-|p_i - p_j|^2 / (2 sg^2)) ]

with p the pixel positions, I the colours (intensities), mu(a, b) = 1 if
a != b (the Potts model) and sa, sb, sg = theta_alpha, theta_beta,
theta_gamma. The first kernel ("appearance", bilateral) asks nearby pixels of
similar colour to share a label; the second ("smoothness", Gaussian) removes
small isolated regions. Both are summed in one N x N matrix
K = w1 k_appearance + w2 k_smoothness with a zero diagonal.

**Mean-field inference** approximates P(x) ∝ exp(-E(x)) by a product of
per-pixel distributions Q_i and updates all of them in parallel:

    Q_i(l) ∝ exp( -theta_i(l) - sum_{l'} mu(l, l') sum_{j != i} K_ij Q_j(l') )
           =  exp( -theta_i(l) - sum_{j != i} K_ij (1 - Q_j(l)) )          (Potts)

i.e. message passing M = K Q, compatibility transform (Potts: M.sum(labels)
- M), adding the unary, softmax. Each update lowers (in practice) the
mean-field free energy  F(Q) = E_Q[E(x)] - H(Q)  (:func:`free_energy`).

**Cost.** This module forms K *exactly*: O(N^2 d) time to build it
(d = 2 position + colour dimensions) and O(N^2) memory, then one message
pass M = K Q costs O(N^2 L) per iteration (N = H W pixels, L labels). That is
fine for a 64 x 64 image (N = 4096: a 128 MB float64 matrix) and hopeless for
a 500 x 500 one (N^2 = 6.25e10), which is why Krähenbühl & Koltun filter with
a permutohedral lattice in O(N L) instead (an approximation not used here).
``max_pixels`` guards against building huge matrices by mistake.

Parameters are in pixels (theta_alpha, theta_gamma) and in the image's own
units (theta_beta): the common defaults w1 = 10, theta_alpha = 80,
theta_beta = 13, w2 = 3, theta_gamma = 3 are meant for 0..255 colour images;
for images in [0, 1] divide theta_beta by 255. The unnormalised kernels of the
equation are used, so on small images (where every pixel is within
theta_alpha of every other) the pairwise terms sum over many pixels:
weights below 1 are then typical.

Everything runs on the array module of the inputs (NumPy or CuPy); inputs may
also be minicnn Tensors (their data is used; no gradients).
"""
import math

import numpy as np

from .backend import get_array_module
from .utils import unwrap

__all__ = ["DenseCRF", "pairwise_kernel", "mean_field", "crf_energy", "free_energy", "unary_from_probabilities"]


def _squared_distances(features):
    """|f_i - f_j|^2 for the rows of ``features`` (N, d), feature by feature (exact, no cancellation)."""
    xp = get_array_module(features)
    n = features.shape[0]
    out = xp.zeros((n, n), dtype=features.dtype)
    for d in range(features.shape[1]):
        column = features[:, d]
        out += (column[:, None] - column[None, :]) ** 2
    return out


def pairwise_kernel(image, w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0, theta_gamma=3.0,
                    max_pixels=64 * 64):
    """The dense N x N matrix K = w1 k_appearance + w2 k_smoothness (zero diagonal) of an image.

    ``image``: (C, H, W) or (H, W) array (colour or intensity). Row / column
    i = h * W + w. O(N^2 d) time, O(N^2) memory.
    """
    image = unwrap(image)
    xp = get_array_module(image)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise ValueError(f"pairwise_kernel: expected an image of shape (C, H, W) or (H, W), got {image.shape}")
    channels, height, width = image.shape
    n = height * width
    if n > max_pixels:
        raise ValueError(f"pairwise_kernel: the exact dense CRF builds an N x N matrix; N = {height}x{width} = "
                         f"{n} pixels exceeds max_pixels={max_pixels} (raise it knowingly: memory is 8 N^2 bytes)")
    dtype = image.dtype if image.dtype in (np.float32, np.float64) else np.float64
    rows, cols = xp.meshgrid(xp.arange(height, dtype=dtype), xp.arange(width, dtype=dtype), indexing="ij")
    positions = xp.stack([rows.reshape(-1), cols.reshape(-1)], axis=1)            # (N, 2)
    colours = image.reshape(channels, n).T.astype(dtype)                           # (N, C)
    position_d2 = _squared_distances(positions)
    colour_d2 = _squared_distances(colours)
    appearance = xp.exp(-position_d2 / (2 * theta_alpha ** 2) - colour_d2 / (2 * theta_beta ** 2))
    smoothness = xp.exp(-position_d2 / (2 * theta_gamma ** 2))
    kernel = w1 * appearance + w2 * smoothness
    kernel[xp.arange(n), xp.arange(n)] = 0                                        # no pixel talks to itself
    return kernel


def unary_from_probabilities(probabilities, eps=1e-8):
    """theta_i(l) = -log P_i(l), clipped at ``eps`` (probabilities (L, H, W) -> unary (L, H, W))."""
    probabilities = unwrap(probabilities)
    xp = get_array_module(probabilities)
    return -xp.log(xp.clip(probabilities, eps, 1.0))


def _softmax_labels(logits):
    """Softmax over the label axis 0 of (L, N)."""
    xp = get_array_module(logits)
    z = logits - logits.max(axis=0, keepdims=True)
    e = xp.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def _flatten(unary):
    unary = unwrap(unary)
    if unary.ndim != 3:
        raise ValueError(f"dense CRF: expected a unary of shape (L, H, W), got {unary.shape}")
    return unary.reshape(unary.shape[0], -1)


def mean_field(unary, kernel, n_iterations=5, return_history=False):
    """Parallel mean-field updates of the Potts dense CRF; returns Q (L, H, W).

    Q <- softmax_l( -unary - compatibility(K Q) ), starting from Q = softmax(-unary). One
    iteration: the message pass ``Q @ K`` (O(N^2 L)), the Potts compatibility transform, the
    local update. With ``return_history`` also returns the list of Q after each iteration
    (the first entry is the initial Q).
    """
    flat = _flatten(unary)                                       # (L, N)
    if kernel.shape != (flat.shape[1], flat.shape[1]):
        raise ValueError(f"mean_field: the kernel must be N x N with N = {flat.shape[1]} pixels, got "
                         f"{kernel.shape}")
    q = _softmax_labels(-flat)
    history = [q.reshape(unary.shape)]
    for _ in range(n_iterations):
        message = q @ kernel                                     # sum_j K_ij Q_j(l): (L, N); K symmetric
        pairwise = message.sum(axis=0, keepdims=True) - message  # Potts: sum over l' != l
        q = _softmax_labels(-flat - pairwise)
        history.append(q.reshape(unary.shape))
    q = q.reshape(unary.shape)
    return (q, history) if return_history else q


def crf_energy(labels, unary, kernel):
    """E(x) = sum_i unary_i(x_i) + sum_{i<j} K_ij [x_i != x_j] of a labelling ``labels`` (H, W)."""
    labels = unwrap(labels)
    flat = _flatten(unary)
    xp = get_array_module(flat)
    x = labels.reshape(-1)
    unary_term = flat[x, xp.arange(x.shape[0])].sum()
    different = x[:, None] != x[None, :]
    pairwise_term = (kernel * different).sum() / 2              # each pair {i, j} appears twice in K
    return unary_term + pairwise_term


def free_energy(q, unary, kernel):
    """The mean-field objective F(Q) = E_Q[E(x)] - H(Q) (= KL(Q || P) - log Z), lowered by inference:

        E_Q[E] = sum_i sum_l Q_i(l) unary_i(l) + sum_{i<j} K_ij (1 - sum_l Q_i(l) Q_j(l))
        H(Q)   = -sum_i sum_l Q_i(l) log Q_i(l)
    """
    flat_q, flat_u = _flatten(q), _flatten(unary)
    xp = get_array_module(flat_q)
    expected_unary = (flat_q * flat_u).sum()
    agreement = ((flat_q @ kernel) * flat_q).sum()              # sum_{i,j} K_ij sum_l Q_i(l) Q_j(l)
    expected_pairwise = (kernel.sum() - agreement) / 2
    entropy = -(flat_q * xp.log(xp.clip(flat_q, 1e-300, 1.0))).sum()
    return expected_unary + expected_pairwise - entropy


class DenseCRF:
    """Fully connected CRF post-processing: ``DenseCRF(...)(probabilities, image) -> Q``.

    Args:
        w1, theta_alpha, theta_beta: weight and widths (position, colour) of the appearance kernel.
        w2, theta_gamma: weight and width of the smoothness kernel.
        n_iterations: mean-field iterations (DeepLab: 10).
        max_pixels: refuse images with more pixels (the kernel is N x N).

    ``__call__(probabilities (L, H, W), image (C, H, W) or (H, W))`` returns the refined
    probabilities Q (L, H, W); ``predict`` returns Q's argmax labels (H, W).
    """

    def __init__(self, w1=10.0, theta_alpha=80.0, theta_beta=13.0, w2=3.0, theta_gamma=3.0, n_iterations=5,
                 max_pixels=64 * 64):
        for name, value in (("theta_alpha", theta_alpha), ("theta_beta", theta_beta),
                            ("theta_gamma", theta_gamma)):
            if not value > 0 or not math.isfinite(value):
                raise ValueError(f"DenseCRF: {name} must be a positive number, got {value!r}")
        self.w1, self.theta_alpha, self.theta_beta = w1, theta_alpha, theta_beta
        self.w2, self.theta_gamma = w2, theta_gamma
        self.n_iterations, self.max_pixels = n_iterations, max_pixels

    def kernel(self, image):
        return pairwise_kernel(image, self.w1, self.theta_alpha, self.theta_beta, self.w2, self.theta_gamma,
                               self.max_pixels)

    def __call__(self, probabilities, image):
        probabilities = unwrap(probabilities)
        image = unwrap(image)
        if probabilities.ndim != 3 or tuple(probabilities.shape[1:]) != tuple(image.shape[-2:]):
            raise ValueError(f"DenseCRF: expected probabilities (L, H, W) matching the image's H x W, got "
                             f"{probabilities.shape} and an image of shape {image.shape}")
        return mean_field(unary_from_probabilities(probabilities), self.kernel(image), self.n_iterations)

    def predict(self, probabilities, image):
        return self(probabilities, image).argmax(axis=0)

    def __repr__(self):
        return (f"DenseCRF(w1={self.w1}, theta_alpha={self.theta_alpha}, theta_beta={self.theta_beta}, "
                f"w2={self.w2}, theta_gamma={self.theta_gamma}, n_iterations={self.n_iterations})")
