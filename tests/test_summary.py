"""minicnn.summary: output shapes, parameter counts and multiply-accumulates per layer."""
import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.summary import count_macs, summary


def test_seed_000_normal_versus_separable_multiplications():
    """Course seed 000, "Separable Convolutional Layer (Computation Example)": a 5x5 kernel, an 8x8
    output and 256 output channels from 1 input channel (a 12x12 image, no padding):

        normal:     5 * 5 * 8 * 8 * 256                  = 409,600
        separable:  5 * 5 * 8 * 8  +  8 * 8 * 1 * 1 * 256 = 1,600 + 16,384 = 17,984
    """
    normal = summary(nn.Conv2d(1, 256, kernel_size=5), (1, 1, 12, 12), verbose=False)
    assert normal.total_macs == 409_600
    assert [layer.output_shape for layer in normal.layers] == [(1, 256, 8, 8)]

    separable = summary(nn.SeparableConv2d(1, 256, kernel_size=5), (1, 1, 12, 12), verbose=False)
    assert [(layer.name, layer.output_shape, layer.macs) for layer in separable.layers] == [
        ("depthwise", (1, 1, 8, 8), 1_600), ("pointwise", (1, 256, 8, 8), 16_384)]
    assert separable.total_macs == 17_984
    # parameters: 5*5*256 + 256 biases, against (5*5 + 1) + (256 + 256)
    assert normal.total_params == 6_656 and separable.total_params == 538


def test_table_rows_parameters_and_totals(capsys):
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),               # 8*8*8 out * 3 * 9, per image
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False),
        nn.ConvTranspose2d(8, 4, 2, stride=2),       # 8*8*8 in * 4 * 4
        nn.Flatten(),
        nn.Linear(4 * 16 * 16, 10),
    )
    model.train()
    result = summary(model, (2, 3, 8, 8))
    printed = capsys.readouterr().out
    assert printed.strip() == str(result).strip()
    rows = [(r.name, r.type, r.output_shape, r.params, r.macs) for r in result.layers]
    assert rows == [
        ("0", "Conv2d", (2, 8, 8, 8), 8 * 3 * 9 + 8, 2 * 8 * 8 * 8 * 3 * 9),
        ("1", "ReLU", (2, 8, 8, 8), 0, 0),
        ("2", "Conv2d", (2, 8, 8, 8), 8 * 2 * 9, 2 * 8 * 8 * 8 * 2 * 9),
        ("3", "ConvTranspose2d", (2, 4, 16, 16), 8 * 4 * 4 + 4, 2 * 8 * 8 * 8 * 4 * 4),
        ("4", "Flatten", (2, 1024), 0, 0),
        ("5", "Linear", (2, 10), 1024 * 10 + 10, 2 * 1024 * 10),
    ]
    assert result.total_params == sum(p.numel() for p in model.parameters())
    assert result.total_macs == sum(r[4] for r in rows)
    assert "Total MACs: " + f"{result.total_macs:,}" in printed
    assert model.training and all(m.training for m in model.modules())     # mode restored
    assert all("forward" not in m.__dict__ for m in model.modules())         # wrappers removed


def test_conv1d_macs_and_trainable_count():
    model = nn.Sequential(nn.Conv1d(4, 6, 3, groups=2), nn.Linear(8, 5))
    model[1].bias.requires_grad_(False)
    result = summary(model, (1, 4, 10), verbose=False)
    assert result.layers[0].macs == 6 * 8 * 2 * 3
    assert result.layers[1].macs == 6 * 8 * 5
    assert result.trainable_params == result.total_params - 5


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 1)
        self.b = nn.Conv2d(4, 3, 1)
        self.scale = minicnn.nn.Parameter(np.ones(1, dtype=np.float32))   # a parameter held directly

    def forward(self, x, g):
        return (self.a(x) + self.b(g)) * self.scale


def test_several_inputs_and_modules_holding_parameters():
    result = summary(TwoInputs(), [(1, 2, 5, 5), (1, 4, 5, 5)], verbose=False)
    names = [r.name for r in result.layers]
    assert names == ["a", "b", "TwoInputs"]          # children first (they return first), then the root
    assert result.layers[-1].params == 1
    assert result.total_macs == 5 * 5 * 3 * 2 + 5 * 5 * 3 * 4
    assert result.input_shape == ((1, 2, 5, 5), (1, 4, 5, 5))


def test_no_graph_is_built_and_errors_leave_the_model_clean():
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    summary(model, (1, 1, 4, 4), verbose=False)
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="conv2d"):
        summary(model, (1, 3, 4, 4), verbose=False)      # wrong channel count
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_count_macs_of_other_layers_is_zero():
    assert count_macs(nn.ReLU(), (minicnn.zeros(1, 2),), minicnn.zeros(1, 2)) == 0
