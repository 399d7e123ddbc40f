"""``minicnn.viz``: seeing inside a network.

* :mod:`~minicnn.viz.drawing` (with :mod:`~minicnn.viz.graph` and :mod:`~minicnn.viz.svg`): ``draw_graph(tensor)``, the autograd
  graph as an SVG picture (no Graphviz), coloured by gradient norm after a backward pass;
* :mod:`~minicnn.viz.gradflow`: per-layer gradient norms over the training steps;
* :mod:`~minicnn.viz.gradcam`: Grad-CAM (Selvaraju et al., 2017), where a classifier looks;
* :mod:`~minicnn.viz.receptive`: the effective receptive field (Luo et al., 2016) beside the
  theoretical one.

Pictures are returned as objects that display themselves in Jupyter (an SVG
drawing, or a ``matplotlib.figure.Figure`` made without pyplot).
"""
from .graph import build_graph, record_gradient_norms, trace_modules  # noqa: F401
from .drawing import GraphDrawing, draw_graph, draw_model  # noqa: F401
from .gradflow import grad_norm_history, layer_grad_norms, parameter_grad_norms, plot_grad_flow  # noqa: F401
from .gradcam import grad_cam, plot_grad_cam  # noqa: F401
