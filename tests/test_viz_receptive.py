"""Receptive fields: the effective field's support against the analytic (theoretical) field."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
from minicnn import models, nn, viz
from minicnn.models.context import CONTEXT_DILATIONS, CONTEXT_KERNELS, receptive_field


def _positive_(model, seed=0):
    """Positive weights and biases: no path can cancel another, so the support is the whole field."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = p.xp.asarray(rng.uniform(0.1, 1.0, p.shape))
    return model


def _stack(dilations, kernel=3):
    layers = []
    for d in dilations:
        layers += [nn.Conv2d(1, 1, kernel, padding=d * (kernel // 2), dilation=d), nn.ReLU()]
    return nn.Sequential(*layers).to("float64")


def _positive_inputs(shape, seed=1):
    return np.random.default_rng(seed).uniform(0.5, 1.0, shape)


@pytest.mark.parametrize("dilations", [(1,), (1, 1, 1, 1), (1, 2, 4), CONTEXT_DILATIONS[:-1]])
def test_stack_of_convolutions_support_equals_the_recursion(dilations):
    model = _positive_(_stack(dilations))
    size = 71
    box = viz.theoretical_receptive_field(model, (1, 1, size, size))
    expected = receptive_field([3] * len(dilations), dilations)[-1]      # 3, 9, 15, 65
    assert viz.field_size(box) == (expected, expected)
    erf = viz.effective_receptive_field(model, inputs=_positive_inputs((2, 1, size, size)))
    assert viz.support_size(erf) == (expected, expected)
    rows, cols = np.nonzero(erf)
    assert (rows.min(), rows.max()) == box[0] and (cols.min(), cols.max()) == box[1]


layer_specs = st.lists(st.tuples(st.sampled_from([1, 2, 3, 5]), st.integers(1, 3), st.integers(1, 2)),
                       min_size=1, max_size=4)


@given(layers=layer_specs, pooling=st.booleans())
def test_any_chain_of_convolutions_and_pools_matches_the_recursion_and_the_measured_support(layers, pooling):
    # Unpadded layers, so the centre output's field lies inside the image; positive weights, so
    # the support of its gradient is the whole field.
    modules = []
    for k, d, s in layers:
        modules.append(nn.Conv2d(1, 1, k, stride=s, dilation=d))
    if pooling:
        modules.append(nn.AvgPool2d(2))
        layers = layers + [(2, 1, 2)]
    model = _positive_(nn.Sequential(*modules).to("float64"))
    kernels, dilations, strides = zip(*layers)
    r = receptive_field(kernels, dilations, strides)[-1]
    jump = int(np.prod(strides))
    size = r + 2 * jump                                   # an output of 3 x 3: the centre is (1, 1)
    box = viz.theoretical_receptive_field(model, (1, 1, size, size))
    assert viz.field_size(box) == (r, r)
    erf = viz.effective_receptive_field(model, inputs=_positive_inputs((1, 1, size, size)))
    assert viz.support_size(erf) == (r, r)
    rows, cols = np.nonzero(erf)
    assert (rows.min(), rows.max()) == box[0] and (cols.min(), cols.max()) == box[1]


def test_context_module_field_is_67():
    assert receptive_field(CONTEXT_KERNELS, CONTEXT_DILATIONS)[-1] == 67
    model = nn.Sequential(_stack(CONTEXT_DILATIONS[:-1]), nn.Conv2d(1, 1, 1).to("float64"))
    assert viz.field_size(viz.theoretical_receptive_field(model, (1, 1, 71, 71))) == (67, 67)


def test_strides_and_pooling_multiply_the_jump():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3))
    # r: 3, +1*1 = 4 (pool, j=2), +2*2 = 8 (j=4), +2*4 = 16
    assert receptive_field([3, 2, 3, 3], strides=[1, 2, 2, 1])[-1] == 16
    assert viz.field_size(viz.theoretical_receptive_field(model, (1, 1, 40, 40))) == (16, 16)


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("position", [None, (30, 31), (2, 5)])
def test_unet_support_equals_the_theoretical_field_at_every_position(upsampling, position):
    net = models.UNet(in_channels=1, num_classes=1, base_channels=2, depth=2, padding="same",
                      upsampling=upsampling).to("float64")
    net.pool = nn.AvgPool2d(2)      # max pooling sends the gradient to one pixel per window only
    _positive_(net)
    box = viz.theoretical_receptive_field(net, (1, 1, 64, 64), position=position)
    erf = viz.effective_receptive_field(net, inputs=_positive_inputs((2, 1, 64, 64)), position=position)
    rows, cols = np.nonzero(erf)
    assert ((rows.min(), rows.max()), (cols.min(), cols.max())) == box
    if position is None and upsampling == "transpose":
        # 1 + 2 + 2 (level 0) + 1 (pool) + 4 + 4 (level 1) + 2 + 8 + 8 (level 2) + 4 + 4 + 2 + 2 = 44
        assert viz.field_size(box) == (44, 44)


def test_unet_with_max_pooling_has_a_sparser_effective_field_inside_the_theoretical_one():
    net = models.UNet(in_channels=1, num_classes=1, base_channels=4, depth=2, padding="same").to("float64")
    box = viz.theoretical_receptive_field(net, (1, 1, 64, 64))
    erf = viz.effective_receptive_field(net, (1, 64, 64), samples=4)
    rows, cols = np.nonzero(erf)
    assert box[0][0] <= rows.min() and rows.max() <= box[0][1]
    assert box[1][0] <= cols.min() and cols.max() <= box[1][1]
    assert viz.effective_size(erf) < viz.field_size(box)[0]             # Luo et al.: a fraction of it


def test_effective_field_is_the_mean_absolute_gradient_of_the_centre_pixel():
    # One 3x3 convolution with weight w: d y[centre] / d x = w placed around the centre, for any x.
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).to("float64")
    erf = viz.effective_receptive_field(conv, (2, 7, 7), samples=3)
    expected = np.zeros((7, 7))
    # x[c] reaches the centre of every output channel o with weight w[o, c]: sum_c |sum_o w[o, c]|
    expected[2:5, 2:5] = np.abs(conv.weight.numpy().sum(axis=0)).sum(axis=0)
    np.testing.assert_allclose(erf, expected)


def test_effective_size_and_support():
    field = np.zeros((9, 9))
    field[4, 4] = 10.0
    field[3:6, 3:6] += 1.0
    assert viz.support_size(field) == (3, 3)
    assert viz.effective_size(field, share=0.5) == 1
    assert viz.effective_size(field, share=1.0) == 3
    assert viz.support_size(np.zeros((3, 3))) == (0, 0)
    assert viz.effective_size(np.zeros((3, 3))) == 0
    # Two off-centre blobs: the best 2x2 window holds 3 of 4 units, the best 3x3 all of them.
    field = np.zeros((6, 6))
    field[0, 0], field[0, 1], field[1, 1], field[2, 2] = 1.0, 1.0, 1.0, 1.0
    assert viz.effective_size(field, share=0.75) == 2 and viz.effective_size(field, share=1.0) == 3


def test_global_pooling_sees_everything_and_errors_are_clear():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1))
    assert viz.theoretical_receptive_field(net, (1, 1, 10, 10)) == ((0, 9), (0, 9))
    with pytest.raises(ValueError, match="must return a \\(N, C, H, W\\) map"):
        viz.effective_receptive_field(nn.Sequential(nn.Flatten()), (1, 4, 4))
    with pytest.raises(ValueError, match="outside the output"):
        viz.effective_receptive_field(nn.Conv2d(1, 1, 3), (1, 5, 5), position=(5, 0))
    with pytest.raises(ValueError, match="give input_shape"):
        viz.effective_receptive_field(nn.Conv2d(1, 1, 3))


def test_plot_draws_the_theoretical_box():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    erf = viz.effective_receptive_field(conv, (1, 9, 9))
    box = viz.theoretical_receptive_field(conv, (1, 1, 9, 9))
    fig = viz.plot_receptive_fields({"conv": erf}, {"conv": box})
    rect = fig.axes[0].patches[0]
    assert (rect.get_x(), rect.get_y(), rect.get_width(), rect.get_height()) == (2.5, 2.5, 3, 3)


def test_receptive_fields_on_every_backend(backend):
    model = _positive_(_stack((1, 2)))
    erf = viz.effective_receptive_field(model, inputs=_positive_inputs((1, 1, 15, 15)))
    assert isinstance(erf, np.ndarray) and viz.support_size(erf) == (7, 7)
    assert viz.field_size(viz.theoretical_receptive_field(model, (1, 1, 15, 15))) == (7, 7)
