"""Every browser's workspace, bounded: how many exist, which are evicted, how many train at once.

A :class:`WorkspaceStore` maps the cookie of each browser to its :class:`~glassnet.app.workspace.Workspace`.
It makes a new one for a browser it does not know (starting from the server's model, if any), evicts
the ones left idle (keeping their unsaved trained work in the models folder), and counts the training
slots (``max_trainings``: the computations that may run at the same time; a paused run holds none).
Not here: what one workspace holds (``workspace.py``) or HTTP (the server's guard calls :meth:`get`).
"""

import contextlib
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ..network import Network
from .config import Limits
from .data import DataRegistry
from .errors import OverLimit, Unavailable
from .workspace import Workspace, autosave

_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class WorkspaceStore:
    """Every browser's workspace, bounded: at most ``max_workspaces``, idle ones evicted, trainings counted."""

    def __init__(self, limits: Limits, data: DataRegistry, initial_model=None, models_dir=None):
        self.limits = limits
        self.data = data
        self.initial_model = initial_model      # a Network every new workspace copies, or None
        self.models_dir = Path(models_dir) if models_dir else None
        self._items = OrderedDict()
        self._lock = threading.Lock()
        self._training = 0
        self.closed = False

    def __len__(self):
        return len(self._items)

    def get(self, wid):
        """The workspace for cookie value ``wid``; a new one when unknown (None) or evicted."""
        now = time.monotonic()
        with self._lock:
            if self.closed:
                raise Unavailable("the server is shutting down")
            ws = self._items.get(wid) if wid else None
            if ws is not None:
                ws.touched = now
                ws.requests += 1
                self._items.move_to_end(wid)
                return ws, False
            gone = self._evict(now)
            full = len(self._items) >= self.limits.max_workspaces
            if not full:
                if not (wid and len(wid) == 24 and _ID_CHARS.issuperset(wid)):
                    wid = secrets.token_urlsafe(18)    # (a known-format id from before a restart is kept:
                                                       # the models that browser saved stay its own)
                ws = Workspace(wid, self)
                self._items[wid] = ws
        self._retire(gone)
        if full:
            raise Unavailable(f"the server is full: {self.limits.max_workspaces} workspaces are in use and none "
                              f"has been idle long enough to be evicted; try again later")
        self._initialise(ws)
        return ws, True

    def _initialise(self, ws):
        if self.initial_model is not None:
            net = self.initial_model.copy()
            net.history_ = self.initial_model.history_
            net.loss_ = self.initial_model.loss_
            dataset = (getattr(self.initial_model, "metadata_", {}) or {}).get("dataset", self.data.names[0])
            if dataset not in self.data.names:
                dataset = self.data.names[0]
            ws.set_network(net, dataset, "loaded: the server's model")
        else:
            ws.set_network(Network.mlp([784, 128, 64, 10], activation="relu", seed=0), self.data.names[0], "new")

    def _evict(self, now):
        """Take out (under the lock) the workspaces to evict; returns them for :meth:`_retire`.

        Idle longer than the limit (a paused training included) goes. When the server is still full,
        one more: a browser that made a single request and left (a script, a health check) before
        the least recently used one idle for a minute. A workspace that is computing never goes.
        """
        gone = [ws for ws in self._items.values() if ws.evictable(now, self.limits.idle_seconds)]
        for ws in gone:
            del self._items[ws.id]
        if len(self._items) >= self.limits.max_workspaces:
            idle = [ws for ws in self._items.values() if not ws.busy()]
            pick = ([ws for ws in idle if ws.requests <= 1 and now - ws.touched > 5]
                    or [ws for ws in idle if now - ws.touched > 60])[:1]
            for ws in pick:
                del self._items[ws.id]
                gone.append(ws)
        return gone

    def _retire(self, gone):
        """Stop what the evicted workspaces still run and keep their unsaved trained work (in a thread:
        this may be called from the event loop)."""
        if not gone:
            return

        def retire():
            for ws in gone:
                if ws.job is not None and ws.job.active:
                    ws.job.stop()
                    ws.job.join(10)
                if self.models_dir is not None and ws.has_unsaved_work():
                    autosave(ws, self.models_dir, "evicted")
        threading.Thread(target=retire, name="glassnet-evict", daemon=True).start()

    def evict_idle(self):
        with self._lock:
            gone = self._evict(time.monotonic())
        self._retire(gone)

    # training slots --------------------------------------------------------------------------
    def acquire_training(self):
        """Take one of the ``max_trainings`` slots (:class:`OverLimit` when none is free)."""
        with self._lock:
            if self._training >= self.limits.max_trainings:
                raise OverLimit(f"{self.limits.max_trainings} trainings are already running on this server "
                                f"(its limit); try again in a minute")
            self._training += 1

    def release_training(self):
        with self._lock:
            self._training = max(0, self._training - 1)

    @contextlib.contextmanager
    def training_slot(self):
        """A training slot held for a ``with`` block (fine-tuning, the learning-rate finder)."""
        self.acquire_training()
        try:
            yield
        finally:
            self.release_training()

    @property
    def trainings(self):
        return self._training

    def workspaces(self):
        with self._lock:
            return list(self._items.values())

    def close(self, timeout=10.0):
        """Stop every training (keeping its weights) and return the workspaces that hold trained work."""
        with self._lock:
            self.closed = True
            items = list(self._items.values())
        for ws in items:
            if ws.job is not None:
                ws.job.stop()
        deadline = time.monotonic() + timeout
        for ws in items:
            if ws.job is not None:
                ws.job.join(max(0.0, deadline - time.monotonic()))
        return [ws for ws in items if ws.has_unsaved_work()]
