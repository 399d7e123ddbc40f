"""Metrics: the confusion matrix and the FCN segmentation scores, against hand values and the formulas."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

import minicnn
from minicnn.metrics import (confusion_matrix, scores_from_confusion_matrix, segmentation_scores,
                             top1_accuracy)

# A 3-class example small enough to count by hand.
TARGET = np.array([[0, 0, 1, 1],
                   [0, 0, 1, 2]])
PRED = np.array([[0, 1, 1, 1],
                 [0, 0, 2, 2]])
# n[i, j] = pixels of class i predicted as j:
#   class 0: 4 pixels, 3 -> 0, 1 -> 1;  class 1: 3 pixels, 2 -> 1, 1 -> 2;  class 2: 1 pixel -> 2
HAND_CM = np.array([[3, 1, 0],
                    [0, 2, 1],
                    [0, 0, 1]])


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(confusion_matrix(PRED, TARGET, 3), HAND_CM)


def test_segmentation_scores_by_hand():
    s = segmentation_scores(PRED, TARGET, 3)
    # t = (4, 3, 1); predicted = (3, 3, 2); n_ii = (3, 2, 1); unions = 4+3-3, 3+3-2, 1+2-1 = (4, 4, 2)
    assert s["pixel_accuracy"] == pytest.approx(6 / 8)
    assert s["mean_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 1 / 1) / 3)
    assert s["mean_iu"] == pytest.approx((3 / 4 + 2 / 4 + 1 / 2) / 3)
    assert s["fw_iu"] == pytest.approx((4 * 3 / 4 + 3 * 2 / 4 + 1 * 1 / 2) / 8)
    np.testing.assert_allclose(s["iou"], [3 / 4, 2 / 4, 1 / 2])
    np.testing.assert_allclose(s["dice"], [6 / 7, 4 / 6, 2 / 3])


def _direct_scores(pred, target, k):
    """The FCN definitions written out with loops over classes and pixels."""
    n = np.zeros((k, k))
    for i, j in zip(target.ravel(), pred.ravel()):
        n[i, j] += 1
    t = [sum(n[i, j] for j in range(k)) for i in range(k)]
    col = [sum(n[j, i] for j in range(k)) for i in range(k)]
    acc = [n[i, i] / t[i] for i in range(k) if t[i] > 0]
    iu = {i: n[i, i] / (t[i] + col[i] - n[i, i]) for i in range(k) if t[i] + col[i] > 0}
    return n, {
        "pixel_accuracy": sum(n[i, i] for i in range(k)) / sum(t),
        "mean_accuracy": sum(acc) / len(acc),
        "mean_iu": sum(iu.values()) / len(iu),
        "fw_iu": sum(t[i] * iu[i] for i in iu) / sum(t),
    }


@settings(max_examples=25)
@given(st.integers(2, 5).flatmap(lambda k: st.tuples(
    st.just(k), arrays(np.int64, (3, 7), elements=st.integers(0, k - 1)),
    arrays(np.int64, (3, 7), elements=st.integers(0, k - 1)))))
def test_scores_match_the_direct_formulas(case):
    k, pred, target = case
    n, want = _direct_scores(pred, target, k)
    np.testing.assert_array_equal(confusion_matrix(pred, target, k), n)
    got = segmentation_scores(pred, target, k)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_absent_classes_are_left_out_of_the_means():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    s = segmentation_scores(pred, target, num_classes=4)       # classes 2 and 3 appear nowhere
    assert np.isnan(s["iou"][2]) and np.isnan(s["iou"][3]) and np.isnan(s["dice"][3])
    assert s["mean_iu"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert s["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)
    # a class that is predicted but absent from the target has IU 0 and counts in the mean IU
    s = segmentation_scores(np.array([0, 2, 1, 1]), target, num_classes=3)
    assert s["iou"][2] == 0 and s["mean_iu"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert s["mean_accuracy"] == pytest.approx((1 / 2 + 1) / 2)   # no accuracy for a class with t_i = 0


def test_ignore_index_logits_and_tensors():
    target = np.array([[0, 1, 255], [1, 1, 0]])
    pred = np.array([[0, 1, 0], [1, 0, 0]])
    cm = confusion_matrix(pred, target, 2, ignore_index=255)
    np.testing.assert_array_equal(cm, [[2, 0], [1, 2]])
    logits = np.eye(2, dtype=np.float32)[pred].transpose(2, 0, 1)[None]        # (1, 2, 2, 3) scores
    cm_logits = confusion_matrix(minicnn.tensor(logits), minicnn.tensor(target[None]), 2, ignore_index=255)
    np.testing.assert_array_equal(cm_logits, cm)
    assert scores_from_confusion_matrix(cm)["pixel_accuracy"] == pytest.approx(4 / 5)


def test_confusion_matrix_runs_on_the_array_backend(backend):
    pred = minicnn.tensor(PRED)
    target = minicnn.tensor(TARGET)
    cm = confusion_matrix(pred, target, 3)
    assert minicnn.backend.backend_of_array(cm) == backend
    np.testing.assert_array_equal(minicnn.backend.to_numpy(cm), HAND_CM)
    assert segmentation_scores(pred, target, 3)["mean_iu"] == pytest.approx((3 / 4 + 2 / 4 + 1 / 2) / 3)
    assert top1_accuracy(pred, target) == pytest.approx(6 / 8)


def test_top1_accuracy_and_errors():
    logits = np.array([[0.1, 2.0, 0.3], [3.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 5.0, 0.0]])
    assert top1_accuracy(logits, np.array([1, 0, 0, 1])) == pytest.approx(3 / 4)
    assert top1_accuracy(np.array([2, 2]), np.array([2, 1])) == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="does not match"):
        segmentation_scores(np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64), 2)


def test_agrees_with_scikit_learn():
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix, jaccard_score
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, (2, 9, 9))
    pred = np.where(rng.random(target.shape) < 0.7, target, rng.integers(0, 4, target.shape))
    np.testing.assert_array_equal(confusion_matrix(pred, target, 4),
                                  sk_confusion_matrix(target.ravel(), pred.ravel(), labels=range(4)))
    np.testing.assert_allclose(segmentation_scores(pred, target, 4)["iou"],
                               jaccard_score(target.ravel(), pred.ravel(), average=None))
