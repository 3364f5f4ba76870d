"""Every browser's workspace, bounded: how many exist, which are evicted, how many train at once.

A :class:`WorkspaceStore` maps the cookie of each browser to its :class:`~glassnet.app.workspace.Workspace`.
It makes a new one for a browser it does not know (starting from the server's model, if any), evicts
the ones left idle, and counts the training slots (``max_trainings``: the computations that may run at
the same time; a paused run holds none).

With a database (:mod:`glassnet.app.database`, what ``glassnet app`` always has) eviction frees
memory, never work: a workspace is written to the database as it changes, and a browser whose
workspace is not in memory (evicted, or the server restarted) gets it back from there by its cookie.
A workspace is *confirmed*, counted against ``max_workspaces`` and kept in the database only once its
cookie has come back, so requests that never send the cookie back (a script, a flood) make short-lived
workspaces that never lock a browser out; and each client address confirms at most
``NEW_PER_MINUTE`` new workspaces a minute (past it a browser is still served, its workspace is
confirmed on a later request). Without a database (the unit tests) an evicted workspace's unsaved
trained network is kept in the models folder instead.

Not here: what one workspace holds (``workspace.py``) or HTTP (the server's guard calls :meth:`get`).
"""

import contextlib
import logging
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path

from ..network import Network
from . import saved_models
from .config import Limits
from .data import DataRegistry
from .errors import BadState, NotFound, OverLimit, Unavailable
from .workspace import Workspace, autosave, restore

log = logging.getLogger("glassnet.app")

_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
NEW_PER_MINUTE = 30                # new workspaces one client address may confirm a minute (a burst of this many)


def valid_id(wid):
    """True for a cookie value in the format this server gives out (24 URL-safe characters)."""
    return bool(wid) and len(wid) == 24 and _ID_CHARS.issuperset(wid)


class TokenBucket:
    """At most ``per_minute`` events a minute per key, in bursts of up to ``per_minute`` (bounded memory)."""

    def __init__(self, per_minute, max_keys=10_000):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.max_keys = max_keys
        self._tokens = OrderedDict()        # key -> (tokens, when)

    def take(self, key, now):
        tokens, when = self._tokens.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - when) * self.rate)
        ok = tokens >= 1.0
        self._tokens[key] = (tokens - 1.0 if ok else tokens, now)
        while len(self._tokens) > self.max_keys:
            self._tokens.popitem(last=False)
        return ok


class WorkspaceStore:
    """Every browser's workspace, bounded: at most ``max_workspaces``, idle ones evicted, trainings counted."""

    def __init__(self, limits: Limits, data: DataRegistry, initial_model=None, models_dir=None, database=None):
        self.limits = limits
        self.data = data
        self.initial_model = initial_model      # a Network every new workspace copies, or None
        self.models_dir = Path(models_dir) if models_dir else None
        self.database = database                # a glassnet.app.database.Database, or None
        self.saving = threading.Lock()          # one save into the models folder at a time (names are checked under it)
        self._items: OrderedDict[str, Workspace] = OrderedDict()
        self._new = TokenBucket(NEW_PER_MINUTE)
        self._lock = threading.Lock()
        self._training = 0
        self.closed = False

    def __len__(self):
        return len(self._items)

    def get(self, wid, client=None):
        """The workspace for cookie value ``wid`` and whether it is new (the browser needs the cookie).

        Known in memory: that one (confirmed now if its cookie just came back). Else, a cookie in this
        server's format: the workspace kept in the database, or a new one under that id (the models a
        browser saved stay its own across restarts). Else a new one with a fresh id. ``client`` (the
        address) is what the rate of new confirmed workspaces is counted by.
        """
        now = time.monotonic()
        with self._lock:
            if self.closed:
                raise Unavailable("the server is shutting down")
            ws = self._items.get(wid) if wid else None
            if ws is not None:
                ws.touched = now
                ws.requests += 1
                self._items.move_to_end(wid)
                confirm = not ws.confirmed and self._new.take(client, now)
                if confirm:
                    ws.confirmed = True
        if ws is not None:
            if confirm:
                self._confirmed(ws, now)
            return ws, False
        kept = self._kept(wid) if valid_id(wid) else None
        ws = None
        if kept is not None:
            try:
                ws = restore(wid, self, kept)
            except Exception as exc:          # a record this version cannot read: start afresh, say so in the log
                log.error("could not restore workspace %s from the database: %s", wid[:4], exc)
        created = ws is None
        if created:
            ws = Workspace(wid if valid_id(wid) else secrets.token_urlsafe(18), self)
            self._initialise(ws)
        with self._lock:
            if self.closed:
                raise Unavailable("the server is shutting down")
            twin = self._items.get(ws.id)         # another request of this browser restored it meanwhile
            if twin is not None:
                return twin, False
            ws.confirmed = kept is not None or (valid_id(wid) and self._new.take(client, now))
            self._items[ws.id] = ws
        if ws.confirmed:
            self._confirmed(ws, now)
        else:
            self._make_room(now)
        return ws, created and ws.id != wid

    def _kept(self, wid):
        if self.database is None:
            return None
        try:
            return self.database.load(wid)
        except Exception as exc:
            log.error("could not read workspace %s from the database: %s", wid[:4], exc)
            return None

    def _confirmed(self, ws, now):
        """A confirmed workspace: make room for it (503 when nothing can go) and keep it in the database."""
        try:
            self._make_room(now, keep=ws)
        except Unavailable:
            with self._lock:
                self._items.pop(ws.id, None)
            raise
        if self.database is not None and ws.db is None:
            ws.attach(self.database)

    def _make_room(self, now, keep=None):
        """Evict what must go (idle ones; past ``max_workspaces`` confirmed or unconfirmed, the least
        recently used that can go); :class:`Unavailable` when ``keep`` cannot be made room for."""
        with self._lock:
            gone = self._evict(now, keep)
            full = keep is not None and sum(w.confirmed for w in self._items.values()) > self.limits.max_workspaces
        self._retire(gone)
        if full:
            raise Unavailable(f"the server is full: {self.limits.max_workspaces} workspaces are in use and none "
                              f"can be evicted now; try again later")

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

    def _evict(self, now, keep=None):
        """Take out (under the lock) the workspaces to evict; returns them for :meth:`_retire`.

        Idle longer than the limit (a paused training included) goes. Past ``max_workspaces``
        unconfirmed workspaces (their cookie never came back), the oldest idle ones go. Past
        ``max_workspaces`` confirmed ones: with a database the least recently used one not computing
        (its work is in the database); without, a browser that made a single request and left before
        the least recently used one idle for a minute. A workspace that is computing never goes.
        """
        gone = [ws for ws in self._items.values() if ws is not keep and ws.evictable(now, self.limits.idle_seconds)]
        for ws in gone:
            del self._items[ws.id]
        for confirmed in (False, True):
            group = [ws for ws in self._items.values() if ws.confirmed == confirmed]
            over = len(group) - self.limits.max_workspaces
            if over <= 0:
                continue
            idle = [ws for ws in group if ws is not keep and not ws.busy()]
            if confirmed and self.database is None:
                idle = ([ws for ws in idle if ws.requests <= 1 and now - ws.touched > 5]
                        or [ws for ws in idle if now - ws.touched > 60])
            for ws in idle[:over]:
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
                if ws.db is not None:
                    ws.persist()                 # (the run just stopped: its last state is in the database)
                elif self.models_dir is not None and ws.has_unsaved_work():
                    autosave(ws, self.models_dir, "evicted")
        threading.Thread(target=retire, name="glassnet-evict", daemon=True).start()

    def evict_idle(self):
        with self._lock:
            gone = self._evict(time.monotonic())
        self._retire(gone)

    def __contains__(self, wid):
        return wid in self._items

    # the models folder: one save or delete at a time, so two browsers never both take a name -----
    def save_model(self, ws, name, overwrite=False):
        """Save ``ws``'s network as ``name`` in the models folder; ``{"name", "path", "replaced"}``.

        An existing model is replaced only when ``overwrite`` is set and it is ``ws``'s own
        (:class:`BadState`, 409, otherwise, saying so). Saves are serialised: of two browsers saving
        one new name at once, the second is told the name is taken.
        """
        with self.saving:
            path = saved_models.writable(self.models_dir, name, ws.owner())     # someone else's: 409
            replaced = path.exists()
            if replaced and not overwrite:
                raise BadState(f"a model named {name!r} already exists; save again with overwrite to replace it, "
                               f"or pick another name")
            ws.save(path, metadata={"dataset": ws.dataset, "app_owner": ws.owner(), "saved_by": "glassnet app"})
            if self.database is not None:
                ws._write(lambda db: db.record_model(name, ws.owner(), "saved"))
        return {"name": name, "path": str(path), "replaced": replaced}

    def delete_model(self, ws, name):
        """Delete ``ws``'s own model ``name`` from the models folder (NotFound / BadState otherwise)."""
        with self.saving:
            path = saved_models.folder(self.models_dir) / name
            doc = saved_models.model_doc(path)
            owner = (doc.get("metadata") or {}).get("app_owner") if doc is not None else ""
            if doc is None or owner not in (None, ws.owner()):
                raise NotFound(f"no model named {name!r}; GET /api/models lists yours")
            if owner is None:
                raise BadState(f"{name!r} was put in the models folder by hand and is shared with everyone; "
                               f"only whoever runs the server can delete it (from the folder)")
            gone = path.with_name(f".deleting-{name}-{secrets.token_hex(4)}")
            path.rename(gone)                    # the name is free at once; the files go next
            shutil.rmtree(gone, ignore_errors=True) if gone.is_dir() else gone.unlink(missing_ok=True)
            if self.database is not None:
                ws._write(lambda db: db.forget_model(name))
        return {"deleted": name}

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
