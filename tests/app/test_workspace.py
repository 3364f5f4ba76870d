"""The app's per-browser state on its own (glassnet.app.timeline, .workspace, .store, .data): no server,
no FastAPI. The timeline's snapshots and their budget, a workspace's methods (each under its own lock,
refusing with the app's plain errors before changing anything), and the store's limits and eviction,
which keeps unsaved trained work."""

import threading

import numpy as np
import pytest

import glassnet as gn
from appserver import make_store, small_workspace, wait_until
from glassnet.app.data import DataRegistry
from glassnet.app.errors import BadInput, BadState, Busy, NotFound, OverLimit, Unavailable
from glassnet.app.jobs import wait_for
from glassnet.app.timeline import Timeline
from glassnet.app.workspace import apply_edits, check_adoptable

TRAIN = {"epochs": 2, "batch_size": 32, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "schedule": "constant",
         "augment": False, "seed": 0}


def free_for_others(lock):
    """True when another thread could take ``lock`` now."""
    free = []

    def probe():
        free.append(lock.acquire(blocking=False))
        if free[0]:
            lock.release()
    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(30)
    return free[0]


def weights(value, n=10):
    return {"w": np.full(n, value, dtype=np.float32)}


# -- the timeline --------------------------------------------------------------------------------------------
def test_snapshots_are_copies_found_by_epoch():
    start = weights(0.0)
    timeline = Timeline(start, seed=3, budget=1 << 20)
    start["w"][:] = 9                                      # the caller's arrays may change: the snapshot does not
    timeline.add(1, "epoch 1", weights(1.0))
    timeline.add(1.5, "stopped in epoch 2", weights(1.5))
    assert timeline.last_epoch == 1.5 and timeline.first()["w"][0] == 0
    assert timeline.weights_at(1)["w"][0] == 1
    with pytest.raises(NotFound, match=r"no snapshot at epoch 2; the timeline has epochs 0, 1, 1.5"):
        timeline.weights_at(2)
    assert timeline.to_dict()["snapshots"] == [{"epoch": 0, "label": "start"}, {"epoch": 1, "label": "epoch 1"},
                                               {"epoch": 1.5, "label": "stopped in epoch 2"}]
    assert timeline.size_bytes() == 3 * 40


def test_over_the_budget_the_middle_is_thinned_keeping_first_last_and_the_viewed_epoch():
    timeline = Timeline(weights(0.0), seed=0, budget=4 * 40)             # room for four snapshots
    timeline.pinned = 3.0
    for epoch in range(1, 12):
        timeline.add(epoch, f"epoch {epoch}", weights(float(epoch)))
    epochs = [s["epoch"] for s in timeline.to_dict()["snapshots"]]
    assert len(epochs) <= 4 and epochs[0] == 0 and epochs[-1] == 11 and 3 in epochs
    assert timeline.thinned and timeline.size_bytes() <= 4 * 40


def test_a_timeline_says_why_it_cannot_be_replayed():
    timeline = Timeline(weights(0.0), seed=0, budget=1 << 20)
    with pytest.raises(BadState, match="nothing to replay yet"):
        timeline.check_replayable()
    timeline.segments.append({"kind": "train", "replayable": True, "_private": np.zeros(3)})
    timeline.check_replayable()
    timeline.segments.append({"kind": "finetune", "replayable": False, "why_not_replayable": "its data is gone"})
    with pytest.raises(BadState, match=r"can no longer be replayed.*\(its data is gone\)"):
        timeline.check_replayable()
    assert all("_private" not in s for s in timeline.to_dict()["segments"])       # data stays on the server


# -- one workspace -----------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    return make_store(tmp_path)


@pytest.fixture
def ws(store):
    return small_workspace(store)


def train(ws, **overrides):
    state = ws.start_training(TRAIN | overrides)
    assert state["state"] == "running"
    assert wait_for(ws.job) == "finished", ws.job.message
    return ws


def test_a_new_network_starts_a_new_timeline(ws):
    train(ws)
    ws.edit(1, 0, off=True)
    ws.view(1)
    described = ws.replace_network(gn.Network.mlp([784, 6, 10], activation="tanh", seed=1), "digits", "new",
                                   "new network")
    assert described["sizes"] == [784, 6, 10] and described["activation"] == "tanh"
    assert [layer["name"] for layer in described["layers"]] == ["input", "hidden 1", "output"]
    assert described["layers"][-1]["activation"] == "softmax" and described["trained"] is False
    assert ws.edits == {} and ws.view_epoch is None and ws.history == [] and ws.job is None
    assert [s["epoch"] for s in ws.timeline.to_dict()["snapshots"]] == [0]


def test_a_busy_workspace_refuses_what_would_change_its_network(ws, tmp_path):
    ws.finetuning = True
    for call in (lambda: ws.replace_network(gn.Network.mlp([784, 4, 10]), "digits", "new", "new network"),
                 lambda: ws.start_training(TRAIN), ws.replay, lambda: ws.network_copy("learning-rate finder"),
                 lambda: ws.save(tmp_path / "m", {})):
        with pytest.raises(Busy, match="a fine-tuning is running"):
            call()
    ws.finetuning = False
    ws.start_training(TRAIN | {"epochs": 50, "step": False, "batch_size": 8})
    with pytest.raises(Busy, match="training is running; stop it first"):
        ws.start_training(TRAIN)
    assert ws.control_training("stop")["state"] in ("running", "stopped")
    assert wait_for(ws.job) == "stopped"
    assert not (tmp_path / "m").exists()


def test_training_starts_only_from_the_latest_weights(ws):
    train(ws)
    assert ws.view(0) == 0.0 and ws.timeline.pinned == 0.0
    job = ws.job
    with pytest.raises(BadState, match="past epoch"):
        ws.start_training(TRAIN)
    assert ws.job is job and len(ws.timeline.segments) == 1          # refused before anything changed
    assert ws.view(2) is None                                         # the last snapshot is the network itself
    with pytest.raises(NotFound, match="0, 1, 2"):
        ws.view(1.5)


def test_controls_without_a_training_say_what_to_do(ws):
    for action, words in [("pause", "start one first"), ("resume", "start one first"), ("stop", "no training"),
                          ("step", "not paused"), ("lr", "set the rate in the form")]:
        with pytest.raises(BadState, match=words):
            ws.control_training(action, lr=0.1)


def test_the_viewed_network_is_the_past_epoch_with_the_edits(ws):
    train(ws)
    latest = ws.net.get_weights()
    assert ws.view_network() is ws.net                                # nothing to change: no copy
    ws.view(0)
    past = ws.view_network()
    np.testing.assert_array_equal(past.layers[0].params["weights"], ws.timeline.weights_at(0)["0.weights"])
    assert ws.view_network() is past                                  # kept until something changes
    summary = ws.edit(1, 3, off=True)
    assert summary["edits"] == [{"layer": 1, "neuron": 3, "off": True, "bias": None}]
    assert set(summary["test_accuracy"]) == {"original": 0, "edited": 0}.keys()
    edited = ws.view_network()
    assert edited is not past and not edited.layers[0].params["weights"][3].any()
    assert not edited.layers[2].params["weights"][:, 3].any()          # nothing of it reaches the layer above
    net, edit = ws.neuron_network(1, 3)                               # shown computing with its own weights
    np.testing.assert_array_equal(net.layers[0].params["weights"][3], ws.timeline.weights_at(0)["0.weights"][3])
    assert edit == {"off": True, "bias": None}
    for k, v in latest.items():                                       # the trained weights are untouched
        np.testing.assert_array_equal(v, ws.net.get_weights()[k])
    assert ws.edit(1, 3)["edits"] == [] and ws.clear_edits()["edits"] == []


def test_while_it_trains_a_view_reads_a_copy_of_the_weights(ws, monkeypatch):
    """CI's load test: a prediction's explain read the live weights while a step changed them in another
    thread, and its trace then differed from predict_proba on the same object (a 500)."""
    assert ws.view_network() is ws.net                   # idle: the network itself, nothing copied
    monkeypatch.setattr(type(ws), "busy", lambda self: True)
    seen = ws.view_network()
    assert seen is not ws.net
    for mine, theirs in zip(seen.parameters(), ws.net.parameters()):
        np.testing.assert_array_equal(mine, theirs)
        assert not np.shares_memory(mine, theirs)


def test_edits_of_neurons_that_do_not_exist_are_refused(ws):
    with pytest.raises(BadInput, match="layer: expected 1 to 2"):
        ws.edit(3, 0, off=True)
    with pytest.raises(BadInput, match="neuron: layer 1 has neurons 0 to 7"):
        ws.edit(1, 8, bias=1.0)
    assert ws.edits == {}


def test_apply_edits_switches_a_neuron_off_whatever_its_activation_gives_at_zero():
    net = gn.Network.mlp([5, 3, 2], activation="sigmoid", seed=0)
    apply_edits(net, {(1, 1): {"off": True}, (2, 0): {"bias": 4.0}})
    x = np.ones((1, 5), dtype=np.float32)
    other = gn.Network.mlp([5, 3, 2], activation="sigmoid", seed=0)
    other.layers[0].params["weights"][1] = 0
    other.layers[0].params["biases"][1] = 0
    other.layers[2].params["weights"][:, 1] = 0                       # sigmoid(0) = 0.5 must not pass on
    other.layers[2].params["biases"][0] = 4.0
    np.testing.assert_array_equal(net.predict_proba(x), other.predict_proba(x))


def test_drawings_are_kept_up_to_the_limit(tmp_path):
    store = make_store(tmp_path, max_drawings=2)
    ws = small_workspace(store)
    x, raw = np.zeros(784, dtype=np.float32), np.zeros((8, 8), dtype=np.uint8)
    assert [ws.add_drawing(label, x, raw) for label in (1, 2)] == [1, 2]
    with pytest.raises(OverLimit, match="at most 2 drawings"):
        ws.add_drawing(3, x, raw)
    assert ws.drawing(2)["label"] == 2
    ws.delete_drawing(1)
    with pytest.raises(NotFound, match="no drawing 1"):
        ws.drawing(1)
    with pytest.raises(NotFound):
        ws.delete_drawing(1)
    assert [did for did, _ in ws.drawing_items()] == [2]
    assert ws.add_drawing(4, x, raw) == 3                            # ids are never reused


def test_fine_tuning_marks_the_workspace_busy_and_needs_the_latest_weights(ws, monkeypatch):
    data = ws.data()
    for i in range(6):
        ws.add_drawing(int(data.y_train[i]), data.X_train[i], np.zeros((8, 8), dtype=np.uint8))
    train(ws, epochs=1)
    ws.view(0)
    with pytest.raises(BadState, match="past epoch"):
        ws.finetune(epochs=1, lr=0.01, mix=1)
    ws.view(None)
    busy_while_training = []
    acquire = ws.store.acquire_training

    def acquire_and_look():
        busy_while_training.append((ws.busy(), free_for_others(ws.lock)))
        acquire()
    monkeypatch.setattr(ws.store, "acquire_training", acquire_and_look)
    result = ws.finetune(epochs=1, lr=0.01, mix=1)
    assert busy_while_training == [(True, True)]          # busy, yet the lock is free for the page's requests
    assert not ws.finetuning and result["trained_on"] + result["held_out"] == 6
    assert not ws.saved and ws.has_unsaved_work()


def test_the_saved_network_carries_the_whole_timeline(ws, tmp_path):
    train(ws)
    train(ws, epochs=1)
    ws.save(tmp_path / "m", {"dataset": ws.dataset})
    assert ws.saved and not ws.has_unsaved_work()
    saved = gn.load(tmp_path / "m")
    assert [r["epoch"] for r in saved.history_.to_dict()["epochs"]] == [1, 2, 3]
    np.testing.assert_array_equal(saved.layers[0].params["weights"], ws.net.layers[0].params["weights"])


def test_a_network_to_adopt_must_fit_the_app(store):
    limits = store.limits
    check_adoptable(gn.Network.mlp([784, 4, 10]), "digits", store.data, limits)
    for net, words in [(gn.Network.mlp([20, 4, 10]), "784 inputs"), (gn.Network.mlp([784, 4, 3]), "10 classes"),
                       (gn.Network.mlp([784, 2000, 10]), "parameters")]:
        with pytest.raises(BadInput, match=words):
            check_adoptable(net, "digits", store.data, limits)
    bad = gn.Network.mlp([784, 4, 10])
    bad.layers[0].params["weights"][0, 0] = np.nan
    with pytest.raises(BadInput, match="NaN or infinity"):
        check_adoptable(bad, "digits", store.data, limits)


def runs_only_after_the_lock_is_released(lock, call):
    """Hold ``lock`` in one thread, run ``call`` in another: True when ``call`` waited for the release."""
    holding, release, done = threading.Event(), threading.Event(), []

    def hold():
        with lock:
            holding.set()
            release.wait(30)

    def run():
        call()
        done.append(True)
    holder, caller = threading.Thread(target=hold), threading.Thread(target=run)
    holder.start()
    holding.wait(30)
    caller.start()
    caller.join(0.05)
    waited = not done                      # (it cannot finish while the lock is held, however slow the machine)
    release.set()
    caller.join(30)
    holder.join(30)
    return waited and done == [True]


def test_each_method_waits_for_the_workspace_lock(ws):
    """A request's method never runs while another holds the workspace (two tabs, a double click)."""
    train(ws, epochs=1)
    x, raw = np.zeros(784, dtype=np.float32), np.zeros((8, 8), dtype=np.uint8)
    calls = {"view": lambda: ws.view(0), "edit": lambda: ws.edit(1, 0, off=True), "clear_edits": ws.clear_edits,
             "add_drawing": lambda: ws.add_drawing(1, x, raw), "delete_drawing": lambda: ws.delete_drawing(1),
             "state": ws.state, "timeline_state": ws.timeline_state, "network_to_save": ws.network_to_save,
             "view latest": lambda: ws.view(None), "start_training": lambda: ws.start_training(TRAIN),
             "control_training": lambda: ws.control_training("stop")}
    for name, call in calls.items():
        assert runs_only_after_the_lock_is_released(ws.lock, call), name
    assert wait_for(ws.job) in ("finished", "stopped")


# -- all workspaces ----------------------------------------------------------------------------------------
def test_the_store_bounds_workspaces_and_keeps_a_cookie_it_knows(tmp_path):
    store = make_store(tmp_path, max_workspaces=2)
    a, created = store.get(None)
    assert created and len(a.id) == 24 and not a.confirmed      # counted once its cookie comes back
    assert store.get(a.id) == (a, False) and a.requests == 2 and a.confirmed
    kept, _ = store.get("K" * 24)                       # a known-format id (from before a restart) is kept
    assert kept.id == "K" * 24 and kept.confirmed
    b, _ = store.get(None)                              # served, not counted
    with pytest.raises(Unavailable, match="the server is full: 2 workspaces"):
        store.get(b.id)
    store.close()
    with pytest.raises(Unavailable, match="shutting down"):
        store.get(a.id)


def test_training_slots_are_counted_and_given_back(store):
    assert store.trainings == 0
    with pytest.raises(RuntimeError):
        with store.training_slot():
            assert store.trainings == 1
            raise RuntimeError("a computation that fails")
    assert store.trainings == 0
    for _ in range(store.limits.max_trainings):
        store.acquire_training()
    with pytest.raises(OverLimit, match="4 trainings are already running"):
        store.acquire_training()


def test_eviction_keeps_unsaved_trained_work_and_spares_a_busy_workspace(tmp_path):
    store = make_store(tmp_path, idle_seconds=3600)
    trained, busy = small_workspace(store), small_workspace(store)
    train(trained, epochs=1)
    busy.start_training(TRAIN | {"epochs": 50, "batch_size": 8})
    for ws in (trained, busy):
        ws.touched -= 7200
    store.evict_idle()
    assert store.workspaces() == [busy]                 # computing: it stays, however long ago it was touched
    wait_until(lambda: trained.saved)
    [kept] = (tmp_path / "models").glob("autosave-*")
    assert gn.load(kept).metadata_["autosaved"] == "evicted"
    assert gn.load(kept).metadata_["app_owner"] == trained.owner()
    busy.control_training("stop")
    wait_for(busy.job)


def test_one_off_visitors_are_never_counted_and_the_oldest_go_first(tmp_path):
    store = make_store(tmp_path, max_workspaces=2)
    browser, _ = store.get(None)
    store.get(browser.id)                               # a real browser comes back
    one_offs = [store.get(None)[0] for _ in range(3)]   # scripts that asked once
    assert set(store.workspaces()) == {browser, *one_offs[1:]}
    newcomer, created = store.get(None)
    assert created and set(store.workspaces()) == {browser, one_offs[2], newcomer}


def test_the_data_registry_names_what_it_offers():
    registry = DataRegistry(["digits", "digits", "/nowhere/at/all"])
    assert registry.names == ["digits", "/nowhere/at/all"]
    with pytest.raises(BadInput, match="dataset: expected one of digits, /nowhere/at/all, received 'cifar'"):
        registry.get("cifar")
    gone = registry.describe("/nowhere/at/all")
    assert gone["available"] is False and gone["reason"]
    digits = registry.get("digits")
    assert registry.get("digits") is digits and not digits.X_train.flags.writeable     # loaded once, shared
