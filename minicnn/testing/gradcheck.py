"""Gradient checking by central differences.

For a function f and an input x, backward must give dL/dx where L = <g, f(x)>
for an upstream gradient g. We draw g at random (a ones-gradient hides
transposed or permuted gradients) and estimate each entry numerically:

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)      (error O(eps^2))

in float64, and compare with the relative error

    rel(a, b) = |a - b| / max(|a|, |b|)        (0 when both are 0)

that CS231n teaches. An entry passes when |a - b| <= atol + rtol |b| (so
tiny gradients are judged by ``atol``). The report shows, per input, the
worst relative error over the entries that matter: those above ``atol`` and
at least 1/1000 of the input's largest gradient. (An entry whose true gradient is 0 gets an
analytic 1e-17 and a numeric 1e-11: a relative error of 1 that says nothing;
such entries are judged by the absolute error, which is reported too.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..backend import to_backend, to_numpy
from ..tensor import Tensor


@dataclass
class GradcheckResult:
    """Per-input worst errors of one gradient check."""

    names: list = field(default_factory=list)
    max_rel_error: list = field(default_factory=list)
    max_abs_error: list = field(default_factory=list)
    passed: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(self.passed)

    @property
    def worst(self) -> float:
        return max(self.max_rel_error, default=0.0)

    def table(self) -> str:
        rows = ["input            max rel error   max abs error   result",
                "---------------  --------------  --------------  ------"]
        for n, r, a, p in zip(self.names, self.max_rel_error, self.max_abs_error, self.passed):
            rows.append(f"{n:<15}  {r:14.3e}  {a:14.3e}  {'pass' if p else 'FAIL'}")
        return "\n".join(rows)

    def __bool__(self):
        return self.ok


def relative_error(a, b):
    """Elementwise |a - b| / max(|a|, |b|), defined as 0 where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(b))
    diff = np.abs(a - b)
    return np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)


def numerical_gradient(f, t, upstream, eps=1e-6):
    """Central-difference gradient of <upstream, f()> with respect to the data of tensor ``t``.

    Each entry of a host copy is moved by +-eps and put back on ``t``'s
    backend before ``f`` (which reads ``t``) is evaluated.
    """
    host = to_numpy(t.data).astype(np.float64)
    original, flat = t.data, host.reshape(-1)
    grad = np.zeros(flat.shape, dtype=np.float64)
    try:
        for k in range(flat.size):
            old = flat[k]
            values = []
            for step in (eps, -eps):
                flat[k] = old + step
                t.data = to_backend(host.copy(), t.backend)
                values.append(float((to_numpy(f()).astype(np.float64) * upstream).sum()))
            flat[k] = old
            grad[k] = (values[0] - values[1]) / (2 * eps)
    finally:
        t.data = original  # even when f raises: never leave a perturbed input behind
    return grad.reshape(host.shape)


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-6, rtol=1e-4, raise_exception=True, seed=0, names=None):
    """Check ``fn``'s backward against central differences, for every input that requires grad.

    ``fn`` takes the ``inputs`` (Tensors, or anything else passed through)
    and returns a Tensor. Tensors that require grad must be float64. Returns a
    :class:`GradcheckResult`; raises ``AssertionError`` with the table when a
    check fails and ``raise_exception`` is true.
    """
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if not inputs[i].is_leaf:
            raise ValueError(f"gradcheck: input {i} is not a leaf tensor (it has grad_fn "
                             f"{inputs[i].grad_fn.name}), so it gets no .grad; pass a leaf")
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; gradient checks need float64 "
                            "(central differences in float32 lose ~half the digits)")
    for i in checked:
        inputs[i].grad = None
    before = [to_numpy(inputs[i].data).copy() for i in checked]
    out = fn(*inputs)
    rng = np.random.default_rng(seed)
    upstream = rng.uniform(0.5, 1.5, size=out.shape) * rng.choice([-1.0, 1.0], size=out.shape)
    sent = out.xp.asarray(upstream) if out.backend != "numpy" else upstream.copy()
    out.backward(sent)
    # A backward must never write into its grad_output or into the inputs.
    if not np.array_equal(to_numpy(sent), upstream):
        raise AssertionError("gradient check: backward modified the upstream gradient in place")
    for i, old in zip(checked, before):
        if not np.array_equal(to_numpy(inputs[i].data), old, equal_nan=True):
            raise AssertionError(f"gradient check: input {i} was modified in place by forward/backward")

    result = GradcheckResult()
    for i in checked:
        t = inputs[i]
        analytic = np.zeros(t.shape) if t.grad is None else to_numpy(t.grad.data).astype(np.float64)

        def f():
            with no_grad():
                return fn(*inputs).data

        numeric = numerical_gradient(f, t, upstream, eps)
        rel = relative_error(analytic, numeric)
        scale = np.maximum(np.abs(analytic), np.abs(numeric))
        rel = rel[(scale >= 1e-3 * scale.max(initial=0.0)) & (scale > atol)]
        absolute = np.abs(analytic - numeric)
        ok = bool(np.all(absolute <= atol + rtol * np.abs(numeric)))
        result.names.append(names[len(result.names)] if names else f"input {i} {tuple(t.shape)}")
        result.max_rel_error.append(float(rel.max(initial=0.0)))
        result.max_abs_error.append(float(absolute.max(initial=0.0)))
        result.passed.append(ok)
    if raise_exception and not result.ok:
        wrong = [f"{name} (largest relative error {rel:.3g})"
                 for name, rel, ok in zip(result.names, result.max_rel_error, result.passed) if not ok]
        raise AssertionError("gradient check failed: the gradient of " + ", of ".join(wrong)
                             + " disagrees with central differences\n" + result.table())
    return result
