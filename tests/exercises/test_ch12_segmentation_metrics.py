"""Graded tests of notebook 12 (exercises/ch12_segmentation_metrics.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, graded
from minicnn import metrics
from minicnn.backend import backend_of_array, to_backend

MODULE = "ch12_segmentation_metrics"


@pytest.fixture
def ch12(load):
    return load(MODULE)


@st.composite
def segmentations(draw):
    num_classes = draw(st.integers(2, 5))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    target = rng.integers(0, num_classes, size=shape)
    # a prediction that is mostly right, so that the scores are not all near chance
    pred = np.where(rng.uniform(size=shape) < 0.6, target, rng.integers(0, num_classes, size=shape))
    return pred, target, num_classes


# --------------------------------------------------------------------------- 12.1 confusion matrix
@pytest.mark.ex12_1
@graded(max_examples=20)
@given(case=segmentations())
def test_confusion_matrix_matches_sklearn_and_minicnn(ch12, case):
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix
    pred, target, k = case
    cm = ch12.confusion_matrix(pred, target, k)
    assert cm.shape == (k, k)
    assert_close(cm, sk_confusion_matrix(target.ravel(), pred.ravel(), labels=list(range(k))),
                 what="confusion matrix (rows: true class, columns: prediction)")
    assert_close(cm, metrics.confusion_matrix(pred, target, k))


@pytest.mark.ex12_1
def test_confusion_matrix_strict_backend_and_shape_check(ch12):
    target = np.array([[0, 1], [2, 2]])
    pred = np.array([[0, 2], [2, 1]])
    cm = ch12.confusion_matrix(to_backend(pred, "strict"), to_backend(target, "strict"), 3)
    assert backend_of_array(cm) == "strict", "count on the labels' backend (xp.bincount)"
    assert_close(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    with pytest.raises(ValueError):
        ch12.confusion_matrix(pred, target[:1], 3)


# --------------------------------------------------------------------------- 12.2 scores
@pytest.mark.ex12_2
@graded(max_examples=20)
@given(case=segmentations())
def test_scores_match_minicnn(ch12, case):
    pred, target, k = case
    cm = metrics.confusion_matrix(pred, target, k)
    expected = metrics.scores_from_confusion_matrix(cm)
    assert np.isclose(ch12.pixel_accuracy(cm), expected["pixel_accuracy"], rtol=1e-12)
    assert np.isclose(ch12.mean_iu(cm), expected["mean_iu"], rtol=1e-12)


@pytest.mark.ex12_2
def test_scores_by_hand_with_an_absent_class(ch12):
    # 3 classes; class 2 appears neither in the target nor in the prediction.
    cm = np.array([[3, 1, 0],
                   [2, 4, 0],
                   [0, 0, 0]])
    assert np.isclose(ch12.pixel_accuracy(cm), 7 / 10)
    iu0, iu1 = 3 / (4 + 5 - 3), 4 / (6 + 5 - 4)
    assert np.isclose(ch12.mean_iu(cm), (iu0 + iu1) / 2), "leave classes with IU 0/0 out of the mean"
    # a class that is predicted but absent from the target has IU 0 and counts
    cm = np.array([[2, 1], [0, 0]])
    assert np.isclose(ch12.mean_iu(cm), (2 / 3 + 0) / 2)
