"""The ``Optimizer`` base class (``torch.optim.Optimizer``).

An optimiser holds

* ``param_groups``: a list of dicts, each with its ``"params"`` (a list of
  Parameters) and its hyper-parameters (``"lr"``, ``"momentum"``...). One
  group per set of parameters that should train differently (for example a
  smaller learning rate for a pretrained backbone). Schedulers change
  ``group["lr"]`` between steps;
* ``state``: a dict from each parameter to what the method remembers about it
  (a momentum buffer, Adam's moving averages, the step count).

``step()`` updates each parameter's *raw array* ``p.data`` in place, from
``p.grad``, with the array module of the data (``xp``): no graph is built, and
dtype and backend (CPU, GPU) are kept. Parameters without a gradient are
skipped, as in torch. Because the update is in place (as torch's), arrays
returned by ``model.state_dict()`` change with the next step: copy them
(``{k: v.copy() for k, v in sd.items()}``) to keep a snapshot such as the best model.

``state_dict()`` / ``load_state_dict()`` use torch's layout, so training can
resume from a checkpoint::

    {"state": {0: {"step": 3, "exp_avg": array, ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1]}]}

where parameters are numbered in the order of the groups.
"""
from __future__ import annotations

import copy
import math
import numbers

from ..autograd import enable_grad
from ..backend import BackendError
from ..tensor import Tensor, _to_raw_array


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def check_hyperparameter(optimizer, value, what, *, below_one=False):
    """Refuse a hyper-parameter torch refuses, with torch's words after the optimiser's name.

    ``value`` must be a real number with ``0 <= value`` (and ``value < 1`` when
    ``below_one``, for Adam's betas). ``what`` is torch's wording, e.g.
    ``"learning rate"`` gives "Adam: Invalid learning rate: -1". NaN fails both
    comparisons and is refused too (torch refuses it for Adam; for SGD it lets a
    NaN learning rate through, which turns every weight into NaN at the first
    step); so is infinity, which can only produce inf or NaN weights.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {what} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    if not (0.0 <= value and math.isfinite(value)) or (below_one and not value < 1.0):
        raise ValueError(f"{optimizer}: Invalid {what}: {value}")


class Optimizer:
    """Base class: subclasses set their ``defaults`` and implement ``_update(p, grad, state, group)``."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Parameters or of "
                            "dicts, but got a single tensor; pass [tensor] or model.parameters()")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (the others come from ``defaults``)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}: a param group must be a dict, got "
                            f"{type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, got "
                                f"{type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: optimizing a parameter that doesn't require "
                                 f"gradients (shape {p.shape})")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of "
                                 f"required optimization parameter {name}")
            group.setdefault(name, default)
        self._check_group(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in group["params"]}) != len(group["params"]) or \
                existing & {id(p) for p in group["params"]}:
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter "
                             "group (or twice in one)")
        self.param_groups.append(group)

    # ------------------------------------------------------------------ the update
    def zero_grad(self, set_to_none=True):
        """Forget the gradients before the next backward (they accumulate otherwise).

        ``set_to_none=True`` (torch's default) drops ``p.grad``; ``False`` fills it
        with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` (optional) re-evaluates the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.shape != p.shape:
                    raise RuntimeError(f"{type(self).__name__}: gradient of shape {p.grad.shape} for a "
                                       f"parameter of shape {p.shape}")
                if p.grad.backend != p.backend:
                    raise BackendError(f"{type(self).__name__}: the gradient is a {p.grad.device} array "
                                       f"but the parameter (shape {p.shape}) is on {p.device}")
                self._update(p, p.grad.data, self.state.setdefault(p, {}), group)
        return loss

    def _check_group(self, group):
        """Refuse invalid hyper-parameters of a group (subclasses check theirs with check_hyperparameter)."""

    def _update(self, p, grad, state, group):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}._update")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """torch's layout: {"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}.

        The arrays in "state" are the optimiser's own (not copies), as in torch;
        ``minicnn.save`` copies them to the host file.
        """
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyper-parameters and per-parameter state saved by :meth:`state_dict`.

        The groups must have the same sizes as this optimiser's. Arrays are copied
        to each parameter's backend and floating dtype; keys may be ints or their
        strings.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups' "
                             f"(from Optimizer.state_dict()), got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded parameter group {i} has "
                                 f"{len(saved['params'])} parameters, this optimizer's has "
                                 f"{len(own['params'])}")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        new_state, new_groups = {}, []
        for saved, own in zip(saved_groups, self.param_groups):
            for key, p in zip(saved["params"], own["params"]):
                if int(key) in saved_state:
                    saved_entry = saved_state[int(key)]
                    new_state[p] = {k: _state_value(k, v, p) for k, v in saved_entry.items()}
            group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if isinstance(group.get("betas"), list):
                group["betas"] = tuple(group["betas"])
            group["params"] = own["params"]
            self._check_group(group)
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _state_value(key, value, param):
    """A saved state entry for ``param``: the step count becomes an int; arrays go to the
    parameter's backend (copied) and, when floating, to its dtype."""
    if isinstance(value, str):
        raise TypeError(f"Optimizer.load_state_dict: state entry {key!r} is the string {value!r}; "
                        "expected a number or an array")
    if key == "step":
        step = float(value)  # torch stores it as a float tensor, we as an int
        if not (step >= 0 and step == int(step)):
            raise ValueError(f"Optimizer.load_state_dict: 'step' must be a non-negative whole number, got {value}")
        return int(step)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    array = _to_raw_array(value, backend_name=param.backend)
    return array.astype(param.dtype) if array.dtype.kind == "f" else array.copy()
