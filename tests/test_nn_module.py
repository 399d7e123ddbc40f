"""nn.Module, Parameter and the containers against torch.nn: names, state dicts, modes, init, Dropout."""
import math

import numpy as np
import pytest
import torch

import minicnn
from minicnn import nn
from minicnn.testing import assert_module_parity


# --------------------------------------------------------------------------- twin models
class Block(nn.Module):
    """A module with parameters, a persistent and a non-persistent buffer, and a bias-free layer."""

    def __init__(self, n):
        super().__init__()
        self.proj = nn.Linear(n, n, bias=False)
        self.scale = nn.Parameter(minicnn.tensor(np.ones(n, dtype=np.float32)))
        self.register_buffer("running_mean", minicnn.tensor(np.zeros(n, dtype=np.float32)))
        self.register_buffer("cache", minicnn.tensor(np.zeros(1, dtype=np.float32)), persistent=False)

    def forward(self, x):
        return self.proj(x) * self.scale + self.running_mean


class TorchBlock(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.proj = torch.nn.Linear(n, n, bias=False)
        self.scale = torch.nn.Parameter(torch.ones(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("cache", torch.zeros(1), persistent=False)

    def forward(self, x):
        return self.proj(x) * self.scale + self.running_mean


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.blocks = nn.ModuleList([Block(4), Block(4)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 2),
                                    "aux": nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 1))})

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["cls"](x) + self.heads["aux"](x)


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
        self.blocks = torch.nn.ModuleList([TorchBlock(4), TorchBlock(4)])
        aux = torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
        self.heads = torch.nn.ModuleDict({"cls": torch.nn.Linear(4, 2), "aux": aux})

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.heads["cls"](x) + self.heads["aux"](x)


def _torch_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- names and state dicts
def test_state_dict_keys_order_and_shapes_match_torch():
    ours, theirs = Net().state_dict(), TorchNet().state_dict()
    assert list(ours) == list(theirs)
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert "blocks.0.cache" not in ours  # non-persistent buffers are not saved


def test_named_parameters_and_buffers_match_torch():
    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert all(p.requires_grad for p in ours.parameters())
    assert not any(b.requires_grad for b in ours.buffers())


def test_torch_weights_load_and_the_outputs_match():
    theirs = TorchNet()
    with torch.no_grad():
        theirs.blocks[1].running_mean.uniform_(-1, 1)
        theirs.blocks[0].scale.uniform_(0.5, 2)
    ours = Net()
    x = np.random.default_rng(0).normal(size=(5, 3))
    assert_module_parity(ours, theirs, x, train=False)  # eval: the dropout is off in both
    np.testing.assert_array_equal(ours.blocks[1].running_mean.numpy(),
                                  theirs.blocks[1].running_mean.double().numpy())


def test_load_state_dict_reports_every_problem_by_name_and_changes_nothing():
    model = Net()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = _torch_state(TorchNet())
    del state["heads.cls.bias"]
    state["blocks.0.extra"] = np.zeros(2)
    state["stem.0.weight"] = np.zeros((5, 3))
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "heads.cls.bias"' in message
    assert 'Unexpected key(s) in state_dict: "blocks.0.extra"' in message
    assert "size mismatch for stem.0.weight: copying a param with shape (5, 3), " \
           "the shape in current model is (4, 3)" in message
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"{k} changed although loading failed")


def test_load_state_dict_non_strict_returns_missing_and_unexpected():
    model = Net()
    state = _torch_state(TorchNet())
    del state["heads.cls.bias"]
    state["surplus"] = np.ones(1)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["heads.cls.bias"] and unexpected == ["surplus"]
    np.testing.assert_array_equal(model.stem[0].weight.numpy(), state["stem.0.weight"])
    with pytest.raises(RuntimeError, match="size mismatch for heads.cls.weight"):
        model.load_state_dict({"heads.cls.weight": np.zeros((3, 3))}, strict=False)


def test_loaded_values_are_copies_in_the_models_dtype():
    model = nn.Linear(2, 2)
    w = np.ones((2, 2), dtype=np.float64)
    model.load_state_dict({"weight": w, "bias": np.zeros(2)})
    assert model.weight.dtype == np.float32
    w[0, 0] = 5.0
    assert model.weight.numpy()[0, 0] == 1.0


# --------------------------------------------------------------------------- registration
def test_attribute_registration_follows_torch():
    m = nn.Module()
    m.w = nn.Parameter(minicnn.tensor(np.ones(2)))
    m.plain = minicnn.tensor(np.ones(2))  # a plain tensor is not a parameter
    m.child = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    m.child = None
    assert [n for n, _ in m.named_parameters()] == ["w"]
    del m.w
    assert list(m.parameters()) == []
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'bias'"):
        nn.Linear(2, 2).bias = minicnn.tensor(np.ones(2))

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Forgot()


def test_shared_parameters_are_listed_once_as_in_torch():
    first = nn.Linear(3, 3)
    tied = nn.Sequential(first, nn.ReLU(), first)
    t_first = torch.nn.Linear(3, 3)
    t_tied = torch.nn.Sequential(t_first, torch.nn.ReLU(), t_first)
    assert [n for n, _ in tied.named_parameters()] == [n for n, _ in t_tied.named_parameters()]
    assert list(tied.state_dict()) == list(t_tied.state_dict())
    tied.load_state_dict(_torch_state(t_tied))  # torch's keys of a tied model load (strict)
    np.testing.assert_array_equal(first.weight.numpy(), t_first.weight.detach().numpy())


def test_train_eval_propagate_to_every_descendant():
    model = Net()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.heads.train()
    assert model.heads["aux"][0].training and not model.training and not model.stem.training
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_every_parameter():
    model = Net()
    model(minicnn.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_moves_parameters_and_buffers_and_changes_dtype():
    model = Net().double()
    assert all(t.dtype == np.float64 for t in list(model.parameters()) + list(model.buffers()))
    model.to("strict")
    assert all(t.backend == "strict" for t in list(model.parameters()) + list(model.buffers()))
    with minicnn.backend.use_backend("strict"):
        out = model(minicnn.randn(2, 3, dtype=np.float64))
    assert out.backend == "strict" and out.dtype == np.float64
    model.to("cpu")
    assert all(t.backend == "numpy" for t in model.parameters())


def test_repr_is_readable_and_matches_torch():
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.ModuleList([nn.Linear(4, 2, bias=False)]))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                 torch.nn.ModuleList([torch.nn.Linear(4, 2, bias=False)]))
    assert repr(ours) == repr(theirs)
    assert "Dropout(p=0.25" in repr(nn.Dropout(0.25))


# --------------------------------------------------------------------------- initialisation
@pytest.mark.parametrize("fan_in,fan_out", [(64, 200), (7, 500)])
def test_linear_init_has_torchs_bounds_and_distribution(fan_in, fan_out):
    """torch: W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a = sqrt(5)), b the same."""
    minicnn.manual_seed(0)
    layer = nn.Linear(fan_in, fan_out)
    reference = torch.nn.Linear(fan_in, fan_out)
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    tw = reference.weight.detach().numpy()
    assert layer.weight.dtype == np.float32 and layer.weight.shape == tuple(reference.weight.shape)
    assert np.abs(w).max() <= bound and np.abs(tw).max() <= bound
    assert np.abs(w).max() > 0.97 * bound and np.abs(b).max() <= bound
    # a uniform distribution on [-bound, bound]: mean 0, standard deviation bound / sqrt(3)
    assert abs(w.mean()) < 0.05 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert w.std() == pytest.approx(tw.std(), rel=0.08)
    # and the seed makes it repeatable
    minicnn.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(fan_in, fan_out).weight.numpy(), w)


# --------------------------------------------------------------------------- dropout
def test_dropout_train_and_eval():
    minicnn.manual_seed(0)
    drop = nn.Dropout(p=0.3)
    x = minicnn.tensor(np.ones((200, 50)), requires_grad=True)
    y = drop(x)
    out = y.numpy()
    kept = out != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.02)
    np.testing.assert_allclose(out[kept], 1 / 0.7)  # inverted dropout: the expectation is kept
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out)  # the same mask scales the gradient
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    assert nn.Dropout(0.0)(x).numpy().tolist() == x.numpy().tolist()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_drops_whole_channels():
    minicnn.manual_seed(0)
    out = nn.Dropout2d(p=0.5)(minicnn.tensor(np.ones((8, 16, 3, 3)))).numpy()
    per_channel = out.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0.3 < (per_channel == 0).all(-1).mean() < 0.7


def test_load_state_dict_takes_torch_tensors_as_its_docstring_says(torch):
    theirs = torch.nn.Conv2d(2, 3, 3).double()
    ours = nn.Conv2d(2, 3, 3).to("float64")
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
