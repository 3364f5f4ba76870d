"""Fixtures for the app's tests: an app with small limits, its test client, and a real server on loopback.

The helpers live in tests/appserver.py (importable from every test: ``from appserver import ...``)."""

import pytest

from appserver import ARTIFACTS, LiveServer, make_app
from optional import CHROMIUM_ARGS, chromium, need


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def client(app):
    """A test client: one browser (it keeps the workspace cookie)."""
    need("fastapi.testclient")
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1") as c:    # a browser on this computer
        yield c


@pytest.fixture
def live_server(tmp_path):
    """A real server (uvicorn, loopback, free port) over a fresh app; stopped at the end of the test."""
    server = LiveServer(make_app(tmp_path)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright, one per test module: ``(sync_api, browser)``."""
    sync_api, executable = chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield sync_api, b
        finally:
            b.close()


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
