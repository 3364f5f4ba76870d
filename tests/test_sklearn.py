"""The scikit-learn estimators: scikit-learn's own estimator checks, pipelines, search, labels, partial_fit."""

import importlib
import sys

import numpy as np
import pytest

import glassnet as gn
import glassnet.export
from optional import need

try:
    from sklearn.utils.estimator_checks import parametrize_with_checks
except ImportError:
    parametrize_with_checks = None

if parametrize_with_checks is not None:
    from glassnet.sklearn import GlassnetClassifier, GlassnetRegressor

    # Every check of scikit-learn's suite is one test, run on the estimators with their defaults.
    # (In this environment two checks skip themselves: the pandas one, as pandas is not installed,
    # and the array-API one, which needs SCIPY_ARRAY_API=1.)
    @parametrize_with_checks([GlassnetClassifier(), GlassnetRegressor()])
    def test_scikit_learn_estimator_checks(estimator, check):
        check(estimator)
else:
    def test_scikit_learn_estimator_checks():
        need("sklearn")


@pytest.fixture
def sk():
    """The glassnet.sklearn module (skips without scikit-learn, fails in CI)."""
    need("sklearn")
    import glassnet.sklearn

    return glassnet.sklearn


@pytest.fixture(scope="module")
def small_digits():
    data = gn.datasets.load_digits()
    pick = np.random.default_rng(0).choice(len(data.y_train), 600, replace=False)
    return data.X_train[pick] * 255, data.y_train[pick]     # raw pixel values: the scaler has work to do


def test_pipeline_with_a_scaler_in_cross_val_score_and_grid_search(sk, small_digits):
    need("sklearn")
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = small_digits
    pipe = make_pipeline(StandardScaler(), sk.GlassnetClassifier(hidden_layer_sizes=(32,), epochs=10, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.7           # 10 classes: chance is 0.1

    search = GridSearchCV(pipe, {"glassnetclassifier__learning_rate": [1e-4, 3e-3],
                                 "glassnetclassifier__activation": ["relu", "tanh"]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["glassnetclassifier__learning_rate"] == 3e-3   # 1e-4 barely moves in 10 epochs
    assert search.best_score_ > 0.7
    assert search.best_estimator_[-1].net_.n_features == 784


def test_regressor_in_a_pipeline(sk):
    need("sklearn")
    from sklearn.datasets import make_regression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), sk.GlassnetRegressor(learning_rate=0.01, epochs=40, random_state=0))
    y = y / y.std()
    assert cross_val_score(pipe, X, y, cv=3).min() > 0.9        # R^2


@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "eel"]), np.array([3, 10, 7]), np.array([True, False])],
                         ids=["strings", "ints", "bools"])
def test_classes_of_any_label_type(sk, blobs, labels):
    X, y_index = blobs
    y_index = y_index % len(labels)
    y = labels[y_index]
    clf = sk.GlassnetClassifier(hidden_layer_sizes=(16,), learning_rate=0.01, epochs=20, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    predicted = clf.predict(X)
    assert predicted.dtype == y.dtype and set(predicted) <= set(labels)
    assert np.mean(predicted == y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    assert clf.score(X, y) == pytest.approx(np.mean(predicted == y))
    assert clf.net_.n_outputs == len(labels) and clf.n_features_in_ == 5


def test_learned_attributes_and_reproducibility(sk, blobs):
    X, y = blobs
    a = sk.GlassnetClassifier(hidden_layer_sizes=(8, 4), epochs=5, random_state=1).fit(X, y)
    b = sk.GlassnetClassifier(hidden_layer_sizes=(8, 4), epochs=5, random_state=1).fit(X, y)
    c = sk.GlassnetClassifier(hidden_layer_sizes=(8, 4), epochs=5, random_state=2).fit(X, y)
    for wa, wb in zip(a.net_.parameters(), b.net_.parameters()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.net_.layers[0].weights, c.net_.layers[0].weights)
    assert [layer.n_out for layer in a.net_.layers if isinstance(layer, gn.Dense)] == [8, 4, 3]
    assert a.n_iter_ == 5 and len(a.history_) == 5 and a.loss_ == a.history_.loss[-1]
    assert isinstance(a.optimizer_, gn.Adam)


def test_hyperparameters_are_checked_by_fit_not_by_init(sk, blobs):
    X, y = blobs
    clf = sk.GlassnetClassifier(activation="mish", epochs=2)      # no error yet: clone/set_params must work
    # the choices are the registry's hidden activations (relu, leaky_relu, tanh, sigmoid, identity, ...)
    with pytest.raises(ValueError, match="activation expected one of " + ", ".join(gn.activations.names())):
        clf.fit(X, y)
    fitted = sk.GlassnetClassifier(epochs=1, random_state=0).fit(X, y)
    net = fitted.net_
    for bad, message in [({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes expected positive integers"),
                         ({"hidden_layer_sizes": "64"}, "hidden_layer_sizes expected positive integers"),
                         ({"learning_rate": 0}, r"learning_rate expected a value in \(0.0, inf\]"),
                         ({"dropout": 1.0}, r"dropout expected a value in \[0, 1\)"),
                         ({"optimizer": "rmsprop"}, "optimizer expected one of sgd, adam, adamw"),
                         ({"epochs": 2.5}, "epochs expected an int")]:
        with pytest.raises((ValueError, TypeError), match=message):
            fitted.set_params(**bad).fit(X, y)
        fitted.set_params(**sk.GlassnetClassifier(epochs=1, random_state=0).get_params())
        assert fitted.net_ is net                                  # a refused fit changes nothing


def test_every_option_trains(sk, blobs):
    X, y = blobs
    for options in [{"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "schedule": "one-cycle"},
                    {"optimizer": "adamw", "weight_decay": 0.01, "schedule": "cosine", "dropout": 0.2},
                    {"schedule": "step", "learning_rate": 0.01, "activation": "leaky_relu", "hidden_layer_sizes": 12},
                    {"hidden_layer_sizes": (), "learning_rate": 0.05}]:
        clf = sk.GlassnetClassifier(epochs=10, random_state=0, **options).fit(X, y)
        assert clf.score(X, y) > 0.8, options         # chance: 0.33


def test_early_stopping_keeps_a_validation_split(sk, blobs):
    X, y = blobs
    clf = sk.GlassnetClassifier(epochs=200, early_stopping=True, patience=3, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200 and clf.history_.stopped_early
    assert all(v is not None for v in clf.history_.val_loss)


def test_partial_fit_continues_training(sk, blobs):
    X, y = blobs
    clf = sk.GlassnetClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes expected on the first call"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "net_")
    for _ in range(5):
        clf.partial_fit(X[:150], y[:150], classes=np.unique(y))
    assert clf.n_iter_ == 5 and len(clf.history_) == 5 and clf.history_["epoch"] == [1, 2, 3, 4, 5]
    assert clf.history_.loss[-1] < clf.history_.loss[0]
    assert clf.optimizer_.iterations == 5 * 5                       # 150 samples in batches of 32
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X[:10], y[:10] + 5)
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :3], y)

    reg = sk.GlassnetRegressor(random_state=0)
    reg.partial_fit(X, X[:, :2]).partial_fit(X, X[:, :2])
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    with pytest.raises(ValueError, match="2 column"):
        reg.partial_fit(X, X[:, 0])


def test_predictions_do_not_depend_on_the_batch(sk, blobs):
    X, y = blobs
    clf = sk.GlassnetClassifier(epochs=2, random_state=0).fit(X, y)
    whole = clf.predict_proba(X)
    one_by_one = np.vstack([clf.predict_proba(X[i:i + 1]) for i in range(20)])
    np.testing.assert_allclose(whole[:20], one_by_one, rtol=0, atol=1e-12)   # float64 rounding only


def test_the_fitted_network_exports(sk, blobs, tmp_path):
    ort = need("onnxruntime")
    X, y = blobs
    clf = sk.GlassnetClassifier(epochs=3, random_state=0).fit(X, y)
    glassnet.export.to_onnx(clf.net_, tmp_path / "clf.onnx", softmax=True)
    session = ort.InferenceSession(str(tmp_path / "clf.onnx"), providers=["CPUExecutionProvider"])
    (proba,) = session.run(None, {"input": X})
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_without_scikit_learn_the_error_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")] + ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)              # as if scikit-learn were not installed
    monkeypatch.delitem(sys.modules, "glassnet.sklearn", raising=False)
    with pytest.raises(gn.MissingExtraError, match=r'pip install "glassnet\[sklearn\]"'):
        importlib.import_module("glassnet.sklearn")



def test_too_few_samples_for_early_stopping_is_refused_before_any_state_changes(sk, blobs):
    X, y = blobs
    for estimator, targets in ((sk.GlassnetClassifier(early_stopping=True), y[:4]),
                               (sk.GlassnetRegressor(early_stopping=True), X[:1, 0])):
        with pytest.raises(ValueError, match=r"early_stopping cannot hold out validation_fraction=0.1 of \d samples"):
            estimator.fit(X[:len(targets)], targets)
        assert not hasattr(estimator, "net_")


def test_values_too_large_for_float32_are_named(sk, blobs):
    X, y = blobs
    big = X.astype(np.float64)
    big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"GlassnetClassifier: X expected values within float32's range .* 1e\+39"):
        sk.GlassnetClassifier(epochs=1).fit(big, y)
    with pytest.raises(ValueError, match=r"GlassnetRegressor: y expected values within float32's range .* 1e\+39"):
        sk.GlassnetRegressor(epochs=1).fit(X, big[:, 1])


def test_a_failed_first_partial_fit_leaves_no_classes(sk, blobs):
    X, y = blobs
    clf = sk.GlassnetClassifier(random_state=0)
    with pytest.raises(ValueError, match="labels not in classes_"):
        clf.partial_fit(X, y + 5, classes=np.unique(y))
    assert not hasattr(clf, "classes_") and not hasattr(clf, "net_")
