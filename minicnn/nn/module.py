"""``Module`` and ``Parameter``: the building blocks of networks, as in ``torch.nn``.

A Module owns

* parameters (``Parameter``: tensors that the optimiser updates),
* buffers (tensors that are state but not trained, e.g. batch norm's running mean),
* child modules,

registered simply by assigning attributes (``self.fc = Linear(3, 4)``). Their
dotted names (``fc.weight``, ``layer1.0.bn1.running_mean``) are torch's
state_dict keys, so a torch model's weights load into its minicnn twin.
"""
from __future__ import annotations

import itertools
from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor, to_raw_array
from ..utils import unwrap


class Parameter(Tensor):
    """A tensor that is a module's learnable weight (``requires_grad=True`` by default)."""

    def __init__(self, data, requires_grad=True):
        raw = unwrap(data)
        super().__init__(raw, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``handle.remove()`` unregisters the hook (as in torch)."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = next(self._ids)

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class of every layer and network."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning "
                                 f"attribute {name!r}")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, (Parameter, Module)):
            for store in (self.__dict__, params, buffers, modules):
                store.pop(name, None)
            (params if isinstance(value, Parameter) else modules)[name] = value
        elif name in buffers:
            buffers[name] = value if value is None or isinstance(value, Tensor) else Tensor(value)
        elif name in params and value is not None:
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as parameter "
                            f"{name!r} (a Parameter or None is expected)")
        elif name in params or name in modules:
            (params if name in params else modules)[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(store)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__[store]:
                del self.__dict__[store][name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        """Register state that is saved in the state_dict but not trained."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def _check_name(self, kind, name):
        """torch's rules for the name of a parameter, buffer or child module."""
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: {kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{type(self).__name__}: {kind} name can't be empty or contain \".\", got: {name!r}")
        if name in self.__dict__ and name not in self._parameters and name not in self._modules:
            raise KeyError(f"{type(self).__name__}: attribute {name!r} already exists")

    def register_parameter(self, name, param):
        self._check_name("parameter", name)
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot assign '{type(param).__name__}' object to parameter "
                            f"{name!r} (minicnn.nn.Parameter or None required)")
        else:
            setattr(self, name, param)

    def add_module(self, name, module):
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}: {type(module).__name__} is not a Module subclass "
                            f"(child {name!r})")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ running
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        output = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", {}).values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook):
        """Call ``hook(module, args, output)`` after every forward pass, as ``torch.nn.Module``.

        ``args`` is the tuple of positional inputs. If the hook returns a value, it replaces the
        output. Hooks run in the order they were registered. Returns a handle: ``handle.remove()``
        unregisters the hook (a handle is also a context manager). Used by ``minicnn.viz`` to
        capture a layer's output (Grad-CAM) and to name the ops of each module (graph drawing).
        """
        if not callable(hook):
            raise TypeError(f"{type(self).__name__}.register_forward_hook: expected a callable "
                            f"hook(module, args, output), got {type(hook).__name__}")
        if "_forward_hooks" not in self.__dict__:
            object.__setattr__(self, "_forward_hooks", OrderedDict())
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    # ------------------------------------------------------------------ walking the tree
    def named_modules(self, prefix="", remove_duplicate=True):
        """(name, module) for this module and every descendant, depth first (iteratively).

        A module reachable twice (shared weights) is listed once unless ``remove_duplicate=False``
        (state dicts use that, so their keys match torch's)."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            p.grad = None

    def apply(self, fn):
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, target):
        """Move every parameter and buffer to a device ("cpu", "gpu", "strict") or dtype, in place."""
        is_device = isinstance(target, str) and not target.startswith(("float", "int", "bool"))
        for module in self.modules():
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is None:
                        continue
                    if is_device:
                        t.data = backend.to_backend(t.data, backend.backend_of_device(target))
                    elif t.dtype.kind == "f":
                        t.data = t.data.astype(np.dtype(target))
                    t.grad = None
        return self

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to("float64")

    def float(self):
        return self.to("float32")

    # ------------------------------------------------------------------ state dicts
    def state_dict(self):
        """An ordered dict from torch's dotted key names to raw arrays (parameters, then buffers)."""
        out = OrderedDict()
        for mod_name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[prefix + name] = p.data
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[prefix + name] = b.data
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers by key name.

        Values may be NumPy arrays, CuPy arrays, minicnn or torch tensors. With
        ``strict=True`` (the default) missing and unexpected keys are errors;
        wrongly shaped values are always errors. Every problem is reported by
        name in one ``RuntimeError``. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}")
        own = {}
        for mod_name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{mod_name}." if mod_name else ""
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None and name not in module._non_persistent:
                        own[prefix + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        updates = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if hasattr(value, "detach") and hasattr(value, "numpy") and not hasattr(value, "_is_minicnn_tensor"):
                value = value.detach().cpu().numpy()          # a torch tensor
            if isinstance(value, str) or (hasattr(value, "dtype") and value.dtype.kind not in "biuf"):
                problems.append(f'While copying the parameter named "{key}", expected an array of numbers '
                                f"from the checkpoint but received {value!r:.60} (strings are not parsed)")
                continue
            try:
                array = to_raw_array(value, backend_name=target.backend)
            except (TypeError, ValueError) as exc:
                problems.append(f'While copying the parameter named "{key}", expected an array of numbers '
                                f"from the checkpoint but received {type(value).__name__}: {exc}")
                continue
            if tuple(array.shape) != target.shape:
                problems.append(f"size mismatch for {key}: copying a param with shape "
                                f"{tuple(array.shape)}, the shape in current model is {target.shape}")
                continue
            updates[key] = array.astype(target.dtype)
        if strict:
            if missing:
                problems.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                problems.append("Unexpected key(s) in state_dict: "
                                + ", ".join(f'"{k}"' for k in unexpected))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(problems))
        for key, array in updates.items():
            own[key].data = array
        return missing, unexpected

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        """torch's layout: ``Name(extra)`` for a leaf, else one indented line per extra and child."""
        extra = [line for line in self.extra_repr().split("\n") if line]
        children = [f"({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self._modules.items()]
        if not children:
            return f"{type(self).__name__}(" + "\n  ".join(extra) + ")"
        return f"{type(self).__name__}(\n  " + "\n  ".join(extra + children) + "\n)"
