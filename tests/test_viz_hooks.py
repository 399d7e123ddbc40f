"""Module.register_forward_hook (added for minicnn.viz), with torch's semantics."""
import numpy as np
import pytest

import minicnn
from minicnn import nn


def test_forward_hook_sees_module_inputs_and_output_and_can_be_removed():
    layer = nn.Linear(3, 2)
    calls = []
    handle = layer.register_forward_hook(lambda m, args, out: calls.append((m, args, out)))
    x = minicnn.randn(4, 3)
    y = layer(x)
    assert len(calls) == 1
    module, args, out = calls[0]
    assert module is layer and args == (x,) and out is y
    handle.remove()
    layer(x)
    assert len(calls) == 1
    handle.remove()                                  # removing twice is harmless, as in torch


def test_a_hook_that_returns_a_value_replaces_the_output_and_hooks_run_in_order(torch):
    def run(module, x, make_hooks):
        order = []
        for k, fn in enumerate(make_hooks(order)):
            module.register_forward_hook(fn)
        return module(x), order

    def hooks(order):
        return [lambda m, a, o: order.append("first"),
                lambda m, a, o: (order.append("second"), o * 2)[1],
                lambda m, a, o: (order.append("third"), o + 1)[1]]

    ours, our_order = run(nn.ReLU(), minicnn.tensor(np.array([-1.0, 2.0])), hooks)
    theirs, their_order = run(torch.nn.ReLU(), torch.tensor([-1.0, 2.0], dtype=torch.float64), hooks)
    assert our_order == their_order == ["first", "second", "third"]
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())      # relu(x) * 2 + 1 = [1, 5]


def test_handle_is_a_context_manager_and_hooks_fire_on_children():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    seen = []
    with net[0].register_forward_hook(lambda m, a, o: seen.append(type(m).__name__)):
        net(minicnn.randn(1, 2))
    net(minicnn.randn(1, 2))
    assert seen == ["Linear"]


def test_a_hook_must_be_callable():
    with pytest.raises(TypeError, match="Linear.register_forward_hook: expected a callable"):
        nn.Linear(2, 2).register_forward_hook("not a function")
