"""Helpers for the app's tests (tests/app/): an app with small limits, a real server on loopback."""

import socket
import threading
import time
from pathlib import Path

from optional import need

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "app"


def make_app(tmp_path, **limits):
    """An app over the bundled digits saving models under ``tmp_path`` (``limits`` override Limits fields)."""
    need("fastapi")
    from glassnet.app import AppConfig, Limits, create_app

    config = AppConfig(models_dir=tmp_path / "models", limits=Limits(**limits))
    return create_app(config)


def workspace_of(app, client):
    """The server-side workspace of ``client`` (by its cookie)."""
    store = app.state.glassnet["store"]
    return store._items[client.cookies["glassnet_workspace"]]


class LiveServer:
    """uvicorn serving ``app`` on a free 127.0.0.1 port in a thread; ``stop()`` shuts it down (bounded)."""

    def __init__(self, app):
        uvicorn = need("uvicorn")
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)   # (TCP_NODELAY)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout=15.0):
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the app server did not start within {timeout} s")
            time.sleep(0.02)
        return self

    def stop(self, timeout=15.0):
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
        assert not self.thread.is_alive(), "the app server did not stop in time"
