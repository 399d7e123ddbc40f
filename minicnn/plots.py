"""Figures for training runs: curves, predicted masks, attention maps.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot
(so nothing global is opened, and no backend is chosen here: the library
never calls ``matplotlib.use`` or ``plt.show``). In a notebook a returned
figure displays itself; in a script call :func:`save_figure`. Functions that
draw one panel group take ``fig=``, which may also be a sub-figure
(``fig.subfigures``), so panels can be combined into one image.

Attention maps come from the modules themselves: every attention module in
``minicnn.nn.attention`` keeps what it computed in its last forward pass on
``module.last_attention`` (a detached tensor). :func:`attention_maps` runs the
model on one image and collects them; :func:`plot_attention` draws them:

* channel weights (N, C, 1, 1) (SE, ECA, CBAM/BAM channel branch): bars, one per channel;
* spatial maps (N, 1, H, W) (CBAM/BAM spatial branch, attention gates on U-Net skips) and
  full maps (N, C, H, W) (BAM, Gather-Excite, residual attention; averaged over channels):
  a heat map over the input image;
* PAM's position affinities (N, P, P): the weights of the centre pixel over all positions, over the input;
* CAM's channel affinities (N, C, C): the matrix;
* SK's branch weights (N, M, C, 1, 1): bars of each branch's weights.
"""
from __future__ import annotations

import os

import numpy as np

from .backend import to_numpy
from .utils import unwrap

__all__ = ["plot_history", "plot_predictions", "attention_maps", "plot_attention", "plot_demo",
           "save_figure", "predict"]


def _new_figure(figsize):
    from matplotlib.figure import Figure
    return Figure(figsize=figsize, layout="constrained")


def _numpy(a):
    return to_numpy(unwrap(a))


def save_figure(fig, path, dpi=110):
    """Save ``fig`` to ``path`` (PNG, PDF, SVG... by extension), creating folders; returns the path."""
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


# --------------------------------------------------------------------------- curves
def plot_history(history, fig=None):
    """Loss curves (left) and validation metric curves (right) from ``Trainer.history``."""
    if not history:
        raise ValueError("plot_history: the history is empty (train for at least one epoch)")
    fig = fig if fig is not None else _new_figure((9, 3.5))
    epochs = [h["epoch"] for h in history]
    loss_ax, metric_ax = fig.subplots(1, 2)
    for key in ("train_loss", "val_loss"):
        if key in history[0]:
            loss_ax.plot(epochs, [h[key] for h in history], marker="o", label=key.replace("_", " "))
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    loss_ax.legend()
    metric_keys = [k for k, v in history[0].items()
                   if k.startswith("val_") and k != "val_loss" and isinstance(v, (int, float))]
    for key in metric_keys:
        metric_ax.plot(epochs, [h[key] for h in history], marker="o", label=key[4:].replace("_", " "))
    metric_ax.set(xlabel="epoch", title="validation metrics", ylim=(0, 1.02))
    if metric_keys:
        metric_ax.legend(fontsize="small")
    return fig


# --------------------------------------------------------------------------- predictions
def predict(model, images):
    """Class labels (N, H, W) (or (N,)) predicted by ``model`` for NumPy ``images``, in eval mode."""
    from .autograd import no_grad
    from .tensor import Tensor

    was_training = model.training
    model.eval()
    with no_grad():
        params = list(model.parameters())
        x = Tensor(np.asarray(images, dtype=np.float32))
        if params:
            x = x.to(params[0].device)
        scores = model(x)
    model.train(was_training)
    return _numpy(scores).argmax(axis=1)


def plot_predictions(images, masks, predictions, n=4, fig=None):
    """Rows of image | true mask | predicted mask | errors (red: wrong pixels) for ``n`` samples."""
    images, masks, predictions = _numpy(images), _numpy(masks), _numpy(predictions)
    n = min(n, len(images))
    fig = fig if fig is not None else _new_figure((8, 2.1 * n))
    axes = np.asarray(fig.subplots(n, 4, squeeze=False))
    vmax = max(int(masks.max()), int(predictions.max()), 1)
    for row in range(n):
        image = images[row, 0] if images.ndim == 4 else images[row]
        wrong = predictions[row] != masks[row]
        panels = [(image, "gray", "image"), (masks[row], "viridis", "true mask"),
                  (predictions[row], "viridis", "prediction")]
        for col, (data, cmap, title) in enumerate(panels):
            axes[row, col].imshow(data, cmap=cmap, vmin=0 if col else None, vmax=vmax if col else None,
                                  interpolation="nearest")
            axes[row, col].set_title(title, fontsize="small")
        overlay = np.zeros(wrong.shape + (4,))
        overlay[wrong] = (1.0, 0.0, 0.0, 0.8)
        axes[row, 3].imshow(image, cmap="gray")
        axes[row, 3].imshow(overlay, interpolation="nearest")
        axes[row, 3].set_title(f"errors ({wrong.mean():.1%})", fontsize="small")
        for ax in axes[row]:
            ax.set_axis_off()
    return fig


# --------------------------------------------------------------------------- attention
def attention_maps(model, image=None):
    """``[(module name, kind, array)]`` for every attention module's ``last_attention``.

    With ``image`` (C, H, W), the model first runs on it (eval mode, no
    gradients), so the maps belong to that image. A map shared by a module
    and its child (CBAM keeps its spatial branch's map) is listed once.
    ``kind`` is ``"position"`` for DANet's PAM and ``"channel_affinity"`` for
    its CAM, else ``""``.
    """
    if image is not None:
        predict(model, np.asarray(image)[None])
    found, seen = [], set()
    for name, module in model.named_modules():
        attention = getattr(module, "last_attention", None)
        if attention is None or id(attention) in seen:
            continue
        seen.add(id(attention))
        cls = type(module).__name__
        kind = "position" if "Position" in cls or cls == "PAM" else (
            "channel_affinity" if "ChannelAttentionModule" in cls or cls == "CAM" else "")
        found.append((name or cls, kind, _numpy(attention)))
    return found


def _resize(a, shape):
    """Nearest-neighbour resize of a 2-D map to ``shape`` (attention maps are coarser than the input)."""
    rows = (np.arange(shape[0]) * a.shape[0] // shape[0]).clip(0, a.shape[0] - 1)
    cols = (np.arange(shape[1]) * a.shape[1] // shape[1]).clip(0, a.shape[1] - 1)
    return a[np.ix_(rows, cols)]


def _draw_map(ax, name, kind, a, background):
    """Draw one attention array of the first sample on ``ax``, choosing the picture by its shape."""
    a = a[0]
    H, W = background.shape
    if kind == "position":                       # (P, P): row j = weights of output position j
        P = a.shape[0]
        h = int(round(np.sqrt(P * H / W)))
        w = P // max(h, 1)
        if h * w != P:
            ax.text(0.5, 0.5, f"{P} positions", ha="center"); ax.set_axis_off()
            return
        centre = (h // 2) * w + w // 2
        spatial, title = a[centre].reshape(h, w), f"{name}\nPAM weights of the centre pixel"
    elif kind == "channel_affinity":             # (C, C)
        ax.imshow(a, cmap="magma")
        ax.set_title(f"{name}\nCAM channel affinities", fontsize="x-small")
        return
    elif a.ndim == 4 and a.shape[-2:] == (1, 1):  # SK: (M, C, 1, 1) branch weights
        for m in range(a.shape[0]):
            ax.plot(a[m, :, 0, 0], marker=".", label=f"branch {m}")
        ax.set(ylim=(0, 1), xlabel="channel")
        ax.set_title(f"{name}\nbranch weights", fontsize="x-small")
        ax.legend(fontsize="xx-small")
        return
    elif a.ndim == 3 and a.shape[-2:] == (1, 1) or a.ndim == 1:   # channel weights (C, 1, 1)
        weights = a.reshape(-1)
        ax.bar(np.arange(len(weights)), weights, color="tab:blue")
        ax.set(ylim=(0, 1), xlabel="channel")
        ax.set_title(f"{name}\nchannel weights", fontsize="x-small")
        return
    elif a.ndim == 3:                            # (1, h, w) spatial, or (C, h, w) full map: mean over C
        spatial = a.mean(axis=0)
        title = f"{name}\n" + ("spatial map" if a.shape[0] == 1 else f"map (mean of {a.shape[0]} ch.)")
    else:
        ax.text(0.5, 0.5, f"{name}: shape {a.shape}", ha="center", fontsize="x-small")
        ax.set_axis_off()
        return
    ax.imshow(background, cmap="gray")
    heat = ax.imshow(_resize(spatial, (H, W)), cmap="jet", alpha=0.45, vmin=0,
                     vmax=max(float(spatial.max()), 1e-12) if kind == "position" else 1)
    ax.figure.colorbar(heat, ax=ax, fraction=0.046, pad=0.02)
    ax.set_title(title, fontsize="x-small")
    ax.set_axis_off()


def plot_attention(model, image, max_maps=8, fig=None):
    """Run ``model`` on one ``image`` (C, H, W) and draw its attention maps beside the input.

    Returns a figure whose first panel is the input and whose other panels are
    the attention modules' maps (see the module docstring for how each shape
    is drawn). A model without attention modules gives a figure saying so.
    """
    image = _numpy(image)
    maps = attention_maps(model, image)[:max_maps]
    panels = 1 + max(len(maps), 1)
    fig = fig if fig is not None else _new_figure((2.2 * panels, 2.6))
    axes = np.atleast_1d(fig.subplots(1, panels))
    background = image[0] if image.ndim == 3 else image
    axes[0].imshow(background, cmap="gray")
    axes[0].set_title("input", fontsize="small")
    axes[0].set_axis_off()
    if not maps:
        axes[1].text(0.5, 0.5, "no attention modules", ha="center", va="center")
        axes[1].set_axis_off()
    for ax, (name, kind, a) in zip(axes[1:], maps):
        _draw_map(ax, name, kind, a, background)
    return fig


def plot_demo(model, images, masks, n=3, history=None):
    """One figure: predictions for ``n`` images, the attention maps of the first, and (optionally) curves."""
    predictions = predict(model, images[:n])
    fig = _new_figure((11, 2.3 * n + 3.0 + (3.2 if history else 0)))
    ratios = [2.3 * n, 3.0] + ([3.2] if history else [])
    subfigs = fig.subfigures(len(ratios), 1, height_ratios=ratios)
    plot_predictions(images[:n], masks[:n], predictions, n=n, fig=subfigs[0])
    plot_attention(model, images[0], fig=subfigs[1])
    if history:
        plot_history(history, fig=subfigs[2])
    return fig
