"""Helpers for the app's tests (tests/app/): an app with small limits, a real server on loopback, and
for the unit tests of the workspaces and the training jobs (no server, no FastAPI) a store over a
small cut of the bundled digits."""

import dataclasses
import socket
import threading
import time
from pathlib import Path

import glassnet as gn
from glassnet.app.config import Limits
from glassnet.app.errors import BadInput
from glassnet.app.store import WorkspaceStore
from optional import need

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "app"


class SmallData:
    """A data registry with one dataset, "digits": every k-th image of the bundled digits, ``n_train`` for
    training and ``n_test`` for testing (every class), so that an epoch takes milliseconds (what
    ``DataRegistry`` offers, in small)."""

    names = ["digits"]

    def __init__(self, n_train=480, n_test=200):
        full = gn.datasets.load_digits()
        train, test = len(full.X_train) // n_train, len(full.X_test) // n_test
        self.dataset = dataclasses.replace(
            full, X_train=full.X_train[::train][:n_train], y_train=full.y_train[::train][:n_train],
            X_test=full.X_test[::test][:n_test], y_test=full.y_test[::test][:n_test])

    def get(self, name):
        if name not in self.names:
            raise BadInput(f"dataset: expected one of {', '.join(self.names)}, received {name!r}")
        return self.dataset

    def describe(self, name):
        return {"name": name, "available": True}


def make_store(tmp_path=None, **limits):
    """A workspace store over :class:`SmallData` (``limits`` override Limits fields; models under ``tmp_path``)."""
    return WorkspaceStore(Limits(**limits), SmallData(), models_dir=tmp_path / "models" if tmp_path else None)


def small_workspace(store, layers=(8,), seed=0, activation="relu"):
    """A new workspace of ``store`` with a fresh ``[784, *layers, 10]`` network."""
    ws, _ = store.get(None)
    ws.replace_network(gn.Network.mlp([784, *layers, 10], activation=activation, seed=seed), "digits", "new",
                       "new network", seed=seed)
    return ws


def wait_until(condition, timeout=30.0):
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


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
