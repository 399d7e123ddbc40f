"""``draw_graph``: the picture of the graph that produced a tensor, for Jupyter or a file.

:mod:`minicnn.viz.graph` finds the boxes and arrows, :mod:`minicnn.viz.svg`
places and draws them. Graphviz-free on purpose: micrograd's drawing (Karpathy,
2020) needs the Graphviz program, which many students cannot install.
"""
from __future__ import annotations

from ..tensor import Tensor
from .graph import Graph, build_graph, record_gradient_norms, trace_modules
from .svg import to_svg

__all__ = ["GraphDrawing", "draw_graph", "draw_model"]


class GraphDrawing:
    """What :func:`draw_graph` returns: shown inline by Jupyter (``_repr_svg_``), or saved with ``save``.

    The picture is made when it is shown, so gradient norms recorded by a
    ``backward`` that ran after ``draw_graph`` appear in it.
    """

    def __init__(self, tensor, module=None, depth=None, collapse_repeats=True, title=None):
        self.tensor, self.module, self.depth = tensor, module, depth
        self.collapse_repeats, self.title = collapse_repeats, title
        self.graph                                  # fail now, not when displayed

    @property
    def graph(self) -> Graph:
        return build_graph(self.tensor, self.module, self.depth, self.collapse_repeats)

    def svg(self) -> str:
        return to_svg(self.graph, self.title)

    def _repr_svg_(self):
        return self.svg()

    def save(self, path):
        """Write the SVG to ``path`` (open it in any web browser)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg())
        return path


def draw_graph(tensor, module=None, depth=None, collapse_repeats=True, title=None) -> GraphDrawing:
    """Draw the graph that produced ``tensor``; after a ``backward``, boxes are coloured by gradient norm.

    Call it *before* ``backward`` to also colour the ops (it installs the recorders of
    :func:`record_gradient_norms`); leaves are coloured by ``.grad`` either way::

        loss = F.cross_entropy(net(x), y)
        picture = viz.draw_graph(loss, module=net)
        loss.backward()
        picture                     # in Jupyter; or picture.save("graph.svg")

    ``module`` names the leaves; ``depth`` draws one box per module (see :func:`build_graph`).
    """
    record_gradient_norms(tensor)
    return GraphDrawing(tensor, module, depth, collapse_repeats, title)


def draw_model(model, *inputs, depth=1, collapse_repeats=True, title=None) -> GraphDrawing:
    """Run ``model(*inputs)`` inside :func:`trace_modules` and draw its output's graph ``depth`` modules deep.

    The inputs may be Tensors or arrays; the parameters give the graph its leaves.
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    with trace_modules(model):
        output = model(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(f"draw_model: {type(model).__name__} returned {type(output).__name__}; "
                        "a single Tensor is expected (use trace_modules and draw_graph for others)")
    return draw_graph(output, model, depth, collapse_repeats,
                      title or f"{type(model).__name__}, input {tuple(inputs[0].shape)}")
