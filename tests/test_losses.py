"""Losses: gradient checks on every backend, parity with torch.nn.functional, stability, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

SEEDS = st.integers(0, 2**32 - 1)
REDUCTIONS = ["mean", "sum", "none"]


def _targets(rng, shape, num_classes, ignore_index=None, ignored=0.25):
    t = rng.integers(0, num_classes, size=shape)
    if ignore_index is not None:
        t = np.where(rng.random(shape) < ignored, ignore_index, t)
        t.reshape(-1)[0] = (ignore_index + 1) % num_classes  # keep at least one element that counts
    return t.astype(np.int64)


def _t(a, dtype=torch.float64):
    return torch.tensor(a, dtype=dtype) if a is not None else None


# --------------------------------------------------------------------------- gradient checks (all backends)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [{}, {"weight": True}, {"ignore_index": 1},
                                     {"label_smoothing": 0.2, "weight": True, "ignore_index": 2},
                                     {"pixel_weight": True, "weight": True, "ignore_index": -100}])
@settings(max_examples=4)
@given(logits=arrays((3, 4, 2, 2), low=-3, high=3), seed=SEEDS)
def test_cross_entropy_gradcheck(backend, reduction, options, logits, seed):
    rng = np.random.default_rng(seed)
    ignore_index = options.get("ignore_index", -100)
    target = minicnn.tensor(_targets(rng, (3, 2, 2), 4, ignore_index if "ignore_index" in options else None))
    kwargs = dict(reduction=reduction, ignore_index=ignore_index,
                  label_smoothing=options.get("label_smoothing", 0.0))
    weight = minicnn.tensor(rng.uniform(0.5, 2.0, 4)) if options.get("weight") else None
    if options.get("pixel_weight"):
        kwargs["pixel_weight"] = minicnn.tensor(rng.uniform(0.5, 3.0, (3, 2, 2)))
    x = minicnn.tensor(logits, requires_grad=True)
    gradcheck(lambda x: F.cross_entropy(x, target, weight, **kwargs), x)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=5)
@given(logits=arrays((5, 3), low=-3, high=3), seed=SEEDS)
def test_nll_loss_and_probability_targets_gradcheck(backend, reduction, logits, seed):
    rng = np.random.default_rng(seed)
    target = minicnn.tensor(_targets(rng, (5,), 3, ignore_index=-100))
    x = minicnn.tensor(logits, requires_grad=True)
    gradcheck(lambda x: F.nll_loss(F.log_softmax(x, 1), target, reduction=reduction), x)
    probs = rng.dirichlet(np.ones(3), size=5)
    y = minicnn.tensor(probs, requires_grad=True)
    gradcheck(lambda x, y: F.cross_entropy(x, y, reduction=reduction, label_smoothing=0.1), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=5)
@given(logits=arrays((4, 3), low=-6, high=6), seed=SEEDS)
def test_bce_with_logits_gradcheck(backend, reduction, logits, seed):
    rng = np.random.default_rng(seed)
    x = minicnn.tensor(logits, requires_grad=True)
    y = minicnn.tensor(rng.uniform(0, 1, (4, 3)), requires_grad=True)
    weight = minicnn.tensor(rng.uniform(0.5, 2, (4, 3)))
    pos_weight = minicnn.tensor(rng.uniform(0.5, 3, (3,)))
    gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight, reduction=reduction,
                                                              pos_weight=pos_weight), x, y)
    gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=5)
@given(a=arrays((3, 4)), b=arrays((3, 4)))
def test_mse_loss_gradcheck(backend, reduction, a, b):
    x, y = minicnn.tensor(a, requires_grad=True), minicnn.tensor(b, requires_grad=True)
    gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), x, y)


@pytest.mark.parametrize("squared", [True, False])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@settings(max_examples=4)
@given(logits=arrays((2, 3, 3, 2), low=-2, high=2), seed=SEEDS)
def test_dice_loss_gradcheck(backend, squared, reduction, logits, seed):
    target = minicnn.tensor(_targets(np.random.default_rng(seed), (2, 3, 2), 3))
    x = minicnn.tensor(logits, requires_grad=True)
    gradcheck(lambda x: F.dice_loss(x, target, from_logits=True, squared=squared, reduction=reduction), x)
    probs = minicnn.tensor(np.random.default_rng(seed).uniform(0.05, 0.95, (2, 3, 3, 2)), requires_grad=True)
    gradcheck(lambda p: F.dice_loss(p, target, smooth=0.5, squared=squared, reduction=reduction), probs)


# --------------------------------------------------------------------------- parity with torch
DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 3, 2), (2, 3, 4), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.15])
def test_cross_entropy_matches_torch(dtype, reduction, shape, weighted, ignore_index, label_smoothing):
    rng = np.random.default_rng(sum(shape) + abs(ignore_index))
    logits = rng.normal(0, 2, shape)
    target = _targets(rng, shape[:1] + shape[2:], shape[1], ignore_index)
    weight = rng.uniform(0.3, 3.0, shape[1]).astype(dtype) if weighted else None
    tdtype = getattr(torch, np.dtype(dtype).name)
    assert_parity(
        lambda x, t: F.cross_entropy(x, t, weight, ignore_index=ignore_index, reduction=reduction,
                                     label_smoothing=label_smoothing),
        lambda x, t: TF.cross_entropy(x, t, _t(weight, tdtype), ignore_index=ignore_index,
                                      reduction=reduction, label_smoothing=label_smoothing),
        [logits, target], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(dtype, reduction, weighted, label_smoothing):
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 2, (3, 4, 2, 2))
    probs = np.moveaxis(rng.dirichlet(np.ones(4), size=(3, 2, 2)), -1, 1)
    weight = rng.uniform(0.3, 3.0, 4) if weighted else None
    tdtype = getattr(torch, np.dtype(dtype).name)
    assert_parity(
        lambda x, y: F.cross_entropy(x, y, weight, reduction=reduction, label_smoothing=label_smoothing),
        lambda x, y: TF.cross_entropy(x, y, _t(weight, tdtype), reduction=reduction,
                                      label_smoothing=label_smoothing),
        [logits, probs], dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_one_unbatched_sample_matches_torch(reduction):
    logits = np.random.default_rng(0).normal(size=5)
    assert_parity(lambda x, t: F.cross_entropy(x, t, reduction=reduction),
                  lambda x, t: TF.cross_entropy(x, t, reduction=reduction),
                  [logits, np.array(3)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_pixel_weight_map_matches_torch_formula(dtype, reduction, weighted, label_smoothing):
    """U-Net's weighted loss: l_i = -pw_i w[t_i] log p_{t_i}, mean = sum l_i / sum pw_i w[t_i]."""
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (2, 3, 4, 4))
    target = _targets(rng, (2, 4, 4), 3, ignore_index=-100)
    pixel_weight = rng.uniform(1.0, 11.0, (2, 4, 4))
    weight = rng.uniform(0.5, 2.0, 3) if weighted else None
    tdtype = getattr(torch, np.dtype(dtype).name)

    def torch_formula(x, t):
        logp = TF.log_softmax(x, dim=1)
        kept = (t != -100).to(tdtype) * _t(pixel_weight, tdtype)
        safe = t.clamp_min(0)
        cw = _t(weight, tdtype) if weighted else torch.ones(3, dtype=tdtype)
        w = kept * cw[safe]
        nll = -w * logp.gather(1, safe.unsqueeze(1)).squeeze(1)
        smooth = -(logp * cw.view(1, 3, 1, 1)).sum(1) * kept
        eps = label_smoothing
        if reduction == "none":
            return (1 - eps) * nll + eps / 3 * smooth
        if reduction == "sum":
            return (1 - eps) * nll.sum() + eps / 3 * smooth.sum()
        return ((1 - eps) * nll.sum() + eps / 3 * smooth.sum()) / w.sum()

    assert_parity(
        lambda x, t: F.cross_entropy(x, t, weight, reduction=reduction, label_smoothing=label_smoothing,
                                     pixel_weight=pixel_weight.astype(dtype)),
        torch_formula, [logits, target], dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pixel_weight_of_class_weights_equals_weight(reduction):
    """The documented normalisation: pixel_weight = weight[target] gives exactly torch's weight=."""
    rng = np.random.default_rng(11)
    logits = minicnn.tensor(rng.normal(size=(3, 4, 5, 5)))
    target = _targets(rng, (3, 5, 5), 4)
    weight = rng.uniform(0.2, 5.0, 4)
    a = F.cross_entropy(logits, minicnn.tensor(target), weight, reduction=reduction)
    b = F.cross_entropy(logits, minicnn.tensor(target), reduction=reduction, pixel_weight=weight[target])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    # and a sum with pixel weights is the paper's energy E = -sum_x w(x) log p_{l(x)}(x)
    logp = F.log_softmax(logits, 1).numpy()
    energy = -(weight[target] * np.take_along_axis(logp, target[:, None], 1)[:, 0]).sum()
    s = F.cross_entropy(logits, minicnn.tensor(target), reduction="sum", pixel_weight=weight[target])
    np.testing.assert_allclose(s.item(), energy, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 2, 3)])
def test_nll_loss_matches_torch(dtype, reduction, weighted, shape):
    rng = np.random.default_rng(5)
    logp = np.log(rng.dirichlet(np.ones(shape[1]), size=(shape[0],) + shape[2:]))
    logp = np.moveaxis(logp, -1, 1)
    target = _targets(rng, shape[:1] + shape[2:], shape[1], ignore_index=0)
    weight = rng.uniform(0.5, 2.0, shape[1]) if weighted else None
    tdtype = getattr(torch, np.dtype(dtype).name)
    assert_parity(lambda x, t: F.nll_loss(x, t, weight, ignore_index=0, reduction=reduction),
                  lambda x, t: TF.nll_loss(x, t, _t(weight, tdtype), ignore_index=0, reduction=reduction),
                  [logp, target], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_matches_torch(dtype, reduction, weighted, pos_weighted):
    rng = np.random.default_rng(2)
    x = rng.normal(0, 4, (4, 3, 2))
    x[0, 0, 0], x[0, 1, 0], x[1, 0, 1] = 0.0, 60.0, -60.0  # the kink of max/abs and far tails
    y = rng.uniform(0, 1, (4, 3, 2))
    y[0, 0, 1] = 1.0
    weight = rng.uniform(0.5, 2.0, (3, 1)) if weighted else None
    pos_weight = rng.uniform(0.5, 4.0, (3, 2)) if pos_weighted else None
    tdtype = getattr(torch, np.dtype(dtype).name)
    assert_parity(
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, weight, reduction=reduction,
                                                        pos_weight=pos_weight),
        lambda x, y: TF.binary_cross_entropy_with_logits(x, y, _t(weight, tdtype), reduction=reduction,
                                                         pos_weight=_t(pos_weight, tdtype)),
        [x, y], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(dtype, reduction):
    rng = np.random.default_rng(4)
    assert_parity(lambda x, y: F.mse_loss(x, y, reduction=reduction),
                  lambda x, y: TF.mse_loss(x, y, reduction=reduction),
                  [rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))], dtype=dtype)


def _torch_dice(x, t, smooth, from_logits, squared, reduction):
    """The V-Net soft Dice written directly in torch (the reference)."""
    p = torch.softmax(x, 1) if from_logits else x
    g = TF.one_hot(t, x.shape[1]).movedim(-1, 1).to(x.dtype)
    dims = (0,) + tuple(range(2, x.ndim))
    inter = (p * g).sum(dims)
    den = (p * p).sum(dims) + (g * g).sum(dims) if squared else p.sum(dims) + g.sum(dims)
    loss = 1 - (2 * inter + smooth) / (den + smooth)
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("squared", [True, False])
def test_dice_loss_matches_torch_formula(dtype, reduction, from_logits, squared):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 4, 4)) if from_logits else rng.uniform(0, 1, (2, 3, 4, 4))
    target = _targets(rng, (2, 4, 4), 3)
    target[target == 2] = 1  # class 2 absent from the target: D_2 relies on the smooth term
    assert_parity(
        lambda x, t: F.dice_loss(x, t, smooth=1.0, from_logits=from_logits, squared=squared,
                                 reduction=reduction),
        lambda x, t: _torch_dice(x, t, 1.0, from_logits, squared, reduction),
        [x, target], dtype=dtype)


def test_dice_loss_is_zero_for_a_perfect_prediction_and_large_for_a_wrong_one():
    target = np.random.default_rng(0).integers(0, 3, (2, 5, 5))
    perfect = np.moveaxis(np.eye(3)[target], -1, 1)
    target_t = minicnn.tensor(target)
    assert F.dice_loss(minicnn.tensor(perfect), target_t, smooth=0.0).item() == pytest.approx(0.0)
    wrong = np.moveaxis(np.eye(3)[(target + 1) % 3], -1, 1)
    assert F.dice_loss(minicnn.tensor(wrong), target_t, smooth=1e-6).item() == pytest.approx(1.0)


# --------------------------------------------------------------------------- numerical stability
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_all_targets_ignored_gives_nan_and_zero_gradient_as_torch(label_smoothing):
    x, t = np.random.default_rng(1).normal(size=(3, 4)), np.array([1, 1, 1])
    ours, _ = assert_parity(
        lambda x, t: F.cross_entropy(x, t, ignore_index=1, label_smoothing=label_smoothing),
        lambda x, t: TF.cross_entropy(x, t, ignore_index=1, label_smoothing=label_smoothing), [x, t])
    assert np.isnan(ours.item())


def test_cross_entropy_is_finite_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]])
    t = np.array([1, 1])
    assert_parity(lambda x, t: F.cross_entropy(x, t), lambda x, t: TF.cross_entropy(x, t), [x, t])
    assert F.cross_entropy(minicnn.tensor(x), minicnn.tensor(t)).item() == pytest.approx(1e4)


def test_bce_with_logits_is_finite_for_huge_logits():
    x = np.array([1e4, -1e4, 800.0, -800.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    out = F.binary_cross_entropy_with_logits(minicnn.tensor(x), minicnn.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(out, [1e4, 1e4, 0.0, 0.0], atol=1e-300)
    assert_parity(lambda x, y: F.binary_cross_entropy_with_logits(x, y),
                  lambda x, y: TF.binary_cross_entropy_with_logits(x, y), [x, y])


def test_bce_gradient_at_zero_is_exact():
    """At x = 0 the derivative is sigma(0) - y = 0.5 - y (a max/abs composition would give -y)."""
    x = minicnn.tensor(np.zeros(3), requires_grad=True)
    y = minicnn.tensor(np.array([0.0, 0.3, 1.0]))
    F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.2, -0.5])


def test_losses_keep_float32():
    x = minicnn.tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    t = minicnn.tensor(np.array([0, 1, 2, 1]))
    for loss in (F.cross_entropy(x, t), F.mse_loss(x, x.detach() * 2), F.dice_loss(x, t, from_logits=True),
                 F.binary_cross_entropy_with_logits(x, minicnn.tensor(np.ones((4, 3), np.float32)))):
        assert loss.dtype == np.float32
        loss.backward()
        assert x.grad.dtype == np.float32


# --------------------------------------------------------------------------- clear errors
def test_bad_inputs_raise_clear_errors():
    x = minicnn.tensor(np.zeros((2, 3, 4, 4)))
    good = minicnn.tensor(np.zeros((2, 4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy.*target of shape \(2, 4, 4\)"):
        F.cross_entropy(x, minicnn.tensor(np.zeros((2, 3, 4), dtype=np.int64)))
    with pytest.raises(IndexError, match=r"cross_entropy.*outside \[0, 2\]"):
        F.cross_entropy(x, minicnn.tensor(np.full((2, 4, 4), 3)))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, good, reduction="average")
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, good, np.ones(4))
    with pytest.raises(ValueError, match="pixel_weight must have the target's shape"):
        F.cross_entropy(x, good, pixel_weight=np.ones((2, 4)))
    with pytest.raises(ValueError, match="class probabilities"):
        F.cross_entropy(x, minicnn.tensor(np.zeros((2, 4, 4))))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, minicnn.tensor(np.zeros((2, 4, 4))))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, good, label_smoothing=1.5)
    with pytest.raises(ValueError, match="Target size"):
        F.binary_cross_entropy_with_logits(x, minicnn.tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, x.detach(), pos_weight=np.ones(5))
    with pytest.raises(IndexError, match="dice_loss"):
        F.dice_loss(x, minicnn.tensor(np.full((2, 4, 4), 7)))
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(x, minicnn.tensor(np.zeros((4,))))


def test_tensors_on_different_backends_are_refused():
    x = minicnn.tensor(np.zeros((2, 3)), requires_grad=True)
    with minicnn.backend.use_backend("strict"):
        target = minicnn.tensor(np.array([0, 1]))
        weight = minicnn.tensor(np.ones(3))
    with pytest.raises(minicnn.backend.BackendError, match="target is a strict tensor"):
        F.cross_entropy(x, target)
    with pytest.raises(minicnn.backend.BackendError, match="weight is a strict tensor"):
        F.cross_entropy(x, minicnn.tensor(np.array([0, 1])), weight)


# --------------------------------------------------------------------------- loss modules
def test_loss_modules_match_functions_and_torch_modules():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 3, 2, 2))
    t = _targets(rng, (4, 2, 2), 3, ignore_index=1)
    w = rng.uniform(0.5, 2, 3)
    ours = nn.CrossEntropyLoss(weight=minicnn.tensor(w), ignore_index=1, label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=1, label_smoothing=0.1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert_parity(ours, theirs, [x, t])
    assert_parity(nn.NLLLoss(reduction="sum"), torch.nn.NLLLoss(reduction="sum"),
                  [np.log(rng.dirichlet(np.ones(3), 4)), np.array([0, 2, 1, 1])])
    pw = rng.uniform(0.5, 2, 3)
    ours = nn.BCEWithLogitsLoss(pos_weight=minicnn.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]
    assert_parity(ours, theirs, [rng.normal(size=(4, 3)), rng.uniform(0, 1, (4, 3))])
    assert_parity(nn.MSELoss(), torch.nn.MSELoss(), [rng.normal(size=(5,)), rng.normal(size=(5,))])
    dice = nn.DiceLoss(from_logits=True)
    xt = minicnn.tensor(x)
    assert dice(xt, minicnn.tensor(np.abs(t))).item() == \
        F.dice_loss(xt, minicnn.tensor(np.abs(t)), from_logits=True).item()
    pixel = rng.uniform(1, 5, (4, 2, 2))
    crit = nn.CrossEntropyLoss()
    assert crit(xt, minicnn.tensor(np.abs(t)), pixel_weight=pixel).item() == \
        F.cross_entropy(xt, minicnn.tensor(np.abs(t)), pixel_weight=pixel).item()
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == \
        "CrossEntropyLoss(ignore_index=-100, reduction='mean', label_smoothing=0.1)"
    assert "from_logits=True" in repr(dice)
