"""Grad-CAM: which parts of the image a classifier's decision depends on (Selvaraju et al., 2017).

Take a convolutional layer with output A (N, K, h, w) and the score y^c of
class c (before the softmax). Grad-CAM weighs each channel k by how much the
score grows with it, on average over the positions, and keeps the positive part
of the weighted sum:

    alpha^c_k = 1 / (h w) * sum_{i,j} dy^c / dA^k_{ij}          (global-average-pooled gradients)
    L^c       = ReLU( sum_k alpha^c_k A^k )                       (h, w): the class-discriminative map

The map has the layer's resolution; it is up-sampled to the input's size
(bilinear, ``align_corners=False``) and, by default, scaled to [0, 1] per
image. The last convolutional stage is the usual choice: it still has a
spatial grid but already high-level features. For a network with attention
modules, compare it with the modules' own maps (``module.last_attention``,
see :func:`minicnn.plots.attention_maps`): the attention is what the network
*weights*, Grad-CAM what the chosen class *depends on*.

How A and dy/dA are obtained: a forward hook on the layer
(``Module.register_forward_hook``) keeps its output and calls ``retain_grad()``
on it; after ``y.backward()`` the output's ``.grad`` holds dy/dA. The
parameters' ``.grad`` are put back as they were, so Grad-CAM has no side
effect on training.
"""
from __future__ import annotations

import numpy as np

from ..autograd import enable_grad, no_grad
from ..backend import get_array_module, to_numpy
from ..tensor import Tensor

__all__ = ["grad_cam", "cam_from_activations", "cam_from_activations_naive", "find_layer",
           "plot_grad_cam"]


def find_layer(model, layer):
    """``layer`` itself if it is a module, else the sub-module with that dotted name (``"layer4"``)."""
    if not isinstance(layer, str):
        return layer
    modules = dict(model.named_modules())
    if layer not in modules:
        names = [n for n in modules if n]
        raise ValueError(f"grad_cam: {type(model).__name__} has no sub-module {layer!r}; "
                         f"its sub-modules are {names[:20]}{' ...' if len(names) > 20 else ''}")
    return modules[layer]


def cam_from_activations(activations, gradients):
    """ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of dy/dA_k: (N, K, h, w) x 2 -> (N, h, w)."""
    xp = get_array_module(activations)
    if activations.ndim != 4 or activations.shape != gradients.shape:
        raise ValueError(f"grad_cam: expected the layer's output and its gradient as (N, K, h, w) arrays "
                         f"of one shape, got {activations.shape} and {gradients.shape}")
    alpha = gradients.mean(axis=(2, 3))                                  # (N, K)
    cam = (alpha[:, :, None, None] * activations).sum(axis=1)           # (N, h, w)
    return xp.maximum(cam, 0)


def cam_from_activations_naive(activations, gradients):
    """The same map with explicit loops over images, channels and positions (NumPy arrays)."""
    n, k, h, w = activations.shape
    cam = np.zeros((n, h, w), dtype=activations.dtype)
    for b in range(n):
        for c in range(k):
            alpha = sum(gradients[b, c, i, j] for i in range(h) for j in range(w)) / (h * w)
            for i in range(h):
                for j in range(w):
                    cam[b, i, j] += alpha * activations[b, c, i, j]
    return np.maximum(cam, 0)


def _targets(target, scores):
    n, k = scores.shape
    if target is None:
        return to_numpy(scores.data.argmax(axis=1)).astype(np.int64)
    target = np.broadcast_to(np.asarray(target, dtype=np.int64), (n,))
    if target.min() < 0 or target.max() >= k:
        raise ValueError(f"grad_cam: target classes must be in [0, {k}), got {target.tolist()}")
    return target


def grad_cam(model, layer, input, target=None, upsample=True, normalize=True):
    """The Grad-CAM map of ``layer`` for class ``target`` (default: the predicted class), per image.

    Args:
        model: a classifier returning scores (N, K) (use eval mode for a batch-norm network).
        layer: the module (or its dotted name) whose output A (N, K', h, w) is explained.
        input: images (N, C, H, W), a Tensor or an array.
        target: None (each image's top class), one class for all, or one class per image.
        upsample: bilinear up-sampling of the map to (H, W).
        normalize: divide each map by its maximum (a map that is 0 everywhere stays 0).

    Returns a NumPy array (N, H, W) (or (N, h, w) without ``upsample``).
    """
    from ..ops.interpolate import interpolate

    module = find_layer(model, layer)
    x = input if isinstance(input, Tensor) else Tensor(input)
    captured = []

    def keep_output(mod, args, output):
        if not isinstance(output, Tensor) or output.ndim != 4:
            raise ValueError(f"grad_cam: the layer {type(mod).__name__} must output one (N, C, h, w) "
                             f"tensor, got {getattr(output, 'shape', type(output).__name__)}")
        captured.append(output.retain_grad() if output.requires_grad else output)

    parameters = list(model.parameters())
    saved = [p.grad for p in parameters]
    try:
        with module.register_forward_hook(keep_output), enable_grad():
            scores = model(x)
        if not captured:
            raise ValueError(f"grad_cam: the layer {type(module).__name__} was not called by the forward pass")
        if not isinstance(scores, Tensor) or scores.ndim != 2:
            raise ValueError("grad_cam: the model must return class scores of shape (N, K), got "
                             f"{getattr(scores, 'shape', type(scores).__name__)}")
        activations = captured[-1]
        if not activations.requires_grad:
            raise ValueError("grad_cam: the layer's output does not depend on any parameter that requires grad")
        classes = _targets(target, scores)
        one_hot = np.zeros(scores.shape, dtype=scores.dtype)
        one_hot[np.arange(len(classes)), classes] = 1.0
        # sum_n y^{c_n}_n: each image's score depends only on its own activations (eval mode).
        (scores * Tensor(one_hot).to(scores.device)).sum().backward()
        cam = cam_from_activations(activations.data, activations.grad.data)
    finally:
        for p, g in zip(parameters, saved):
            p.grad = g
    if upsample:
        with no_grad():
            cam = interpolate(Tensor._from_op(cam[:, None]), size=tuple(x.shape[2:]), mode="bilinear",
                              align_corners=False).data[:, 0]
    cam = to_numpy(cam)
    if normalize:
        peak = cam.max(axis=(1, 2), keepdims=True)
        cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0.0)
    return cam


def plot_grad_cam(images, maps, titles=None, fig=None, alpha=0.5):
    """Each image (C, H, W) or (H, W) in grey with one or more (H, W) maps over it, one row per image.

    ``maps``: a dict ``{column title: (N, H, W) array}`` (Grad-CAM, attention maps...),
    or a single array. Each map is coloured from its own minimum (blue) to its maximum (red),
    so an attention map in (0.9, 1) shows its pattern too. Returns a ``matplotlib.figure.Figure``.
    """
    from ..plots import _new_figure

    images = np.asarray(to_numpy(images.data if isinstance(images, Tensor) else images))
    maps = maps if isinstance(maps, dict) else {"Grad-CAM": maps}
    n, columns = len(images), 1 + len(maps)
    fig = fig if fig is not None else _new_figure((2.0 * columns, 2.0 * n))
    axes = np.asarray(fig.subplots(n, columns, squeeze=False))
    for row in range(n):
        image = images[row].mean(axis=0) if images[row].ndim == 3 else images[row]
        axes[row, 0].imshow(image, cmap="gray")
        axes[row, 0].set_title(titles[row] if titles else "image", fontsize=8)
        for col, (name, m) in enumerate(maps.items(), start=1):
            axes[row, col].imshow(image, cmap="gray")
            m_row = np.asarray(m[row], dtype=np.float64)          # each map on its own range
            low, high = float(m_row.min()), float(m_row.max())
            axes[row, col].imshow(m_row, cmap="jet", alpha=alpha, vmin=low, vmax=max(high, low + 1e-12))
            axes[row, col].set_title(name, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
