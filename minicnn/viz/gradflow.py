"""Gradient flow: the norm of every layer's gradient at every training step, and its picture.

A deep network trains badly when the gradients reaching its first layers are
much smaller than those at its last ones (vanishing gradients: Hochreiter, 1991;
Bengio et al., 1994; Glorot & Bengio, 2010) or much larger (exploding). Batch
normalisation (Ioffe & Szegedy, 2015) and residual connections (He et al., 2016)
are two cures; the plot of the gradient norms per
layer over the steps shows whether they work.

Recording is opt-in: ``Trainer(..., record_grad_norms=True)`` calls
:func:`parameter_grad_norms` after every ``backward`` and stores, in each line of
its history, ``history[k]["grad_norms"] = {parameter name: [one norm per step]}``.
:func:`grad_norm_history` joins the epochs, :func:`layer_grad_norms` combines the
parameters of one layer (``conv1.weight`` and ``conv1.bias`` make ``conv1``):

    ||g_layer|| = sqrt( sum over its parameters p of ||g_p||^2 ),

and :func:`plot_grad_flow` draws them.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .graph import gradient_norm

__all__ = ["parameter_grad_norms", "grad_norm_history", "layer_grad_norms", "plot_grad_flow"]


def parameter_grad_norms(model) -> OrderedDict:
    """``{name: ||p.grad||_2}`` for every parameter of ``model`` (NaN where ``p.grad`` is None)."""
    return OrderedDict((name, gradient_norm(p.grad.data) if p.grad is not None else float("nan"))
                       for name, p in model.named_parameters())


def grad_norm_history(history) -> OrderedDict:
    """``{parameter name: array of norms, one per step}`` over all the epochs of a Trainer's history.

    ``history`` is ``trainer.history`` (or the trainer itself), recorded with
    ``record_grad_norms=True``.
    """
    history = getattr(history, "history", history)
    epochs = [record["grad_norms"] for record in history if "grad_norms" in record]
    if not epochs:
        raise ValueError("grad_norm_history: the history holds no gradient norms; create the Trainer "
                         "with record_grad_norms=True")
    return OrderedDict((name, np.concatenate([np.asarray(e[name], dtype=np.float64) for e in epochs]))
                       for name in epochs[0])


def _layer_of(name):
    """``features.0.weight`` -> ``features.0``; a top-level parameter is its own layer."""
    return name.rpartition(".")[0] or name


def layer_grad_norms(norms) -> OrderedDict:
    """Combine per-parameter norms (``{name: norms}``) into per-layer norms, in the parameters' order."""
    squares = OrderedDict()
    for name, values in norms.items():
        layer = _layer_of(name)
        values = np.asarray(values, dtype=np.float64)
        squares[layer] = squares.get(layer, 0.0) + values ** 2
    return OrderedDict((layer, np.sqrt(s)) for layer, s in squares.items())


def plot_grad_flow(history, per_layer=True, title=None, fig=None):
    """Two panels: each layer's gradient norm over the steps, and the median per layer, input to output.

    ``history``: a Trainer, its ``history``, or a ``{name: norms}`` dict. Layers are
    coloured from the first (dark) to the last (bright); the y axes are logarithmic,
    so a vanishing gradient is a line far below the others.
    Returns a ``matplotlib.figure.Figure`` (made without pyplot).
    """
    from matplotlib import colormaps

    from ..plots import _new_figure

    norms = history if isinstance(history, dict) else grad_norm_history(history)
    if per_layer:
        norms = layer_grad_norms(norms)
    fig = fig if fig is not None else _new_figure((11, 3.6))
    over_steps, per_layer_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    cmap = colormaps["viridis"]
    names = list(norms)
    for k, name in enumerate(names):
        colour = cmap(k / max(len(names) - 1, 1))
        values = norms[name]
        over_steps.plot(np.arange(1, len(values) + 1), values, color=colour, lw=1.2, label=name)
    over_steps.set_yscale("log")
    over_steps.set_xlabel("training step")
    over_steps.set_ylabel("gradient norm")
    over_steps.set_title(title or "gradient norm per layer")
    if len(names) <= 12:
        over_steps.legend(fontsize=7, ncol=2)
    medians = [np.nanmedian(norms[n]) for n in names]
    low = [np.nanpercentile(norms[n], 10) for n in names]
    high = [np.nanpercentile(norms[n], 90) for n in names]
    x = np.arange(len(names))
    per_layer_ax.fill_between(x, low, high, color="tab:blue", alpha=0.25, label="10-90 %")
    per_layer_ax.plot(x, medians, "o-", color="tab:blue", label="median")
    per_layer_ax.set_xticks(x)
    per_layer_ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    per_layer_ax.set_yscale("log")
    per_layer_ax.set_title("input  ->  output")
    per_layer_ax.legend(fontsize=7)
    return fig
