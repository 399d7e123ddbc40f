"""In-place tensor methods: ``add_``, ``sub_``, ``mul_``, ``div_``, ``clamp_``, ``fill_``, ``zero_``,
``copy_`` and ``x[index] = value``, as torch's.

An in-place method changes the tensor's memory instead of making a new
tensor, and increments the memory's *version counter*
(:func:`minicnn.autograd.version_counter`). A backward that saved that memory
in its forward compares the counter with the version it saw and refuses to
compute a gradient from changed values (see :mod:`minicnn.autograd`):

    w = nn.Parameter(...)
    loss = (w * w).sum()        # Mul saves w
    with no_grad():
        w.sub_(0.1)             # version 0 -> 1
    loss.backward()             # RuntimeError: ... modified by an inplace operation ...

Two rules, as in torch:

* a leaf that requires grad (a parameter) may only be changed in place under
  ``no_grad()`` (what optimisers do), never while a graph is being recorded;
* the result must keep the tensor's shape and dtype: ``x.add_(y)``
  broadcasts ``y`` to ``x``, never ``x`` to a larger shape, and an integer
  tensor does not take float values.

minicnn does not record in-place operations in the graph (torch rewrites the
history of the changed tensor): changing in place a tensor that is part of a
graph is refused with a message that says to write ``x = x + y`` instead.
"""
from . import autograd
from .tensor import Tensor, to_raw_array
from .utils import broadcast_shape

__all__ = []


def _prepare(op, x, other=None):
    """Refuse what torch refuses; return ``other`` as a raw array (or number) of x's backend."""
    if autograd.is_grad_enabled() and x.requires_grad:
        if x.is_leaf:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad (shape {x.shape}) is being used in an "
                               "in-place operation; do it under `with minicnn.no_grad():` (as optimizers do)")
        raise RuntimeError(f"{op}: in-place operations on a tensor that is part of a graph (produced by "
                           f"{x.grad_fn.name}, shape {x.shape}) are not supported by minicnn; write "
                           "x = x + y instead, or detach() it")
    if other is None or isinstance(other, (bool, int, float)):
        return other
    if not isinstance(other, Tensor) and not hasattr(other, "shape"):
        raise TypeError(f"{op}: expected a Tensor or a number, got {type(other).__name__}")
    raw = to_raw_array(other, backend_name=x.backend)
    if broadcast_shape(op, x.shape, raw.shape) != x.shape:
        raise ValueError(f"{op}: output with shape {x.shape} doesn't match the broadcast shape "
                         f"{broadcast_shape(op, x.shape, raw.shape)} (the other operand has shape "
                         f"{tuple(raw.shape)})")
    return raw


def _changed(x):
    autograd.version_counter(x.data).value += 1
    return x


def _ufunc_into(op, name, x, other):
    other = _prepare(op, x, other)
    result_kind = getattr(other, "dtype", None)
    if (x.dtype.kind in "biu" and (isinstance(other, float) or (result_kind is not None and result_kind.kind == "f"))) \
            or (name == "true_divide" and x.dtype.kind in "biu"):
        raise TypeError(f"{op}: result type Float can't be cast to the desired output type {x.dtype} "
                        f"(shape {x.shape}); convert the tensor with .float() first")
    getattr(x.xp, name)(x.data, other, out=x.data, casting="unsafe")
    return _changed(x)


class InplaceMethods:
    """The in-place methods attached to :class:`~minicnn.tensor.Tensor`."""

    def add_(self, other, *, alpha=1):
        """x <- x + alpha * other."""
        return _ufunc_into("add_", "add", self, other if alpha == 1 else other * alpha)

    def sub_(self, other, *, alpha=1):
        """x <- x - alpha * other."""
        return _ufunc_into("sub_", "subtract", self, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return _ufunc_into("mul_", "multiply", self, other)

    def div_(self, other):
        return _ufunc_into("div_", "true_divide", self, other)

    def clamp_(self, min=None, max=None):
        _prepare("clamp_", self)
        if min is None and max is None:
            raise ValueError("clamp_: at least one of 'min' or 'max' must not be None")
        self.xp.clip(self.data, min, max, out=self.data)
        return _changed(self)

    def fill_(self, value):
        _prepare("fill_", self)
        self.data[...] = value
        return _changed(self)

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy ``src`` (broadcast to this tensor's shape, cast to its dtype) into this tensor."""
        raw = _prepare("copy_", self, src if not isinstance(src, (bool, int, float)) else None)
        self.data[...] = src if raw is None else raw
        return _changed(self)

    def __setitem__(self, index, value):
        """``x[index] = value`` (torch's ``index_put_``)."""
        from .ops.shape import raw_index
        _prepare("__setitem__", self)
        if isinstance(value, Tensor):
            value = to_raw_array(value, backend_name=self.backend)
        self.data[raw_index(index, self.xp, self.backend)] = value
        return _changed(self)


def attach(cls=Tensor):
    for name, member in vars(InplaceMethods).items():
        if not name.startswith("__") or name == "__setitem__":
            setattr(cls, name, member)


attach()
