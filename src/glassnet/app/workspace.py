"""A workspace: what one browser owns (a network, its timeline, a training job, drawings, edits).

The server keeps workspaces in memory, one per browser (a random id in a cookie), in a
:class:`~glassnet.app.store.WorkspaceStore` that bounds how many exist and how many train at once.
A workspace only ever touches its own objects; the datasets are shared, read-only
(:class:`~glassnet.app.data.DataRegistry`).

Every method that changes a workspace takes the workspace's own lock (an ``RLock``: one method may
call another), so two requests of one browser (two tabs, a double click) never interleave and the
code that serves a request never holds a lock itself. The lock is not held while a long computation
runs: a training has its own thread (:mod:`glassnet.app.jobs`), and a fine-tuning marks the workspace
busy instead, so the page's other requests are answered meanwhile. Reads that the page polls (the
training's state, the network of the viewed epoch) take no lock: they read whole objects that are
replaced, never half-changed.

Once the browser's cookie has come back, the workspace is attached to the server's database
(:mod:`glassnet.app.database`): every change is written when it happens (the timeline after each
epoch), and :func:`restore` rebuilds the workspace from it after a restart or an eviction, with a
notice for the page saying what came back.

Not here: HTTP (``routes/``), what a view computes (``analysis.py``), the snapshots (``timeline.py``),
the other workspaces (``store.py``), SQL (``database.py``).
Refusals are the plain exceptions of :mod:`glassnet.app.errors`.
"""

import hashlib
import logging
import math
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import losses, serialization
from ..activations import Activation
from ..errors import GlassnetError
from ..explain import activation_name, layer_name, neuron_groups, shown_activation
from ..history import History
from ..network import Network
from .errors import BadInput, BadState, Busy, NotFound, OverLimit
from .jobs import TrainingJob, finetune
from .timeline import Timeline, epoch_value

log = logging.getLogger("glassnet.app")

#: Optional parts a workspace may carry (an attribute holding an object with ``to_record()``), kept in
#: the database when present: name -> the function that rebuilds the part from its record. A view
#: that keeps state of its own registers it with :func:`register_part` (the server does it for the
#: Plane view's ``workspace.plane``, when that module exists).
PARTS: dict[str, Callable[[dict], object]] = {}


def register_part(name, from_record):
    """Persist ``workspace.<name>`` (its ``to_record()``), rebuilt by ``from_record(record)`` on restore."""
    PARTS[name] = from_record


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
        self.db = None                   # the server's database once the browser's cookie came back
        self.confirmed = False           # the browser sent the cookie back (so it is counted and kept)
        self.notices = []                # sentences for the page, shown once (what was restored or kept)

    # the network ------------------------------------------------------------------------------
    def set_network(self, net, dataset, source, seed=0):
        """Start over from ``net``: a new timeline, no edits, the latest epoch in view."""
        with self.lock:
            self.net = net
            self.dataset = dataset
            self.source = source
            self.seed = seed
            self.history = list(_history_records(net))
            # a network trained elsewhere goes on from its last epoch (its history's), not from 0 again
            trained = max((math.ceil(r["epoch"]) for r in self.history if isinstance(r.get("epoch"), (int, float))),
                          default=0)
            self.timeline = Timeline(net.get_weights(), seed, self.store.limits.snapshot_bytes, start=trained,
                                     label=f"as loaded, after epoch {trained}" if trained else "start")
            self.timeline.architecture = net.get_config()
            self.edits.clear()
            self.view_epoch = None
            self.points = []
            self.saved = source.startswith("loaded")
            self.changed()
            if self.db is not None:
                self.timeline.on_add = self._snapshot_added
                self.persist(everything=True)

    def replace_network(self, net, dataset, source, what, seed=0):
        """``set_network`` for a request (``what``: "new network", "load"): refused while busy."""
        with self.lock:
            self.require_idle(what)
            if self.has_unsaved_work() and self.store.models_dir is not None:
                kept = autosave(self, self.store.models_dir, f"replaced by {what}")
                if kept is not None:
                    self.notices.append(f"Your trained network was not saved, so it was kept as “{kept.name}”: "
                                        f"load it from the Models tab.")
            self.set_network(net, dataset, source, seed=seed)
            self.job = None
            return self.describe_network()

    def adopt(self, net, source):
        """Use ``net`` (loaded or uploaded) from now on, on the dataset it was saved with when the app has it."""
        dataset = (getattr(net, "metadata_", {}) or {}).get("dataset")
        dataset = dataset if dataset in self.store.data.names else self.dataset
        check_adoptable(net, dataset, self.store.data, self.store.limits)
        return self.replace_network(net, dataset, source, "load")

    def data(self):
        """The workspace's dataset (shared, read-only)."""
        return self.store.data.get(self.dataset)

    def changed(self):
        self.version += 1
        self._view_cache = None

    def busy(self):
        return self.finetuning or (self.job is not None and self.job.active)

    def require_idle(self, what):
        """Refuse (:class:`Busy`) while a training or a fine-tuning runs."""
        if self.finetuning:
            raise Busy(f"{what}: a fine-tuning is running; wait for it to finish")
        if self.busy():
            raise Busy(f"{what}: training is {self.job.state}; stop it first")

    def require_latest(self, what, hint="go back to the latest first"):
        """Refuse (:class:`BadState`) while a past epoch is viewed: the weights change only at the latest."""
        if self.view_epoch is not None:
            raise BadState(f"{what}: you are looking at a past epoch; {hint}")

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
        """The network as the page draws it: sizes, each layer's activation, parameters, where it came from."""
        net = self.net
        groups = neuron_groups(net)
        sizes = [net.n_features] + [net.layers[d].n_out for d, _ in groups[1:]]
        layers = []
        for g in range(len(groups)):
            entry = {"index": g, "name": layer_name(g, len(groups)), "size": sizes[g]}
            if g:
                entry["activation"] = shown_activation(net, g)   # the one naming rule (explain's, the views')
            layers.append(entry)
        hidden = [layer for layer in net.layers if isinstance(layer, Activation)]
        activation = activation_name(hidden[0]) if hidden else "identity"
        return {"sizes": sizes, "activation": activation, "n_params": net.n_params,
                "trained": bool(self.history), "layers": layers, "source": self.source,
                "dataset": self.dataset}

    def check_neuron(self, layer, neuron):
        """The index of the Dense layer of neuron ``(layer, neuron)``; :class:`BadInput` when there is none."""
        groups = neuron_groups(self.net)
        if not 1 <= layer < len(groups):
            raise BadInput(f"layer: expected 1 to {len(groups) - 1} (0 is the input, which has no weights), "
                           f"received {layer}")
        size = self.net.layers[groups[layer][0]].n_out
        if not 0 <= neuron < size:
            raise BadInput(f"neuron: layer {layer} has neurons 0 to {size - 1}, received {neuron}")
        return groups[layer][0]

    def state(self):
        """What the page reads when it opens: the network, its training, timeline, edits and drawings."""
        with self.lock:
            return {"network": self.describe_network(), "training": self.training_state(),
                    "timeline": self.timeline.to_dict(), "view_epoch": self.view_epoch, "edits": self.edit_list(),
                    "drawings": len(self.drawings)}

    # training -----------------------------------------------------------------------------------
    def training_state(self):
        """The training's state for the page (an idle one when there has been none)."""
        job = self.job
        if job is None:
            return {"state": "idle", "kind": "train", "message": "", "epoch": epoch_value(self.timeline.last_epoch),
                    "epochs": 0, "batch": 0, "steps_per_epoch": 0, "lr": None, "pending_lr": None,
                    "history": list(self.history), "points": list(self.points), "config": None, "replay": None}
        return job.to_dict()

    def start_training(self, settings, step=False):
        """Start a training run from the latest weights (in its own thread); its state."""
        with self.lock:
            self.require_idle("start")
            self.require_latest("start", "go back to the latest (or train from there after loading it) first")
            self.data()                           # loads the dataset here, so a bad one is refused now
            return self._start(TrainingJob(self, settings, step=step))

    def replay(self):
        """Retrain the timeline from its start in a thread and compare the weights; its state."""
        with self.lock:
            self.require_idle("replay")
            self.timeline.check_replayable()
            return self._start(TrainingJob(self, {"epochs": 0, "seed": self.timeline.seed}, kind="replay"))

    def _start(self, job):
        job.start()
        self.job = job
        return job.to_dict()

    def control_training(self, action, lr=None):
        """``"pause"``, ``"resume"``, ``"step"`` (one more epoch, then pause), ``"stop"`` or ``"lr"``."""
        with self.lock:
            job = self.job
            if action == "step":
                if job is None or job.state != "paused":
                    raise BadState("step: training is not paused; start with step=true, or pause first")
                job.resume(step=True)
            elif job is None:
                raise BadState(NO_TRAINING[action])
            elif action == "lr":
                job.set_lr(lr)
            else:
                getattr(job, action)()
            return job.to_dict()

    def network_copy(self, what):
        """A copy of the latest network for a computation that must not change it (the learning-rate finder)."""
        with self.lock:
            self.require_idle(what)
            return self.net.copy()

    def finetune(self, **settings):
        """Fine-tune on the drawings (:func:`glassnet.app.jobs.finetune`), busy but not locked meanwhile."""
        with self.lock:
            self.require_idle("fine-tune")
            self.require_latest("fine-tune")
            self.finetuning = True          # the workspace is busy, but its other requests are answered meanwhile
        try:
            return finetune(self, **settings)
        finally:
            self.finetuning = False

    # time travel ---------------------------------------------------------------------------------
    def timeline_state(self):
        with self.lock:
            return self.timeline.to_dict() | {"view_epoch": self.view_epoch}

    def view(self, epoch):
        """Look at the weights of ``epoch`` (None or the last one: the latest); the epoch now viewed."""
        with self.lock:
            if epoch is not None:
                self.timeline.weights_at(epoch)              # NotFound for an epoch without a snapshot
                if float(epoch) == self.timeline.last_epoch and not self.busy():
                    epoch = None                             # the last snapshot is the current network
            self.view_epoch = None if epoch is None else float(epoch)
            self.timeline.pinned = self.view_epoch
            self.changed()
            self.persist()
            return self.view_epoch

    # what the Draw, Inside and Evaluate views look at: the viewed epoch with the edits ------------
    def view_network(self):
        """The network at the viewed epoch with the neuron edits applied (a copy when either is set).

        While a training or a fine-tuning changes the weights in place in another thread, a copy too: a view
        reads one set of weights from start to end (``explain`` checks its trace against ``predict_proba`` on
        the same object, and a step landing in between made them differ).
        """
        if self.view_epoch is None and not self.edits:
            return self.net.copy() if self.busy() else self.net
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

    def neuron_network(self, layer, neuron):
        """The network that shows neuron ``(layer, neuron)``, and its edit (``{}`` when none).

        A neuron switched off is shown computing with its own weights (every other edit kept); the
        view then says that nothing of it reaches the layer above.
        """
        self.check_neuron(layer, neuron)
        key = (layer, neuron)
        edits = dict(self.edits)
        edit = edits.get(key, {})
        if not edit.get("off"):
            return self.view_network(), edit
        net = self.original_network().copy()
        apply_edits(net, {k: v for k, v in edits.items() if k != key})
        return net, edit

    # edits ---------------------------------------------------------------------------------------
    def edit(self, layer, neuron, off=False, bias=None):
        """Switch neuron ``(layer, neuron)`` off and/or override its bias (neither: undo its edit)."""
        with self.lock:
            self.check_neuron(layer, neuron)
            if not off and bias is None:
                self.edits.pop((layer, neuron), None)
            else:
                self.edits[(layer, neuron)] = {"off": off, "bias": bias}
            self.changed()
            self.persist()
            return self.edit_summary()

    def clear_edits(self):
        with self.lock:
            self.edits.clear()
            self.changed()
            self.persist()
            return self.edit_summary()

    def edit_list(self):
        return [{"layer": g, "neuron": j, "off": e.get("off", False), "bias": e.get("bias")}
                for (g, j), e in sorted(self.edits.items())]

    def edit_summary(self):
        """The edits, and the test accuracy with and without them."""
        with self.lock:
            data = self.data()
            _, original = self.original_network().evaluate(data.X_test, data.y_test)
            _, edited = self.view_network().evaluate(data.X_test, data.y_test)
            return {"edits": self.edit_list(), "test_accuracy": {"original": float(original), "edited": float(edited)}}

    # drawings --------------------------------------------------------------------------------------
    def add_drawing(self, label, x, raw):
        """Keep a labelled drawing: its 28x28 input ``x`` and the drawing as sent (uint8, for its steps);
        :class:`OverLimit` past the server's ``max_drawings``."""
        limit = self.store.limits.max_drawings
        with self.lock:
            if len(self.drawings) >= limit:
                raise OverLimit(f"this workspace keeps at most {limit} drawings; delete some first")
            did = self._next_drawing
            self._next_drawing += 1
            self.drawings[did] = {"label": int(label), "x": x, "raw": raw}
            self._write(lambda db: db.add_drawing(self.id, did, self.drawings[did]))
            self.persist()
            return did

    def drawing(self, did):
        """Drawing ``did`` (``{"label", "x", "raw"}``); :class:`NotFound` when there is none."""
        with self.lock:
            if did not in self.drawings:
                raise NotFound(f"no drawing {did} in this workspace")
            return self.drawings[did]

    def delete_drawing(self, did):
        with self.lock:
            self.drawing(did)
            del self.drawings[did]
            self._write(lambda db: db.delete_drawing(self.id, did))

    def drawing_items(self):
        """``[(id, drawing), ...]`` in the order they were added."""
        with self.lock:
            return list(self.drawings.items())

    # saving -----------------------------------------------------------------------------------------
    def network_to_save(self):
        """A copy of the network whose history is the whole timeline's (every run, fine-tunings included)."""
        with self.lock:
            net = self.net.copy()
            net.loss_ = self.net.loss_
            net.history_ = History.from_dict({"seed": self.timeline.seed, "epochs": self.history})
            return net

    def save(self, path, metadata):
        """Save the network (its whole history) at ``path``; refused while it trains."""
        with self.lock:
            self.require_idle("save")
            serialization.save(self.network_to_save(), path, metadata=metadata)
            self.saved = True
            self.persist()

    # the database ---------------------------------------------------------------------------------
    def attach(self, db):
        """Keep this workspace's work in ``db`` from now on: everything written once, then every change."""
        with self.lock:
            self.db = db
            self.timeline.on_add = self._snapshot_added
            self.persist(everything=True)

    def persist(self, everything=False):
        """Write the state (with ``everything``: the snapshots and drawings too) to the database, if any."""
        if self.db is None:
            return
        with self.lock:
            state = self.record()
            snapshots = self.timeline.records() if everything else None
            drawings = dict(self.drawings) if everything else None
        self._write(lambda db: db.save_state(self.id, state, snapshots, drawings))

    def _snapshot_added(self, epoch, label, weights, removed):
        self._write(lambda db: db.add_snapshot(self.id, epoch, label, weights, removed))

    def _write(self, write):
        """Run ``write(db)``; a failing disk is logged (the work stays in memory), never a failed request."""
        db = self.db
        if db is None:
            return
        try:
            write(db)
        except (sqlite3.Error, OSError) as exc:
            log.error("could not write workspace %s to the database: %s", self.public_id, exc)

    def record(self):
        """The workspace's state as the database keeps it (the snapshots and drawings are kept apart)."""
        t = self.timeline
        parts = {name: part.to_record() for name in PARTS if (part := getattr(self, name, None)) is not None}
        return {"public_id": self.public_id, "dataset": self.dataset, "source": self.source, "seed": self.seed,
                "saved": self.saved, "edits": self.edit_list(), "view_epoch": self.view_epoch,
                "history": list(self.history), "points": list(self.points), "next_drawing": self._next_drawing,
                "segments": [dict(seg) for seg in t.segments], "thinned": t.thinned, "timeline_seed": t.seed,
                "timeline_architecture": t.architecture, "architecture": self.net.get_config(),
                "dtype": str(self.net.dtype), "loss": getattr(self.net.loss_, "name", None), "parts": parts}

    def take_notices(self):
        """The sentences the page has not shown yet (each is shown once)."""
        with self.lock:
            notices, self.notices = self.notices, []
            return notices


NO_TRAINING = {"pause": "pause: there is no training; start one first",
               "resume": "resume: there is no training; start one first",
               "stop": "stop: there is no training",
               "lr": "learning rate: there is no training; set the rate in the form to start one"}


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
    if ws.store.database is not None:
        ws._write(lambda db: db.record_model(path.name, ws.owner(), "autosaved"))
    ws.persist()
    log.warning("kept the unsaved trained network of workspace %s (%s) in %s", ws.public_id, why, path)
    return path


def restore(wid, store, kept):
    """The workspace ``wid`` as the database ``kept`` it (``Database.load``): its network is the last
    snapshot (a training killed mid-epoch loses that epoch); a notice tells the page what came back."""
    s = kept["state"]
    if not kept["snapshots"]:
        raise ValueError("no snapshot kept")
    net = Network.from_config(s["architecture"], "the database")
    if s.get("dtype") and s["dtype"] != str(net.dtype):
        net = net.astype(np.dtype(s["dtype"]))
    net.set_weights(kept["snapshots"][max(kept["snapshots"])][1])
    if s.get("loss"):
        net.loss_ = losses.get(s["loss"])
    for seg in s["segments"]:
        if seg.get("kind") == "train" and not seg.get("digest"):          # the server stopped during this run
            seg.update(replayable=False, why_not_replayable="the server stopped during this run")
    ws = Workspace(wid, store)
    ws.public_id = s["public_id"]
    ws.net, ws.source, ws.seed, ws.saved = net, s["source"], s["seed"], s["saved"]
    ws.dataset = s["dataset"] if s["dataset"] in store.data.names else store.data.names[0]
    ws.timeline = Timeline.from_record(kept["snapshots"], s["timeline_seed"], store.limits.snapshot_bytes,
                                       s["segments"], s["thinned"], s["timeline_architecture"])
    ws.history, ws.points = list(s["history"]), list(s["points"])
    ws.edits = {(e["layer"], e["neuron"]): {"off": e["off"], "bias": e["bias"]} for e in s["edits"]}
    ws.drawings = OrderedDict(sorted(kept["drawings"].items()))
    ws._next_drawing = max([s["next_drawing"], *(d + 1 for d in ws.drawings)])
    if s["view_epoch"] is not None and float(s["view_epoch"]) in ws.timeline.snapshots:
        ws.view_epoch = ws.timeline.pinned = float(s["view_epoch"])
    for name, record in (s.get("parts") or {}).items():
        if name in PARTS:
            setattr(ws, name, PARTS[name](record))
    ws.notices.append(restored_notice(ws))
    ws.changed()
    return ws


def restored_notice(ws):
    """What the page says to a browser whose work came back from the database."""
    epochs = [h.get("epoch") for h in ws.history if h.get("epoch") is not None]
    things = [f"your network trained to epoch {epochs[-1]}" if epochs else "your network (untrained)"]
    snaps = len(ws.timeline.snapshots)
    things.append(f"{snaps} time-travel snapshot{'s' if snaps != 1 else ''}")
    things.append(f"{len(ws.drawings)} drawing{'s' if len(ws.drawings) != 1 else ''}")
    if ws.edits:
        things.append(f"{len(ws.edits)} neuron edit{'s' if len(ws.edits) != 1 else ''}")
    return "Welcome back: restored " + ", ".join(things[:-1]) + " and " + things[-1] + "."


def check_finite_weights(net, what):
    """Refuse a network with NaN or infinite weights: nothing it computes could be shown."""
    bad = [name for name, p in net.named_parameters() if not np.isfinite(p).all()]
    if bad:
        raise BadInput(f"{what}: its weights contain NaN or infinity ({', '.join(bad)}); it cannot be used")


def check_adoptable(net, dataset, registry, limits):
    """Refuse a network (loaded or uploaded) the app cannot show on ``dataset`` or that is over ``limits``."""
    check_finite_weights(net, "the model")
    if net.n_features != 784:
        raise BadInput(f"the app draws 28x28 digits: expected a network with 784 inputs, received one with "
                       f"{net.n_features}")
    classes = len(registry.get(dataset).classes)
    if net.n_outputs != classes:
        raise BadInput(f"the dataset {dataset!r} has {classes} classes, the network has {net.n_outputs} outputs")
    if net.n_params > limits.max_params:
        raise BadInput(f"the network has {net.n_params:,} parameters; this server allows {limits.max_params:,}")


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


