import numpy as np

import glassnet as gn
from glassnet.datasets.digits import TEST_EVERY

FIRST_TRAIN_LABELS = [2, 9, 0, 8, 4, 6, 4, 5, 8, 4]
FIRST_TEST_LABELS = [4, 0, 0, 8, 8, 1, 6, 3, 9, 9]


def test_split_is_fixed_stratified_and_disjoint():
    data = gn.datasets.load_digits()
    assert data.X_train.shape == (8004, 784) and data.X_test.shape == (1996, 784)
    assert data.X_train.dtype == np.float32 and 0 <= data.X_train.min() and data.X_train.max() <= 1
    per_class_total = np.bincount(np.concatenate([data.y_train, data.y_test]), minlength=10)
    np.testing.assert_array_equal(per_class_total, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])
    np.testing.assert_array_equal(np.bincount(data.y_test, minlength=10), per_class_total // TEST_EVERY)
    again = gn.datasets.load_digits()
    np.testing.assert_array_equal(again.X_test, data.X_test)        # fixed: the same every time
    train_rows = {row.tobytes() for row in data.X_train}
    assert sum(row.tobytes() in train_rows for row in data.X_test) < 5  # (MNIST has a few duplicate images)


def test_every_slice_holds_every_digit_in_a_fixed_shuffled_order():
    """The file is sorted by digit; the splits come shuffled, so a quick slice is a fair sample."""
    data = gn.datasets.load_digits()
    for y, n in ((data.y_train, 2000), (data.y_test, 500)):
        counts = np.bincount(y[:n], minlength=10)
        assert counts.min() >= 0.05 * n, counts           # about n/10 each, never a missing digit
    assert (np.diff(data.y_train) != 0).mean() > 0.8      # not runs of one digit
    raw = gn.datasets.load_digits(flatten=False, scale=False)
    np.testing.assert_array_equal(raw.y_train, data.y_train)   # the same order however it is loaded
    np.testing.assert_array_equal(raw.X_test.reshape(1996, -1) / np.float32(255), data.X_test)
    # the order is part of the data: a few fixed positions, the same on every machine and NumPy version
    assert data.y_train[:10].tolist() == FIRST_TRAIN_LABELS and data.y_test[:10].tolist() == FIRST_TEST_LABELS


def test_raw_images_stay_uint8_28x28():
    data = gn.datasets.load_digits(flatten=False, scale=False)
    assert data.X_train.shape == (8004, 28, 28) and data.X_train.dtype == np.uint8
    assert data.X_train.max() == 255 and data.shape == (28, 28)
    scaled = gn.datasets.load_digits()
    np.testing.assert_allclose(scaled.X_train, data.X_train.reshape(8004, -1) / 255.0, rtol=1e-6)


def test_metadata_and_attribution():
    data = gn.datasets.load_digits()
    assert data.classes == [str(d) for d in range(10)]
    assert "CC BY-SA 3.0" in data.licence and "LeCun" in data.licence
    assert data.n_features == 784 and "digits" in repr(data)


def test_import_reads_no_files(monkeypatch):
    import importlib
    import sys

    opened = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    for name in [m for m in sys.modules if m == "glassnet" or m.startswith("glassnet.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr("builtins.open", spy)
    importlib.import_module("glassnet")
    assert not [f for f in opened if f.endswith((".npz", ".json", ".safetensors"))]
