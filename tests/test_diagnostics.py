import json

import numpy as np
import pytest

import glassnet as gn
from glassnet.diagnostics import Finding, dead_relus, diagnose


def train(digits, lr, *, n=None, epochs=3, batch_size=64, biases=None, validation=True, activation="relu"):
    """A real run on the bundled digits: ``(history, network, X_train, divergence or None)``."""
    net = gn.Network.mlp([784, 64, 10], activation=activation, seed=0)
    if biases is not None:
        net.layers[0].biases = biases
    X, y = digits.X_train, digits.y_train
    if n is not None:                       # every k-th example: the file is sorted by digit
        X, y = X[::len(X) // n][:n], y[::len(y) // n][:n]
    diverged = None
    try:
        history = net.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=gn.SGD(lr=lr, momentum=0.9), seed=0,
                          validation_data=(digits.X_test, digits.y_test) if validation else None)
    except gn.TrainingDiverged as exc:
        history, diverged = net.history_, exc
    return history, net, X, diverged


def names(findings):
    return [f.name for f in findings]


def test_a_healthy_run_has_no_findings(digits):
    history, net, X, _ = train(digits, 0.05)
    assert diagnose(history, net, X) == []
    assert diagnose(history, net, X, validation=(digits.X_test, digits.y_test)) == []


def test_huge_learning_rate_explodes_and_kills_the_relus(digits):
    history, net, X, diverged = train(digits, 5.0)
    findings = diagnose(history, net, X, diverged=diverged)
    assert names(findings)[0] == "loss_exploding"
    exploding = findings[0]
    assert "lower the learning rate" in exploding.fix
    assert exploding.evidence["loss"] > 2 * np.log(10)              # far above an untrained network's loss
    assert "dead_neurons" in names(findings)


def test_divergence_to_nan_is_reported_with_where_it_happened(digits):
    # a linear network has no dead ReLUs to stop it: its weights grow until the loss overflows
    with np.errstate(over="ignore", invalid="ignore"):
        history, net, X, diverged = train(digits, 1e4, epochs=1, activation="identity")
    assert diverged is not None
    finding = diagnose(history, diverged=diverged)[0]
    assert finding.name == "loss_exploding"
    assert finding.evidence["lr"] == pytest.approx(1e4) and finding.evidence["epoch"] == 1
    assert "e.g. 1000 instead of 1e+04" in finding.fix


def test_tiny_learning_rate_is_flat(digits):
    history, net, X, _ = train(digits, 1e-5)
    findings = diagnose(history, net, X)
    assert names(findings) == ["loss_flat"]
    assert findings[0].evidence["relative_fall"] < 0.05
    assert "raise the learning rate" in findings[0].fix and "too small" in findings[0].message


def test_dead_relus_from_very_negative_biases(digits):
    history, net, X, _ = train(digits, 0.05, biases=-10.0)
    findings = diagnose(history, net, X)
    assert names(findings) == ["loss_flat", "dead_neurons"]
    assert "dead ReLUs" in findings[0].fix or "ReLUs never fire" in findings[0].message
    dead = findings[1].evidence
    assert dead["layers"] == [{"layer": "hidden 1", "n": 64, "dead": 64, "share": 1.0}]
    assert "leaky_relu" in findings[1].fix


def test_overfitting_a_tiny_subset(digits):
    history, net, X, _ = train(digits, 0.05, n=100, epochs=40, batch_size=20)
    findings = diagnose(history, net, X)
    assert names(findings) == ["overfitting"]
    evidence = findings[0].evidence
    assert evidence["last_val_loss"] > 1.1 * evidence["best_val_loss"]
    assert evidence["last_train_loss"] < evidence["train_loss_at_best"]
    # without validation numbers in the history, a held-out set shows the accuracy gap
    history, net, X, _ = train(digits, 0.05, n=100, epochs=40, batch_size=20, validation=False)
    assert diagnose(history, net, X) == []
    gap = diagnose(history, net, X, validation=(digits.X_test, digits.y_test))
    assert names(gap) == ["overfitting"] and gap[0].evidence["gap"] > 0.1


def test_dead_relus_counts_by_hand():
    net = gn.Network.mlp([3, 4, 2], seed=0, dtype=np.float64)
    net.layers[0].weights = np.zeros((4, 3))
    net.layers[0].biases = [1.0, -1.0, 0.0, 2.0]          # z = b for every input: neurons 1 and 2 never fire
    result = dead_relus(net, np.random.default_rng(0).normal(size=(50, 3)))
    assert result == {"samples": 50, "layers": [{"layer": "hidden 1", "n": 4, "dead": 2, "share": 0.5}]}


def test_findings_are_plain_data_and_inputs_are_checked():
    records = [{"epoch": 1, "loss": 2.0, "lr": 0.1}, {"epoch": 2, "loss": float("nan"), "lr": 0.1}]
    finding = diagnose(records)[0]
    assert isinstance(finding, Finding) and finding.name == "loss_exploding"
    assert json.loads(json.dumps(finding.to_dict(), allow_nan=False))["evidence"]["losses"] == [2.0, None]
    assert str(finding).startswith("loss_exploding: ")
    with pytest.raises(TypeError, match="history expected"):
        diagnose(42)
    with pytest.raises(ValueError, match="epoch record 0"):
        diagnose([{"epoch": 1}])
    with pytest.raises(TypeError, match="both net and X"):
        diagnose(records, net=gn.Network.mlp([3, 2]))


def test_records_without_epoch_numbers_and_bad_losses():
    """Plain ``{"loss": ...}`` records are accepted (epochs count from 1); a loss that is not a number is refused."""
    finding = diagnose([{"loss": 2.0}, {"loss": None}])[0]
    assert finding.name == "loss_exploding" and finding.evidence["epochs_not_finite"] == [2]
    with pytest.raises(ValueError, match=r"epoch record 1 expected a number \(or None\) as its 'loss', received str"):
        diagnose([{"loss": 2.0}, {"loss": "abc"}])


def test_an_empty_history_is_refused_unless_there_is_something_else_to_check(digits):
    with pytest.raises(ValueError, match="at least one epoch record .* received an empty history"):
        diagnose([])
    net = gn.Network.mlp([784, 8, 10], seed=0)
    assert isinstance(diagnose([], net, digits.X_train[:50]), list)      # the dead-neuron check still runs


def test_a_one_neuron_network_is_told_to_widen_its_layer(digits):
    """784-1-10 at the app's defaults sits at chance: the finding says why and names the narrow layer."""
    net = gn.Network.mlp([784, 1, 10], seed=0)
    history = net.fit(digits.X_train, digits.y_train, epochs=1, batch_size=64, optimizer=gn.SGD(lr=0.05, momentum=0.9),
                      seed=0)
    findings = diagnose(history, net, digits.X_train)
    flat = findings[0]
    assert flat.name == "loss_flat" and flat.evidence["narrowest_layer"] == {"layer": "hidden 1", "n": 1}
    assert "hidden 1 has only 1 neuron to carry everything the 10 outputs need" in flat.message
    assert flat.fix.startswith("widen hidden 1 (--layers: 32 or more neurons)")


def test_the_fixes_name_the_tools_of_their_audience(digits):
    """The same rules and numbers; the CLI's fixes name flags, the app's name its buttons and fields."""
    history, net, X, _ = train(digits, 0.05, biases=-10.0, epochs=1)
    cli = diagnose(history, net, X)
    app = diagnose(history, net, X, audience="app")
    assert [f.name for f in cli] == [f.name for f in app] and [f.message for f in cli] == [f.message for f in app]
    assert "--activation leaky_relu" in cli[1].fix and "--" not in app[1].fix
    assert "a new network with activation leaky_relu" in app[1].fix
    records = [{"epoch": 1, "loss": 2.0, "lr": 0.5}, {"epoch": 2, "loss": 9.0, "lr": 0.5}]
    assert "Find a learning rate" in diagnose(records, audience="app")[0].fix
    assert "glassnet lr-find" in diagnose(records)[0].fix
    with pytest.raises(ValueError, match=r"audience expected one of \['app', 'cli'\], received 'web'"):
        diagnose(records, audience="web")
