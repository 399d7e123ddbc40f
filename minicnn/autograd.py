"""Reverse-mode automatic differentiation: graph nodes and the backward pass.

Every differentiable operation is a :class:`Function` with two methods side
by side:

* ``forward(*arrays, **options) -> array`` works on raw arrays (NumPy, CuPy)
  and saves, on ``self``, whatever ``backward`` will need;
* ``backward(grad_output) -> (grad_input_0, grad_input_1, ...)`` receives
  dL/d(output) and returns dL/d(input) for each positional input (``None``
  for inputs that need no gradient).

``Function.apply`` runs ``forward`` and, when gradients are wanted, records
the node in the output tensor's ``grad_fn``. ``Tensor.backward`` then visits
the recorded nodes in reverse topological order (computed *iteratively*, so a
chain of 100,000 ops does not hit Python's recursion limit) and applies the
chain rule:

    dL/dx = sum over the uses of x of  backward(dL/d(use output)).

Leaf tensors (created by the user, ``requires_grad=True``) *accumulate* their
gradient in ``.grad`` as in torch, so call ``zero_grad`` between steps. After
a backward pass each node frees what it saved; a second backward through the
same graph raises unless the first was called with ``retain_graph=True``.
"""
from __future__ import annotations

import functools

from . import backend

# --------------------------------------------------------------------------- grad mode
_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _grad_enabled


class _GradMode:
    enabled = True

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
    """Context manager (and decorator) in which operations build no graph, as ``torch.no_grad``."""

    enabled = False


class enable_grad(_GradMode):
    """Context manager (and decorator) that turns graph building back on inside ``no_grad``."""

    enabled = True


# --------------------------------------------------------------------------- helpers for backward rules
def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of
    size 1, so the gradient of each copy is *summed* back into the original.
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


# --------------------------------------------------------------------------- graph nodes
class Function:
    """Base class of every differentiable operation (a node of the graph).

    Subclasses implement ``forward`` and ``backward`` and are called through
    ``apply``, e.g. ``Exp.apply(x)``. ``forward`` may return a tuple
    ``(output, *extras)``: only ``output`` is differentiable; the extras (for
    instance max-pool indices) come back as tensors without gradient.
    """

    _FREED = "_freed"

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
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        outputs = fn.forward(*raw, **kwargs)
        extras = ()
        if isinstance(outputs, tuple):
            outputs, *extras = outputs

        requires_grad = _grad_enabled and any(t.requires_grad for t in tensors)
        if requires_grad:
            fn.inputs = args
            fn.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        out = Tensor._from_op(outputs, grad_fn=fn if requires_grad else None)
        if extras:
            return (out, *(Tensor._from_op(e) for e in extras))
        return out

    @property
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    def release(self):
        """Drop what ``forward`` saved (called after ``backward`` unless ``retain_graph``)."""
        keep = {"inputs", "needs_input_grad"}
        for key in [k for k in vars(self) if k not in keep]:
            delattr(self, key)
        setattr(self, self._FREED, True)

    def __repr__(self):
        return f"<{self.name}>"


def _check_same_backend(op_name, tensors):
    names = {t.backend for t in tensors}
    if len(names) > 1:
        described = ", ".join(f"{t.device} tensor of shape {t.shape}" for t in tensors)
        raise backend.BackendError(
            f"{op_name}: tensors on different devices cannot be mixed ({described}); "
            "move them with .to('cpu') or .to('gpu') first")


# --------------------------------------------------------------------------- the backward pass
def topological_order(root):
    """Tensors reachable from ``root`` through ``grad_fn``, inputs before outputs.

    An iterative depth-first search: each tensor is pushed once to be
    expanded and once more to be emitted after all its inputs.
    """
    from .tensor import Tensor

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
        if node.grad_fn is not None:
            for parent in node.grad_fn.inputs:
                if isinstance(parent, Tensor) and parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (dL/d root, a raw array) to every leaf that requires grad."""
    pending = {id(root): grad}
    for node in reversed(topological_order(root)):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        fn = node.grad_fn
        if fn is None or node._retains_grad:
            node._accumulate_grad(g)
        if fn is None:
            continue
        if getattr(fn, Function._FREED, False):
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({fn.name} has already freed "
                "what it saved). Call .backward(retain_graph=True) the first time if you need to.")
        input_grads = fn.backward(g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(fn.inputs):
            raise RuntimeError(f"{fn.name} returned {len(input_grads)} gradients for "
                               f"{len(fn.inputs)} inputs")
        for parent, needs, pg in zip(fn.inputs, fn.needs_input_grad, input_grads):
            if not needs or pg is None:
                continue
            if pg.shape != parent.shape:
                raise RuntimeError(f"{fn.name} returned a gradient of shape {pg.shape} for an input "
                                   f"of shape {parent.shape}")
            key = id(parent)
            pending[key] = pg if key not in pending else pending[key] + pg
        if not retain_graph:
            fn.release()
