"""A strict stand-in for CuPy that runs on the CPU (for tests only).

CI has no GPU, yet we must know that every kernel would run on CuPy. CuPy
arrays differ from NumPy arrays in the ways that break "NumPy-only" code:

* they refuse silent conversion: ``np.asarray(cupy_array)`` raises
  ``TypeError`` (you must call ``.get()`` or ``cupy.asnumpy``);
* they refuse to be mixed with NumPy arrays: ``cupy_array + numpy_array`` and
  ``cupy.maximum(cupy_array, numpy_array)`` raise ``TypeError``;
* NumPy functions called on them do not silently work;
* reductions return 0-d arrays, not Python or NumPy scalars.

:class:`StrictArray` wraps a NumPy array and behaves in exactly those ways,
and :data:`xp` is a module-like object that mirrors ``numpy`` for it (as
``cupy`` mirrors ``numpy``). The engine's tests run on this backend
(``minicnn.set_backend("strict")``), so a stray ``np.`` call on tensor data
fails in CI.
"""
from __future__ import annotations

import types

import numpy as np

_NO_CONVERSION = ("Implicit conversion of a strict (CuPy stand-in) array to a NumPy array is not "
                  "allowed, as with CuPy. Use minicnn.backend.to_numpy(a) or a.get().")


def _unwrap(value, *, allow_numpy: bool, where: str):
    """Replace StrictArrays by their NumPy payload; refuse NumPy arrays unless allowed."""
    if isinstance(value, StrictArray):
        return value._a
    if isinstance(value, np.ndarray):
        if allow_numpy:
            return value
        raise TypeError(f"{where}: a NumPy array (shape {value.shape}) was mixed with strict "
                        "(CuPy stand-in) arrays; move it with xp.asarray first, as CuPy requires")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, allow_numpy=allow_numpy, where=where) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v, allow_numpy=allow_numpy, where=where) for k, v in value.items()}
    return value


def _wrap(value):
    """Wrap NumPy results as StrictArrays (NumPy scalars become 0-d arrays, as in CuPy)."""
    if isinstance(value, np.ndarray):
        return StrictArray(value)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return StrictArray(np.asarray(value))
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, np.random.Generator):
        return _StrictNamespace(value, "Generator")
    return value


def _wrap_callable(fn, name, *, allow_numpy=False):
    def strict_call(*args, **kwargs):
        args = _unwrap(args, allow_numpy=allow_numpy, where=name)
        kwargs = _unwrap(kwargs, allow_numpy=allow_numpy, where=name)
        return _wrap(fn(*args, **kwargs))

    strict_call.__name__ = getattr(fn, "__name__", name)
    strict_call.__doc__ = getattr(fn, "__doc__", None)
    return strict_call


class _StrictUfunc:
    """A NumPy ufunc made strict, with its methods (``xp.add.at`` is the scatter-add)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _wrap_callable(self._ufunc, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(self._ufunc, name)
        return _wrap_callable(attr, f"{self.__name__}.{name}") if callable(attr) else attr


def _transfer(fn, name):
    """``xp.asarray(host_data)``: host data is *copied* to the "device", as ``cupy.asarray`` does,
    so a strict array never shares memory with a NumPy array."""
    def strict_transfer(obj, *args, **kwargs):
        if not isinstance(obj, StrictArray):
            obj = np.array(obj, copy=True)
        return _wrap_callable(fn, name, allow_numpy=True)(obj, *args, **kwargs)

    strict_transfer.__name__ = getattr(fn, "__name__", name)
    return strict_transfer


class _StrictNamespace:
    """Mirrors a NumPy namespace (the module, ``np.random``, ``np.lib``...) for strict arrays."""

    # Functions that move host data to the device: these accept NumPy arrays (and copy them).
    _TRANSFERS = {"asarray", "array", "ascontiguousarray", "asanyarray"}

    def __init__(self, target, name):
        self._target = target
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "ndarray":
            return StrictArray
        if name in ("asnumpy",):
            return lambda a: a.get() if isinstance(a, StrictArray) else np.asarray(a)
        attr = getattr(self._target, name)
        if isinstance(attr, np.ufunc):
            return _StrictUfunc(attr)
        if isinstance(attr, types.ModuleType):
            return _StrictNamespace(attr, f"{self._name}.{name}")
        if isinstance(attr, type) or not callable(attr):
            return attr  # dtypes, classes, constants (xp.float32, xp.inf, xp.newaxis)
        if name in self._TRANSFERS and self._target is np:
            return _transfer(attr, f"{self._name}.{name}")
        return _wrap_callable(attr, f"{self._name}.{name}")

    def __repr__(self):
        return f"<strict stand-in for {self._name}>"


def _binary(op_name):
    def method(self, other):
        other = _unwrap(other, allow_numpy=False, where=f"StrictArray.{op_name}")
        return _wrap(getattr(self._a, op_name)(other))

    method.__name__ = op_name
    return method


def _inplace(op_name):
    def method(self, other):
        other = _unwrap(other, allow_numpy=False, where=f"StrictArray.{op_name}")
        getattr(self._a, op_name)(other)
        return self

    method.__name__ = op_name
    return method


class StrictArray:
    """A NumPy array that behaves towards NumPy as a CuPy array does."""

    __slots__ = ("_a",)
    __array_priority__ = 1000
    __array_ufunc__ = None  # np.exp(strict) raises, and numpy_array + strict defers to us (and fails)

    def __init__(self, array):
        self._a = array

    # -- refusing NumPy
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_NO_CONVERSION)

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on a strict (CuPy stand-in) array; "
                        "use the array module of the data (xp) instead of numpy")

    def get(self):
        """Copy to a host NumPy array (as ``cupy.ndarray.get``)."""
        return self._a.copy()

    # -- attributes and methods of the payload
    def __getattr__(self, name):
        if name.startswith("__") or name == "_a":  # (``_a`` is missing only while unpickling)
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return _wrap_callable(attr, f"StrictArray.{name}")
        return _wrap(attr)

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, allow_numpy=True, where="StrictArray.__getitem__")])

    def __setitem__(self, key, value):
        key = _unwrap(key, allow_numpy=True, where="StrictArray.__setitem__")
        self._a[key] = _unwrap(value, allow_numpy=False, where="StrictArray.__setitem__")

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return "strict_" + repr(self._a)

    def __neg__(self):
        return StrictArray(-self._a)

    def __pos__(self):
        return StrictArray(+self._a)

    def __abs__(self):
        return StrictArray(abs(self._a))

    def __invert__(self):
        return StrictArray(~self._a)


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
              "lshift", "rshift"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(StrictArray, f"__r{_name}__", _binary(f"__r{_name}__"))
    setattr(StrictArray, f"__i{_name}__", _inplace(f"__i{_name}__"))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(StrictArray, f"__{_name}__", _binary(f"__{_name}__"))
StrictArray.__hash__ = None

#: The strict stand-in for the ``cupy`` module.
xp = _StrictNamespace(np, "numpy")
