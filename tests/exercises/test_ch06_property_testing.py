"""Graded tests of notebook 6 (exercises/ch06_property_testing.py): the strategies themselves."""
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import minicnn
from grading_helpers import graded, t64
from minicnn.testing import gradcheck

MODULE = "ch06_property_testing"
SEARCH = settings(database=None, derandomize=True, max_examples=300, deadline=None)
KEYS = {"batch", "in_channels", "out_channels", "height", "width", "kernel_size", "stride", "padding",
        "dilation"}


@pytest.fixture
def ch6(load):
    return load(MODULE)


def span(g):
    return g["dilation"] * (g["kernel_size"] - 1) + 1


def output_size(g, size):
    return (size + 2 * g["padding"] - span(g)) // g["stride"] + 1


# --------------------------------------------------------------------------- 6.1 conv geometries
@pytest.mark.ex6_1
@graded(max_examples=40)
@given(data=st.data())
def test_every_geometry_is_a_valid_convolution(ch6, torch, data):
    g = data.draw(ch6.conv_geometries())
    assert set(g) == KEYS, f"keys {sorted(g)}, expected {sorted(KEYS)}"
    assert g["padding"] <= span(g) // 2, f"padding {g['padding']} exceeds half the window {span(g)}"
    assert min(g["height"], g["width"]) + 2 * g["padding"] >= span(g), \
        f"the window ({span(g)} pixels) does not fit the padded input: height {g['height']}, " \
        f"width {g['width']}, padding {g['padding']}"
    x = torch.zeros(g["batch"], g["in_channels"], g["height"], g["width"], dtype=torch.float64)
    w = torch.zeros(g["out_channels"], g["in_channels"], g["kernel_size"], g["kernel_size"],
                    dtype=torch.float64)
    y = torch.nn.functional.conv2d(x, w, stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    assert y.shape[2:] == (output_size(g, g["height"]), output_size(g, g["width"])), \
        f"output size of the geometry {g}: torch gives {tuple(y.shape[2:])}"
    assert min(y.shape[2:]) >= 1, f"the window does not fit the geometry {g}: output {tuple(y.shape[2:])}"


@pytest.mark.ex6_1
def test_geometries_never_invalid_and_cover_the_hard_cases(ch6):
    strategy = ch6.conv_geometries()
    with pytest.raises(NoSuchExample):  # no invalid geometry among hundreds of draws
        find(strategy, lambda g: min(output_size(g, g["height"]), output_size(g, g["width"])) < 1,
             settings=SEARCH)
    wanted = {
        "a stride that does not divide the input evenly":
            lambda g: g["stride"] > 1 and (g["height"] + 2 * g["padding"] - span(g)) % g["stride"] != 0,
        "a stride that divides it evenly":
            lambda g: g["stride"] > 1 and (g["height"] + 2 * g["padding"] - span(g)) % g["stride"] == 0,
        "dilation > 1 with padding > 0": lambda g: g["dilation"] > 1 and g["padding"] > 0,
        "a window exactly as large as the padded input": lambda g: g["height"] + 2 * g["padding"] == span(g),
        "a non-square input with batch > 1": lambda g: g["height"] != g["width"] and g["batch"] > 1,
        "a kernel of size 3 with stride 1": lambda g: g["kernel_size"] == 3 and g["stride"] == 1,
    }
    for name, condition in wanted.items():
        try:
            find(strategy, condition, settings=SEARCH)
        except NoSuchExample:
            pytest.fail(f"the strategy never draws {name}")


# --------------------------------------------------------------------------- 6.2 tie-free arrays
@pytest.mark.ex6_2
@graded(max_examples=30)
@given(data=st.data(), shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
       bounds=st.sampled_from([(-2.0, 2.0), (0.0, 1.0), (-10.0, -5.0)]))
def test_tie_free_arrays_have_a_guaranteed_gap(ch6, data, shape, bounds):
    low, high = bounds
    x = np.asarray(data.draw(ch6.tie_free_arrays(shape, low=low, high=high)))
    assert x.shape == shape and x.dtype == np.float64, f"array {x.dtype} {x.shape}, expected float64 {shape}"
    assert x.min() >= low and x.max() <= high, f"values outside [{low}, {high}]"
    size = x.size
    if size > 1:
        gap = np.diff(np.sort(x.reshape(-1))).min()
        assert gap >= (high - low) / (2 * size) * (1 - 1e-9), f"two entries only {gap} apart"


@pytest.mark.ex6_2
@graded(max_examples=10)
@given(data=st.data())
def test_tie_free_arrays_make_max_gradient_checks_pass(ch6, data):
    x = np.asarray(data.draw(ch6.tie_free_arrays((2, 6))))
    gradcheck(lambda t: minicnn.amax(t, dim=1), t64(x))


@pytest.mark.ex6_2
def test_tie_free_arrays_vary(ch6):
    first = find(ch6.tie_free_arrays((4,)), lambda a: True, settings=SEARCH)
    other = find(ch6.tie_free_arrays((4,)), lambda a: not np.allclose(np.sort(a), np.sort(first)),
                 settings=SEARCH)
    assert not np.allclose(np.sort(first), np.sort(other)), "tie-free arrays: every draw has the same values"
