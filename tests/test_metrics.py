"""glassnet.metrics: accuracy, the confusion matrix and per-class results, checked by hand."""

import numpy as np
import pytest

from glassnet import metrics


def test_accuracy_is_the_share_of_right_answers():
    assert metrics.accuracy([0, 1, 1, 2], [0, 0, 1, 2]) == 0.75
    assert metrics.accuracy(np.array([3]), np.array([3])) == 1.0
    assert isinstance(metrics.accuracy([0], [1]), float)


def test_confusion_matrix_rows_are_true_columns_predicted():
    C = metrics.confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    assert C.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert C.dtype == np.int64
    assert C.sum() == 6 and np.trace(C) == 4


def test_confusion_matrix_n_classes_pads_and_checks():
    assert metrics.confusion_matrix([0], [0], n_classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match=r"expected labels in \[0, 1\] for n_classes=2, received a label 2"):
        metrics.confusion_matrix([0, 2], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="n_classes expected a positive int, received 0"):
        metrics.confusion_matrix([0], [0], n_classes=0)
    with pytest.raises(TypeError, match="n_classes expected a positive int, received float 2.0"):
        metrics.confusion_matrix([0], [0], n_classes=2.0)


def test_per_class_support_correct_recall_precision():
    rows = metrics.per_class([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], n_classes=4)
    assert [r["class"] for r in rows] == [0, 1, 2, 3]
    assert [r["support"] for r in rows] == [2, 1, 3, 0]
    assert [r["correct"] for r in rows] == [1, 1, 2, 0]
    assert [r["recall"] for r in rows] == [0.5, 1.0, 2 / 3, None]
    assert [r["accuracy"] for r in rows] == [r["recall"] for r in rows]
    assert [r["precision"] for r in rows] == [0.5, 0.5, 1.0, None]


def test_metrics_agree_with_each_other():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    C = metrics.confusion_matrix(y_true, y_pred)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(np.trace(C) / C.sum())
    assert sum(r["correct"] for r in metrics.per_class(y_true, y_pred)) == np.trace(C)


def test_whole_floats_are_labels():
    assert metrics.confusion_matrix([0.0, 1.0], [1, 1]).tolist() == [[0, 1], [0, 1]]


@pytest.mark.parametrize("y_true, y_pred, error, message", [
    ([0, 1], [0], ValueError, "y_true and y_pred expected the same length, received 2 and 1"),
    ([0, -1], [0, 1], ValueError, "y_true expected class labels >= 0, received -1"),
    ([0, 1], [0, -3], ValueError, "y_pred expected class labels >= 0, received -3"),
    ([0.5, 1.0], [0, 1], ValueError, "y_true expected integer class labels, received non-integer values such as 0.5"),
    ([], [], ValueError, "y_true expected a non-empty 1-D array of integer class labels"),
    ([[0, 1]], [[0, 1]], ValueError, r"received shape \(1, 2\)"),
    (["a"], ["a"], ValueError, "integer class labels, received shape"),
    (3, 3, ValueError, "received int 3"),
])
def test_bad_labels_are_named(y_true, y_pred, error, message):
    for metric in (metrics.accuracy, metrics.confusion_matrix, metrics.per_class):
        with pytest.raises(error, match=message):
            metric(y_true, y_pred)
