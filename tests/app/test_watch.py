"""The Train view's live views over HTTP: the first-layer weights, the gallery of test answers and the
diagnostics (``analysis.diagnose``, worded for the app), checked against the library's own numbers."""

import numpy as np

import glassnet as gn
from appserver import workspace_of
from glassnet import serialization
from glassnet.app import analysis
from glassnet.app.jobs import wait_for
from glassnet.app.watch import gallery_rows
from glassnet.diagnostics import diagnose


def train(client, app, layers, epochs=1, lr=0.05):
    assert client.post("/api/network", json={"layers": list(layers), "seed": 0}).status_code == 200
    r = client.post("/api/train/start", json={"epochs": epochs, "lr": lr, "momentum": 0.9, "batch_size": 64})
    assert r.status_code == 200, r.text
    ws = workspace_of(app, client)
    wait_for(ws.job, 60)
    return ws


def test_a_one_neuron_network_gets_a_sentence_and_its_fix(app, client):
    ws = train(client, app, [1])
    watch = client.get("/api/train/watch").json()
    names = [f["name"] for f in watch["diagnostics"]]
    assert names == [f.name for f in diagnose(ws.history, ws.net, ws.data().X_train)]     # the library's rules
    flat = watch["diagnostics"][0]
    assert flat["name"] == "loss_flat" and flat["title"] == "The loss is not falling"
    assert flat["sentence"].startswith("The loss") and "hidden 1 has only 1 neuron" in flat["sentence"]
    assert flat["fix"].startswith("Try this: Widen hidden 1 (Hidden layers: 32 or more neurons)")
    for text in (f["sentence"] + f["fix"] for f in watch["diagnostics"]):
        assert "--" not in text and "glassnet." not in text and "->" not in text
    assert watch["filters"]["neurons"] == 1 and watch["filters"]["shown"] == 1


def test_filters_and_gallery_are_the_networks_numbers(app, client):
    ws = train(client, app, [16])
    watch = client.get("/api/train/watch?neurons=4&examples=12").json()
    W = ws.net.layers[0].params["weights"]
    assert watch["filters"]["neurons"] == 16 and [f["neuron"] for f in watch["filters"]["items"]] == [0, 1, 2, 3]
    first = watch["filters"]["items"][0]
    assert first["largest"] == float(np.max(np.abs(W[0])))
    assert first["picture"]["width"] == 28 and max(map(abs, first["picture"]["values"])) == 127
    assert np.array_equal(np.sign(first["picture"]["values"]), np.sign(np.rint(127 * W[0] / np.max(np.abs(W[0])))))
    data = ws.data()
    rows = gallery_rows(data, 12)
    predicted = ws.net.predict(data.X_test[rows])
    items = watch["gallery"]["items"]
    assert [i["test_index"] for i in items] == rows.tolist()
    assert [i["prediction"] for i in items] == predicted.tolist()
    assert [i["label"] for i in items] == data.y_test[rows].tolist()
    assert watch["gallery"]["correct"] == int(np.sum(predicted == data.y_test[rows]))
    assert all(len(i["image"]["pixels"]) == 784 for i in items)
    assert "image" not in client.get("/api/train/watch?images=false&examples=3").json()["gallery"]["items"][0]
    assert watch["epoch"] == 1 and watch["state"] == "finished"


def test_an_exploding_rate_is_diagnosed_with_the_apps_finder(app, client):
    ws = train(client, app, [32], lr=100.0)             # the loss ends huge but finite, the ReLUs dead
    assert ws.job.state == "finished" and ws.history[-1]["loss"] > 1000
    findings = client.get("/api/train/watch").json()["diagnostics"]
    assert [f["name"] for f in findings] == ["loss_exploding", "dead_neurons"]   # not "at chance": far above it
    assert "times what an untrained network scores" in findings[0]["sentence"]
    assert "Find a learning rate" in findings[0]["fix"] and "e.g. 10 instead of 100" in findings[0]["fix"]
    ws = train(client, app, [128, 64], lr=100.0)       # the loss becomes NaN: fit stops
    assert ws.job.state == "failed" and ws.job.diverged is not None
    finding = client.get("/api/train/watch").json()["diagnostics"][0]
    assert finding["name"] == "loss_exploding" and finding["sentence"].startswith("The loss became infinite")


def test_diagnose_takes_a_history_too():
    records = [{"epoch": 1, "loss": 2.0, "lr": 0.5}, {"epoch": 2, "loss": 9.0, "lr": 0.5},
               {"epoch": 3, "loss": None, "note": "fine-tuned on 4 drawings"}]
    finding = analysis.diagnose(records)[0]
    assert finding["name"] == "loss_exploding" and finding["sentence"].startswith("The loss rose from 2 to 9")
    assert analysis.diagnose([]) == []


def test_refusals_read_as_plain_sentences(client):
    """The validation library's wording ("List should have at most 4 items after validation, not 5",
    "Input should be greater than 0") never reaches the page: one sentence, expected X, received Y."""
    client.get("/api/session")
    cases = [("/api/network", {"layers": [8, 8, 8, 8, 8]}, "layers: expected at most 4 items, received 5"),
             ("/api/network", {"layers": [1.5]}, "layers.0: expected a whole number, received 1.5"),
             ("/api/network", {"layers": [8], "activation": "nope"}, "activation: expected one of relu, leaky_relu"),
             ("/api/train/start", {"lr": -1}, "lr: expected a number above 0, received -1"),
             ("/api/train/start", {"epochs": 0}, "epochs: expected a number of 1 or more, received 0"),
             ("/api/train/start", {"batch_size": 0}, "batch_size: expected a number of 1 or more, received 0"),
             ("/api/train/start", {"lr": "x"}, 'lr: expected a number, received "x"')]
    for path, body, words in cases:
        r = client.post(path, json=body)
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
        assert not any(w in r.json()["detail"] for w in ("should", "validation", "Input", "'"))


def test_a_loaded_model_goes_on_from_its_last_epoch(app, client, tmp_path):
    """A model trained elsewhere: the timeline starts where its history ends, and training adds epochs 4, 5."""
    data = gn.datasets.load_digits()
    net = gn.Network.mlp([784, 16, 10], seed=0)
    net.fit(data.X_train[:500], data.y_train[:500], epochs=3, batch_size=50, optimizer=gn.SGD(lr=0.05), seed=0)
    serialization.save(net, tmp_path / "models" / "elsewhere", metadata={"dataset": "digits"})
    client.get("/api/session")
    assert client.post("/api/models/load", json={"name": "elsewhere"}).status_code == 200
    assert client.get("/api/timeline").json()["snapshots"] == [{"epoch": 3, "label": "as loaded, after epoch 3"}]
    assert client.get("/api/train/status").json()["epoch"] == 3
    r = client.post("/api/train/start", json={"epochs": 2, "lr": 0.05})
    assert r.status_code == 200, r.text
    ws = workspace_of(app, client)
    assert wait_for(ws.job, 60) == "finished"
    assert [r["epoch"] for r in ws.history] == [1, 2, 3, 4, 5]
    assert [s["epoch"] for s in client.get("/api/timeline").json()["snapshots"]] == [3, 4, 5]


def test_a_network_without_hidden_layers_shows_its_output_weights(client):
    client.get("/api/session")
    assert client.post("/api/network", json={"layers": [], "seed": 0}).status_code == 200     # 784-10
    watch = client.get("/api/train/watch?neurons=3&examples=2").json()
    assert watch["filters"]["name"] == "output" and watch["filters"]["neurons"] == 10
    assert watch["diagnostics"] == [] and watch["gallery"]["n"] == 2
