"""The Plane view's state: a small network on 2-D points, trained live, every neuron painted.

A :class:`PlaneSession` is what one browser's Plane view holds (``workspace.plane``): the settings
(data set, noise, size, features, hidden layers, activation, learning rate, batch size, L1/L2), the
data made from them (``glassnet.datasets.plane``), the network, its trainer (``glassnet.plane.Trainer``:
fit's own steps, one mini-batch at a time), the epoch records, the snapshots for time travel, and a
log of everything that changed the weights since the start (mini-batches, weight and bias edits,
changes of the training settings). Replaying that log from the starting weights repeats the run bit
for bit (:meth:`PlaneSession.replay`).

Training runs in its own thread; each mini-batch and every change from a request happens under the
session's lock, and a frame for the page (:meth:`PlaneSession.frame`) copies the weights under it and
paints them outside it (``glassnet.plane.neuron_pictures``), so the page can ask several times a
second while training goes on. The thread never changes BLAS thread counts.

Persistence: ``to_record()`` (JSON-able, arrays as lists) and :meth:`PlaneSession.from_record`.
Not here: HTTP (``routes/plane.py``), the pictures' maths (``glassnet.plane``).

Size: one class whose methods share one lock and one log (training, edits, settings, time travel,
replay and its record must agree on both), with the settings check beside it.
"""

import base64
import copy
import csv
import io
import math
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .. import diagnostics, optimizers, plane, serialization
from ..activations import names as activation_names
from ..datasets import DatasetError
from ..datasets import plane as plane_data
from ..network import Network
from ..serialization import weights_digest
from .errors import BadInput, BadState, NotFound, OverLimit

OWN = "own"                                       # the data set of the user's own points
DATASETS = (*plane_data.NAMES, OWN)
DEFAULTS = {"dataset": "circles", "noise": 0.0, "n": 400, "data_seed": 0, "test_fraction": 0.5,
            "features": ["x1", "x2"], "hidden": [4, 2], "activation": "tanh", "seed": 0,
            "optimizer": "sgd", "lr": 0.03, "momentum": 0.9, "batch_size": 10, "l2": 0.0, "l1": 0.0}
TRAINING_KEYS = ("optimizer", "lr", "momentum", "batch_size", "l2", "l1")
MAX_LAYERS, MAX_WIDTH, MAX_POINTS = 6, 8, 2000
MAX_EPOCHS = 20_000                               # a run stops here (a page left open does not train forever)
UNWATCHED_SECONDS = 30.0                          # a run nobody watches pauses itself after this long
SAVE_SECONDS = 5.0                                # a live run is written to the database this often
MAX_REPLAY_STEPS = 50_000                         # a replay runs in the request: about a minute at most
MAX_SNAPSHOTS = 400                               # time travel: older epochs thinned beyond this
PICTURE_SIZE = 40
OUTPUT_SIZE = 80                                  # the output picture, drawn larger
MAX_RUNS = 8                                      # planes training at once in one server
_RUNS, _RUNS_LOCK = [0], threading.Lock()


class PlaneSession:
    """One browser's Plane view: settings, data, network, training thread, history, snapshots, log."""

    def __init__(self, settings=None, points=()):
        self.lock = threading.RLock()
        self.thread = None
        self.running = False
        self.message = ""
        self.version = 0
        self.view_epoch = None
        self.points = [list(p) for p in points]          # the user's own points: [x1, x2, label]
        self.on_change = None                            # called after a change (the workspace persists)
        self.seen = time.monotonic()                     # when the page last asked for a frame
        self.settings = check_settings({**DEFAULTS, **(settings or {})}, self.points)
        self._new_data()
        self._new_network(plane_net(self.settings, self.data))

    # -- building -------------------------------------------------------------------------------
    def _new_data(self):
        s = self.settings
        try:
            if s["dataset"] == OWN:
                P = np.array([p[:2] for p in self.points], dtype=np.float64).reshape(-1, 2)
                t = np.array([p[2] for p in self.points], dtype=np.int64)
                self.data = plane_data.from_points(P, t, features=s["features"], test_fraction=s["test_fraction"],
                                                   seed=s["data_seed"], name=OWN)
            else:
                self.data = plane_data.load(s["dataset"], noise=s["noise"], n=s["n"], seed=s["data_seed"],
                                            features=s["features"], test_fraction=s["test_fraction"])
        except DatasetError as exc:
            raise BadInput(str(exc)) from None
        self.data_version = self.version + 1

    def _new_network(self, net):
        """Start over from ``net``: its weights are the start the log replays from."""
        self.net = net
        self._frame_nets = []                            # copies the frames paint with (this shape only)
        self.start_weights = net.get_weights()
        self.start_settings = copy.deepcopy(self.settings)      # a replay starts from these and the log
        self.log = []
        self.history = []
        self.snapshots = {0: net.get_weights()}
        self.view_epoch = None
        self._new_trainer(epoch=0)
        self._record_epoch()
        self._changed()

    def _new_trainer(self, epoch):
        s = self.settings
        opt = optimizers.build(s["optimizer"], s["lr"], momentum=s["momentum"], weight_decay=s["l2"], l1=s["l1"])
        self.trainer = plane.Trainer(self.net, self.data.X_train, self.data.y_train, opt,
                                     batch_size=min(s["batch_size"], len(self.data.X_train)), seed=s["seed"])
        self.trainer.move_to(epoch)
        self.pending_steps = 0

    def _changed(self):
        self.version += 1

    def _notify(self):
        if self.on_change is not None:
            self.on_change()

    # -- what the page reads ------------------------------------------------------------------------
    @property
    def regression(self):
        return self.settings["dataset"] in plane_data.REGRESSION

    @property
    def epoch(self):
        t = self.trainer
        return t.epoch + t.batch / t.steps_per_epoch

    def state(self):
        """Settings, choices, the points (training and test) and where training stands."""
        with self.lock:
            d = self.data
            points = {"train": _points(d.extra["points_train"], d.y_train), "test": _points(d.extra["points_test"],
                                                                                           d.y_test)}
            return {"settings": copy.deepcopy(self.settings), "points": points, "own_points": len(self.points),
                    "regression": self.regression, "data_version": self.data_version, **self._status(),
                    "choices": {"datasets": list(DATASETS), "features": list(plane_data.FEATURES),
                                "activations": [a for a in activation_names() if a != "softmax"],
                                "optimizers": list(optimizers.names()), "max_layers": MAX_LAYERS,
                                "max_width": MAX_WIDTH}}

    def _status(self):
        t = self.trainer
        return {"running": self.running, "message": self.message, "epoch": round(self.epoch, 3),
                "steps": t.steps, "batch": t.batch, "steps_per_epoch": t.steps_per_epoch, "view_epoch": self.view_epoch,
                "snapshots": sorted(self.snapshots), "version": self.version, "data_version": self.data_version}

    def frame(self, since=0, size=PICTURE_SIZE):
        """Every neuron's picture (as bytes), the weights, the new epoch records: what the page paints."""
        with self.lock:
            self.seen = time.monotonic()
            pool = self._frame_nets
            net = pool.pop() if pool else self.net.copy()     # a copy of the same shape, reused (no deepcopy)
            net.set_weights(self.net.get_weights() if self.view_epoch is None else self.snapshots[self.view_epoch])
            status = self._status()
            history = self.history[since:]
            features = list(self.settings["features"])
            regression, targets = self.regression, self.data.y_train
        try:
            out = self._paint(net, features, size, regression, targets)
        finally:
            with self.lock:
                if pool is self._frame_nets:                  # (not when the network was replaced meanwhile)
                    pool.append(net)
        return {**status, "history": history, "since": since, **out}

    def _paint(self, net, features, size, regression, targets):
        pics = plane.neuron_pictures(net, features, size=size, output=False)
        out = {"size": size, "features": features, "inputs": _pictures(pics["inputs"]),
               "layers": [{"activation": layer["activation"], "a": _pictures(layer["a"])} for layer in pics["layers"]],
               "weights": [_dense(net, g) for g in range(1, len(pics["layers"]) + 1)]}
        output = plane.output_picture(net, features, size=OUTPUT_SIZE)
        out["output_size"] = OUTPUT_SIZE
        if regression:
            scale = float(max(1.0, np.abs(targets).max()))
            out["output"] = _picture(output, scale)
            if all("x2" not in plane_data.FEATURES[f][1] for f in features):
                xs, ys = plane.curve(net, features, size=121)
                out["curve"] = {"x": xs.round(4).tolist(), "y": ys.round(5).tolist()}
        else:
            out["output"] = _picture(2.0 * output - 1.0, 1.0)
        return out

    def neuron(self, layer, neuron, size=PICTURE_SIZE):
        """One neuron explained: its formula with its weights, its z and a over the plane, the fold."""
        with self.lock:
            net = self.net.copy() if self.view_epoch is None else self._net_at(self.view_epoch)
            features = list(self.settings["features"])
        try:
            text = plane.formula(net, features, layer, neuron)
            fold = plane.fold(net, layer)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        pics = plane.neuron_pictures(net, features, size=size)
        z, a = pics["layers"][layer - 1]["z"][neuron], pics["layers"][layer - 1]["a"][neuron]
        inputs = plane.neuron_names(net, features)[layer - 1]
        bias = float(net.layers[plane.neuron_groups(net)[layer][0]].params["biases"][neuron])
        return {"layer": layer, "neuron": neuron, "name": plane.neuron_names(net, features)[layer][neuron],
                "bias": bias, "formula": text, "fold": fold, "activation": pics["layers"][layer - 1]["activation"],
                "inputs": inputs, "size": size, "z": z.astype(np.float64).round(5).tolist(),
                "a": a.astype(np.float64).round(5).tolist(), "z_picture": _picture(z), "a_picture": _picture(a)}

    def diagnose(self):
        """The library's diagnostics (``glassnet.diagnostics.diagnose``) on this network and its epochs."""
        with self.lock:
            records = [r for r in self.history if r["epoch"] > 0]
            net, X = self.net.copy(), self.data.X_train
            validation = None if self.regression else (self.data.X_test, self.data.y_test)
        if not records:
            return {"findings": [], "healthy": None, "message": "train at least one epoch first"}
        findings = diagnostics.diagnose(records, net, X, validation=validation, audience="app")
        return {"findings": [f.to_dict() for f in findings], "healthy": not findings,
                "message": "no problem found" if not findings else f"{len(findings)} finding(s)"}

    def lab_inputs(self):
        """``(network copy, X, y, loss name)`` for the descent lab (``glassnet.descent``) on this network."""
        with self.lock:
            return (self._net_at(self.view_epoch) if self.view_epoch is not None else self.net.copy(),
                    self.data.X_train, self.data.y_train, self.trainer.loss.name)

    # -- changes from the page ----------------------------------------------------------------------
    def configure(self, changes):
        """Change settings: training settings apply from the next mini-batch (while it trains too, between two
        mini-batches); anything else starts over, once the training is paused."""
        with self.lock:
            merged = check_settings({**self.settings, **changes, **_features_for(self.settings, changes)}, self.points)
            if all(merged[k] == self.settings[k] for k in merged if k not in TRAINING_KEYS):
                self._require_latest("change the training settings")
                self._flush()
                self.settings = merged
                self.log.append({"do": "settings", "settings": {k: merged[k] for k in TRAINING_KEYS}})
                self._new_trainer_keeping_place()
            else:
                self._require_still("change the settings")
                old = self.settings
                self.settings = merged
                try:
                    self._restart(old)
                except BadInput:
                    self.settings = old
                    raise
            self._changed()
        self._notify()
        return self.state()

    def _restart(self, old):
        """New data and a network of the new shape; the weights of the neurons that stay are kept
        when only the layer sizes changed, else a new network from the seed."""
        self._new_data()
        net = plane_net(self.settings, self.data)
        same_kind = all(self.settings[k] == old[k] for k in ("features", "activation", "seed")) and \
            (self.settings["dataset"] in plane_data.REGRESSION) == (old["dataset"] in plane_data.REGRESSION)
        if same_kind:
            _keep_overlap(self.net, net)
        self._new_network(net)

    def _new_trainer_keeping_place(self):
        """New training settings from the next mini-batch: the optimizer keeps its state when it can
        (the same kind, the same buffers), and the epoch goes on unless the batch size changed."""
        t = self.trainer
        self._new_trainer(t.epoch)
        opt = self.trainer.optimizer
        if type(opt) is type(t.optimizer) and opt.buffers == t.optimizer.buffers:
            opt.state, opt.iterations = t.optimizer.state, t.optimizer.iterations
        same_batches = self.trainer.batch_size == t.batch_size
        self.trainer.move_to(t.epoch, t.batch if same_batches else 0, t.steps)

    def set_weight(self, layer, to, frm, value):
        """Edit one weight (the page's click on a connection); every picture downstream changes."""
        return self._edit({"do": "weight", "layer": layer, "to": to, "from": frm, "value": float(value)})

    def set_bias(self, layer, neuron, value):
        return self._edit({"do": "bias", "layer": layer, "neuron": neuron, "value": float(value)})

    def _edit(self, action):
        with self.lock:
            self._require_latest("edit a weight")
            self._flush()
            try:
                _apply_edit(self.net, action)
            except ValueError as exc:
                raise BadInput(str(exc)) from None
            self.log.append(action)
            self._changed()
        self._notify()
        return {"version": self.version, "action": action}

    def add_point(self, x1, x2, label):
        with self.lock:
            self._require_still("add a point")
            if len(self.points) >= MAX_POINTS:
                raise OverLimit(f"the plane keeps at most {MAX_POINTS} points of your own; clear some first")
            self.points.append([float(x1), float(x2), int(label)])
        return self._own_points_changed()

    def set_points(self, points):
        with self.lock:
            self._require_still("replace the points")
            if len(points) > MAX_POINTS:
                raise OverLimit(f"the plane keeps at most {MAX_POINTS} points of your own, received {len(points)}")
            self.points = [[float(a), float(b), int(c)] for a, b, c in points]
        return self._own_points_changed()

    def clear_points(self):
        """Forget the user's own points (back to the circles when they were the data)."""
        with self.lock:
            self._require_still("clear the points")
            self.points = []
            back = self.settings["dataset"] == OWN
        return self.configure({"dataset": DEFAULTS["dataset"]}) if back else self.state()

    def _own_points_changed(self):
        """New own points: the data again when they are the data set; the data set once there are four."""
        with self.lock:
            switch = self.settings["dataset"] != OWN and len(self.points) >= 4
            if self.settings["dataset"] == OWN and len(self.points) >= 4:
                self._new_data()
                self._new_trainer(self.trainer.epoch)
                self._changed()
        if switch:                                        # (outside the lock: configure tells the workspace)
            return self.configure({"dataset": OWN})
        self._notify()
        return self.state()

    # -- training ------------------------------------------------------------------------------------
    def start(self, closing=None):
        """Train in a thread until paused (or :data:`MAX_EPOCHS`, or nobody watches, or ``closing()`` is
        true: the server shuts down); the status. At most :data:`MAX_RUNS` planes train at once."""
        with self.lock:
            self._require_latest("train")
            if self.running:
                raise BadState("train: the plane is already training; pause it first")
            with _RUNS_LOCK:
                if _RUNS[0] >= MAX_RUNS:
                    raise OverLimit(f"{MAX_RUNS} planes are training on this server already; try again later")
                _RUNS[0] += 1
            self.running, self.message, self.seen = True, "training", time.monotonic()
            self.thread = threading.Thread(target=self._run, args=(closing,), daemon=True, name="glassnet-plane")
            self.thread.start()
            return self._status()

    def pause(self):
        with self.lock:
            if self.running:
                self.running, self.message = False, "paused"
        self.join()
        with self.lock:
            return self._status()

    def join(self, timeout=10.0):
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def step(self, batches=1):
        """``batches`` mini-batches now (the page's step button); refused while training runs."""
        with self.lock:
            self._require_still("step")
            self._require_latest("step")
            for _ in range(batches):
                self._one_step()
            self._flush()
            self._changed()
            status = self._status()
        self._notify()
        return status

    def _run(self, closing):
        saved = time.monotonic()
        try:
            while True:
                with self.lock:
                    if closing is not None and closing():
                        self.running, self.message = False, "paused: the server is shutting down"
                    if not self.running:
                        break
                    self._one_step()
                    if self.trainer.epoch >= MAX_EPOCHS:
                        self.running, self.message = False, f"paused at epoch {MAX_EPOCHS}, this view's limit"
                    elif time.monotonic() - self.seen > UNWATCHED_SECONDS:
                        self.running, self.message = False, "paused: nobody was watching"
                if time.monotonic() - saved > SAVE_SECONDS:   # a crash loses at most these seconds of a run
                    with self.lock:
                        self._flush()
                    self._notify()
                    saved = time.monotonic()
                time.sleep(0)                             # let a request in between two mini-batches
        except FloatingPointError as exc:
            self.message = str(exc)
        finally:
            with self.lock:
                self.running = False
                self._flush()
                self._changed()
            with _RUNS_LOCK:
                _RUNS[0] -= 1
            self._notify()

    def _one_step(self):
        try:
            finished = self.trainer.step()
        except FloatingPointError:
            self.running = False
            raise
        self.pending_steps += 1
        self.version += 1
        if finished:
            self._record_epoch()

    def _flush(self):
        """Write the mini-batches run since the last entry into the log."""
        if self.pending_steps:
            if self.log and self.log[-1]["do"] == "steps":
                self.log[-1]["n"] += self.pending_steps
            else:
                self.log.append({"do": "steps", "n": self.pending_steps})
            self.pending_steps = 0

    def _record_epoch(self):
        net, d, e = self.net, self.data, self.trainer.epoch
        loss = self.trainer.loss
        train, test = net.evaluate(d.X_train, d.y_train, loss), net.evaluate(d.X_test, d.y_test, loss)
        record = {"epoch": e, "loss": train.loss, "test_loss": test.loss, "accuracy": train.accuracy,
                  "test_accuracy": test.accuracy, "lr": self.settings["lr"]}
        self.history.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                             for k, v in record.items()})
        self.snapshots[e] = net.get_weights()
        if len(self.snapshots) > MAX_SNAPSHOTS:           # keep the first, the last and every other older one
            old = sorted(self.snapshots)[1:-MAX_SNAPSHOTS // 2]
            for epoch in old[::2]:
                del self.snapshots[epoch]

    # -- time travel and replay ------------------------------------------------------------------------
    def view(self, epoch):
        """Look at the pictures of a past epoch (None: the latest)."""
        with self.lock:
            if epoch is not None:
                if self.running:
                    raise BadState("time travel: pause the training first")
                if epoch not in self.snapshots:
                    raise NotFound(f"no snapshot of epoch {epoch}; there are {len(self.snapshots)} "
                                   f"from {min(self.snapshots)} to {max(self.snapshots)}")
                if epoch == max(self.snapshots) and self.trainer.batch == 0:
                    epoch = None
            self.view_epoch = epoch
            self._changed()
            return self._status()

    def _net_at(self, epoch):
        net = self.net.copy()
        net.set_weights(self.snapshots[epoch])
        return net

    def replay(self):
        """Repeat everything since the start from the starting weights and the seeds; compare bit for bit."""
        with self.lock:
            self._require_still("replay")
            self._flush()
            total = sum(a["n"] for a in self.log if a["do"] == "steps")
            if total > MAX_REPLAY_STEPS:
                raise BadState(f"replay: this run has {total:,} mini-batches; a replay here repeats at most "
                               f"{MAX_REPLAY_STEPS:,} (a new network, from the seed or the layers, starts a run "
                               f"to replay)")
            record = self.to_record()
            final = weights_digest(self.net.get_weights())
        copy_ = PlaneSession.from_record(record, replay=True)
        same = weights_digest(copy_.net.get_weights()) == final
        steps = sum(a["n"] for a in record["log"] if a["do"] == "steps")
        return {"matches": same, "steps": steps, "actions": len(record["log"]),
                "message": (f"replayed {steps} mini-batches and {len(record['log'])} changes from the seed: "
                            + ("the weights are identical, bit for bit" if same else "the weights differ"))}

    # -- saving ----------------------------------------------------------------------------------------
    def network_to_save(self):
        with self.lock:
            net = self.net.copy()
            net.loss_ = self.trainer.loss
            return net, {"dataset": self.settings["dataset"], "plane": copy.deepcopy(self.settings)}

    def adopt(self, net, metadata):
        """Use an uploaded network: its plane settings when it has them, else ``x1, x2`` and the current set."""
        settings = (metadata or {}).get("plane") or {}
        with self.lock:
            self._require_still("load")
            merged = {**self.settings, **{k: v for k, v in settings.items() if k in DEFAULTS}}
            try:
                merged = check_settings(merged, self.points)
            except BadInput as exc:
                raise BadInput(f"the model's plane settings: {exc}") from None
            dense = [layer for layer in net.layers if hasattr(layer, "n_out")]
            merged["hidden"] = [layer.n_out for layer in dense[:-1]]
            if net.n_features != len(merged["features"]) or net.n_outputs != (1 if merged["dataset"] in
                                                                               plane_data.REGRESSION else 2):
                raise BadInput(f"the plane expected a network with {len(merged['features'])} inputs "
                               f"({', '.join(merged['features'])}) and {1 if self.regression else 2} outputs, "
                               f"received {net.n_features} inputs and {net.n_outputs} outputs")
            if len(merged["hidden"]) > MAX_LAYERS or any(n > MAX_WIDTH for n in merged["hidden"]):
                raise BadInput(f"the plane shows at most {MAX_LAYERS} hidden layers of {MAX_WIDTH} neurons, "
                               f"received {merged['hidden']}")
            self.settings = merged
            self._new_data()
            self._new_network(net)
        self._notify()
        return self.state()

    def to_record(self):
        """Everything to rebuild this session (JSON-able: lists and numbers)."""
        with self.lock:
            self._flush()
            t = self.trainer
            return {"settings": copy.deepcopy(self.settings), "points": [list(p) for p in self.points],
                    "start_settings": copy.deepcopy(self.start_settings),
                    "start": {k: v.tolist() for k, v in self.start_weights.items()}, "log": copy.deepcopy(self.log),
                    "weights": {k: v.tolist() for k, v in self.net.get_weights().items()},
                    "history": copy.deepcopy(self.history), "view_epoch": self.view_epoch,
                    "position": {"epoch": t.epoch, "batch": t.batch, "steps": t.steps},
                    "optimizer": _optimizer_record(t.optimizer),
                    "snapshots": {str(e): {k: v.tolist() for k, v in w.items()} for e, w in self.snapshots.items()}}

    @classmethod
    def from_record(cls, record, replay=False):
        """A session from :meth:`to_record`'s dict; ``replay=True`` recomputes it from the start and the log."""
        settings = record.get("start_settings", record["settings"]) if replay else record["settings"]
        session = cls(settings, record.get("points", ()))
        start = {k: np.asarray(v, dtype=session.net.dtype) for k, v in record["start"].items()}
        session.net.set_weights(start)
        session._new_network(session.net)
        if replay:
            for action in record["log"]:
                session._apply(action)
            session._flush()
            return session
        session.net.set_weights({k: np.asarray(v, dtype=session.net.dtype) for k, v in record["weights"].items()})
        session.log = copy.deepcopy(record["log"])
        session.start_settings = copy.deepcopy(record.get("start_settings", record["settings"]))
        session.history = copy.deepcopy(record["history"])
        session.snapshots = {_epoch(e): {k: np.asarray(v, dtype=session.net.dtype) for k, v in w.items()}
                             for e, w in record["snapshots"].items()}
        position = record["position"]
        session._new_trainer(position["epoch"])
        session.trainer.move_to(position["epoch"], position["batch"], position["steps"])
        _load_optimizer(session.trainer.optimizer, record.get("optimizer"))
        view = record.get("view_epoch")
        session.view_epoch = view if view in session.snapshots else None
        session._changed()
        return session

    def _apply(self, action):
        if action["do"] == "steps":
            for _ in range(action["n"]):
                self._one_step()
        elif action["do"] == "settings":
            self._flush()
            self.settings = {**self.settings, **action["settings"]}
            self._new_trainer_keeping_place()
            self.log.append(action)
        else:
            self._flush()
            _apply_edit(self.net, action)
            self.log.append(action)

    def _require_still(self, what):
        if self.running:
            raise BadState(f"{what}: the plane is training; pause it first")

    def _require_latest(self, what):
        if self.view_epoch is not None:
            raise BadState(f"{what}: you are looking at epoch {self.view_epoch}; go back to the latest first")


def session_of(ws):
    """The workspace's Plane session, made on first use; its changes are persisted with the workspace."""
    with ws.lock:
        session = getattr(ws, "plane", None)
        if session is None:
            session = ws.plane = PlaneSession()
        if session.on_change is None:
            persist = getattr(ws, "persist", None)
            session.on_change = persist if callable(persist) else (lambda: None)
        return session


def model_file(session):
    """The session's network as the bytes of one ``.safetensors`` file (glassnet's format), its plane
    settings in the metadata so that an upload brings them back."""
    net, metadata = session.network_to_save()
    with tempfile.TemporaryDirectory() as tmp:
        return serialization.save(net, Path(tmp) / "plane.safetensors", metadata=metadata).read_bytes()


# -- settings ------------------------------------------------------------------------------------------------------
def check_settings(s, points=()):
    """The settings, checked and in their canonical form; :class:`BadInput` saying what was expected."""
    s = dict(s)
    unknown = sorted(set(s) - set(DEFAULTS))
    if unknown:
        raise BadInput(f"plane settings: unknown {', '.join(unknown)}; expected some of {', '.join(DEFAULTS)}")
    if s["dataset"] not in DATASETS:
        raise BadInput(f"dataset: expected one of {', '.join(DATASETS)}, received {s['dataset']!r}")
    if s["dataset"] == OWN and len(points) < 4:
        raise BadInput(f"dataset: your own points need at least 4 points (click the plane to add some), "
                       f"received {len(points)}")
    try:
        s["features"] = list(plane_data.check_features(s["features"], None if s["dataset"] == OWN else s["dataset"]))
    except DatasetError as exc:
        raise BadInput(f"features: {exc}") from None
    hidden = s["hidden"]
    if (not isinstance(hidden, list) or len(hidden) > MAX_LAYERS
            or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WIDTH for n in hidden)):
        raise BadInput(f"hidden: expected up to {MAX_LAYERS} layers of 1 to {MAX_WIDTH} neurons, received {hidden!r}")
    if s["activation"] not in activation_names() or s["activation"] == "softmax":
        raise BadInput(f"activation: expected one of {', '.join(a for a in activation_names() if a != 'softmax')}, "
                       f"received {s['activation']!r}")
    if s["optimizer"] not in optimizers.names():
        raise BadInput(f"optimizer: expected one of {', '.join(optimizers.names())}, received {s['optimizer']!r}")
    for key, low, high in (("noise", 0.0, 1.0), ("test_fraction", 0.1, 0.9), ("lr", 1e-6, 10.0),
                           ("momentum", 0.0, 0.99), ("l2", 0.0, 1.0), ("l1", 0.0, 1.0)):
        value = s[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise BadInput(f"{key}: expected a number from {low:g} to {high:g}, received {value!r}")
        s[key] = float(value)
    for key, low, high in (("n", 20, 2000), ("data_seed", 0, 2**31), ("seed", 0, 2**31), ("batch_size", 1, 500)):
        value = s[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadInput(f"{key}: expected an integer from {low} to {high}, received {value!r}")
    return s


def _features_for(old, changes):
    """When only the data set changes between one input (sine) and two, the features follow it."""
    new = changes.get("dataset", old["dataset"])
    inputs = {name: 2 if name == OWN else plane_data.n_inputs(name) for name in (old["dataset"], new)}
    if "features" in changes or inputs[new] == inputs[old["dataset"]]:
        return {}
    if inputs[new] == 1:
        kept = [f for f in old["features"] if "x2" not in plane_data.FEATURES[f][1]]
        return {"features": kept or ["x1"]}
    return {"features": list(plane_data.DEFAULT_FEATURES)}


def plane_net(settings, data):
    """A new network for these settings: inputs = features, the hidden layers, 2 outputs (1 for regression)."""
    outputs = 1 if data.extra.get("task") == "regression" else 2
    return Network.mlp([data.n_features, *settings["hidden"], outputs], activation=settings["activation"],
                       seed=settings["seed"])


def parse_csv(text):
    """Points ``[x1, x2, label]`` from CSV text: three columns (a header line is skipped), labels 0 or 1."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    points = []
    for i, row in enumerate(rows):
        try:
            x1, x2, label = (float(c) for c in row[:3])
            if len(row) != 3:
                raise ValueError
        except ValueError:
            if i == 0:
                continue                                        # a header
            raise BadInput(f"CSV line {i + 1}: expected three numbers x1, x2, label, received {row!r}") from None
        if label not in (0, 1) or not (math.isfinite(x1) and math.isfinite(x2)):
            raise BadInput(f"CSV line {i + 1}: expected finite x1, x2 and a label 0 or 1, received {row!r}")
        points.append([x1, x2, int(label)])
    if len(points) < 4:
        raise BadInput(f"CSV: expected at least 4 points (lines x1, x2, label), received {len(points)}")
    return points


# -- helpers ---------------------------------------------------------------------------------------------------------
def _picture(values, scale=None):
    """A picture as base64 bytes (0..255, 128 = 0) and the value that 255 stands for."""
    values = np.asarray(values, dtype=np.float64)
    if scale is None:
        scale = float(np.abs(values).max()) or 1.0
    q = np.clip(np.rint(127.5 + 127.5 * values / scale), 0, 255).astype(np.uint8)
    return {"bytes": base64.b64encode(q.tobytes()).decode("ascii"), "scale": scale}


def _pictures(values):
    """Pictures ``(n, size, size)`` as :func:`_picture` writes each, the scales found at once."""
    values = np.asarray(values, dtype=np.float64)
    scales = np.abs(values).reshape(len(values), -1).max(axis=1)
    scales[scales == 0] = 1.0
    q = np.clip(np.rint(127.5 + 127.5 * values / scales[:, None, None]), 0, 255).astype(np.uint8)
    return [{"bytes": base64.b64encode(p.tobytes()).decode("ascii"), "scale": float(s)} for p, s in zip(q, scales)]


def _dense(net, g):
    groups = plane.neuron_groups(net)
    dense = net.layers[groups[g][0]]
    return {"w": dense.params["weights"].astype(np.float64).round(4).tolist(),
            "b": dense.params["biases"].astype(np.float64).round(4).tolist()}


def _points(P, y):
    y = np.asarray(y)
    values = y[:, 0] if y.ndim == 2 else y
    return [[round(float(a), 3), round(float(b), 3), round(float(v), 4) if y.ndim == 2 else int(v)]
            for (a, b), v in zip(P, values)]


def _apply_edit(net, action):
    if action["do"] == "weight":
        plane.set_weight(net, action["layer"], action["to"], action["from"], action["value"])
    else:
        dense = plane.neuron_groups(net)[action["layer"]][0] if 1 <= action["layer"] < len(
            plane.neuron_groups(net)) else None
        if dense is None or not 0 <= action["neuron"] < net.layers[dense].n_out or not math.isfinite(action["value"]):
            raise ValueError(f"bias: expected an existing neuron and a finite value, received {action}")
        net.layers[dense].params["biases"][action["neuron"]] = action["value"]


def _keep_overlap(old, new):
    """Copy the weights of the neurons both networks have (hidden layers by position, output to output)."""
    a = [layer for layer in old.layers if hasattr(layer, "n_out")]
    b = [layer for layer in new.layers if hasattr(layer, "n_out")]
    pairs = list(zip(a[:-1], b[:-1])) + [(a[-1], b[-1])]
    for src, dst in pairs:
        W, V = src.params["weights"], dst.params["weights"]
        r, c = min(W.shape[0], V.shape[0]), min(W.shape[1], V.shape[1])
        V[:r, :c] = W[:r, :c]
        dst.params["biases"][:r] = src.params["biases"][:r]


def _optimizer_record(opt):
    config, arrays = opt.state_dict()
    return {"config": config, "arrays": {k: v.tolist() for k, v in arrays.items()}}


def _load_optimizer(opt, record):
    if record:
        opt.load_state_dict(record["config"], {k: np.asarray(v, dtype=np.float32) for k, v in record["arrays"].items()})


def _epoch(text):
    value = float(text)
    return int(value) if value.is_integer() else value
