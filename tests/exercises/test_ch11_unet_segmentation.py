"""Graded tests of notebook 11 (exercises/ch11_unet_segmentation.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, assert_same_as, constants, graded, prepared, rng, t64
from minicnn import metrics, nn
from minicnn.backend import backend_of_array, to_backend
from minicnn.data import make_cells, unet_weight_map
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch11_unet_segmentation"


@pytest.fixture
def ch11(load):
    return load(MODULE)


def _gate_weights(fl, fg, fi, seed):
    r = rng(seed)
    return [r.normal(0, 0.7, s) for s in ((fi, fl), (fi, fg), (fi,), (1, fi), (1,))]


def _torch_gate(torch):
    def gate(x, g, w_x, w_g, b_g, psi, b_psi):
        n, _, h, w = x.shape
        hidden = torch.relu(w_x @ x.reshape(n, -1, h * w) + w_g @ g.reshape(n, -1, h * w) + b_g[:, None])
        alpha = torch.sigmoid(psi @ hidden + b_psi[:, None]).reshape(n, 1, h, w)
        return alpha * x
    return gate


# --------------------------------------------------------------------------- 11.1 attention gate
@pytest.mark.ex11_1
@graded(max_examples=5)
@given(data=st.data(), fl=st.integers(1, 3), fg=st.integers(1, 3), fi=st.integers(1, 3),
       seed=st.integers(0, 100))
def test_attention_gate_matches_torch_and_gradcheck(ch11, torch, data, fl, fg, fi, seed):
    h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    x, g = data.draw(arrays((2, fl, h, w))), data.draw(arrays((2, fg, h, w)))
    weights = _gate_weights(fl, fg, fi, seed)

    def gated(*tensors):
        return ch11.attention_gate(*tensors)[0]

    assert_parity(gated, _torch_gate(torch), [x, g, *weights])
    gradcheck(gated, *(t64(a) for a in [x, g, *weights]))


@pytest.mark.ex11_1
def test_attention_gate_matches_minicnn_module(ch11):
    fl, fg, fi = 4, 6, 2
    x, g = rng(1).normal(size=(2, fl, 3, 5)), rng(2).normal(size=(2, fg, 3, 5))
    w_x, w_g, b_g, psi, b_psi = _gate_weights(fl, fg, fi, 3)
    module = prepared(nn.AttentionGate(fl, fg, fi, sub_sample_factor=1), {
        "theta.weight": w_x[:, :, None, None], "phi.weight": w_g[:, :, None, None], "phi.bias": b_g,
        "psi.weight": psi[:, :, None, None], "psi.bias": b_psi})
    weights = constants(w_x, w_g, b_g, psi, b_psi)
    assert_same_as(lambda a, b: ch11.attention_gate(a, b, *weights)[0], module, [x, g])
    y, alpha = ch11.attention_gate(t64(x), t64(g), *weights)
    assert tuple(alpha.shape) == (2, 1, 3, 5), f"alpha has shape {alpha.shape}, expected (2, 1, 3, 5)"
    assert_close(alpha, module.attention_map, what="alpha")


# --------------------------------------------------------------------------- 11.2 weight map
def _brute_force_weight_map(mask, instances, num_classes, w0, sigma):
    """Distances to every cell by brute force over all pixel pairs (slow but obvious)."""
    counts = np.bincount(mask.ravel(), minlength=num_classes)
    present = counts > 0
    wc = np.zeros(num_classes)
    wc[present] = mask.size / (present.sum() * counts[present])
    weight = wc[mask].astype(np.float64)
    ids = [i for i in np.unique(instances) if i > 0]
    if len(ids) < 2:
        return weight
    rows, cols = np.indices(mask.shape)
    points = np.stack([rows.ravel(), cols.ravel()], axis=1)
    dist = []
    for i in ids:
        cell = points[instances.ravel() == i]
        dist.append(np.sqrt(((points[:, None, :] - cell[None, :, :]) ** 2).sum(-1)).min(axis=1))
    dist = np.sort(np.stack(dist), axis=0)
    border = w0 * np.exp(-(dist[0] + dist[1]) ** 2 / (2 * sigma ** 2)).reshape(mask.shape)
    return weight + np.where(instances == 0, border, 0.0)


@pytest.mark.ex11_2
def test_weight_map_matches_minicnn_on_generated_cells(ch11):
    cells = make_cells(2, size=24, seed=3)
    for mask, instances in zip(cells.masks, cells.instances):
        ours = ch11.unet_weight_map(mask, instances)
        assert ours.dtype == np.float32 and ours.shape == mask.shape
        assert_close(ours, unet_weight_map(mask, instances), rtol=1e-6, atol=1e-6)


@pytest.mark.ex11_2
@graded(max_examples=8)
@given(seed=st.integers(0, 10**6), n_cells=st.integers(0, 4), w0=st.sampled_from([10.0, 3.0]),
       sigma=st.sampled_from([5.0, 2.0]))
def test_weight_map_by_brute_force(ch11, seed, n_cells, w0, sigma):
    r = np.random.default_rng(seed)
    instances = np.zeros((9, 10), dtype=np.int64)
    for i in range(1, n_cells + 1):   # rectangles, possibly overlapping (later ones win)
        top, left = r.integers(0, 8), r.integers(0, 9)
        instances[top:top + r.integers(1, 4), left:left + r.integers(1, 4)] = i
    mask = (instances > 0).astype(np.int64)
    expected = _brute_force_weight_map(mask, instances, 2, w0, sigma)
    assert_close(ch11.unet_weight_map(mask, instances, 2, w0, sigma), expected, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- 11.3 and 11.4: data
@st.composite
def segmentations(draw):
    num_classes = draw(st.integers(2, 5))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    target = rng.integers(0, num_classes, size=shape)
    # a prediction that is mostly right, so that the scores are not all near chance
    pred = np.where(rng.uniform(size=shape) < 0.6, target, rng.integers(0, num_classes, size=shape))
    return pred, target, num_classes


# --------------------------------------------------------------------------- 11.3 confusion matrix
@pytest.mark.ex11_3
@graded(max_examples=20)
@given(case=segmentations())
def test_confusion_matrix_matches_sklearn_and_minicnn(ch11, case):
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix
    pred, target, k = case
    cm = ch11.confusion_matrix(pred, target, k)
    assert cm.shape == (k, k)
    assert_close(cm, sk_confusion_matrix(target.ravel(), pred.ravel(), labels=list(range(k))),
                 what="confusion matrix (rows: true class, columns: prediction)")
    assert_close(cm, metrics.confusion_matrix(pred, target, k))


@pytest.mark.ex11_3
def test_confusion_matrix_strict_backend_and_shape_check(ch11):
    target = np.array([[0, 1], [2, 2]])
    pred = np.array([[0, 2], [2, 1]])
    cm = ch11.confusion_matrix(to_backend(pred, "strict"), to_backend(target, "strict"), 3)
    assert backend_of_array(cm) == "strict", "count on the labels' backend (xp.bincount)"
    assert_close(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    # Shapes that differ must raise, also when the flattened arrays would still combine: the same
    # number of pixels in another layout, or one label that broadcasts silently.
    for bad_target in (target[:1], target.reshape(4), target.reshape(1, 4), target[:1, :1].reshape(1)):
        try:
            ch11.confusion_matrix(pred, bad_target, 3)
        except ValueError:
            continue
        raise AssertionError(f"confusion_matrix: prediction of shape {pred.shape} and target of shape "
                             f"{bad_target.shape} must raise ValueError (the shapes differ), got a result")


# --------------------------------------------------------------------------- 11.4 scores
@pytest.mark.ex11_4
@graded(max_examples=20)
@given(case=segmentations())
def test_scores_match_minicnn(ch11, case):
    pred, target, k = case
    cm = metrics.confusion_matrix(pred, target, k)
    expected = metrics.scores_from_confusion_matrix(cm)
    assert np.isclose(ch11.pixel_accuracy(cm), expected["pixel_accuracy"], rtol=1e-12)
    assert np.isclose(ch11.mean_iu(cm), expected["mean_iu"], rtol=1e-12)


@pytest.mark.ex11_4
def test_scores_by_hand_with_an_absent_class(ch11):
    # 3 classes; class 2 appears neither in the target nor in the prediction.
    cm = np.array([[3, 1, 0],
                   [2, 4, 0],
                   [0, 0, 0]])
    assert np.isclose(ch11.pixel_accuracy(cm), 7 / 10)
    iu0, iu1 = 3 / (4 + 5 - 3), 4 / (6 + 5 - 4)
    assert np.isclose(ch11.mean_iu(cm), (iu0 + iu1) / 2), "leave classes with IU 0/0 out of the mean"
    # a class that is predicted but absent from the target has IU 0 and counts
    cm = np.array([[2, 1], [0, 0]])
    assert np.isclose(ch11.mean_iu(cm), (2 / 3 + 0) / 2)
