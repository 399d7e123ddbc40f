"""Parity with PyTorch: run the same computation in minicnn and torch and compare.

``assert_parity(mc_fn, torch_fn, arrays)`` builds minicnn tensors and torch
tensors from the same NumPy arrays, runs both functions, pushes the same
random upstream gradient through both, and compares the output and the
gradient of every floating-point input (and, for modules, every parameter).

Tolerances: float64 ``rtol=1e-7, atol=1e-9`` (same maths, different summation
order); float32 ``rtol=1e-4, atol=1e-5`` (rounding differs between BLAS
paths).
"""
from __future__ import annotations

import numpy as np

from .compare import assert_matches

from ..backend import to_numpy
from ..tensor import Tensor

TOLERANCES = {np.float64: dict(rtol=1e-7, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-5)}


def import_torch():
    """Import torch, with a message saying how to get it (it is a test-only dependency)."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise ImportError("PyTorch is needed for parity tests: pip install -e .[test] "
                          "(installs torch==2.13.0, CPU build)") from exc
    return torch


def _compare(name, ours, theirs, rtol, atol):
    ours = to_numpy(ours.data if isinstance(ours, Tensor) else ours).astype(np.float64)
    theirs = theirs.detach().cpu().numpy().astype(np.float64) if hasattr(theirs, "detach") \
        else np.asarray(theirs, dtype=np.float64)
    if ours.shape != theirs.shape:
        raise AssertionError(f"{name}: minicnn shape {ours.shape} != torch shape {theirs.shape}")
    assert_matches(f"{name} (compared with torch)", ours, theirs, rtol=rtol, atol=atol)


def assert_parity(mc_fn, torch_fn, arrays, dtype=np.float64, requires_grad=None, seed=0,
                  mc_params=None, torch_params=None, rtol=None, atol=None, backend=None):
    """Compare forward and every gradient of ``mc_fn(*tensors)`` and ``torch_fn(*torch_tensors)``.

    ``arrays``: NumPy arrays (floating ones get gradients unless ``requires_grad``
    says otherwise; integer ones pass through as labels). ``mc_params`` /
    ``torch_params``: optional dicts name -> parameter of the two models, whose
    gradients are compared too.
    """
    torch = import_torch()
    tol = dict(TOLERANCES[np.dtype(dtype).type])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    if requires_grad is None:
        requires_grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    mc_inputs, torch_inputs = [], []
    for a, rg in zip(arrays, requires_grad):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        t = Tensor(a.copy(), requires_grad=rg)
        if backend is not None:
            t = Tensor(t.to(backend).data, requires_grad=rg)
        mc_inputs.append(t)
        torch_inputs.append(torch.tensor(a.copy(), requires_grad=rg))
    ours = mc_fn(*mc_inputs)
    theirs = torch_fn(*torch_inputs)
    _compare("output", ours, theirs, **tol)

    upstream = np.random.default_rng(seed).standard_normal(ours.shape).astype(dtype)
    if ours.requires_grad:
        ours.backward(ours.xp.asarray(upstream) if ours.backend != "numpy" else upstream)
        theirs.backward(torch.tensor(upstream))
    for i, (m, t) in enumerate(zip(mc_inputs, torch_inputs)):
        if t.requires_grad:
            if t.grad is None and m.grad is None:
                continue
            assert m.grad is not None, f"input {i}: torch has a gradient, minicnn has none"
            _compare(f"gradient of input {i}", m.grad, t.grad, **tol)
    for name, p in (mc_params or {}).items():
        tp = torch_params[name]
        if tp.grad is None:
            assert p.grad is None or not np.any(to_numpy(p.grad.data)), f"{name}: torch has no gradient"
            continue
        assert p.grad is not None, f"{name}: torch has a gradient, minicnn has none"
        _compare(f"gradient of {name}", p.grad, tp.grad, **tol)
    return ours, theirs


def load_torch_weights(mc_module, torch_module, dtype=np.float64):
    """Copy a torch module's state_dict into its minicnn twin (through load_state_dict, strict)."""
    mc_module.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})
    return mc_module.to(np.dtype(dtype).name)


def assert_module_parity(mc_module, torch_module, x, dtype=np.float64, train=True, seed=0, rtol=None,
                         atol=None):
    """Load torch's weights into the minicnn module, then compare output, input gradient and every
    parameter gradient (in train or eval mode)."""
    torch = import_torch()
    torch_module = torch_module.to(getattr(torch, np.dtype(dtype).name))
    load_torch_weights(mc_module, torch_module, dtype)
    mc_module.train(train)
    torch_module.train(train)
    mc_params = dict(mc_module.named_parameters())
    torch_params = dict(torch_module.named_parameters())
    return assert_parity(mc_module, torch_module, [x], dtype=dtype, seed=seed, mc_params=mc_params,
                         torch_params=torch_params, rtol=rtol, atol=atol)
