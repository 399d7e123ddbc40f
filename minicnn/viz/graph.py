"""The graph that produced a tensor, as a list of boxes and arrows (drawn by :mod:`minicnn.viz.svg`).

:func:`build_graph` walks the autograd graph of :mod:`minicnn.autograd` from a
tensor back to its leaves and returns a :class:`Graph`:

* one **op** node per :class:`~minicnn.autograd.Function` (its class name, e.g.
  ``Conv2d``, ``ReLU``, ``Add``, and the shape of its output);
* one **leaf** node per leaf tensor that requires grad, named by
  ``module.named_parameters()`` when a module is given (``conv1.weight``);
* one edge per input of every op, pointing the way data flows (input -> op),
  i.e. the reverse of ``next_functions``, which point from an op to the node
  that receives its input's gradient.

A Function does not remember its output's shape, but every consumer remembers
the shapes of its inputs (``input_meta``), so the shape of a node's output is
read from any of its consumers (and from the tensor itself for the root).

**Gradient norms.** After ``backward`` a leaf has ``.grad``; an op has nothing,
since the backward pass hands dL/d(output) to the op and forgets it. So
:func:`record_gradient_norms` puts a small recorder in each op's
``_retained_output`` slot, the door through which ``Tensor.retain_grad`` receives
a non-leaf's gradient (see ``run_backward``): the next backward pass hands the
recorder dL/d(output), and it keeps the norm ||dL/d(output)||_2 (and passes the
gradient on to a tensor that was already retaining it). ``draw_graph`` installs
recorders when it is called, so: draw, then ``backward``, then display.

**Modules.** Inside ``with trace_modules(model):`` a forward hook on every
sub-module tags the ops that its forward pass created with the module's dotted
name (the innermost module wins). ``build_graph(..., depth=k)`` then merges all
the ops of each module at depth k (``down1`` at depth 1, ``down1.conv`` at depth 2)
into one box that shows how many ops it holds, and ``collapse_repeats`` merges a
chain of boxes of the same module type (``layer1.0 -> layer1.1``, two
``BasicBlock``) into one box with a count: a U-Net of a few hundred ops becomes
a dozen boxes.
"""
from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..autograd import Function, topological_order
from ..backend import get_array_module, to_numpy
from ..tensor import Tensor

__all__ = ["Node", "Graph", "build_graph", "record_gradient_norms", "trace_modules", "group_by_module",
           "collapse_repeated", "topological_indices", "gradient_norm"]

# Function node -> names of the modules whose forward created it, innermost first (see trace_modules).
_SCOPES = weakref.WeakKeyDictionary()
# Function node -> the recorder installed in its _retained_output slot.
_RECORDERS = weakref.WeakKeyDictionary()
_UNNAMED = "tensor"          # the label of a leaf that is not a named parameter


@dataclass
class Node:
    """One box: an op, a leaf, or (after grouping) a module."""

    index: int
    kind: str                    # "op", "leaf" or "module"
    label: str                   # op class name, parameter name, or module name
    shape: tuple
    grad_norm: float = None      # ||dL/d(output)||_2 of the last backward, None if unknown
    scope: str = ""              # dotted name of the innermost module that made it ("" if unknown)
    scopes: tuple = ()           # the called modules that contain it, outermost first (no root)
    count: int = 1               # ops inside a module box (times the repeats)
    type_name: str = ""          # a module box: its class name
    repeats: int = 1             # a module box: how many identical modules it stands for


@dataclass
class Graph:
    """Nodes (inputs before outputs) and edges ``(source index, destination index)`` along the data flow."""

    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def predecessors(self, i):
        return [s for s, d in self.edges if d == i]

    def successors(self, i):
        return [d for s, d in self.edges if s == i]


def gradient_norm(array) -> float:
    """||g||_2 of a raw array, accumulated in float64 (a float32 sum of squares overflows early)."""
    xp = get_array_module(array)
    g = array.astype(np.float64)
    return float(to_numpy(xp.sqrt(xp.sum(g * g))))


class _GradientRecorder:
    """Stands in an op's ``_retained_output`` slot and keeps the norm of the gradient it is handed.

    ``run_backward`` calls ``node._retained_output()._accumulate_grad(g)`` with
    g = dL/d(output of the node), summed over all its uses; this object answers both calls.
    """

    def __init__(self, previous):
        self.previous = previous     # a weakref to a tensor that called retain_grad(), or None
        self.norm = None

    def __call__(self):
        return self

    def _accumulate_grad(self, g):
        self.norm = gradient_norm(g)
        retained = self.previous() if self.previous is not None else None
        if retained is not None:
            retained._accumulate_grad(g)


def _root_node(tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a minicnn Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError("draw_graph: this tensor has no graph (requires_grad=False): compute it from "
                         "tensors with requires_grad=True, outside no_grad()")
    return tensor.grad_fn if tensor.grad_fn is not None else tensor


def record_gradient_norms(tensor):
    """Make the next ``backward`` through ``tensor``'s graph record each op's output-gradient norm."""
    for node in topological_order(_root_node(tensor)):
        if isinstance(node, Function) and node not in _RECORDERS:
            recorder = _GradientRecorder(getattr(node, "_retained_output", None))
            node._retained_output = recorder
            _RECORDERS[node] = recorder
    return tensor


def _output_tensors(output):
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for o in output for t in _output_tensors(o)]
    if isinstance(output, dict):
        return [t for o in output.values() for t in _output_tensors(o)]
    return []


def _tag_ops(name, args, output):
    """Add ``name`` to the scopes of every op between the module's inputs and its output.

    Hooks run when a forward pass ends, innermost module first, so each op's list of
    scopes reads from the innermost module that created it out to the network.
    """
    stop = {id(t.grad_fn if t.grad_fn is not None else t) for t in _output_tensors(args)}
    stack = [t.grad_fn for t in _output_tensors(output) if t.grad_fn is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in stop or not isinstance(node, Function):
            continue
        seen.add(id(node))
        scopes = _SCOPES.setdefault(node, [])
        if scopes and not _inside(scopes[0], name):
            continue        # made by an earlier call of another module (reached through a keyword input)
        scopes.append(name)
        stack.extend(p for p in getattr(node, "next_functions", ()) if p is not None)


def _inside(scope, name):
    """Whether the module call ``scope`` (``decoder.0.conv``, ``pool#2``) lies inside the call ``name``."""
    scope, name = scope.partition("#")[0], name.partition("#")[0]
    return name == "" or scope == name or scope.startswith(name + ".")


@contextlib.contextmanager
def trace_modules(model):
    """Inside this block, every op created by a forward pass of ``model`` remembers its module's name.

    The k-th call (k >= 2) of a module within the block is named ``name#k``. A module's ops are
    those between its positional inputs and its output (forward hooks see positional inputs
    only, as in torch); an untagged op that reaches it through a keyword argument is counted in
    it too, while ops of modules that ran earlier keep their own module.

    Example::

        with viz.trace_modules(net):
            loss = F.cross_entropy(net(x), y)
        viz.draw_graph(loss, module=net, depth=1)
    """
    handles, calls = [], {}

    def hook_for(name):
        def hook(module, args, output):
            calls[name] = calls.get(name, 0) + 1          # a module called again: "pool#2"
            _tag_ops(name if calls[name] == 1 else f"{name}#{calls[name]}", args, output)
        return hook

    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_hook(hook_for(name)))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _parameter_names(module):
    if module is None:
        return {}
    return {id(p): name for name, p in module.named_parameters()}


def build_graph(tensor, module=None, depth=None, collapse_repeats=True) -> Graph:
    """The :class:`Graph` that produced ``tensor`` (see the module docstring).

    Args:
        tensor: a Tensor with ``requires_grad`` (a loss, or a network's output).
        module: optional ``nn.Module``; its parameter names label the leaves and its
            sub-modules' class names label the module boxes.
        depth: ``None`` draws every op; an int k merges the ops of each module at depth k
            into one box (needs the forward pass to have run inside :func:`trace_modules`).
        collapse_repeats: with ``depth``, merge chains of boxes of the same module type.
    """
    root = _root_node(tensor)
    order = topological_order(root)
    shapes = {id(root): tuple(tensor.shape)}
    edges_by_id = []
    for node in order:
        if isinstance(node, Function):
            for parent, meta in zip(node.next_functions, node.input_meta):
                if parent is not None:
                    shapes.setdefault(id(parent), tuple(meta[0]))
                    edges_by_id.append((id(parent), id(node)))
    names = _parameter_names(module)
    graph = Graph()
    index = {}
    for node in order:
        index[id(node)] = len(graph.nodes)
        if isinstance(node, Function):
            recorder = _RECORDERS.get(node)
            scopes = tuple(n for n in reversed(_SCOPES.get(node, [])) if n)
            graph.nodes.append(Node(len(graph.nodes), "op", type(node).__name__, shapes[id(node)],
                                    recorder.norm if recorder is not None else None,
                                    scopes[-1] if scopes else "", scopes))
        else:
            name = names.get(id(node), "")
            norm = gradient_norm(node.grad.data) if node.grad is not None else None
            scope = name.rpartition(".")[0]
            graph.nodes.append(Node(len(graph.nodes), "leaf", name or _UNNAMED, tuple(node.shape),
                                    norm, scope))
    graph.edges = [(index[s], index[d]) for s, d in edges_by_id]
    if depth is None:
        return graph
    if depth < 1:
        raise ValueError(f"build_graph: depth must be None or an int >= 1, got {depth!r}")
    if not any(n.kind == "op" and n.scopes for n in graph.nodes):
        raise ValueError("build_graph: depth= needs to know which module created each op: run the "
                         "forward pass inside `with minicnn.viz.trace_modules(model):`")
    grouped = group_by_module(graph, depth, module)
    return collapse_repeated(grouped) if collapse_repeats else grouped


def _module_types(module):
    return {} if module is None else {name: type(m).__name__ for name, m in module.named_modules()}


def topological_indices(graph):
    """Node indices, inputs first (Kahn's algorithm); a node on a cycle comes after what it can."""
    preds = {n.index: set(graph.predecessors(n.index)) for n in graph.nodes}
    waiting = {i: len(p) for i, p in preds.items()}
    ready = [n.index for n in graph.nodes if not waiting[n.index]]
    order, done = [], set()
    while len(order) < len(graph.nodes):
        if not ready:      # a cycle (possible after grouping): release the first node left
            ready = [next(n.index for n in graph.nodes if n.index not in done)]
        i = ready.pop(0)
        if i in done:
            continue
        done.add(i)
        order.append(i)
        for d in dict.fromkeys(graph.successors(i)):
            waiting[d] -= 1
            if waiting[d] == 0 and d not in done:
                ready.append(d)
    return order


def _merged(graph, nodes, new_index):
    """A Graph of ``nodes`` renumbered inputs first; ``new_index`` maps old indices to ``nodes`` positions."""
    edges, seen = [], set()
    for s, d in graph.edges:
        edge = (new_index[s], new_index[d])
        if edge[0] != edge[1] and edge not in seen:
            seen.add(edge)
            edges.append(edge)
    draft = Graph(nodes, edges)
    order = topological_indices(draft)
    renumber = {old: new for new, old in enumerate(order)}
    out = Graph([nodes[old] for old in order], [(renumber[s], renumber[d]) for s, d in edges])
    for i, n in enumerate(out.nodes):
        n.index = i
    return out


def group_by_module(graph, depth, module=None) -> Graph:
    """Merge the ops of each module called at ``depth`` into one node; edges between boxes are kept once.

    Depth counts *called* modules (a ``ModuleList`` or ``ModuleDict`` is never called, so
    ``encoders.0`` is at depth 1 in a network that loops over ``self.encoders``). An op
    inside fewer than ``depth`` modules joins its innermost one; an op of the network's own
    forward keeps its box. A parameter joins the box of the ops that use it (if they are
    all in one box). A box's shape and gradient norm are those of its output: its last node
    (in topological order) that feeds a node outside the box.
    """
    types = _module_types(module)
    key_of = {}
    for n in graph.nodes:
        if n.kind == "op" and n.scopes:
            key_of[n.index] = n.scopes[min(depth, len(n.scopes)) - 1]
    for n in graph.nodes:
        if n.kind == "leaf" and n.label != _UNNAMED:
            keys = {key_of.get(d) for d in graph.successors(n.index)}
            if len(keys) == 1 and None not in keys:
                key_of[n.index] = keys.pop()
    out = Graph()
    new_index = {}
    members = {}
    for n in graph.nodes:
        key = key_of.get(n.index)
        if key is None:
            new_index[n.index] = len(out.nodes)
            out.nodes.append(Node(len(out.nodes), n.kind, n.label, n.shape, n.grad_norm, n.scope,
                                  scopes=n.scopes))
            continue
        if key not in members:
            members[key] = []
            new_index[("box", key)] = len(out.nodes)
            out.nodes.append(Node(len(out.nodes), "module", key, n.shape, None, key, (key,), 0,
                                  types.get(key.partition("#")[0], "")))
        members[key].append(n.index)
        new_index[n.index] = new_index[("box", key)]
    for key, nodes in members.items():
        box = out.nodes[new_index[("box", key)]]
        box.count = sum(graph.nodes[i].kind == "op" for i in nodes)
        inside = set(nodes)
        exits = [i for i in nodes if any(d not in inside for d in graph.successors(i))]
        last = graph.nodes[max(exits) if exits else max(nodes)]
        box.shape, box.grad_norm = last.shape, last.grad_norm
    return _merged(graph, out.nodes, new_index)


def collapse_repeated(graph) -> Graph:
    """Merge each chain A -> B -> ... of module boxes of one type and output shape into one box with a count.

    A link of a chain is an edge that is A's only way out and B's only way in, so
    nothing is lost: ``layer1.0 -> layer1.1`` (two ``BasicBlock``) becomes one box
    ``layer1.0 .. layer1.1, BasicBlock x 2``.
    """
    succ = {n.index: graph.successors(n.index) for n in graph.nodes}
    pred = {n.index: graph.predecessors(n.index) for n in graph.nodes}

    def same(a, b):
        na, nb = graph.nodes[a], graph.nodes[b]
        return (na.kind == nb.kind == "module" and na.type_name and na.type_name == nb.type_name
                and na.shape == nb.shape and succ[a] == [b] and pred[b] == [a])

    head_of = {}
    for n in graph.nodes:                      # topological order: a chain's head comes first
        preds = pred[n.index]
        if len(preds) == 1 and same(preds[0], n.index):
            head_of[n.index] = head_of[preds[0]]
        else:
            head_of[n.index] = n.index
    out = Graph()
    new_index = {}
    for n in graph.nodes:
        head = head_of[n.index]
        if head == n.index:
            new_index[n.index] = len(out.nodes)
            out.nodes.append(Node(len(out.nodes), n.kind, n.label, n.shape, n.grad_norm, n.scope,
                                  n.scopes, n.count, n.type_name, n.repeats))
        else:
            box = out.nodes[new_index[head]]
            new_index[n.index] = box.index
            box.repeats += n.repeats
            box.count += n.count
            box.label = f"{graph.nodes[head].label} .. {n.label}"
            box.shape, box.grad_norm = n.shape, n.grad_norm
    return _merged(graph, out.nodes, new_index)

