"""The gradient-check catalogue: one small, fixed check for every op and module.

``minicnn gradcheck [NAME...]`` prints one row per entry: its name, the worst
relative error between the analytic gradient (backward) and the numeric one
(central differences, float64, random upstream gradient), and pass/fail.
``--planted-bug`` adds an op whose backward is deliberately wrong, to show
what a failure looks like.

Each entry builds its inputs from a fixed seed, keeps them away from kinks
(ReLU and abs at 0) and ties (max, pooling) with the samplers the Hypothesis
strategies use (``sampling.py``), and returns ``(fn, inputs)`` for
:func:`minicnn.testing.gradcheck`. The attention modules' rows are the table
the tests read (``attention_cases.py``).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Function
from ..tensor import Tensor
from .gradcheck import gradcheck
from .sampling import tie_free, uniform_away_from

CATALOG = {}


def entry(name, group="ops"):
    """Register a builder ``(rng) -> (fn, inputs)`` under ``name``."""
    def register(builder):
        CATALOG[name] = (group, builder)
        return builder
    return register


def _t(array):
    return Tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def randn_array(rng, *shape):
    return _t(rng.standard_normal(shape))


def _away(rng, *shape, kink=0.0, gap=0.1):
    return _t(uniform_away_from(rng, shape, away_from=(kink,), min_distance=gap))


def tie_free_array(rng, *shape):
    return _t(tie_free(rng, shape))


def positive_array(rng, *shape):
    return _t(uniform_away_from(rng, shape, 0.5, 2.0))


def module_case(module, x):
    """Check a module: the input and every parameter, all in float64."""
    module.to("float64")
    params = list(module.parameters())
    return (lambda inp, *ps: module(inp)), [x, *params]


# ------------------------------------------------------------------ elementwise and arithmetic
@entry("add")
def _(rng):
    return F.add, [randn_array(rng, 3, 4), randn_array(rng, 4)]


@entry("sub")
def _(rng):
    return F.sub, [randn_array(rng, 3, 1), randn_array(rng, 3, 4)]


@entry("mul")
def _(rng):
    return F.mul, [randn_array(rng, 2, 3, 4), randn_array(rng, 3, 1)]


@entry("div")
def _(rng):
    return F.div, [randn_array(rng, 3, 4), positive_array(rng, 4)]


@entry("neg")
def _(rng):
    return F.neg, [randn_array(rng, 3, 4)]


@entry("pow")
def _(rng):
    return F.pow, [positive_array(rng, 3, 4), randn_array(rng, 3, 4)]


@entry("exp")
def _(rng):
    return F.exp, [randn_array(rng, 3, 4)]


@entry("log")
def _(rng):
    return F.log, [positive_array(rng, 3, 4)]


@entry("sqrt")
def _(rng):
    return F.sqrt, [positive_array(rng, 3, 4)]


@entry("abs")
def _(rng):
    return F.abs, [_away(rng, 3, 4)]


@entry("clamp")
def _(rng):
    x = randn_array(rng, 4, 5)
    x.data[np.abs(np.abs(x.data) - 0.5) < 0.05] = 0.2
    return (lambda t: F.clamp(t, -0.5, 0.5)), [x]


@entry("maximum")
def _(rng):
    return F.maximum, [randn_array(rng, 3, 4), randn_array(rng, 3, 4)]


@entry("minimum")
def _(rng):
    return F.minimum, [randn_array(rng, 3, 4), randn_array(rng, 4)]


@entry("where")
def _(rng):
    cond = Tensor(rng.random((3, 4)) > 0.5)
    return (lambda a, b: F.where(cond, a, b)), [randn_array(rng, 3, 4), randn_array(rng, 1, 4)]


@entry("matmul")
def _(rng):
    return F.matmul, [randn_array(rng, 2, 3, 4), randn_array(rng, 4, 5)]


# ------------------------------------------------------------------ reductions
@entry("sum")
def _(rng):
    return (lambda t: t.sum(dim=1, keepdim=True)), [randn_array(rng, 3, 4, 2)]


@entry("mean")
def _(rng):
    return (lambda t: t.mean(dim=(0, 2))), [randn_array(rng, 3, 4, 2)]


@entry("var")
def _(rng):
    return (lambda t: t.var(dim=1)), [randn_array(rng, 3, 5)]


@entry("max")
def _(rng):
    return (lambda t: t.max(dim=1)[0]), [tie_free_array(rng, 3, 5)]


@entry("min")
def _(rng):
    return (lambda t: t.min(dim=0, keepdim=True)[0]), [tie_free_array(rng, 3, 5)]


@entry("amax")
def _(rng):
    return (lambda t: t.amax(dim=(1, 2))), [tie_free_array(rng, 2, 3, 4)]


# ------------------------------------------------------------------ shapes
@entry("reshape")
def _(rng):
    return (lambda t: t.reshape(4, 6) * 1.5), [randn_array(rng, 2, 3, 4)]


@entry("permute")
def _(rng):
    return (lambda t: t.permute(2, 0, 1)), [randn_array(rng, 2, 3, 4)]


@entry("flatten")
def _(rng):
    return (lambda t: t.flatten(1)), [randn_array(rng, 2, 3, 4)]


@entry("squeeze/unsqueeze")
def _(rng):
    return (lambda t: t.squeeze(1).unsqueeze(0)), [randn_array(rng, 3, 1, 4)]


@entry("expand")
def _(rng):
    return (lambda t: t.expand(2, 3, 4)), [randn_array(rng, 3, 1)]


@entry("cat")
def _(rng):
    return (lambda a, b: F.cat([a, b], dim=1)), [randn_array(rng, 2, 3), randn_array(rng, 2, 4)]


@entry("stack")
def _(rng):
    return (lambda a, b: F.stack([a, b], dim=1)), [randn_array(rng, 2, 3), randn_array(rng, 2, 3)]


@entry("getitem")
def _(rng):
    index = np.array([0, 2, 2, 1])
    return (lambda t: t[index, 1:3]), [randn_array(rng, 3, 4)]


# ------------------------------------------------------------------ activations
@entry("relu", "activations")
def _(rng):
    return F.relu, [_away(rng, 3, 4)]


@entry("leaky_relu", "activations")
def _(rng):
    return (lambda t: F.leaky_relu(t, 0.1)), [_away(rng, 3, 4)]


@entry("sigmoid", "activations")
def _(rng):
    return F.sigmoid, [randn_array(rng, 3, 4)]


@entry("tanh", "activations")
def _(rng):
    return F.tanh, [randn_array(rng, 3, 4)]


@entry("softmax", "activations")
def _(rng):
    return (lambda t: F.softmax(t, dim=1)), [randn_array(rng, 3, 4)]


@entry("log_softmax", "activations")
def _(rng):
    return (lambda t: F.log_softmax(t, dim=1)), [randn_array(rng, 3, 4)]


@entry("linear", "layers")
def _(rng):
    return F.linear, [randn_array(rng, 3, 4), randn_array(rng, 5, 4), randn_array(rng, 5)]


# ------------------------------------------------------------------ a planted bug
class _WrongSquare(Function):
    """y = x^2 with a *wrong* backward (2x forgotten): what a bug looks like in the table."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * self.x  # should be grad * 2 * x


def planted_bug_case(rng):
    return _WrongSquare.apply, [randn_array(rng, 3, 4)]


# ------------------------------------------------------------------ running
def _lazy_entries():
    """Entries of the layers and attention modules, registered from their own modules when present."""
    from . import catalog_layers  # noqa: F401  (registers conv, pooling, norm, attention, ... entries)


def run_catalog(names=None, planted_bug=False, seed=0, out=print):
    """Gradient-check the named entries (all when ``names`` is empty); print a table; return rows.

    Each row is ``(name, group, worst relative error, passed)``.
    """
    try:
        _lazy_entries()
    except ImportError:
        pass
    selected = list(CATALOG) if not names else list(names)
    unknown = [n for n in selected if n not in CATALOG]
    if unknown:
        raise KeyError(f"unknown gradcheck entries {unknown}; valid names: {', '.join(CATALOG)}")
    items = [(n, *CATALOG[n]) for n in selected]
    if planted_bug:
        items.append(("planted bug (x^2, backward forgets the 2)", "demo", planted_bug_case))
    rows = []
    out(f"{'op / module':<44} {'group':<11} {'worst rel error':>15}  result")
    out("-" * 80)
    for name, group, builder in items:
        rng = np.random.default_rng(seed)
        fn, inputs = builder(rng)
        result = gradcheck(fn, *inputs, raise_exception=False, seed=seed)
        rows.append((name, group, result.worst, result.ok))
        out(f"{name:<44} {group:<11} {result.worst:>15.2e}  {'pass' if result.ok else 'FAIL'}")
    passed = sum(r[3] for r in rows)
    out("-" * 80)
    out(f"{passed} passed, {len(rows) - passed} failed")
    return rows
