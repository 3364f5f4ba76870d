import json

import pytest

import glassnet as gn
from glassnet.history import History


def test_columns_by_key_and_attribute_and_a_clear_error_for_others():
    h = History(seed=3)
    h.append({"epoch": 1, "loss": 0.9, "accuracy": 0.5})
    h.append({"epoch": 2, "loss": 0.4, "accuracy": 0.8, "val_loss": 0.5})
    assert len(h) == 2 and h["loss"] == [0.9, 0.4] and h.accuracy == [0.5, 0.8]
    assert h.val_loss == [None, 0.5]                 # an epoch without validation has None there
    with pytest.raises(KeyError, match="not 'f1'"):
        _ = h["f1"]
    with pytest.raises(AttributeError):
        _ = h.f1


def test_round_trips_through_json_with_how_training_ended():
    h = History(seed=7)
    h.append({"epoch": 1, "loss": 0.25, "lr": 0.1, "seconds": 1.5})
    h.interrupted, h.stopped_early = True, True
    again = History.from_dict(json.loads(json.dumps(h.to_dict())))
    assert again.to_dict() == h.to_dict() and again.seed == 7 and again.interrupted and again.stopped_early
    assert "1 epochs" in repr(again) and "loss=0.25" in repr(again) and repr(History()) == "History(no epochs)"


def test_the_package_and_fit_give_this_history(blobs):
    X, y = blobs
    assert gn.History is History
    history = gn.Network.mlp([5, 4, 3], seed=0).fit(X, y, epochs=1, seed=0)
    assert isinstance(history, History)
