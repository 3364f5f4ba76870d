"""The app's HTTP API, endpoint by endpoint, with Starlette's test client: what each answers, and that
bad input (oversized body, wrong shapes, NaN, unknown things, wrong state) gets a 4xx with a
readable sentence, never a 500."""

import json

import numpy as np
import pytest

import glassnet as gn
from appserver import make_app, workspace_of
from glassnet.app.jobs import wait_for
from glassnet.preprocess import to_mnist
from optional import need

LOCAL = "http://127.0.0.1"      # the Host a browser on this computer sends (the server refuses others: 403)


def browser(app):
    """Another browser of ``app`` (Starlette's test client, on this computer's address)."""
    need("fastapi.testclient")
    from fastapi.testclient import TestClient

    return TestClient(app, base_url=LOCAL)


def bar_drawing(size=140):
    """A white vertical bar on black (a "1"), as the page sends it."""
    img = np.zeros((size, size), dtype=np.uint8)
    img[size // 7: size - size // 7, size // 2 - 5: size // 2 + 5] = 255
    return {"width": size, "height": size, "pixels": img.ravel().tolist()}


def digit_drawing(index=0, size=112):
    """A real test digit scaled up (nearest) to ``size``: what a careful hand would draw."""
    data = gn.datasets.load_digits()
    img = (data.X_test[index].reshape(28, 28) * 255).astype(np.uint8)
    big = np.kron(img, np.ones((size // 28, size // 28), dtype=np.uint8))
    return {"width": big.shape[1], "height": big.shape[0], "pixels": big.ravel().tolist()}


def trained(client, app, layers=(32,), epochs=2, **settings):
    """Give ``client`` a small trained network; returns its workspace."""
    assert client.post("/api/network", json={"layers": list(layers), "seed": 0}).status_code == 200
    r = client.post("/api/train/start", json={"epochs": epochs, "lr": 0.1, **settings})
    assert r.status_code == 200, r.text
    ws = workspace_of(app, client)
    assert wait_for(ws.job, 60) == "finished", ws.job.message
    return ws


def assert_4xx(response, status, *words):
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    for word in words:
        assert word in detail, detail
    return detail


# -- session, page, network ------------------------------------------------------------------------
def test_page_and_static_files_are_served_with_a_strict_csp(client):
    r = client.get("/")
    assert r.status_code == 200 and "<html" in r.text.lower()
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 404          # Swagger UI would load scripts from a CDN
    assert client.get("/openapi.json").json()["info"]["title"] == "glassnet app"


def test_session_gives_each_browser_its_own_workspace(app, client):
    first = client.get("/api/session")
    assert first.status_code == 200
    body = first.json()
    assert body["network"]["sizes"] == [784, 128, 64, 10] and body["network"]["trained"] is False
    assert body["network"]["layers"][-1]["activation"] == "softmax"
    assert body["dataset"]["name"] == "digits" and body["dataset"]["classes"] == [str(d) for d in range(10)]
    assert body["training"]["state"] == "idle" and body["token_required"] is False
    assert client.get("/api/session").json()["workspace"] == body["workspace"]      # the cookie keeps it
    other = browser(app)                     # another browser (the app's lifespan already runs)
    assert other.get("/api/session").json()["workspace"] != body["workspace"]
    assert len(app.state.glassnet["store"]) == 2


def test_the_page_itself_gets_the_workspace_cookie(app, client):
    r = client.get("/")
    assert r.cookies.get("glassnet_workspace")
    client.get("/api/session")
    client.get("/api/train/status")
    assert len(app.state.glassnet["store"]) == 1


def test_datasets_are_described_and_an_unusable_one_says_why(tmp_path):
    from glassnet.app import AppConfig, create_app

    app = create_app(AppConfig(models_dir=tmp_path / "m", datasets=("digits", str(tmp_path / "gone"))))
    with browser(app) as c:
        described = {d["name"]: d for d in c.get("/api/session").json()["datasets"]}
    digits = described["digits"]
    assert digits["available"] and digits["n_train"] == 8004 and digits["n_test"] == 1996 and digits["description"]
    gone = described[str(tmp_path / "gone")]
    assert gone["available"] is False and "gone" in gone["reason"]


def test_new_network_validates_layers_and_dataset(client):
    r = client.post("/api/network", json={"layers": [20, 10], "activation": "tanh", "seed": 3})
    assert r.status_code == 200
    assert r.json()["sizes"] == [784, 20, 10, 10] and r.json()["activation"] == "tanh"
    assert_4xx(client.post("/api/network", json={"layers": [0]}), 422, "layers.0")
    assert_4xx(client.post("/api/network", json={"layers": [2000]}), 422, "layers.0")
    assert_4xx(client.post("/api/network", json={"layers": [8] * 9}), 422, "layers")
    assert_4xx(client.post("/api/network", json={"layers": "128"}), 422, "layers")
    assert_4xx(client.post("/api/network", json={"activation": "not-an-activation"}), 422, "activation")
    assert_4xx(client.post("/api/network", json={"dataset": "cifar"}), 422, "dataset", "digits")
    assert_4xx(client.post("/api/network", json={"layers": [8], "surprise": 1}), 422, "surprise")
    assert_4xx(client.post("/api/network", content=b"{not json", headers={"content-type": "application/json"}),
               422)


def test_every_activation_optimizer_and_schedule_of_the_library_is_offered(app, client):
    choices = client.get("/api/session").json()["choices"]
    assert [c["name"] for c in choices["activations"]] == gn.activations.names()
    assert [c["name"] for c in choices["optimizers"]] == list(gn.optimizers.names())
    assert [c["name"] for c in choices["schedules"]] == list(gn.schedules.names())
    assert all(c["label"] for kind in choices.values() for c in kind)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["NetworkRequest"]["properties"]["activation"]["enum"] == gn.activations.names()
    assert schemas["TrainRequest"]["properties"]["optimizer"]["enum"] == list(gn.optimizers.names())
    assert schemas["TrainRequest"]["properties"]["schedule"]["enum"] == list(gn.schedules.names())
    for activation in gn.activations.names():
        r = client.post("/api/network", json={"layers": [8], "activation": activation})
        assert r.status_code == 200 and r.json()["activation"].startswith(activation), r.text   # leaky_relu(0.01)
    ws = workspace_of(app, client)
    for optimizer in gn.optimizers.names():
        for schedule in gn.schedules.names():
            r = client.post("/api/train/start", json={"epochs": 1, "batch_size": 256, "lr": 0.01,
                                                      "optimizer": optimizer, "schedule": schedule})
            assert r.status_code == 200, r.text
            assert wait_for(ws.job) == "finished", ws.job.message


def test_a_network_over_the_parameter_limit_is_refused(tmp_path):
    with browser(make_app(tmp_path, max_params=50_000)) as c:
        assert_4xx(c.post("/api/network", json={"layers": [100]}), 422, "79,510", "50,000")
        assert c.post("/api/network", json={"layers": [50]}).status_code == 200


# -- training -------------------------------------------------------------------------------------
def test_training_records_epochs_points_and_snapshots(app, client):
    ws = trained(client, app, epochs=2)
    status = client.get("/api/train/status").json()
    assert status["state"] == "finished" and status["epoch"] == 2
    assert [r["epoch"] for r in status["history"]] == [1, 2]
    record = status["history"][-1]
    assert 0.8 < record["test_accuracy"] <= 1 and record["loss"] > 0
    assert status["points"] and status["points"][-1]["t"] == 2
    assert [p["t"] for p in status["points"]] == sorted(p["t"] for p in status["points"])
    timeline = client.get("/api/timeline").json()
    assert [s["epoch"] for s in timeline["snapshots"]] == [0, 1, 2]
    np.testing.assert_array_equal(ws.timeline.weights_at(2)["0.weights"], ws.net.layers[0].params["weights"])
    session = client.get("/api/session").json()
    assert session["network"]["trained"] is True


def test_training_refuses_bad_settings_and_a_second_run(app, client):
    for bad, word in [({"epochs": 0}, "epochs"), ({"epochs": 101}, "epochs"), ({"lr": -1}, "lr"),
                      ({"lr": "fast"}, "lr"), ({"batch_size": 0}, "batch_size"), ({"momentum": 1.5}, "momentum"),
                      ({"optimizer": "lbfgs"}, "optimizer"), ({"schedule": "warm"}, "schedule")]:
        assert_4xx(client.post("/api/train/start", json=bad), 422, word)
    r = client.post("/api/train/start", content=b'{"lr": NaN}', headers={"content-type": "application/json"})
    assert_4xx(r, 422, "lr")
    client.post("/api/network", json={"layers": [16]})
    assert client.post("/api/train/start", json={"epochs": 50, "lr": 0.05, "step": True}).status_code == 200
    assert_4xx(client.post("/api/train/start", json={"epochs": 1}), 409, "training is")
    assert_4xx(client.post("/api/network", json={"layers": [8]}), 409, "training is")
    client.post("/api/train/stop")
    wait_for(workspace_of(app, client).job)


def test_controls_without_a_training_are_409(client):
    for action in ("pause", "resume", "step", "stop"):
        assert_4xx(client.post(f"/api/train/{action}"), 409)
    assert_4xx(client.post("/api/train/lr", json={"lr": 0.1}), 409)
    assert_4xx(client.post("/api/train/lr", json={"lr": 0}), 422, "lr")


def test_step_mode_pauses_after_each_epoch_and_step_runs_one_more(app, client):
    client.post("/api/network", json={"layers": [16]})
    assert client.post("/api/train/start", json={"epochs": 3, "lr": 0.05, "step": True}).status_code == 200
    ws = workspace_of(app, client)
    _wait_state(ws, "paused")
    assert ws.job.epoch_in_run == 1 and len(ws.history) == 1
    assert app.state.glassnet["store"].trainings == 0          # a paused run holds no training slot
    assert client.post("/api/train/step").json()["state"] == "running"
    _wait_state(ws, "paused", epochs=2)
    assert ws.job.epoch_in_run == 2
    assert client.post("/api/train/resume").status_code == 200
    assert wait_for(ws.job) == "finished" and ws.job.epoch_in_run == 3


def test_pause_then_stop_keeps_the_weights_and_a_partial_snapshot(app, client):
    client.post("/api/network", json={"layers": [16]})
    client.post("/api/train/start", json={"epochs": 20, "lr": 0.05, "batch_size": 8})
    ws = workspace_of(app, client)
    _wait_until(lambda: ws.job.steps >= 5)
    assert client.post("/api/train/pause").status_code == 200
    _wait_state(ws, "paused")
    assert_4xx(client.post("/api/train/pause"), 409, "not running")
    assert client.post("/api/train/stop").status_code == 200
    assert wait_for(ws.job) == "stopped"
    assert "weights are kept" in ws.job.message
    last = ws.timeline.last_epoch
    assert not float(last).is_integer()                        # stopped inside an epoch
    np.testing.assert_array_equal(ws.timeline.weights_at(last)["0.weights"], ws.net.layers[0].params["weights"])


def test_learning_rate_changes_live_and_the_run_replays_bit_for_bit(app, client):
    client.post("/api/network", json={"layers": [16]})
    client.post("/api/train/start", json={"epochs": 2, "lr": 0.05, "batch_size": 32, "step": True,
                                          "schedule": "one-cycle"})
    ws = workspace_of(app, client)
    _wait_state(ws, "paused")
    r = client.post("/api/train/lr", json={"lr": 0.01})
    assert r.status_code == 200 and r.json()["pending_lr"] == 0.01 and r.json()["lr"] != 0.01
    client.post("/api/train/resume")
    assert wait_for(ws.job) == "finished"
    assert ws.history[-1]["lr"] == pytest.approx(0.01)
    changes = ws.timeline.segments[0]["lr_changes"]
    assert len(changes) == 1 and changes[0]["lr"] == 0.01
    # a second run, stopped in the middle of an epoch, then a replay of both from the seed
    client.post("/api/train/start", json={"epochs": 5, "lr": 0.02, "batch_size": 16, "augment": True, "seed": 7})
    _wait_until(lambda: ws.job.steps >= 30)
    client.post("/api/train/stop")
    assert wait_for(ws.job) == "stopped"
    r = client.post("/api/timeline/replay")
    assert r.status_code == 200 and r.json()["kind"] == "replay"
    assert wait_for(ws.job, 60) == "finished", ws.job.message
    replay = client.get("/api/train/status").json()["replay"]
    assert replay == {"matches": True, "segments": 2, "segments_matching": 2, "max_difference": 0.0}
    assert "bit for bit" in ws.job.message


def test_a_replay_that_differs_says_so(app, client):
    ws = trained(client, app, layers=(8,), epochs=1)
    ws.timeline.segments[0]["seed"] += 1                        # as if the record were wrong
    client.post("/api/timeline/replay")
    assert wait_for(ws.job) == "finished"
    assert ws.job.replay["matches"] is False and ws.job.replay["max_difference"] > 0
    assert "differ" in ws.job.message


def test_replay_needs_a_run(client):
    assert_4xx(client.post("/api/timeline/replay"), 409, "nothing to replay")


def test_divergence_fails_the_run_with_advice_and_keeps_good_weights(app, client):
    client.post("/api/network", json={"layers": [16]})
    ws = workspace_of(app, client)
    for layer in ws.net.layers[::2]:            # weights so large the next step overflows float32
        layer.params["weights"] *= np.float32(1e17)
    client.post("/api/train/start", json={"epochs": 3, "lr": 100})
    assert wait_for(ws.job) == "failed"
    assert "too high" in ws.job.message and "epoch 1" in ws.job.message
    assert ws.job.message.count("keeps") == 1                    # said once
    assert client.get("/api/train/status").json()["state"] == "failed"
    assert all(np.isfinite(p).all() for p in ws.net.parameters())


def test_event_stream_sends_job_points_epochs_and_end(app, client):
    client.post("/api/network", json={"layers": [16]})
    client.post("/api/train/start", json={"epochs": 2, "lr": 0.05})
    with client.stream("GET", "/api/train/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [(block.split("\n")[0][len("event: "):], json.loads(block.split("\n")[1][len("data: "):]))
              for block in text.strip().split("\n\n") if block.startswith("event: ")]
    names = [name for name, _ in events]
    assert names[0] == "job" and names[-1] == "end"
    end = events[-1][1]
    assert end["state"] == "finished" and [r["epoch"] for r in end["history"]] == [1, 2]
    # every epoch and point is either in the first job event or streamed after it, none twice
    first = events[0][1]
    epochs = [r["epoch"] for r in first["history"]] + [d["epoch"] for n, d in events if n == "epoch"]
    assert epochs == [1, 2]
    ts = [p["t"] for p in first["points"]] + [d["t"] for n, d in events if n == "point"]
    assert ts == sorted(set(ts)) and ts[-1] == 2


def test_event_stream_without_training_ends_at_once(client):
    with client.stream("GET", "/api/train/events") as stream:
        text = "".join(stream.iter_text())
    assert text.startswith("event: end") and '"state":"idle"' in text


def test_training_limit_answers_429(tmp_path):
    app = make_app(tmp_path, max_trainings=1)
    with browser(app) as a:
        b = browser(app)
        a.post("/api/network", json={"layers": [8]})
        b.post("/api/network", json={"layers": [8]})
        assert a.post("/api/train/start", json={"epochs": 100, "lr": 0.01, "batch_size": 4}).status_code == 200
        assert_4xx(b.post("/api/train/start", json={"epochs": 1}), 429, "1 trainings", "limit")
        assert_4xx(b.post("/api/lr-find", json={"steps": 20}), 429)
        a.post("/api/train/stop")
        wait_for(workspace_of(app, a).job)
        assert b.post("/api/train/start", json={"epochs": 1}).status_code == 200
        wait_for(workspace_of(app, b).job)


def test_lr_finder_leaves_the_network_alone(app, client):
    ws = trained(client, app, layers=(16,), epochs=1)
    before = ws.net.get_weights()
    r = client.post("/api/lr-find", json={"steps": 40, "start": 1e-4, "end": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert 1e-4 <= body["suggestion"] <= 5 and len(body["lrs"]) == len(body["losses"]) >= 10
    assert body["rule_text"]
    for k, v in before.items():
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])
    assert_4xx(client.post("/api/lr-find", json={"start": 1, "end": 0.1}), 422, "start < end")
    assert_4xx(client.post("/api/lr-find", json={"steps": 100000}), 422, "steps")


# -- draw --------------------------------------------------------------------------------------------
def test_predict_a_drawing_matches_the_library(app, client):
    ws = trained(client, app, layers=(32,), epochs=3)
    drawing = digit_drawing(0)
    r = client.post("/api/predict", json={"drawing": drawing})
    assert r.status_code == 200
    body = r.json()
    x = to_mnist(np.array(drawing["pixels"], dtype=np.uint8).reshape(112, 112)).reshape(1, -1)
    expected = ws.net.predict_proba(x)[0]
    np.testing.assert_allclose(body["probabilities"], expected, atol=1e-5)
    assert body["prediction"] == int(np.argmax(expected)) and sum(body["probabilities"]) == pytest.approx(1)
    assert [len(layer["values"]) for layer in body["layers"]] == [784, 32, 10]
    assert body["input"]["width"] == 28 and len(body["input"]["pixels"]) == 784
    assert body["epoch"] is None and body["edited"] is False
    by_index = client.post("/api/predict", json={"test_index": 0}).json()
    assert by_index["prediction"] == body["prediction"]


@pytest.mark.parametrize("drawing, words", [
    ({"width": 10, "height": 10, "pixels": [0] * 99}, ["100 values", "99"]),
    ({"width": 4, "height": 4, "pixels": [0] * 16}, ["width"]),
    ({"width": 300, "height": 300, "pixels": [0]}, ["width"]),
    ({"width": 10, "height": 10, "pixels": [256] * 100}, ["pixels"]),
    ({"width": 10, "height": 10, "pixels": [-1] * 100}, ["pixels"]),
    ({"width": 10, "height": 10, "pixels": ["a"] * 100}, ["pixels"]),
    ({"width": 10, "height": 10}, ["pixels"]),
    ({"width": 10, "height": 10, "pixels": [0] * 100}, ["no ink"]),
])
def test_predict_refuses_bad_drawings(client, drawing, words):
    assert_4xx(client.post("/api/predict", json={"drawing": drawing}), 422, *words)


def test_predict_refuses_bad_sources(client):
    assert_4xx(client.post("/api/predict", json={}), 422, "exactly one")
    assert_4xx(client.post("/api/predict", json={"drawing": bar_drawing(), "test_index": 1}), 422, "exactly one")
    assert_4xx(client.post("/api/predict", json={"test_index": 99999}), 422, "test_index", "1995")
    assert_4xx(client.post("/api/predict", json={"test_index": -1}), 422, "test_index")
    nan = b'{"drawing": {"width": 8, "height": 8, "pixels": [NaN' + b", 0" * 63 + b"]}}"
    assert_4xx(client.post("/api/predict", content=nan, headers={"content-type": "application/json"}), 422)
    assert_4xx(client.post("/api/predict", json=[1, 2]), 422)
    junk = client.post("/api/predict", content=b'{"drawing": not json', headers={"content-type": "application/json"})
    assert_4xx(junk, 422, "request body: expected JSON", "at character 12")


def test_oversized_bodies_are_413_before_they_are_read(client):
    big = json.dumps({"drawing": {"width": 8, "height": 8, "pixels": [0] * 600_000}}).encode()
    assert_4xx(client.post("/api/predict", content=big, headers={"content-type": "application/json"}), 413,
               "too large")

    def chunks():                              # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b" " * 65536
    assert_4xx(client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert_4xx(client.post("/api/predict", content=b"{}", headers={"content-type": "application/json",
                                                                   "content-length": "x"}), 400, "Content-Length")


def test_neuron_shows_its_weighted_sum_term_by_term(app, client):
    ws = trained(client, app, layers=(32,), epochs=1)
    drawing = bar_drawing()
    r = client.post("/api/neuron", json={"drawing": drawing, "layer": 1, "neuron": 5})
    assert r.status_code == 200
    n = r.json()
    assert n["positive"] + n["negative"] + n["bias"] == pytest.approx(n["z"], abs=1e-9)
    assert n["a"] == pytest.approx(max(n["z"], 0.0))
    assert n["weights"]["width"] == 28 and n["weights"]["height"] == 28
    np.testing.assert_allclose(n["weights"]["values"], ws.net.layers[0].params["weights"][5], rtol=1e-6)
    assert n["weights"]["scale"] == pytest.approx(np.abs(ws.net.layers[0].params["weights"][5]).max(), rel=1e-6)
    assert sum(n["terms"]["values"]) + n["bias"] == pytest.approx(n["z"], abs=1e-6)
    assert all(t["term"] > 0 for t in n["top_up"]) and all(t["term"] < 0 for t in n["top_down"])
    out = client.post("/api/neuron", json={"test_index": 3, "layer": 2, "neuron": 9}).json()
    assert out["name"] == "output" and out["weights"]["height"] == 1 and out["weights"]["width"] == 32
    assert_4xx(client.post("/api/neuron", json={"test_index": 3, "layer": 3, "neuron": 0}), 422, "layer", "1 to 2")
    assert_4xx(client.post("/api/neuron", json={"test_index": 3, "layer": 1, "neuron": 32}), 422, "0 to 31")
    assert_4xx(client.post("/api/neuron", json={"test_index": 3, "layer": 0, "neuron": 0}), 422, "layer")


def test_edits_switch_a_neuron_off_and_change_a_bias_without_touching_the_weights(app, client):
    ws = trained(client, app, layers=(16,), epochs=2)
    weights = ws.net.get_weights()
    data = gn.datasets.load_digits()
    h = data.X_test @ weights["0.weights"].T + weights["0.biases"]
    busiest = int(np.argmax((h > 0).mean(axis=0)))
    r = client.post("/api/edits", json={"layer": 1, "neuron": busiest, "off": True})
    assert r.status_code == 200
    acc = r.json()["test_accuracy"]
    assert acc["edited"] < acc["original"]
    assert r.json()["edits"] == [{"layer": 1, "neuron": busiest, "off": True, "bias": None}]
    pred = client.post("/api/predict", json={"test_index": 0}).json()
    assert pred["edited"] is True and pred["layers"][1]["values"][busiest] == 0
    neuron = client.post("/api/neuron", json={"test_index": 0, "layer": 1, "neuron": busiest}).json()
    assert neuron["off"] is True and neuron["passes_on"] == 0          # what it computes, and that it is cut off
    np.testing.assert_allclose(neuron["weights"]["values"], weights["0.weights"][busiest], rtol=1e-6)
    assert neuron["z"] == pytest.approx(float(h[0, busiest]), rel=1e-5, abs=1e-5)
    # a bias of -1000 on the output for class 1: the network never answers 1
    r = client.post("/api/edits", json={"layer": 2, "neuron": 1, "bias": -1000})
    assert r.json()["test_accuracy"]["edited"] < acc["edited"]
    evaluation = client.get("/api/evaluate").json()
    assert all(row[1] == 0 for row in evaluation["confusion"])
    for k, v in weights.items():                                  # the trained weights are untouched
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])
    r = client.delete("/api/edits")
    assert r.json()["edits"] == [] and r.json()["test_accuracy"]["edited"] == acc["original"]
    assert_4xx(client.post("/api/edits", json={"layer": 1, "neuron": 99, "off": True}), 422, "0 to 15")
    assert_4xx(client.post("/api/edits", json={"layer": 1, "neuron": 0, "bias": 1e9}), 422, "bias")
    assert_4xx(client.post("/api/edits", content=b'{"layer": 1, "neuron": 0, "bias": Infinity}',
                           headers={"content-type": "application/json"}), 422, "bias")


# -- inside ---------------------------------------------------------------------------------------------
def test_inside_shows_the_forward_maths_softmax_and_a_backward_step(app, client):
    trained(client, app, layers=(16,), epochs=1)
    r = client.post("/api/inside", json={"test_index": 4, "layer": 1, "neuron": 2, "label": 3, "lr": 0.5})
    assert r.status_code == 200
    body = r.json()
    hidden, output = body["forward"]
    n = hidden["neuron"]
    assert sum(n["terms"]) == pytest.approx(n["sum"]) and n["sum"] + n["bias"] == pytest.approx(n["z"])
    assert hidden["a"] == [max(z, 0) for z in hidden["z"]]
    soft = body["softmax"]
    assert soft["shifted"] == [z - soft["max"] for z in soft["logits"]]
    assert sum(soft["exp"]) == pytest.approx(soft["sum"]) and sum(soft["probabilities"]) == pytest.approx(1)
    back = body["backward"]
    assert back["label"] == 3 and body["true_label"] == int(gn.datasets.load_digits().y_test[4])
    expected = np.array(soft["probabilities"]) - np.eye(10)[3]        # dL/dz = p - y for softmax + cross-entropy
    np.testing.assert_allclose(back["output_delta"], expected, atol=1e-12)
    first = back["layers"][-1]                                        # the layers go back: hidden 1 last
    assert first["row_neuron"] == 2 and first["name"] == "hidden 1"
    x = np.asarray(hidden["x"])
    np.testing.assert_allclose(first["dW_row"], first["delta"][2] * x, atol=1e-12)     # dW = delta x
    np.testing.assert_allclose([w["update"] for w in first["weights"]], [-0.5 * w["dW"] for w in first["weights"]],
                               atol=1e-12)
    assert first["db"] == first["delta"]
    plain = client.post("/api/inside", json={"test_index": 4, "layer": 2, "neuron": 0}).json()
    assert plain["backward"] is None and "neuron" in plain["forward"][1]
    assert_4xx(client.post("/api/inside", json={"test_index": 4, "layer": 1, "neuron": 0, "label": 12}), 422,
               "label")


# -- evaluate -------------------------------------------------------------------------------------------
def test_evaluate_confusion_cells_and_mistakes(app, client):
    ws = trained(client, app, layers=(16,), epochs=1)
    body = client.get("/api/evaluate").json()
    data = gn.datasets.load_digits()
    loss, accuracy = ws.net.evaluate(data.X_test, data.y_test)
    assert body["accuracy"] == pytest.approx(accuracy) and body["n"] == len(data.y_test)
    confusion = np.array(body["confusion"])
    assert confusion.sum() == len(data.y_test) and np.trace(confusion) == round(accuracy * len(data.y_test))
    true, pred = np.unravel_index(np.argmax(confusion - np.diag(np.diag(confusion))), confusion.shape)
    cell = client.get(f"/api/evaluate/cell?true={true}&predicted={pred}&limit=5").json()
    assert cell["count"] == confusion[true, pred] and 0 < len(cell["items"]) <= 5
    item = cell["items"][0]
    assert item["label"] == true and item["prediction"] == pred and len(item["image"]["pixels"]) == 784
    confidences = [i["confidence"] for i in cell["items"]]
    assert confidences == sorted(confidences, reverse=True)
    mistakes = client.get("/api/evaluate/mistakes?limit=4").json()
    assert mistakes["count"] == len(data.y_test) - np.trace(confusion)
    assert all(m["label"] != m["prediction"] for m in mistakes["items"])
    assert_4xx(client.get("/api/evaluate/cell?true=10&predicted=0"), 422, "true")
    assert_4xx(client.get("/api/evaluate/cell?true=a&predicted=0"), 422, "true")
    assert_4xx(client.get("/api/evaluate/mistakes?limit=100000"), 422, "limit")


def test_descent_lab_steps_and_finite_difference(app, client):
    trained(client, app, layers=(16,), epochs=1)
    r = client.post("/api/descent", json={"seed": 1})
    assert r.status_code == 200
    body = r.json()
    assert [p["label"] for p in body["paths"]] == ["too small", "about right", "too big"]
    assert body["paths"][2]["kind"] in ("diverges", "bounces") and body["labels_hold"]
    fd = body["finite_difference"]
    assert fd["slope"] == pytest.approx(fd["backprop"], rel=1e-5, abs=1e-9)
    assert len(body["curve"]["weights"]) == len(body["curve"]["losses"])
    assert_4xx(client.post("/api/descent", json={"seed": -1}), 422, "seed")


# -- my handwriting -------------------------------------------------------------------------------------
def test_drawings_are_kept_with_their_preprocessing_steps(app, client):
    trained(client, app, layers=(16,), epochs=1)
    r = client.post("/api/drawings", json={"drawing": bar_drawing(), "label": 1})
    assert r.status_code == 200
    body = r.json()
    assert [s["name"] for s in body["steps"]] == ["grayscale", "scaled", "ink", "cropped", "resized", "centred"]
    assert body["steps"][0]["image"]["width"] == 140 and body["steps"][-1]["image"]["width"] == 28
    assert all(s["description"] for s in body["steps"])
    client.post("/api/drawings", json={"drawing": digit_drawing(1), "label": 2})
    listing = client.get("/api/drawings").json()
    assert [d["label"] for d in listing["items"]] == [1, 2] and "steps" not in listing["items"][0]
    assert sum(d["n"] for d in listing["per_digit"]) == 2
    again = client.get(f"/api/drawings/{body['id']}").json()          # its steps, recomputed from the drawing
    assert again["steps"] == body["steps"] and again["label"] == 1
    assert client.delete(f"/api/drawings/{body['id']}").json() == {"deleted": body["id"]}
    assert_4xx(client.get(f"/api/drawings/{body['id']}"), 404, "no drawing")
    assert_4xx(client.delete(f"/api/drawings/{body['id']}"), 404, "no drawing")
    assert_4xx(client.post("/api/drawings", json={"drawing": bar_drawing(), "label": 10}), 422, "label")
    assert_4xx(client.post("/api/drawings", json={"drawing": bar_drawing()}), 422, "label")


def test_drawing_limit_answers_429(tmp_path):
    with browser(make_app(tmp_path, max_drawings=2)) as c:
        for _ in range(2):
            assert c.post("/api/drawings", json={"drawing": bar_drawing(), "label": 1}).status_code == 200
        assert_4xx(c.post("/api/drawings", json={"drawing": bar_drawing(), "label": 1}), 429, "at most 2")


def test_finetune_on_my_drawings_reports_before_and_after(app, client):
    ws = trained(client, app, layers=(32,), epochs=2)
    assert_4xx(client.post("/api/drawings/finetune", json={}), 409, "add some")
    # "my handwriting": real digits drawn shifted to the left edge, a style MNIST never shows
    data = gn.datasets.load_digits()
    for i in range(24):
        img = data.X_train[i].reshape(28, 28)
        wide = np.zeros((28, 56))
        wide[:, :28] = img
        d = {"width": 56, "height": 28, "pixels": (wide * 255).astype(int).ravel().tolist()}
        assert client.post("/api/drawings", json={"drawing": d, "label": int(data.y_train[i])}).status_code == 200
    before_weights = ws.net.get_weights()
    r = client.post("/api/drawings/finetune", json={"epochs": 3, "lr": 0.02, "mix": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trained_on"] + body["held_out"] == 24 and body["mixed_with"] == 5 * body["trained_on"]
    for side in ("before", "after"):
        assert sum(d["n"] for d in body[side]["per_digit"]) == 24
        assert body[side]["accuracy"] == pytest.approx(sum(d["correct"] for d in body[side]["per_digit"]) / 24)
    assert not np.array_equal(before_weights["0.weights"], ws.net.layers[0].params["weights"])
    assert body["after"]["accuracy"] >= body["before"]["accuracy"]
    snapshots = client.get("/api/timeline").json()["snapshots"]
    assert snapshots[-1]["label"].startswith("fine-tuned") and snapshots[-1]["epoch"] == 3
    r = client.post("/api/timeline/replay")                       # the fine-tuning replays exactly too
    assert wait_for(ws.job, 60) == "finished" and ws.job.replay["matches"] is True
    assert_4xx(client.post("/api/drawings/finetune", json={"epochs": 0}), 422, "epochs")
    assert_4xx(client.post("/api/drawings/finetune", json={"mix": 1000}), 422, "mix")


# -- time travel ----------------------------------------------------------------------------------------
def test_time_travel_moves_every_view_to_a_past_epoch(app, client):
    ws = trained(client, app, layers=(16,), epochs=3)
    data = gn.datasets.load_digits()
    start = gn.Network.mlp([784, 16, 10], seed=0)
    assert client.post("/api/timeline/view", json={"epoch": 0}).json() == {"view_epoch": 0.0}
    pred = client.post("/api/predict", json={"test_index": 7}).json()
    np.testing.assert_allclose(pred["probabilities"], start.predict_proba(data.X_test[7:8])[0], atol=1e-6)
    assert pred["epoch"] == 0
    _, acc0 = start.evaluate(data.X_test, data.y_test)
    assert client.get("/api/evaluate").json()["accuracy"] == pytest.approx(acc0)
    assert_4xx(client.post("/api/train/start", json={"epochs": 1}), 409, "past epoch")
    assert_4xx(client.post("/api/timeline/view", json={"epoch": 1.5}), 404, "0, 1, 2, 3")
    assert client.post("/api/timeline/view", json={"epoch": 3}).json() == {"view_epoch": None}   # the latest
    latest = client.post("/api/predict", json={"test_index": 7}).json()
    np.testing.assert_allclose(latest["probabilities"], ws.net.predict_proba(data.X_test[7:8])[0], atol=1e-6)
    assert client.post("/api/timeline/view", json={"epoch": None}).json() == {"view_epoch": None}
    assert_4xx(client.post("/api/timeline/view", json={"epoch": "NaN"}), 422, "epoch")


def test_snapshots_beyond_the_budget_are_thinned_keeping_first_and_last(tmp_path):
    app = make_app(tmp_path, snapshot_bytes=4 * 4 * (784 * 8 + 8 + 8 * 10 + 10))     # room for 4 snapshots
    with browser(app) as c:
        ws = trained(c, app, layers=(8,), epochs=9)
        epochs = [s["epoch"] for s in c.get("/api/timeline").json()["snapshots"]]
        assert len(epochs) <= 4 and epochs[0] == 0 and epochs[-1] == 9
        assert c.get("/api/timeline").json()["thinned"] is True
        assert ws.timeline.size_bytes() <= 4 * 4 * (784 * 8 + 8 + 8 * 10 + 10)


# -- models --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("crafted", ["[" * 100000 + "]" * 100000, '{"format": "glassnet-model", "metadata": []}',
                                     "\x00\xff not json", '{"format": "glassnet-model", "architecture": [[]]}'])
def test_a_crafted_model_in_the_folder_is_left_out_of_the_listing(client, tmp_path, crafted):
    """Issue 15: one crafted model.json in the models folder made GET /api/models a 500 for every browser."""
    gn.Network.mlp([784, 12, 10], seed=1).save(tmp_path / "models" / "teacher")
    (tmp_path / "models" / "crafted").mkdir()
    (tmp_path / "models" / "crafted" / "model.json").write_text(crafted, encoding="utf-8")
    response = client.get("/api/models")
    assert response.status_code == 200, response.text
    assert [m["name"] for m in response.json()["items"]] == ["teacher"]
    assert_4xx(client.post("/api/models/load", json={"name": "crafted"}), 404, "crafted")


def test_save_list_load_download_upload(app, client, tmp_path):
    ws = trained(client, app, layers=(16,), epochs=1)
    r = client.post("/api/models/save", json={"name": "first-try"})
    assert r.status_code == 200
    saved = gn.load(r.json()["path"])
    np.testing.assert_array_equal(saved.layers[0].params["weights"], ws.net.layers[0].params["weights"])
    assert len(saved.history_.epochs) == 1 and saved.metadata_["dataset"] == "digits"
    items = client.get("/api/models").json()["items"]
    assert items == [{"name": "first-try", "sizes": [784, 16, 10], "dataset": "digits", "saved": items[0]["saved"],
                      "mine": True}]
    # another browser neither sees nor loads nor overwrites it
    other = browser(app)
    assert other.get("/api/models").json()["items"] == []
    assert_4xx(other.post("/api/models/load", json={"name": "first-try"}), 404, "first-try")
    assert_4xx(other.post("/api/models/save", json={"name": "first-try"}), 409, "not yours")
    # a model the teacher put in the folder is everyone's
    gn.Network.mlp([784, 12, 10], seed=1).save(tmp_path / "models" / "teacher")
    assert {m["name"] for m in client.get("/api/models").json()["items"]} == {"first-try", "teacher"}
    assert client.post("/api/models/load", json={"name": "teacher"}).json()["sizes"] == [784, 12, 10]
    assert client.post("/api/models/load", json={"name": "first-try"}).json()["source"] == "loaded: first-try"
    assert client.get("/api/session").json()["network"]["trained"] is True     # its history came with it
    blob = client.get("/api/models/download")
    assert blob.status_code == 200 and "attachment" in blob.headers["content-disposition"]
    path = tmp_path / "down.safetensors"
    path.write_bytes(blob.content)
    np.testing.assert_array_equal(gn.load(path).layers[0].params["weights"], ws.net.layers[0].params["weights"])
    client.post("/api/network", json={"layers": [8]})
    up = client.post("/api/models/upload", content=blob.content, headers={"content-type": "application/octet-stream"})
    assert up.status_code == 200 and up.json()["sizes"] == [784, 16, 10] and up.json()["source"] == "uploaded"
    for bad, word in [({"name": "../etc"}, "name"), ({"name": ""}, "name"), ({"name": "a" * 41}, "name"),
                      ({"name": "sp ace"}, "name")]:
        assert_4xx(client.post("/api/models/save", json=bad), 422, word)
    assert_4xx(client.post("/api/models/load", json={"name": "missing"}), 404, "missing")


def test_upload_refuses_what_is_not_a_glassnet_model(client, tmp_path):
    headers = {"content-type": "application/octet-stream"}
    assert_4xx(client.post("/api/models/upload", content=b"", headers=headers), 422, "empty")
    assert_4xx(client.post("/api/models/upload", content=b"\x00" * 100, headers=headers), 422, "upload")
    assert_4xx(client.post("/api/models/upload", content=b"GIF89a" + b"\x01" * 500, headers=headers), 422, "upload")
    gn.Network.mlp([20, 5, 3], seed=0).save(tmp_path / "small.safetensors")
    assert_4xx(client.post("/api/models/upload", content=(tmp_path / "small.safetensors").read_bytes(),
                           headers=headers), 422, "784 inputs")
    gn.Network.mlp([784, 5, 3], seed=0).save(tmp_path / "three.safetensors")
    assert_4xx(client.post("/api/models/upload", content=(tmp_path / "three.safetensors").read_bytes(),
                           headers=headers), 422, "10 classes", "3")


def test_upload_size_limit(tmp_path):
    with browser(make_app(tmp_path, max_upload_bytes=1000)) as c:
        assert_4xx(c.post("/api/models/upload", content=b"x" * 2000,
                          headers={"content-type": "application/octet-stream"}), 413, "1000")


def test_the_server_model_starts_every_workspace(tmp_path):
    from glassnet.app import AppConfig, create_app

    net = gn.Network.mlp([784, 24, 10], seed=5)
    net.save(tmp_path / "m")
    app = create_app(AppConfig(model=tmp_path / "m", models_dir=tmp_path / "models"))
    with browser(app) as c:
        session = c.get("/api/session").json()
        assert session["network"]["sizes"] == [784, 24, 10]
        assert session["network"]["source"].startswith("loaded")
        c.post("/api/network", json={"layers": [8]})
        other = browser(app)                # one browser's new network is not another's
        assert other.get("/api/session").json()["network"]["sizes"] == [784, 24, 10]


# -- the class: token, full server, eviction, shutdown ----------------------------------------------
def test_token_is_required_when_set(tmp_path):
    from glassnet.app import AppConfig, create_app

    app = create_app(AppConfig(host="0.0.0.0", token="s3cret-token", models_dir=tmp_path / "models"))
    with browser(app) as c:
        assert_4xx(c.get("/api/session"), 401, "token")
        assert c.get("/").status_code == 401 and "?token=" in c.get("/").text
        assert c.get("/?token=wrong").status_code == 401
        assert c.get("/openapi.json").status_code == 401
        assert_4xx(c.get("/api/session", headers={"x-glassnet-token": "wrong"}), 401)
        r = c.get("/?token=s3cret-token", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "./"      # relative: works under a prefix
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        assert c.get("/").status_code == 200                        # the cookie now carries it
        assert c.get("/api/session").json()["token_required"] is True
        script = browser(app)
        assert script.get("/api/session", headers={"x-glassnet-token": "s3cret-token"}).status_code == 200


def test_a_full_server_evicts_the_least_recently_used_to_its_database_and_503s_only_when_all_compute(tmp_path):
    app = make_app(tmp_path, max_workspaces=2, idle_seconds=3600)
    store = app.state.glassnet["store"]
    with browser(app) as a:
        b, c = browser(app), browser(app)
        first = a.get("/api/session").json()["workspace"]
        a.get("/api/session")
        b.get("/api/session")
        b.get("/api/session")
        assert c.get("/api/session").status_code == 200             # c's cookie is not back yet: not counted
        assert c.get("/api/session").status_code == 200             # now it is: a (least recently used) made room
        assert sum(ws.confirmed for ws in store.workspaces()) == 2
        back = a.get("/api/session").json()                         # a's workspace comes back from the database
        assert back["workspace"] == first and back["notices"][0].startswith("Welcome back")
        for x in (a, c):                                            # both compute (a paused run counts)
            x.post("/api/network", json={"layers": [8]})
            assert x.post("/api/train/start", json={"epochs": 3, "lr": 0.05, "step": True}).status_code == 200
        for ws in store.workspaces():
            if ws.job is not None:
                _wait_state(ws, "paused")
        b.get("/api/session")
        assert_4xx(b.get("/api/session"), 503, "full")
        for ws in store.workspaces():
            ws.touched -= 7200                                       # idle for two hours: paused runs go too
        assert b.get("/api/session").status_code == 200


def test_shutdown_stops_training_and_keeps_unsaved_work(tmp_path):
    from glassnet.app.server import shutdown

    app = make_app(tmp_path)
    with browser(app) as c:
        c.post("/api/network", json={"layers": [8]})
        c.post("/api/train/start", json={"epochs": 100, "lr": 0.01, "batch_size": 4})
        ws = workspace_of(app, c)
        _wait_until(lambda: ws.job.steps > 3)
        state = app.state.glassnet
        saved = shutdown(state["store"], state["config"])
        assert ws.job.state == "stopped"
        assert len(saved) == 1 and saved[0].parent == tmp_path / "models"
        kept = gn.load(saved[0])
        np.testing.assert_array_equal(kept.layers[0].params["weights"], ws.net.layers[0].params["weights"])
        assert_4xx(c.get("/api/session"), 503, "shutting down")


# -- found in review: the timeline stays the timeline ------------------------------------------------
def test_a_replay_never_replaces_the_curves_the_page_shows(app, client):
    ws = trained(client, app, layers=(8,), epochs=2)
    client.post("/api/train/start", json={"epochs": 1, "lr": 0.05})
    assert wait_for(ws.job) == "finished"
    before = client.get("/api/train/status").json()
    client.post("/api/timeline/replay")
    assert wait_for(ws.job, 60) == "finished" and ws.job.replay["matches"]
    after = client.get("/api/train/status").json()
    assert after["kind"] == "replay" and after["replay_progress"]["segments"] == 2
    assert after["history"] == before["history"] and after["points"] == before["points"]
    assert [r["epoch"] for r in after["history"]] == [1, 2, 3] and after["epoch"] == 3
    assert client.get("/api/session").json()["training"]["history"] == before["history"]


def test_live_points_carry_the_progress_for_the_status_line(app, client):
    client.post("/api/network", json={"layers": [8]})
    client.post("/api/train/start", json={"epochs": 2, "lr": 0.05})
    with client.stream("GET", "/api/train/events") as stream:
        text = "".join(stream.iter_text())
    points = [json.loads(block.split("\n")[1][len("data: "):]) for block in text.strip().split("\n\n")
              if block.startswith("event: point")]
    assert points
    for p in points:
        assert {"batch", "epoch", "run_epoch", "steps_per_epoch", "lr", "state"} <= set(p)
        assert 0 < p["batch"] <= p["steps_per_epoch"] and p["lr"] == 0.05


def test_after_a_stop_in_an_epoch_the_next_run_counts_whole_epochs(app, client):
    client.post("/api/network", json={"layers": [8]})
    client.post("/api/train/start", json={"epochs": 3, "lr": 0.05, "batch_size": 8})
    ws = workspace_of(app, client)
    _wait_until(lambda: ws.job.steps >= 20)
    client.post("/api/train/stop")
    assert wait_for(ws.job) == "stopped"
    assert ws.job.message.startswith("stopped in epoch 1 after mini-batch") and "of 1001" in ws.job.message
    labels = [s["label"] for s in client.get("/api/timeline").json()["snapshots"]]
    assert labels[-1] == "stopped in epoch 1"
    client.post("/api/train/start", json={"epochs": 2, "lr": 0.05})
    assert wait_for(ws.job) == "finished"
    epochs = [s["epoch"] for s in client.get("/api/timeline").json()["snapshots"]]
    assert epochs[-2:] == [2, 3] and all(float(e).is_integer() for e in epochs[:1] + epochs[-2:])
    assert [r["epoch"] for r in client.get("/api/train/status").json()["history"]] == [2, 3]


def test_the_epoch_being_viewed_is_never_thinned_away(tmp_path):
    size = 4 * (784 * 8 + 8 + 8 * 10 + 10)
    app = make_app(tmp_path, snapshot_bytes=4 * size)
    with browser(app) as c:
        ws = trained(c, app, layers=(8,), epochs=2)
        assert c.post("/api/timeline/view", json={"epoch": 1}).json() == {"view_epoch": 1.0}
        c.post("/api/timeline/view", json={"epoch": None})
        c.post("/api/timeline/view", json={"epoch": 1})
        ws.job = None
        ws.view_epoch = None                         # train on from the latest while epoch 1 stays pinned
        c.post("/api/train/start", json={"epochs": 8, "lr": 0.05})
        assert wait_for(ws.job) == "finished"
        c.post("/api/timeline/view", json={"epoch": 1})
        assert 1 in [s["epoch"] for s in c.get("/api/timeline").json()["snapshots"]]
        assert c.post("/api/predict", json={"test_index": 0}).status_code == 200


def test_fine_tune_data_is_bounded_and_an_unreplayable_timeline_says_why(app, client, monkeypatch):
    from glassnet.app import jobs

    ws = trained(client, app, layers=(8,), epochs=1)
    for label in (1, 7):
        client.post("/api/drawings", json={"drawing": digit_drawing(label), "label": label})
    monkeypatch.setattr(jobs, "FINETUNE_DATA_BYTES", 10_000)     # room for one fine-tuning's data
    for _ in range(2):
        assert client.post("/api/drawings/finetune", json={"epochs": 1, "mix": 5}).status_code == 200
    first, second = [s for s in ws.timeline.segments if s["kind"] == "finetune"]
    assert "_X_drawings" not in first and first["replayable"] is False
    assert second["_mixed"].dtype == np.int32 and second["_X_drawings"].shape == (2, 784)
    assert_4xx(client.post("/api/timeline/replay"), 409, "can no longer be replayed", "memory bounded")


def test_a_fine_tuning_leaves_the_rest_of_the_workspace_answering(app, client):
    import threading

    ws = trained(client, app, layers=(8,), epochs=1)
    labels = gn.datasets.load_digits().y_test
    for i in range(10):
        client.post("/api/drawings", json={"drawing": digit_drawing(i), "label": int(labels[i])})
    result = {}
    thread = threading.Thread(target=lambda: result.update(
        r=client.post("/api/drawings/finetune", json={"epochs": 20, "mix": 100})))
    thread.start()
    _wait_until(lambda: ws.finetuning or "r" in result)
    if ws.finetuning:                                # (on a fast machine it may already be over)
        assert client.get("/api/session").status_code == 200
        assert_4xx(client.post("/api/train/start", json={"epochs": 1}), 409, "fine-tuning")
    thread.join(120)
    assert result["r"].status_code == 200 and not ws.finetuning


# -- found in review: eviction keeps work, and one-off requests do not fill the server -----------
def test_health_checks_make_no_workspace_and_one_off_visitors_are_not_counted(tmp_path):
    app = make_app(tmp_path, max_workspaces=2)
    store = app.state.glassnet["store"]
    with browser(app) as page:
        for _ in range(5):
            assert browser(app).get("/api/health").status_code == 200
        assert len(store) == 0
        mine = page.get("/api/session").json()["workspace"]
        page.get("/api/session")                        # a real browser comes back
        for _ in range(5):
            assert browser(app).get("/api/session").status_code == 200      # one-off scripts
        assert [ws.public_id for ws in store.workspaces() if ws.confirmed] == [mine]
        assert page.get("/api/session").json()["workspace"] == mine


def test_an_evicted_workspace_keeps_its_trained_work_and_a_watched_run_is_not_idle(tmp_path):
    import time

    app = make_app(tmp_path, idle_seconds=3600)
    store = app.state.glassnet["store"]
    with browser(app) as c:
        ws = trained(c, app, layers=(8,), epochs=1)
        c.post("/api/edits", json={"layer": 1, "neuron": 3, "off": True})
        assert time.monotonic() - ws.touched < 60             # the end of the run counted as activity
        ws.touched -= 7200
        store.evict_idle()
        assert len(store) == 0
        back = c.get("/api/session").json()                   # eviction freed memory, not work
        assert back["network"]["trained"] and back["edits"][0]["off"] and "1 neuron edit" in back["notices"][0]
        again = workspace_of(app, c)
        assert again is not ws
        np.testing.assert_array_equal(again.net.layers[0].params["weights"], ws.net.layers[0].params["weights"])
        assert not list((tmp_path / "models").glob("autosave-*"))


def test_a_training_paused_and_forgotten_is_stopped_and_evicted(tmp_path):
    app = make_app(tmp_path, idle_seconds=3600)
    store = app.state.glassnet["store"]
    with browser(app) as c:
        c.post("/api/network", json={"layers": [8]})
        c.post("/api/train/start", json={"epochs": 3, "lr": 0.05, "step": True})
        ws = workspace_of(app, c)
        _wait_state(ws, "paused")
        store.evict_idle()
        assert len(store) == 1                              # paused but recently used: kept
        ws.touched -= 7200
        store.evict_idle()
        assert len(store) == 0
        _wait_until(lambda: ws.job.state == "stopped")
        back = c.get("/api/session").json()
        assert back["training"]["state"] == "idle" and back["timeline"]["snapshots"][-1]["epoch"] == 1


# -- helpers ---------------------------------------------------------------------------------------------
def _wait_until(condition, timeout=30.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _wait_state(ws, state, epochs=None, timeout=30.0):
    _wait_until(lambda: ws.job.state == state and (epochs is None or ws.job.epoch_in_run >= epochs), timeout)
