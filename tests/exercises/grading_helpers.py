"""Small helpers shared by the graded tests (settings, tensors, comparisons)."""
from __future__ import annotations

import numpy as np
from hypothesis import Phase, settings

from minicnn.backend import to_backend, to_numpy
from minicnn.tensor import Tensor
from minicnn.testing.compare import assert_matches
from minicnn.testing import strategies  # noqa: F401  (registers the "grading" profile)

#: Deterministic examples: every student's code meets the same inputs. No "explain" phase: it
#: re-runs a failing test many times to annotate the report, ~10 s per failing test.
GRADING = settings(settings.get_profile("grading"),
                   phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))


def graded(max_examples=None):
    """``@graded()``: Hypothesis settings of the "grading" profile (fewer examples if asked)."""
    if max_examples is None:
        return settings(GRADING)
    return settings(GRADING, max_examples=max_examples)


def t64(array, requires_grad=True, backend=None):
    """A float64 minicnn Tensor (optionally on another backend) that requires grad."""
    array = np.asarray(array, dtype=np.float64)
    if backend is not None:
        array = to_backend(array, backend)
    return Tensor(array, requires_grad=requires_grad)


def host(value):
    """A host float64 NumPy array from a raw array of any backend, a Tensor or a torch tensor."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy().astype(np.float64)
    if isinstance(value, Tensor):
        value = value.data
    return to_numpy(value).astype(np.float64)


def assert_close(ours, expected, rtol=1e-7, atol=1e-9, what="result"):
    """Compare shapes, then values; messages say which is which."""
    if ours is None:
        raise AssertionError(f"{what}: got None")
    ours, expected = host(ours), host(expected)
    assert_matches(what, ours, expected, rtol=rtol, atol=atol)


def rng(seed=0):
    return np.random.default_rng(seed)


def assert_same_as(ours_fn, reference_fn, arrays, rtol=1e-7, atol=1e-9, seed=0):
    """Run the student's function and minicnn's own on the same float64 tensors; compare the output
    and the gradient of every input (for one random upstream gradient)."""
    results = []
    for fn in (ours_fn, reference_fn):
        inputs = [t64(a) for a in arrays]
        out = fn(*inputs)
        upstream = np.random.default_rng(seed).standard_normal(out.shape)
        out.backward(upstream)
        results.append((out, [t.grad for t in inputs]))
    (ours, our_grads), (ref, ref_grads) = results
    assert_close(ours, ref, rtol, atol, what="output (compared with minicnn's own)")
    for i, (g, r) in enumerate(zip(our_grads, ref_grads)):
        if r is None:
            continue
        assert_close(g, r, rtol, atol, what=f"gradient of input {i} (compared with minicnn's own)")


def prepared(module, state, train=False):
    """A minicnn module in float64 with the given state (arrays by key), in eval (or train) mode."""
    module.to("float64")
    module.load_state_dict({k: np.asarray(v, dtype=np.float64) for k, v in state.items()})
    module.train(train)
    return module


def constants(*arrays):
    """float64 Tensors that do not require grad (weights held fixed while x is checked)."""
    return [t64(a, requires_grad=False) for a in arrays]
