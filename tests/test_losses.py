"""Tests for glassnet.losses: values, stability from logits, gradients, and the fused softmax head.

Gradients are compared with central finite differences written here (float64), values with
hand-worked examples and, when installed, with torch.nn.functional.
"""

import math
import warnings

import numpy as np
import pytest

import glassnet as gn
from finite_differences import numeric_grad, rel_error
from glassnet import losses
from glassnet.losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError, one_hot
from optional import need


def strict_numpy():
    """Turn any NumPy overflow / invalid / divide-by-zero (and any warning) into an error."""
    warnings.simplefilter("error")
    return np.errstate(over="raise", invalid="raise", divide="raise")


# -- MSE ------------------------------------------------------------------------------------

def test_mse_hand_worked_example():
    out = np.array([[1.0, 2.0], [3.0, 0.0]])
    t = np.array([[0.0, 2.0], [1.0, 1.0]])
    # diffs: [1, 0, 2, -1]; squares: [1, 0, 4, 1]; mean over 4 entries = 6 / 4 = 1.5
    assert MeanSquaredError().value(out, t) == pytest.approx(1.5, rel=1e-15)
    # gradient 2 * diff / 4 = diff / 2
    np.testing.assert_allclose(MeanSquaredError().gradient(out, t), [[0.5, 0.0], [1.0, -0.5]])


def test_mse_value_matches_numpy_and_accepts_1d_targets_for_one_output():
    rng = np.random.default_rng(0)
    out, t = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    assert MeanSquaredError()(out, t) == pytest.approx(float(((out - t) ** 2).mean()), rel=1e-12)
    single = rng.normal(size=(5, 1))
    target = rng.normal(size=5)
    assert MeanSquaredError().value(single, target) == pytest.approx(float(((single[:, 0] - target) ** 2).mean()))


def test_mse_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    out, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    loss = MeanSquaredError()
    numeric = numeric_grad(lambda: loss.value(out, t), out)
    assert rel_error(loss.gradient(out, t), numeric) < 1e-6


# -- CrossEntropy -------------------------------------------------------------------------

def test_cross_entropy_hand_worked_example():
    # logits [0, ln 3] -> softmax [1/4, 3/4]; label 1: L = -ln(3/4) = 0.2876821
    # label 0 on the second row [ln 2, 0] -> softmax [2/3, 1/3]: L = -ln(2/3) = 0.4054651
    out = np.array([[0.0, math.log(3.0)], [math.log(2.0), 0.0]])
    y = np.array([1, 0])
    assert CrossEntropy().value(out, y) == pytest.approx((0.2876821 + 0.4054651) / 2, abs=1e-7)
    # gradient (softmax - onehot) / 2 = [[1/4, -1/4], [-1/3, 1/3]] / 2
    np.testing.assert_allclose(CrossEntropy().gradient(out, y), [[0.125, -0.125], [-1 / 6, 1 / 6]], rtol=1e-12)


def test_cross_entropy_equals_minus_log_softmax_picked():
    rng = np.random.default_rng(2)
    out = rng.normal(size=(6, 4)) * 2
    y = rng.integers(0, 4, size=6)
    p = np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(p[np.arange(6), y]))
    assert CrossEntropy().value(out, y) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_finite_for_huge_logits():
    out = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    with warnings.catch_warnings(), strict_numpy(), np.errstate(under="ignore"):
        right = CrossEntropy().value(out, np.array([0, 1]))
        wrong = CrossEntropy().value(out, np.array([1, 0]))
        grad = CrossEntropy().gradient(out, np.array([1, 0]))
    assert right == pytest.approx(0.0, abs=1e-300)
    assert wrong == pytest.approx(2000.0, rel=1e-12)    # logsumexp = 1000, picked = -1000
    np.testing.assert_allclose(grad, [[0.5, -0.5], [-0.5, 0.5]])


def test_cross_entropy_labels_and_one_hot_agree():
    rng = np.random.default_rng(3)
    out = rng.normal(size=(5, 3))
    y = np.array([0, 2, 1, 1, 2])
    T = one_hot(y, 3, dtype=np.float64)
    np.testing.assert_array_equal(T, np.eye(3)[y])
    loss = CrossEntropy()
    assert loss.value(out, y) == pytest.approx(loss.value(out, T), rel=1e-14)
    np.testing.assert_allclose(loss.gradient(out, y), loss.gradient(out, T), rtol=1e-14)


def test_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    out = rng.normal(size=(5, 4))
    y = rng.integers(0, 4, size=5)
    loss = CrossEntropy()
    numeric = numeric_grad(lambda: loss.value(out, y), out)
    assert rel_error(loss.gradient(out, y), numeric) < 1e-6


def test_cross_entropy_keeps_float32():
    out = np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32)
    assert CrossEntropy().gradient(out, np.array([0, 1, 3])).dtype == np.float32


# -- BinaryCrossEntropy ----------------------------------------------------------------------

def test_binary_cross_entropy_hand_worked_example():
    # z = 0: s = 1/2, L = ln 2 = 0.6931472 whatever the target
    # z = ln 3, t = 1: s = 3/4, L = -ln(3/4) = 0.2876821
    # z = ln 3, t = 0: L = -ln(1/4) = 1.3862944
    out = np.array([[0.0], [math.log(3.0)], [math.log(3.0)]])
    t = np.array([[1.0], [1.0], [0.0]])
    expected = (0.6931472 + 0.2876821 + 1.3862944) / 3
    assert BinaryCrossEntropy().value(out, t) == pytest.approx(expected, abs=1e-7)
    # gradient (s - t) / 3: [(0.5 - 1), (0.75 - 1), (0.75 - 0)] / 3
    np.testing.assert_allclose(BinaryCrossEntropy().gradient(out, t), [[-1 / 6], [-1 / 12], [0.25]], rtol=1e-12)


def test_binary_cross_entropy_equals_textbook_formula():
    rng = np.random.default_rng(6)
    out = rng.normal(size=(6, 3)) * 2
    t = rng.integers(0, 2, size=(6, 3)).astype(np.float64)
    s = 1 / (1 + np.exp(-out))
    expected = -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))
    assert BinaryCrossEntropy().value(out, t) == pytest.approx(expected, rel=1e-12)


def test_binary_cross_entropy_is_stable_for_huge_logits():
    out = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]])
    t = np.array([1.0, 0.0, 0.0, 1.0])               # 1-D labels for one output are accepted
    with warnings.catch_warnings(), strict_numpy(), np.errstate(under="ignore"):
        value = BinaryCrossEntropy().value(out, t)
        grad = BinaryCrossEntropy().gradient(out, t)
    # two confident right answers (loss 0) and two confident wrong ones (loss 1000 each)
    assert value == pytest.approx(2000.0 / 4, rel=1e-12)
    np.testing.assert_allclose(grad, [[0.0], [0.0], [0.25], [-0.25]])


def test_binary_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    out = rng.normal(size=(5, 2))
    t = rng.integers(0, 2, size=(5, 2)).astype(np.float64)
    loss = BinaryCrossEntropy()
    numeric = numeric_grad(lambda: loss.value(out, t), out)
    assert rel_error(loss.gradient(out, t), numeric) < 1e-6


# -- lookup and fused heads ---------------------------------------------------------------

def test_get_by_name_class_or_instance():
    assert isinstance(losses.get("mse"), MeanSquaredError)
    assert isinstance(losses.get("Cross-Entropy"), CrossEntropy)
    assert isinstance(losses.get("bce"), BinaryCrossEntropy)
    assert isinstance(losses.get(CrossEntropy), CrossEntropy)
    instance = MeanSquaredError()
    assert losses.get(instance) is instance
    with pytest.raises(ValueError, match="loss expected one of .* received 'hinge'"):
        losses.get("hinge")
    assert CrossEntropy.fused_head is gn.Softmax and BinaryCrossEntropy.fused_head is gn.Sigmoid
    assert MeanSquaredError.fused_head is None


def _pair(head):
    """The same weights twice: once ending in ``head``, once ending in logits."""
    body = [gn.Dense(4, 5, seed=0, dtype=np.float64), gn.Tanh(), gn.Dense(5, 3 if head is gn.Softmax else 1,
                                                                            seed=1, dtype=np.float64)]
    with_head = gn.Network(body + [head()])
    without = gn.Network([layer for layer in with_head.copy().layers[:-1]])
    return with_head, without


def _assert_same_loss_and_gradients(a, b, X, y, loss):
    """Networks a and b give the same loss, dL/dX and parameter gradients; returns (loss, out_a, out_b)."""
    v1, dx1, out1 = a.loss_and_gradients(X, y, loss)
    v2, dx2, out2 = b.loss_and_gradients(X, y, loss)
    assert v1 == pytest.approx(v2, rel=1e-14)
    np.testing.assert_allclose(dx1, dx2, rtol=1e-14)
    for g1, g2 in zip(a.gradients(), b.gradients()):
        np.testing.assert_allclose(g1, g2, rtol=1e-14)
    return v1, out1, out2


def test_softmax_head_uses_fused_cross_entropy_gradient():
    with_head, logits = _pair(gn.Softmax)
    X = np.random.default_rng(8).normal(size=(6, 4))
    y = np.array([0, 1, 2, 2, 1, 0])
    v1, out1, out2 = _assert_same_loss_and_gradients(with_head, logits, X, y, CrossEntropy())
    # the loss saw logits, and the Softmax layer still shows the probabilities
    np.testing.assert_allclose(out1, out2, rtol=1e-14)
    np.testing.assert_allclose(with_head.layers[-1].output.sum(axis=1), 1.0, rtol=1e-12)
    # and the value is the cross-entropy of the probabilities, not of softmax(probabilities)
    p = with_head.forward(X)
    assert v1 == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-12)


def test_sigmoid_head_uses_fused_binary_cross_entropy_gradient():
    with_head, logits = _pair(gn.Sigmoid)
    X = np.random.default_rng(9).normal(size=(6, 4))
    y = np.array([0, 1, 1, 0, 1, 0])
    _assert_same_loss_and_gradients(with_head, logits, X, y, BinaryCrossEntropy())


def test_mse_does_not_fuse_a_softmax_head():
    with_head, logits = _pair(gn.Softmax)
    X = np.random.default_rng(10).normal(size=(3, 4))
    T = np.eye(3)
    v1, _, out1 = with_head.loss_and_gradients(X, T, MeanSquaredError())
    v2, _, _ = logits.loss_and_gradients(X, T, MeanSquaredError())
    np.testing.assert_allclose(out1.sum(axis=1), 1.0, rtol=1e-12)   # MSE saw probabilities
    assert v1 != pytest.approx(v2)


# -- against PyTorch -------------------------------------------------------------------------

def test_losses_match_torch():
    torch = need("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    out = rng.normal(size=(7, 4)) * 3
    y = rng.integers(0, 4, size=7)
    t = rng.integers(0, 2, size=(7, 4)).astype(np.float64)
    r = rng.normal(size=(7, 4))
    cases = [
        (CrossEntropy(), y, lambda z: F.cross_entropy(z, torch.tensor(y))),
        (BinaryCrossEntropy(), t, lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(t))),
        (MeanSquaredError(), r, lambda z: F.mse_loss(z, torch.tensor(r))),
    ]
    for loss, target, torch_loss in cases:
        z = torch.tensor(out, requires_grad=True)
        value = torch_loss(z)
        value.backward()
        assert loss.value(out, target) == pytest.approx(value.item(), rel=1e-12), loss
        np.testing.assert_allclose(loss.gradient(out, target), z.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_extreme_logits_match_torch():
    torch = need("torch")
    F = torch.nn.functional
    out = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 500.0]])
    y = np.array([1, 2])
    with np.errstate(under="ignore"):
        ours = CrossEntropy().value(out, y)
        bce = BinaryCrossEntropy().value(out, np.eye(3)[[0, 1]])
    assert ours == pytest.approx(F.cross_entropy(torch.tensor(out), torch.tensor(y)).item(), rel=1e-12)
    ref = F.binary_cross_entropy_with_logits(torch.tensor(out), torch.tensor(np.eye(3)[[0, 1]])).item()
    assert bce == pytest.approx(ref, rel=1e-12)


# -- the registry ----------------------------------------------------------------------------

def test_every_loss_declares_its_name_and_formulas_and_is_listed_once():
    assert losses.names() == ["cross_entropy", "mse", "binary_cross_entropy"]
    for name in losses.names():
        loss = losses.get(name)
        assert loss.name == name and isinstance(loss, losses.LOSSES[name])
        assert loss.formula.startswith("L = ") and loss.gradient_formula.startswith("dL/d")
    assert {cls.name for cls in losses.LOSSES.values()} == set(losses.names())
