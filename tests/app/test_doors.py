"""The app's doors: only this server's own name and page may change its state (Host and Origin, 403),
uploads are octet-stream only (415), a flood of cookie-less requests never locks a browser out, and
``glassnet app`` refuses a ``--models`` that is not a usable folder (exit 2)."""

import pytest

from app.test_server import assert_4xx, bar_drawing, browser
from appserver import make_app
from glassnet.cli import main
from optional import need

SAVE = ("/api/models/save", {"name": "m"})


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.5:8000",
                                  ""])
def test_a_foreign_host_is_refused_on_loopback(app, host):
    with browser(app) as c:
        assert_4xx(c.post(*SAVE[:1], json=SAVE[1], headers={"host": host}), 403, "Host")
        assert_4xx(c.get("/api/session", headers={"host": host}), 403, "Host")


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.2",
                                  "app.localhost:8000"])
def test_loopback_names_are_let_in_on_loopback(app, host):
    with browser(app) as c:
        assert c.get("/api/session", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "null", "http://localhost"])
def test_a_state_change_from_another_origin_is_refused(app, tmp_path, origin):
    with browser(app) as c:
        c.get("/api/session")
        assert_4xx(c.post("/api/models/save", json={"name": "m"}, headers={"origin": origin}), 403, "Origin")
        assert_4xx(c.delete("/api/models/m", headers={"origin": origin}), 403, "Origin")
        assert not (tmp_path / "models" / "m").exists()
        assert c.post("/api/models/save", json={"name": "m"}, headers={"origin": "http://127.0.0.1"}).status_code == 200
        assert c.get("/api/session", headers={"origin": origin}).status_code == 200       # reading is not changing


def test_a_server_bound_to_one_address_answers_only_to_it(tmp_path):
    need("fastapi")
    from glassnet.app import AppConfig, create_app

    app = create_app(AppConfig(host="10.1.2.3", token="s3cret-token", models_dir=tmp_path / "models"))
    with browser(app) as c:
        assert_4xx(c.get("/api/session", headers={"x-glassnet-token": "s3cret-token"}), 403, "10.1.2.3")
        ok = c.get("/api/session", headers={"host": "10.1.2.3:8000", "x-glassnet-token": "s3cret-token"})
        assert ok.status_code == 200
        assert_4xx(c.get("/api/session", headers={"host": "10.1.2.3:8000"}), 401, "token")   # and the token


def test_uploads_are_octet_stream_only_and_a_cross_site_text_upload_is_refused(app, tmp_path):
    with browser(app) as c:
        blob = c.get("/api/models/download").content
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
            headers = {"content-type": kind} if kind else {}
            assert_4xx(c.post("/api/models/upload", content=blob, headers=headers), 415, "application/octet-stream")
        assert_4xx(c.post("/api/models/upload", content=blob, headers={"content-type": "text/plain",
                                                                       "origin": "http://evil.example"}), 403)
        r = c.post("/api/models/upload", content=blob, headers={"content-type": "application/octet-stream"})
        assert r.status_code == 200, r.text


def test_a_flood_of_cookieless_requests_does_not_lock_out_a_browser(tmp_path):
    app = make_app(tmp_path, max_workspaces=5)
    store = app.state.glassnet["store"]
    with browser(app) as real:
        flood = browser(app)
        for _ in range(300):
            flood.cookies.clear()
            assert flood.get("/api/session").status_code == 200
        assert sum(ws.confirmed for ws in store.workspaces()) == 0 and len(store) <= 5
        first = real.get("/")                                       # the real browser: the page, then its API
        assert first.status_code == 200 and real.cookies.get("glassnet_workspace")
        s = real.get("/api/session")
        assert s.status_code == 200
        assert real.post("/api/drawings", json={"drawing": bar_drawing(), "label": 1}).status_code == 200
        for _ in range(300):                                        # a second flood: the browser's work stays
            flood.cookies.clear()
            flood.get("/api/session")
        assert real.get("/api/session").json()["drawings"] == 1


def test_a_flood_with_made_up_cookies_is_rate_limited_per_address(tmp_path):
    app = make_app(tmp_path, max_workspaces=1000)
    store = app.state.glassnet["store"]
    with browser(app):
        flood = browser(app)
        for i in range(60):
            flood.cookies.set("glassnet_workspace", f"{i:024d}")
            assert flood.get("/api/session").status_code == 200
        assert sum(ws.confirmed for ws in store.workspaces()) == 30          # NEW_PER_MINUTE from one address
        need("fastapi.testclient")
        from fastapi.testclient import TestClient

        elsewhere = TestClient(app, base_url="http://127.0.0.1", client=("10.9.9.9", 5000))
        elsewhere.get("/api/session")
        elsewhere.get("/api/session")
        assert sum(ws.confirmed for ws in store.workspaces()) == 31          # another address is not slowed


def test_models_that_is_not_a_usable_folder_is_refused_at_start(tmp_path, capsys):
    need("fastapi")
    need("uvicorn")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["app", "--port", "0", "--models", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "--models: expected a folder the server can write in" in err and "is a file" in err
    assert main(["app", "--port", "0", "--models", str(a_file / "below")]) == 2
    assert main(["app", "--port", "0", "--models", str(tmp_path / "m"), "--data", str(a_file)]) == 2
    assert "--data" in capsys.readouterr().err
