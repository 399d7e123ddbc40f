"""Gradient-norm recording by the Trainer (opt-in) and the gradient-flow plot."""
import numpy as np
import pytest

import minicnn
from minicnn import functional as F
from minicnn import nn, viz
from minicnn.data import DataLoader, TensorDataset
from minicnn.optim import SGD
from minicnn.train import Trainer


def _net():
    minicnn.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 1, 6, 6)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    return x, y


def _trainer(model, record):
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    return Trainer(model, SGD(model.parameters(), lr=0.5), lambda out, t: F.cross_entropy(out, t), loader,
                   metrics="classification", progress=False, record_grad_norms=record)


def test_trainer_records_each_parameters_gradient_norm_at_every_step():
    model = _net()
    start = {k: v.copy() for k, v in model.state_dict().items()}
    history = _trainer(model, record=True).fit(2)
    recorded = viz.grad_norm_history(history)
    assert list(recorded) == [name for name, _ in model.named_parameters()]
    assert all(len(history[k]["grad_norms"][name]) == 3 for k in range(2) for name in recorded)
    # Replay the same six SGD steps by hand and compare the norms.
    replay = _net()
    replay.load_state_dict(start)
    x, y = _data()
    optimizer = SGD(replay.parameters(), lr=0.5)
    for step in range(6):
        batch = slice(4 * (step % 3), 4 * (step % 3) + 4)
        optimizer.zero_grad()
        F.cross_entropy(replay(minicnn.tensor(x[batch])), minicnn.tensor(y[batch])).backward()
        for name, p in replay.named_parameters():
            assert recorded[name][step] == pytest.approx(np.linalg.norm(p.grad.numpy()), rel=1e-5)
        optimizer.step()


def test_recording_is_off_by_default():
    history = _trainer(_net(), record=False).fit(1)
    assert "grad_norms" not in history[0]
    with pytest.raises(ValueError, match="record_grad_norms=True"):
        viz.grad_norm_history(history)


def test_recorded_norms_survive_a_checkpoint(tmp_path):
    trainer = _trainer(_net(), record=True)
    trainer.fit(1)
    trainer.save_checkpoint(tmp_path / "last.npz")
    resumed = _trainer(_net(), record=True)
    resumed.load_checkpoint(tmp_path / "last.npz")
    np.testing.assert_allclose(viz.grad_norm_history(resumed)["0.weight"],
                               viz.grad_norm_history(trainer)["0.weight"])


def test_layer_norm_combines_weight_and_bias():
    norms = {"conv.weight": [3.0, 0.0], "conv.bias": [4.0, 1.0], "scale": [2.0, 2.0]}
    layers = viz.layer_grad_norms(norms)
    assert list(layers) == ["conv", "scale"]
    np.testing.assert_allclose(layers["conv"], [5.0, 1.0])
    np.testing.assert_allclose(layers["scale"], [2.0, 2.0])


def test_parameter_without_gradient_is_nan():
    layer = nn.Linear(2, 1)
    (layer.weight * 2.0).sum().backward()
    norms = viz.parameter_grad_norms(layer)
    assert norms["weight"] == pytest.approx(2.0 * np.sqrt(2.0)) and np.isnan(norms["bias"])


def test_plot_draws_one_line_per_layer_with_the_recorded_values():
    trainer = _trainer(_net(), record=True)
    trainer.fit(1)
    fig = viz.plot_grad_flow(trainer)
    over_steps = fig.axes[0]
    lines = {line.get_label(): line.get_ydata() for line in over_steps.get_lines()}
    layers = viz.layer_grad_norms(viz.grad_norm_history(trainer))
    assert list(lines) == ["0", "2", "5"] == list(layers)
    for name, values in layers.items():
        np.testing.assert_allclose(lines[name], values)
    assert over_steps.get_yscale() == "log"
