"""The Plane view: its session (training, frames, edits, time travel, replay, persistence) and its endpoints."""

import base64
import json
import time

import numpy as np
import pytest

from appserver import wait_until
from glassnet import descent, plane
from glassnet.app import plane as app_plane
from glassnet.app.errors import BadInput, BadState
from glassnet.app.plane import PlaneSession, parse_csv
from glassnet.datasets import plane as plane_data


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.net.parameters(), b.net.parameters()))


def test_a_session_trains_in_a_thread_and_every_picture_changes():
    s = PlaneSession({"dataset": "xor", "hidden": [4, 3], "activation": "tanh"})
    before = s.frame()
    s.start()
    wait_until(lambda: s.trainer.epoch >= 3, timeout=30)
    s.pause()
    after = s.frame()
    assert not s.running and after["epoch"] >= 3 and len(after["history"]) == s.trainer.epoch + 1
    pictures = [(b["bytes"], a["bytes"]) for lb, la in zip(before["layers"], after["layers"])
                for b, a in zip(lb["a"], la["a"])]
    assert len(pictures) == 4 + 3 + 2 and all(b != a for b, a in pictures)
    assert [p["bytes"] for p in before["inputs"]] == [p["bytes"] for p in after["inputs"]]


def test_frames_are_the_networks_pictures():
    s = PlaneSession({"dataset": "circles", "features": ["x1", "x2", "x1^2"], "hidden": [3]})
    s.step(7)
    frame = s.frame(size=12)
    pics = plane.neuron_pictures(s.net, ["x1", "x2", "x1^2"], size=12)
    a = pics["layers"][0]["a"][2]
    scale = float(np.abs(a).max())
    expected = np.clip(np.rint(127.5 + 127.5 * a / scale), 0, 255).astype(np.uint8)
    assert base64.b64decode(frame["layers"][0]["a"][2]["bytes"]) == expected.tobytes()
    assert frame["weights"][0]["w"] == np.round(s.net.layers[0].params["weights"].astype(np.float64), 4).tolist()


def test_edit_a_weight_and_the_pictures_downstream_change():
    s = PlaneSession({"dataset": "xor", "hidden": [3, 3]})
    before = s.frame()
    s.set_weight(2, 1, 0, 3.5)
    after = s.frame()
    assert after["layers"][0] == before["layers"][0]                  # below the edit: the same
    assert after["layers"][1]["a"][1] != before["layers"][1]["a"][1]
    assert after["output"] != before["output"]
    assert s.neuron(2, 1)["formula"].startswith("z = 3.5·h1.1")
    s.set_bias(2, 1, -0.75)
    assert s.neuron(2, 1)["bias"] == -0.75 and s.neuron(2, 1)["formula"].endswith(" − 0.75")
    with pytest.raises(BadInput, match="from expected 0 to 2"):
        s.set_weight(2, 1, 5, 1.0)


def test_time_travel_and_exact_replay_from_the_seed():
    s = PlaneSession({"dataset": "spiral", "hidden": [5], "features": ["x1", "x2", "sin(x1)"], "seed": 3})
    s.step(45)
    s.configure({"lr": 0.01, "l1": 0.001, "l2": 0.0005})
    s.set_bias(1, 2, -0.5)
    s.step(30)
    s.configure({"batch_size": 7, "optimizer": "adam"})
    s.step(10)
    assert sorted(s.snapshots)[:3] == [0, 1, 2]
    s.view(1)
    past = s.frame()
    assert past["view_epoch"] == 1 and past["weights"][0]["w"] == np.round(
        s.snapshots[1]["0.weights"].astype(np.float64), 4).tolist()
    with pytest.raises(BadState, match="go back to the latest"):
        s.step()
    s.view(None)
    result = s.replay()
    print(result["message"])
    assert result["matches"] and result["steps"] == 85


def test_the_record_brings_the_session_back_exactly():
    s = PlaneSession({"dataset": "moons", "hidden": [4], "optimizer": "adam", "lr": 0.01})
    s.step(33)
    s.view(1)
    copy = PlaneSession.from_record(json.loads(json.dumps(s.to_record())))
    assert same_weights(s, copy) and copy.history == s.history and copy.view_epoch == 1
    s.view(None)
    copy.view(None)
    s.step(20)
    copy.step(20)
    assert same_weights(s, copy)                                      # the optimizer's state came back too


def test_layers_neurons_and_settings():
    s = PlaneSession({"dataset": "xor", "hidden": [2]})
    w = s.net.layers[0].params["weights"].copy()
    s.configure({"hidden": [3]})
    assert np.array_equal(s.net.layers[0].params["weights"][:2], w)   # the neurons that stay keep their weights
    s.configure({"hidden": [3, 2], "activation": "relu"})
    assert s.net.sizes == [3, 3, 2, 2, 2] and s.epoch == 0
    s.configure({"dataset": "sine"})                                  # the features follow: x1 only
    assert s.settings["features"] == ["x1"] and s.regression and s.net.n_outputs == 1 and "curve" in s.frame()
    s.configure({"dataset": "moons"})
    assert s.settings["features"] == ["x1", "x2"]
    s.configure({"dataset": "sine", "features": ["x1", "sin(x1)"]})
    assert s.net.n_features == 2
    with pytest.raises(BadInput, match="hidden: expected up to 6 layers"):
        s.configure({"hidden": [9]})
    with pytest.raises(BadInput, match="one input"):
        s.configure({"features": ["x1", "x2"]})
    with pytest.raises(BadInput, match="at least 4 points"):
        s.configure({"dataset": "own"})


def test_own_points_and_csv():
    s = PlaneSession()
    for x1, x2, label in ((1, 1, 1), (-1, -1, 0), (2, 1, 1)):
        s.add_point(x1, x2, label)
    assert s.settings["dataset"] == "circles"
    s.add_point(-2, -1, 0)
    assert s.settings["dataset"] == "own" and len(s.data.X_train) + len(s.data.X_test) == 4
    assert parse_csv("x1,x2,label\n1,2,0\n3,4,1\n0,0,1\n-1,5,0\n") == [[1, 2, 0], [3, 4, 1], [0, 0, 1], [-1, 5, 0]]
    with pytest.raises(BadInput, match="CSV line 3: expected three numbers"):
        parse_csv("1,2,0\n3,4,1\nfoo,1,1\n")
    s.clear_points()
    assert s.settings["dataset"] == "circles" and s.points == []


def test_descent_lab_and_diagnostics_run_on_the_plane_network():
    s = PlaneSession({"dataset": "xor", "hidden": [4], "activation": "relu"})
    assert s.diagnose()["healthy"] is None
    s.step(60)
    found = s.diagnose()
    assert isinstance(found["findings"], list)
    net, X, y, loss = s.lab_inputs()
    lab = descent.descend_weight(net, X, y, loss=loss, steps=5)
    assert {p["label"] for p in lab["paths"]} >= {"about right"}


# -- the endpoints ---------------------------------------------------------------------------------------------------
def test_endpoints(client):
    state = client.get("/api/plane").json()
    assert state["settings"]["dataset"] == "circles" and len(state["points"]["train"]) == 200
    r = client.post("/api/plane/settings", json={"dataset": "xor", "hidden": [4, 4], "activation": "relu"})
    assert r.status_code == 200 and r.json()["settings"]["hidden"] == [4, 4]
    assert client.post("/api/plane/step", json={"batches": 25}).json()["steps"] == 25
    frame = client.get("/api/plane/frame").json()
    assert frame["epoch"] == 1.25 and len(frame["layers"]) == 3 and len(frame["history"]) == 2
    assert client.get("/api/plane/frame", params={"since": 2}).json()["history"] == []
    r = client.get("/api/plane/neuron", params={"layer": 1, "neuron": 0}).json()
    assert r["formula"].startswith("z = ") and len(r["z"]) == 40 and "folds the plane" in r["fold"]
    assert client.post("/api/plane/weight", json={"layer": 1, "to": 0, "from": 1, "value": 1.5}).status_code == 200
    assert client.post("/api/plane/view", json={"epoch": 1}).json()["view_epoch"] == 1
    assert client.post("/api/plane/weight", json={"layer": 1, "to": 0, "from": 1, "value": 1}).status_code == 409
    client.post("/api/plane/view", json={"epoch": None})
    assert client.post("/api/plane/replay").json()["matches"] is True
    r = client.post("/api/plane/train/start")
    assert r.status_code == 200 and r.json()["running"]
    assert client.post("/api/plane/step", json={}).status_code == 409
    assert client.post("/api/plane/settings", json={"lr": 0.02}).json()["settings"]["lr"] == 0.02   # while it trains
    assert client.post("/api/plane/settings", json={"hidden": [3]}).status_code == 409
    assert client.post("/api/plane/weight", json={"layer": 2, "to": 1, "from": 0, "value": -2}).status_code == 200
    assert client.post("/api/plane/train/pause").json()["running"] is False
    assert client.post("/api/plane/replay").json()["matches"] is True     # the changes made while it trained too
    assert client.get("/api/plane/diagnose").status_code == 200
    lab = client.post("/api/plane/descent")
    assert lab.status_code == 200 and lab.json()["paths"]
    blob = client.get("/api/plane/download")
    assert blob.status_code == 200 and blob.headers["content-type"] == "application/octet-stream"
    client.post("/api/plane/settings", json={"hidden": [2]})
    r = client.post("/api/plane/upload", content=blob.content, headers={"content-type": "application/octet-stream"})
    assert r.status_code == 200 and r.json()["settings"]["hidden"] == [4, 4]


def test_endpoints_refuse_with_one_sentence(client):
    cases = [("post", "/api/plane/settings", {"dataset": "mnist"}, 422, "dataset: expected one of"),
             ("post", "/api/plane/settings", {"hidden": [1, 2, 3, 4, 5, 6, 7]}, 422, "hidden"),
             ("post", "/api/plane/view", {"epoch": 99}, 404, "no snapshot of epoch 99"),
             ("get", "/api/plane/neuron?layer=5&neuron=0", None, 422, "layer expected 1 to"),
             ("post", "/api/plane/points/csv", {"csv": "1,2,0\n1,2\n"}, 422, "CSV line 2"),
             ("post", "/api/plane/upload", None, 422, "expected Content-Type application/octet-stream")]
    for method, path, body, status, text in cases:
        r = getattr(client, method)(path, json=body) if body is not None else getattr(client, method)(path)
        assert r.status_code == status, (path, r.text)
        assert text in r.json()["detail"], r.json()["detail"]


def test_a_run_nobody_watches_pauses_itself(monkeypatch):
    monkeypatch.setattr(app_plane, "UNWATCHED_SECONDS", 0.2)
    s = PlaneSession({"dataset": "blobs", "hidden": [2]})
    s.start()
    wait_until(lambda: not s.running, timeout=20)
    s.join()
    assert s.message == "paused: nobody was watching" and s.trainer.steps > 0
    assert plane_data.NAMES[0] in s.state()["choices"]["datasets"]
    time.sleep(0)


def test_a_replay_too_long_for_a_request_is_refused(monkeypatch):
    monkeypatch.setattr(app_plane, "MAX_REPLAY_STEPS", 10)
    s = PlaneSession({"dataset": "xor", "hidden": [2]})
    s.step(11)
    with pytest.raises(BadState, match="replay: this run has 11 mini-batches; a replay here repeats at most 10"):
        s.replay()
