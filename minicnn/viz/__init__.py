"""``minicnn.viz``: seeing inside a network.

* :mod:`~minicnn.viz.drawing` (with :mod:`~minicnn.viz.graph` and :mod:`~minicnn.viz.svg`):
  ``draw_graph(tensor)``, the autograd graph as an SVG picture (no Graphviz), coloured by
  gradient norm after a backward pass; ``depth=`` draws one box per module;
* :mod:`~minicnn.viz.gradflow`: per-layer gradient norms over the training steps
  (``Trainer(..., record_grad_norms=True)``);
* :mod:`~minicnn.viz.gradcam`: Grad-CAM (Selvaraju et al., 2017), where a classifier looks;
* :mod:`~minicnn.viz.receptive`: the effective receptive field (Luo et al., 2016) beside the
  theoretical one.

Pictures are returned as objects that display themselves in Jupyter (an SVG
drawing, or a ``matplotlib.figure.Figure`` made without pyplot).
"""
from .drawing import GraphDrawing, draw_graph, draw_model
from .graph import build_graph, record_gradient_norms, trace_modules
from .gradcam import grad_cam, plot_grad_cam
from .gradflow import grad_norm_history, layer_grad_norms, parameter_grad_norms, plot_grad_flow
from .receptive import (effective_receptive_field, effective_size, field_size, plot_receptive_fields,
                        support_size, theoretical_receptive_field)

__all__ = ["GraphDrawing", "draw_graph", "draw_model", "build_graph", "record_gradient_norms",
           "trace_modules", "grad_cam", "plot_grad_cam", "grad_norm_history", "layer_grad_norms",
           "parameter_grad_norms", "plot_grad_flow", "effective_receptive_field", "effective_size",
           "field_size", "plot_receptive_fields", "support_size", "theoretical_receptive_field"]
