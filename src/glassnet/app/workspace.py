"""Workspaces: what one browser owns (a network, its timeline, a training job, drawings, edits).

The server keeps workspaces in memory, one per browser (a random id in a cookie), in a
:class:`WorkspaceStore` that bounds how many exist and how many train at once, and evicts the
ones left idle. A workspace only ever touches its own objects; the datasets are shared, read-only.

The timeline records every change to a workspace's weights as *segments* (a training run with its
settings, seed and live learning-rate changes, or a fine-tuning on drawings) and keeps a snapshot of
the weights after every epoch, so the app can move back to any epoch and replay a run exactly.
"""

import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from pathlib import Path

from .. import datasets as gn_datasets
from .. import serialization
from ..datasets import catalog, named
from ..errors import GlassnetError
from ..explain import neuron_groups
from ..network import Network
from .config import Limits

log = logging.getLogger("glassnet.app")
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class AppError(Exception):
    """A request the app refuses: ``status`` is the HTTP status, the message says why in one sentence."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# -- datasets, shared by every workspace ------------------------------------------------------------
class DataRegistry:
    """The datasets the app offers, loaded once on first use and shared read-only."""

    def __init__(self, names):
        self.names = list(dict.fromkeys(names))
        self._loaded = {}
        self._lock = threading.Lock()

    @staticmethod
    def default_names():
        """The bundled digits, plus every named dataset already in the cache (the app never downloads)."""
        names = ["digits"]
        for name in catalog.CATALOG:
            try:
                if named.is_cached(name):
                    names.append(name)
            except Exception:   # an unreadable cache folder: just not offered
                pass
        return names

    def describe(self, name):
        try:
            data = self.get(name)
        except (AppError, GlassnetError, OSError, ValueError) as exc:
            return {"name": name, "description": "", "classes": [], "image_shape": None, "n_train": None,
                    "n_test": None, "available": False, "reason": getattr(exc, "message", str(exc))}
        return {"name": name, "description": data.description, "classes": list(data.classes),
                "image_shape": list(data.shape), "n_train": len(data.X_train), "n_test": len(data.X_test),
                "available": True}

    def get(self, name):
        if name not in self.names:
            raise AppError(422, f"dataset: expected one of {', '.join(self.names)}, received {name!r}")
        with self._lock:
            if name not in self._loaded:
                data = gn_datasets.load(name, download=False, progress=False)
                if tuple(data.shape) != (28, 28):
                    raise AppError(422, f"dataset {name!r}: the app draws 28x28 images, the dataset's images are "
                                        f"{tuple(data.shape)}")
                for array in (data.X_train, data.X_test, data.y_train, data.y_test):
                    array.flags.writeable = False          # shared by every workspace: nobody writes
                self._loaded[name] = data
            return self._loaded[name]

    def preload(self):
        for name in self.names:
            self.get(name)


# -- the timeline ----------------------------------------------------------------------------------
class Timeline:
    """Snapshots of a network's weights (epoch 0 = where it started) and the segments between them."""

    def __init__(self, weights, seed, budget):
        self.budget = budget
        self.seed = seed
        self.snapshots = OrderedDict()       # epoch (float) -> (label, weights dict)
        self.segments = []                   # what changed the weights, in order: see jobs.py
        self.thinned = False
        self.pinned = None                   # the epoch a browser is looking at: never thinned away
        self._lock = threading.Lock()        # the training thread adds while requests read
        self.add(0, "start", weights)

    @property
    def last_epoch(self):
        with self._lock:
            return next(reversed(self.snapshots))

    def add(self, epoch, label, weights):
        epoch = float(epoch)
        copied = {k: v.copy() for k, v in weights.items()}
        with self._lock:
            self.snapshots[epoch] = (label, copied)
            self._thin()

    def _bytes(self):
        return sum(a.nbytes for _, w in self.snapshots.values() for a in w.values())

    def _thin(self):
        """Over budget: drop every other snapshot in the middle (first and last always stay)."""
        while self._bytes() > self.budget and len(self.snapshots) > 2 + (self.pinned is not None):
            keys = [k for k in list(self.snapshots)[1:-1] if k != self.pinned]
            for key in keys[::2] or keys[:1]:
                del self.snapshots[key]
            self.thinned = True

    def weights_at(self, epoch):
        key = float(epoch)
        with self._lock:
            if key not in self.snapshots:
                available = ", ".join(_epoch_text(e) for e in self.snapshots)
                raise AppError(404, f"no snapshot at epoch {_epoch_text(key)}; the timeline has epochs {available}")
            return self.snapshots[key][1]

    def first(self):
        with self._lock:
            return next(iter(self.snapshots.values()))[1]

    @property
    def replayable(self):
        return bool(self.segments) and all(s.get("replayable", True) for s in self.segments)

    def to_dict(self):
        with self._lock:
            snapshots = [{"epoch": _epoch_value(e), "label": label} for e, (label, _) in self.snapshots.items()]
        return {"snapshots": snapshots,
                "seed": self.seed, "replayable": self.replayable, "thinned": self.thinned,
                "segments": [{k: v for k, v in s.items() if not k.startswith("_")} for s in self.segments]}


def _epoch_value(e):
    return int(e) if float(e).is_integer() else round(float(e), 3)


def _epoch_text(e):
    return str(_epoch_value(e))


# -- one browser's workspace ---------------------------------------------------------------------
class Workspace:
    """A network and everything the app shows about it, for one browser."""

    def __init__(self, wid, store):
        self.id = wid
        self.public_id = secrets.token_hex(3)
        self.store = store
        self.lock = threading.RLock()
        self.touched = time.monotonic()
        self.job = None
        self.finetuning = False
        self.requests = 1                # requests seen (a one-off script or health check stays at 1)
        self.drawings = OrderedDict()    # id -> {"label", "x" (784 float32), "raw" (the drawing, uint8)}
        self._next_drawing = 1
        self.edits = {}                  # (layer, neuron) -> {"off": bool, "bias": float | None}
        self.view_epoch = None
        self.points = []                 # live curve points of the timeline
        self.history = []                # epoch records of the timeline
        self.version = 0                 # bumped whenever the weights, edits or view change
        self._view_cache = None
        self.saved = False
        self.net = None
        self.source = "new"

    # the network ------------------------------------------------------------------------------
    def set_network(self, net, dataset, source, seed=0):
        self.net = net
        self.dataset = dataset
        self.source = source
        self.seed = seed
        self.timeline = Timeline(net.get_weights(), seed, self.store.limits.snapshot_bytes)
        self.timeline.architecture = net.get_config()
        self.edits.clear()
        self.view_epoch = None
        self.points = []
        self.history = list(_history_records(net))
        self.saved = source.startswith("loaded")
        self.changed()

    def changed(self):
        self.version += 1
        self._view_cache = None

    def busy(self):
        return self.finetuning or (self.job is not None and self.job.active)

    def require_idle(self, what):
        if self.finetuning:
            raise AppError(409, f"{what}: a fine-tuning is running; wait for it to finish")
        if self.busy():
            raise AppError(409, f"{what}: training is {self.job.state}; stop it first")

    def evictable(self, now, idle_seconds):
        """Idle longer than ``idle_seconds`` and not computing (a training paused that long counts as idle)."""
        if now - self.touched <= idle_seconds or self.finetuning:
            return False
        return self.job is None or not self.job.active or self.job.state == "paused"

    def has_unsaved_work(self):
        return bool(self.timeline.segments) and not self.saved

    def owner(self):
        """Who saved a model, as kept in its metadata: a digest of the workspace id (never the id)."""
        return hashlib.sha256(self.id.encode()).hexdigest()[:16]

    def describe_network(self):
        net = self.net
        groups = neuron_groups(net)
        sizes = [net.n_features] + [net.layers[d].n_out for d, _ in groups[1:]]
        layers = []
        from ..explain import activation_name
        for g, (_dense, acts) in enumerate(groups):
            name = "input" if g == 0 else "output" if g == len(groups) - 1 else f"hidden {g}"
            entry = {"index": g, "name": name, "size": sizes[g]}
            if g:
                names = [activation_name(net.layers[i]) for i in acts]
                entry["activation"] = " → ".join(names) if names else "identity"
            layers.append(entry)
        output = layers[-1]
        if output["activation"] == "identity" and getattr(net.loss_, "name", "cross_entropy") == "cross_entropy":
            output["activation"] = "softmax"           # the cross-entropy loss applies it
        hidden = [layer for layer in net.layers if layer.__class__.__name__ not in ("Dense", "Dropout")]
        activation = activation_name(hidden[0]) if hidden else "identity"
        return {"sizes": sizes, "activation": activation, "n_params": net.n_params,
                "trained": bool(self.history), "layers": layers, "source": self.source,
                "dataset": self.dataset}

    def n_groups(self):
        return len(neuron_groups(self.net))

    def check_neuron(self, layer, neuron):
        groups = neuron_groups(self.net)
        if not 1 <= layer < len(groups):
            raise AppError(422, f"layer: expected 1 to {len(groups) - 1} (0 is the input, which has no weights), "
                                f"received {layer}")
        size = self.net.layers[groups[layer][0]].n_out
        if not 0 <= neuron < size:
            raise AppError(422, f"neuron: layer {layer} has neurons 0 to {size - 1}, received {neuron}")
        return groups[layer][0]

    # what the Draw, Inside and Evaluate views look at: the viewed epoch with the edits ------------
    def view_network(self):
        """The network at the viewed epoch with the neuron edits applied (a copy when either is set)."""
        if self.view_epoch is None and not self.edits:
            return self.net
        cached = self._view_cache
        if cached is not None and cached[0] == self.version and not self.busy():
            return cached[1]
        net = self.net.copy()
        if self.view_epoch is not None:
            net.set_weights(self.timeline.weights_at(self.view_epoch))
        apply_edits(net, dict(self.edits))          # a copy: /api/edits may change them meanwhile
        self._view_cache = (self.version, net)
        return net

    def original_network(self):
        """The network at the viewed epoch without edits."""
        if self.view_epoch is None:
            return self.net
        net = self.net.copy()
        net.set_weights(self.timeline.weights_at(self.view_epoch))
        return net

    def network_to_save(self):
        """A copy of the network whose history is the whole timeline's (every run, fine-tunings included)."""
        from ..training import History

        net = self.net.copy()
        net.loss_ = self.net.loss_
        net.history_ = History.from_dict({"seed": self.timeline.seed, "epochs": self.history})
        return net

    def add_drawing(self, label, x, raw, limit):
        """Keep a labelled drawing: its 28x28 input ``x`` and the drawing as sent (uint8, for its steps)."""
        if len(self.drawings) >= limit:
            raise AppError(429, f"this workspace keeps at most {limit} drawings; delete some first")
        did = self._next_drawing
        self._next_drawing += 1
        self.drawings[did] = {"label": int(label), "x": x, "raw": raw}
        return did


def autosave(ws, folder, why):
    """Save ``ws``'s network (its whole history) as ``folder/autosave-<time>-<workspace>``; the path or None."""
    path = Path(folder) / f"autosave-{time.strftime('%Y%m%d-%H%M%S')}-{ws.public_id}"
    try:
        serialization.save(ws.network_to_save(), path, metadata={"dataset": ws.dataset, "autosaved": why,
                                                                 "app_owner": ws.owner()})
    except (OSError, GlassnetError) as exc:
        log.error("could not keep the work of workspace %s (%s): %s", ws.public_id, why, exc)
        return None
    ws.saved = True
    log.warning("kept the unsaved trained network of workspace %s (%s) in %s", ws.public_id, why, path)
    return path


def check_finite_weights(net, what):
    """Refuse a network with NaN or infinite weights: nothing it computes could be shown."""
    import numpy as np

    bad = [name for name, p in net.named_parameters() if not np.isfinite(p).all()]
    if bad:
        raise AppError(422, f"{what}: its weights contain NaN or infinity ({', '.join(bad)}); it cannot be used")


def apply_edits(net, edits):
    """Switch neurons off (their value becomes 0 for every layer above) and override biases, in place.

    A neuron switched off gets zero incoming weights and bias (so ``z = 0``) and zero outgoing
    weights (so nothing above sees it, whatever ``f(0)`` is: a sigmoid's 0.5 included).
    """
    groups = neuron_groups(net)
    for (g, j), edit in edits.items():
        dense = net.layers[groups[g][0]]
        if edit.get("bias") is not None:
            dense.params["biases"][j] = edit["bias"]
        if edit.get("off"):
            dense.params["weights"][j, :] = 0
            dense.params["biases"][j] = 0
            if g + 1 < len(groups):
                net.layers[groups[g + 1][0]].params["weights"][:, j] = 0


def _history_records(net):
    history = getattr(net, "history_", None)
    if history is None:
        return []
    try:
        return [dict(r) for r in history.to_dict().get("epochs", [])]
    except Exception:
        return []


# -- all workspaces ------------------------------------------------------------------------------
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
                raise AppError(503, "the server is shutting down")
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
            raise AppError(503, f"the server is full: {self.limits.max_workspaces} workspaces are in use and "
                                f"none has been idle long enough to be evicted; try again later")
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
        with self._lock:
            if self._training >= self.limits.max_trainings:
                raise AppError(429, f"{self.limits.max_trainings} trainings are already running on this server "
                                    f"(its limit); try again in a minute")
            self._training += 1

    def release_training(self):
        with self._lock:
            self._training = max(0, self._training - 1)

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
