"""The app keeps a class's work in its database: a browser that comes back after a restart (or a crash,
or an eviction) finds its network, snapshots, drawings and edits by its cookie and is told so; saving
over a name asks first, models can be deleted, and two browsers saving one new name never both win.

A "restart" here is a second app over the same folders; a crash is the first app dropped without its
shutdown (what kill -9 leaves is only what was already written). Real processes and real signals:
test_app_kill.py."""

import threading
import time

import numpy as np
import pytest

import glassnet as gn
from app.test_server import assert_4xx, bar_drawing, browser, trained
from appserver import LiveServer, make_app, workspace_of
from glassnet.app import plane as plane_module
from glassnet.app import workspace as workspace_module
from glassnet.app.database import Database, decode, encode
from glassnet.app.jobs import wait_for
from optional import CHROMIUM_ARGS, chromium, need

WORKSPACE = "glassnet_workspace"


def returning(app, cookie):
    """The same browser (its cookie) opening ``app`` (a restarted server)."""
    c = browser(app)
    c.cookies.set(WORKSPACE, cookie)
    return c


def test_encode_round_trips_arrays_inside_json_and_never_unpickles():
    value = {"a": [1, 2.5, None, float("nan")], "w": np.arange(6, dtype=np.float32).reshape(2, 3),
             "nested": [{"x": np.array([7], dtype=np.int64)}], "s": "é"}
    back = decode(encode(value))
    assert back["a"][:3] == [1, 2.5, None] and np.isnan(back["a"][3]) and back["s"] == "é"
    np.testing.assert_array_equal(back["w"], value["w"])
    assert back["w"].dtype == np.float32 and back["nested"][0]["x"].dtype == np.int64


def test_the_database_is_in_wal_mode(tmp_path):
    db = Database.in_folder(tmp_path / "d")
    with db._lock:
        assert db._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


@pytest.mark.parametrize("crash", [False, True], ids=["restart", "crash"])
def test_a_returning_browser_finds_its_work_after_a_restart_or_a_crash(tmp_path, crash):
    need("fastapi.testclient")
    first = make_app(tmp_path)
    c = browser(first)
    if not crash:
        c.__enter__()                                      # the app's lifespan: a clean shutdown at the end
    ws = trained(c, first, layers=(8,), epochs=2)
    for label in (1, 7):
        assert c.post("/api/drawings", json={"drawing": bar_drawing(), "label": label}).status_code == 200
    assert c.post("/api/edits", json={"layer": 1, "neuron": 2, "off": True}).status_code == 200
    assert c.post("/api/timeline/view", json={"epoch": 1}).status_code == 200
    cookie, before = c.cookies[WORKSPACE], c.get("/api/session").json()
    weights = {k: v.copy() for k, v in ws.net.get_weights().items()}
    if not crash:
        c.__exit__(None, None, None)

    again = make_app(tmp_path)                              # the server restarted over the same folders
    with returning(again, cookie) as c2:
        s = c2.get("/api/session").json()
        assert s["workspace"] == before["workspace"] and s["network"]["trained"]
        assert [p["epoch"] for p in s["timeline"]["snapshots"]] == [0, 1, 2]
        assert s["drawings"] == 2 and s["edits"] == before["edits"] and s["view_epoch"] == 1
        assert s["training"]["history"] == before["training"]["history"]
        assert s["notices"] == ["Welcome back: restored your network trained to epoch 2, 3 time-travel snapshots, "
                                "2 drawings and 1 neuron edit."]
        assert c2.get("/api/session").json()["notices"] == []                  # said once
        for k, v in workspace_of(again, c2).net.get_weights().items():
            np.testing.assert_array_equal(v, weights[k])
        labels = [d["label"] for d in c2.get("/api/drawings").json()["items"]]
        assert labels == [1, 7]
        c2.post("/api/timeline/view", json={"epoch": None})
        r = c2.post("/api/train/start", json={"epochs": 1, "lr": 0.1})        # and it trains on from there
        assert r.status_code == 200, r.text
        assert wait_for(workspace_of(again, c2).job, 60) == "finished"
        assert c2.get("/api/session").json()["timeline"]["snapshots"][-1]["epoch"] == 3


def test_a_stranger_cookie_finds_nothing_and_a_broken_record_starts_afresh(tmp_path):
    app = make_app(tmp_path)
    with browser(app) as c:
        c.get("/api/session")
        c.get("/api/session")
        cookie = c.cookies[WORKSPACE]
    db = Database.in_folder(tmp_path / "models")
    assert cookie in db.workspace_ids()
    with db._lock:
        db._db.execute("UPDATE workspaces SET state = ?", (b"not an npz",))
    again = make_app(tmp_path)
    with returning(again, cookie) as c2:
        s = c2.get("/api/session").json()
        assert s["network"]["trained"] is False and s["notices"] == []
        assert returning(again, "S" * 24).get("/api/session").json()["notices"] == []    # a stranger's cookie


def test_a_registered_part_is_kept_and_rebuilt(tmp_path, monkeypatch):
    class Part:
        def __init__(self, value):
            self.value = value

        def to_record(self):
            return {"value": self.value}

    monkeypatch.setitem(workspace_module.PARTS, "gadget", lambda record: Part(record["value"] + 1))
    app = make_app(tmp_path)
    c = browser(app)
    c.get("/api/session")
    ws = workspace_of(app, c)
    c.get("/api/session")                                   # the cookie came back: the workspace is kept
    ws.gadget = Part(41)
    ws.persist()
    again = make_app(tmp_path)
    with returning(again, c.cookies[WORKSPACE]) as c2:
        c2.get("/api/session")
        assert workspace_of(again, c2).gadget.value == 42


# -- the models folder: ask before replacing, delete, one winner per name -----------------------------------
def test_saving_over_a_name_asks_first_then_overwrites_and_delete_removes(app, client, tmp_path):
    trained(client, app, layers=(8,), epochs=1)
    assert client.post("/api/models/save", json={"name": "mine"}).json()["replaced"] is False
    detail = assert_4xx(client.post("/api/models/save", json={"name": "mine"}), 409, "already exists", "overwrite")
    assert detail == ("a model named 'mine' already exists; save again with overwrite to replace it, "
                      "or pick another name")
    assert client.post("/api/models/save", json={"name": "mine", "overwrite": True}).json()["replaced"] is True
    other = browser(app)
    assert_4xx(other.post("/api/models/save", json={"name": "mine", "overwrite": True}), 409, "not yours")
    assert_4xx(other.delete("/api/models/mine"), 404, "no model named 'mine'")
    gn.Network.mlp([784, 4, 10], seed=0).save(tmp_path / "models" / "shared")
    assert_4xx(client.delete("/api/models/shared"), 409, "by hand")
    assert client.delete("/api/models/mine").json() == {"deleted": "mine"}
    assert not (tmp_path / "models" / "mine").exists()
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".deleting")]
    assert [m["name"] for m in client.get("/api/models").json()["items"]] == ["shared"]
    assert_4xx(client.post("/api/models/load", json={"name": "mine"}), 404)
    assert_4xx(client.delete("/api/models/mine"), 404)


@pytest.mark.parametrize("name", ["a" * 255, "é" * 127, "a" * 41, "../x", "a/b"])
def test_model_names_that_cannot_be_saved_get_a_sentence(client, name):
    r = client.post("/api/models/save", json={"name": name})
    assert r.status_code == 422 and "name" in r.json()["detail"]


def test_two_browsers_saving_one_new_name_at_once_never_both_win(tmp_path):
    app = make_app(tmp_path)
    with browser(app) as a:
        b = browser(app)
        for c, seed in ((a, 1), (b, 2)):
            assert c.post("/api/network", json={"layers": [4], "seed": seed}).status_code == 200
        owners = {c: workspace_of(app, c).owner() for c in (a, b)}
        for trial in range(10):
            go, answers = threading.Barrier(2), {}

            def save(c, go=go, answers=answers, name=f"race{trial}"):
                go.wait(5)
                answers[c] = c.post("/api/models/save", json={"name": name})

            threads = [threading.Thread(target=save, args=(c,)) for c in (a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            statuses = sorted(r.status_code for r in answers.values())
            assert statuses == [200, 409], [r.text for r in answers.values()]
            winner = next(c for c, r in answers.items() if r.status_code == 200)
            kept = gn.load(tmp_path / "models" / f"race{trial}")
            assert kept.metadata_["app_owner"] == owners[winner]
        assert not [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]


def test_new_network_over_unsaved_training_keeps_it_and_says_where(app, client):
    ws = trained(client, app, layers=(8,), epochs=1)
    weights = ws.net.get_weights()
    assert client.post("/api/network", json={"layers": [16]}).status_code == 200
    notice = client.get("/api/session").json()["notices"][0]
    assert notice.startswith("Your trained network was not saved, so it was kept as “autosave-")
    name = notice.split("“")[1].split("”")[0]
    items = {m["name"]: m for m in client.get("/api/models").json()["items"]}
    assert items[name]["mine"] and items[name]["sizes"] == [784, 8, 10]
    assert client.post("/api/models/load", json={"name": name}).status_code == 200
    for k, v in workspace_of(app, client).net.get_weights().items():
        np.testing.assert_array_equal(v, weights[k])
    assert client.post("/api/network", json={"layers": [16]}).status_code == 200     # loaded = saved: no copy
    assert client.get("/api/session").json()["notices"] == []


def test_the_plane_views_state_comes_back_after_a_restart(tmp_path):
    app = make_app(tmp_path)
    c = browser(app)
    c.get("/api/session")
    assert c.post("/api/plane/settings", json={"seed": 3}).status_code == 200
    assert c.post("/api/plane/step", json={"batches": 5}).status_code == 200
    before = c.get("/api/plane").json()
    again = make_app(tmp_path)
    with returning(again, c.cookies[WORKSPACE]) as c2:
        after = c2.get("/api/plane").json()
    assert {k: v for k, v in after.items() if not k.endswith("version")} == \
        {k: v for k, v in before.items() if not k.endswith("version")}


def test_a_live_plane_run_is_written_while_it_trains(tmp_path, monkeypatch):
    """A crash in the middle of a Plane run loses at most SAVE_SECONDS of it, not the whole run."""
    monkeypatch.setattr(plane_module, "SAVE_SECONDS", 0.2)
    app = make_app(tmp_path)
    c = browser(app)
    c.get("/api/session")
    assert c.post("/api/plane/train/start").status_code == 200
    try:
        saved, deadline = 0, time.monotonic() + 30
        while saved == 0 and time.monotonic() < deadline:
            time.sleep(0.3)
            c.get("/api/plane/frame")                       # someone is watching
            with returning(make_app(tmp_path), c.cookies[WORKSPACE]) as c2:   # what a restart would find
                saved = c2.get("/api/plane").json()["steps"]
        assert saved > 0, "nothing of the live run was written in 30 s"
        assert c.get("/api/plane").json()["running"] is True     # written while it still trains
    finally:
        c.post("/api/plane/train/pause")


def test_in_the_browser_the_page_says_what_was_restored_and_asks_before_replacing(tmp_path):
    """Chromium: work done, the server restarted on another port (the cookie is the host's), the page
    reloaded says what came back; saving over a name asks, and Delete removes the model."""
    sync_api, executable = chromium()
    first = LiveServer(make_app(tmp_path)).start()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = b.new_page()
            page.goto(first.url + "/#draw")
            page.wait_for_function("document.querySelector('#net-summary').textContent.length > 0")
            for label in (3, 5):
                r = page.request.post(first.url + "/api/drawings", data={"drawing": bar_drawing(), "label": label})
                assert r.status == 200, r.text()
            first.stop()
            second = LiveServer(make_app(tmp_path)).start()
            try:
                page.goto(second.url + "/#models")
                note = page.locator("[data-testid='message-info']", has_text="Welcome back")
                sync_api.expect(note).to_contain_text("2 drawings", timeout=20_000)
                page.fill("#model-name", "twice")
                page.click("#model-save")
                sync_api.expect(page.locator("#models-list tr[data-model='twice']")).to_be_visible(timeout=20_000)
                asked = []
                page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
                page.click("#model-save")
                sync_api.expect(page.locator("[data-testid='message-info']", has_text="Replaced")).to_be_visible(
                    timeout=20_000)
                assert asked and "already exists" in asked[0]
                page.click("[data-testid='model-delete-twice']")
                sync_api.expect(page.locator("#models-list tr[data-model='twice']")).to_have_count(0, timeout=20_000)
                assert not (tmp_path / "models" / "twice").exists()
            finally:
                second.stop()
        finally:
            b.close()
