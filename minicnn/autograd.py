"""Reverse-mode automatic differentiation: graph nodes and the backward pass.

Every differentiable operation is a :class:`Function` with two methods side
by side:

* ``forward(*arrays, **options) -> array`` works on raw arrays (NumPy, CuPy)
  and saves, on ``self``, whatever ``backward`` will need;
* ``backward(grad_output) -> (grad_input_0, grad_input_1, ...)`` receives
  dL/d(output) and returns dL/d(input) for each positional input (``None``
  for inputs that need no gradient).

``Function.apply`` runs ``forward`` and, when gradients are wanted, records
the node in the output tensor's ``grad_fn``. The graph is made of two kinds
of nodes, as in PyTorch:

* a :class:`Function` (an operation), whose ``next_functions`` point to the
  nodes that produced its inputs;
* a *leaf* :class:`~minicnn.tensor.Tensor` (created by the user with
  ``requires_grad=True``), where the gradient is accumulated in ``.grad``.

A Function points to the *node* of an input, not to the input tensor itself,
so an intermediate result that backward does not need (the input of an
addition, say) is freed as soon as the user drops it: the graph keeps alive
only what each ``forward`` saved on ``self``.

``Tensor.backward`` visits the nodes in reverse topological order (computed
*iteratively*, so a chain of 100,000 ops does not hit Python's recursion
limit) and applies the chain rule:

    dL/dx = sum over the uses u of x of  dL/du * du/dx      (each term: one backward call)

Leaf tensors *accumulate* their gradient in ``.grad`` as in torch, so call
``zero_grad`` between steps. After a backward pass each node frees what it
saved; a second backward through the same graph raises unless the first was
called with ``retain_graph=True``.

**Version counters** (as torch's). Each block of memory has a counter that
every in-place change through the public API increments (``add_``,
``x[i] = v``, an optimiser's ``p.data -= ...``: see :mod:`minicnn.inplace`).
When ``apply`` records a node, it notes the counters of the inputs (and of the
output) whose memory the node *saved* for its backward; ``run_backward``
compares them before calling the node's backward. So ``loss = (w * w).sum();
optimizer.step(); loss.backward()`` raises instead of returning a gradient
computed from the new weights, while changes that backward does not need (the
input of an addition) stay allowed. Writing into the raw array
(``t.data[...] = v``) is not seen, exactly as torch's ``.data``.

Rule for every ``backward``: never write into ``grad_output``. It may be a
read-only broadcast view (the backward of ``sum``) or be shared with another
node (the backward of ``add`` hands the same array to both inputs).
"""
from __future__ import annotations

import functools
import weakref

import numpy as np

from . import backend
from .utils import unwrap

# --------------------------------------------------------------------------- grad mode
_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


class _GradMode:
    """Switches graph building on or off inside a ``with`` block, or around a function."""

    enabled = True

    def __new__(cls, func=None):
        mode = super().__new__(cls)
        # ``@no_grad`` (without parentheses) calls no_grad(func): return the decorated function.
        return mode(func) if callable(func) else mode

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager (and decorator) in which operations build no graph, as ``torch.no_grad``.

    ``with no_grad(): ...``, ``@no_grad()`` and ``@no_grad`` all work.
    """

    enabled = False


class enable_grad(_GradMode):
    """Context manager (and decorator) that turns graph building back on inside ``no_grad``."""

    enabled = True


# --------------------------------------------------------------------------- helpers for backward rules
def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of
    size 1, so the gradient of each copy is *summed* back into the original:

        dL/dx_j = sum over the copies i of x_j of dL/dy_i.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _as_array(a):
    """NumPy turns 0-d results into scalars (``np.float64``); keep them 0-d arrays, as CuPy does."""
    return np.asarray(a) if isinstance(a, np.generic) else a


# --------------------------------------------------------------------------- graph nodes
class Function:
    """Base class of every differentiable operation (a node of the graph).

    Subclasses implement ``forward`` and ``backward`` and are called through
    ``apply``, e.g. ``Exp.apply(x)``. ``forward`` may return a tuple
    ``(output, *extras)``: only ``output`` is differentiable; the extras (for
    instance max-pool indices) come back as tensors without gradient.

    Set by ``apply`` when a graph is recorded:

    * ``needs_input_grad``: one bool per positional input (skip work in backward);
    * ``next_functions``: per positional input, the node that receives its
      gradient (the input's ``grad_fn``, the input itself if it is a leaf, or
      ``None``);
    * ``input_meta``: per positional input, ``(shape, dtype)`` (checked against
      what backward returns).
    """

    _FREED = "_freed"
    _GRAPH = ("needs_input_grad", "next_functions", "input_meta", "_retained_output")

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor

        tensors = [a for a in args if isinstance(a, Tensor)]
        _check_same_backend(cls.__name__, tensors)
        fn = cls()
        raw = [unwrap(a) for a in args]
        outputs = fn.forward(*raw, **kwargs)
        extras = ()
        if isinstance(outputs, tuple):
            outputs, *extras = outputs
        outputs = _as_array(outputs)

        # Only floating-point results can carry a gradient (as in torch).
        requires_grad = (_grad_enabled and outputs.dtype.kind in "fc"
                         and any(t.requires_grad for t in tensors))
        if requires_grad:
            fn.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
            fn.next_functions = tuple(_node_of(a) if needs else None
                                      for a, needs in zip(args, fn.needs_input_grad))
            fn.input_meta = tuple((a.shape, a.dtype) if needs else None
                                  for a, needs in zip(args, fn.needs_input_grad))
        out = Tensor._from_op(outputs, grad_fn=fn if requires_grad else None)
        if requires_grad:
            record_saved_versions(fn, args, out)
        if extras:
            return (out, *(Tensor._from_op(e) for e in extras))
        return out

    @property
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def release(self):
        """Drop what ``forward`` saved (called after ``backward`` unless ``retain_graph``)."""
        for key in [k for k in vars(self) if k not in self._GRAPH]:
            delattr(self, key)
        setattr(self, self._FREED, True)

    def __repr__(self):
        return f"<{self.name}>"


def _node_of(tensor):
    """The node that receives ``tensor``'s gradient: its ``grad_fn``, or the tensor if it is a leaf."""
    return tensor.grad_fn if tensor.grad_fn is not None else tensor


def _check_same_backend(op_name, tensors):
    names = {t.backend for t in tensors}
    if len(names) > 1:
        described = ", ".join(f"{t.device} tensor of shape {t.shape}" for t in tensors)
        raise backend.BackendError(
            f"{op_name}: tensors on different devices cannot be mixed ({described}); "
            "move them with .to('cpu') or .to('gpu') first")


# --------------------------------------------------------------------------- version counters
class VersionCounter:
    """How many in-place changes a block of memory has seen through the public API (torch's ``_version``)."""

    __slots__ = ("value", "__weakref__")

    def __init__(self):
        self.value = 0


_counters = {}   # id(memory root) -> (weak reference to the root, its counter), shared by all its views


def memory_root(array):
    """The object that owns ``array``'s memory: views, reshapes and detached tensors share it."""
    array = getattr(array, "_a", array)   # the strict stand-in wraps a NumPy array
    while getattr(array, "base", None) is not None:
        array = array.base
    return array


def version_counter(array):
    """The counter of ``array``'s memory (created at 0 on first use, forgotten with the memory)."""
    return _counter_of_root(memory_root(array))


def _counter_of_root(root):
    key = id(root)
    entry = _counters.get(key)
    if entry is not None and entry[0]() is root:
        return entry[1]
    counter = VersionCounter()
    try:
        ref = weakref.ref(root, lambda _, key=key: _counters.pop(key, None))
    except TypeError:          # memory owned by an object without weak references (a bytes buffer)
        ref = (lambda root=root: root)
    _counters[key] = (ref, counter)
    return counter


def record_saved_versions(fn, args, out):
    """Note the version of every input (and the output) whose memory ``fn`` kept for its backward."""
    saved = set()
    for value in fn.__dict__.values():
        for item in (value if type(value) in (tuple, list) else (value,)):
            if hasattr(item, "dtype") and hasattr(item, "shape"):
                saved.add(id(memory_root(item)))
    if not saved:
        return
    records = []
    for position, t in enumerate(args + (out,)):
        if getattr(t, "_is_minicnn_tensor", False):
            root = memory_root(t._data)
            if id(root) in saved:
                counter = _counter_of_root(root)
                records.append((counter, counter.value, position == len(args) and -1 or position, t._data))
    fn._saved_versions = tuple(records)


def check_saved_versions(fn):
    """Raise if memory that ``fn`` saved was changed in place since its forward (torch's message)."""
    for counter, version, position, array in getattr(fn, "_saved_versions", ()):
        if counter.value != version:
            label = f"output 0 of {fn.name}" if position == -1 else f"input {position} of {fn.name}"
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{array.dtype} tensor of shape {tuple(array.shape)}], which is {label}, is at version "
                f"{counter.value}; expected version {version} instead. Change it after backward (an "
                "optimizer step after loss.backward()), or clone() it before changing it.")


# --------------------------------------------------------------------------- the backward pass
def topological_order(root):
    """Nodes (Functions and leaf tensors) reachable from ``root``, inputs before outputs.

    An iterative depth-first search: each node is pushed once to be expanded
    and once more to be emitted after all its inputs (no recursion, so the
    depth of the graph is not limited by Python's recursion limit).
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in getattr(node, "next_functions", ()):
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    return order


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (dL/d root, a raw array) to every leaf that requires grad."""
    start = _node_of(root)
    pending = {id(start): grad}  # node -> dL/d(its output), summed over the uses
    for node in reversed(topological_order(start)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        if not isinstance(node, Function):  # a leaf tensor
            node._accumulate_grad(g)
            continue
        fn = node
        if getattr(fn, Function._FREED, False):
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({fn.name} has already freed "
                "what it saved). Call .backward(retain_graph=True) the first time if you need to.")
        check_saved_versions(fn)
        retained = getattr(fn, "_retained_output", None)
        if retained is not None and retained() is not None:
            retained()._accumulate_grad(g)  # tensor.retain_grad() on a non-leaf
        input_grads = fn.backward(g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(fn.next_functions):
            raise RuntimeError(f"{fn.name} returned {len(input_grads)} gradients for "
                               f"{len(fn.next_functions)} inputs")
        for i, (parent, meta, pg) in enumerate(zip(fn.next_functions, fn.input_meta, input_grads)):
            if parent is None or pg is None:
                continue
            shape, dtype = meta
            pg = _as_array(pg)
            if pg.shape != shape:
                raise RuntimeError(f"{fn.name} returned a gradient of shape {pg.shape} for input {i}, "
                                   f"of shape {shape}")
            if pg.dtype != dtype:  # e.g. float32 input, float64 result: the gradient is float32
                pg = pg.astype(dtype)
            key = id(parent)
            pending[key] = pg if key not in pending else pending[key] + pg
        if not retain_graph:
            fn.release()
