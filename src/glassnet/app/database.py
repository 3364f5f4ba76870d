"""The app's embedded database: a class's work kept on disk (SQLite through the standard library, WAL mode).

One file (``glassnet-app.sqlite3`` in the models folder, or in ``glassnet app --data DIR``) holds, per
workspace (the browser's cookie id): its state (dataset, edits, the epoch viewed, the history and
curve, the timeline's segments, the architecture, optional parts such as the Plane view's), its
drawings and its timeline's snapshots (the last snapshot is the network's weights). A ``models``
table records who saved which model name (saved or autosaved) in the models folder.

Every change is written when it happens (a training writes after each epoch), in WAL mode with
``synchronous=NORMAL``: a committed write survives the process being killed (kill -9), so a restart
loses at most the epoch in progress. Arrays are stored as NumPy ``.npz`` bytes read back with
``allow_pickle=False``; nothing is ever unpickled.

Not here: what a workspace holds (``workspace.py`` turns one into a record and back), which
workspaces live in memory (``store.py``), HTTP.
"""

import io
import json
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

FILENAME = "glassnet-app.sqlite3"
KEEP_DAYS = 90                     # a workspace nobody opened for this long is forgotten at the next start

_TABLES = """
CREATE TABLE IF NOT EXISTS workspaces (id TEXT PRIMARY KEY, touched REAL NOT NULL, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS drawings (workspace TEXT NOT NULL, id INTEGER NOT NULL, drawing BLOB NOT NULL,
                                     PRIMARY KEY (workspace, id));
CREATE TABLE IF NOT EXISTS snapshots (workspace TEXT NOT NULL, epoch REAL NOT NULL, label TEXT NOT NULL,
                                      weights BLOB NOT NULL, PRIMARY KEY (workspace, epoch));
CREATE TABLE IF NOT EXISTS models (name TEXT PRIMARY KEY, owner TEXT, kind TEXT NOT NULL, saved REAL NOT NULL);
"""


def encode(obj):
    """``obj`` (JSON-able, with NumPy arrays anywhere inside) as bytes: an ``.npz`` of the arrays and the JSON."""
    arrays = {}

    def pull(value):
        if isinstance(value, np.ndarray):
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"__array__": key}
        if isinstance(value, dict):
            return {str(k): pull(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [pull(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    text = json.dumps(pull(obj), allow_nan=True)
    buf = io.BytesIO()
    np.savez(buf, __json__=np.frombuffer(text.encode(), dtype=np.uint8), **arrays)
    return buf.getvalue()


def decode(blob):
    """What :func:`encode` wrote (arrays come back as arrays; never unpickled)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    obj = json.loads(arrays.pop("__json__").tobytes().decode())

    def push(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return arrays[value["__array__"]]
            return {k: push(v) for k, v in value.items()}
        if isinstance(value, list):
            return [push(v) for v in value]
        return value

    return push(obj)


class Database:
    """The workspaces' work in one SQLite file; safe to use from every thread (one connection, one lock)."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False, isolation_level=None)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_TABLES)
            old = time.time() - KEEP_DAYS * 86400
            gone = [r[0] for r in self._db.execute("SELECT id FROM workspaces WHERE touched < ?", (old,))]
            self._forget(gone)

    @classmethod
    def in_folder(cls, folder):
        """The database of a server whose work lives in ``folder`` (created if missing)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder / FILENAME)

    def close(self):
        with self._lock:
            self._db.close()

    def _write(self, statements):
        """Run ``[(sql, params), ...]`` as one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    self._db.execute(sql, params)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _forget(self, ids):
        for table, column in (("workspaces", "id"), ("drawings", "workspace"), ("snapshots", "workspace")):
            self._db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])

    # -- workspaces ----------------------------------------------------------------------------------
    def save_state(self, wid, state, snapshots=None, drawings=None):
        """Write a workspace's state; ``snapshots`` ``{epoch: (label, weights)}`` and ``drawings``
        ``{id: drawing}``, when given, replace the ones kept (one transaction)."""
        statements = [("INSERT OR REPLACE INTO workspaces (id, touched, state) VALUES (?, ?, ?)",
                       (wid, time.time(), encode(state)))]
        if snapshots is not None:
            statements.append(("DELETE FROM snapshots WHERE workspace = ?", (wid,)))
            statements += [("INSERT INTO snapshots (workspace, epoch, label, weights) VALUES (?, ?, ?, ?)",
                            (wid, float(e), label, encode(w))) for e, (label, w) in snapshots.items()]
        if drawings is not None:
            statements.append(("DELETE FROM drawings WHERE workspace = ?", (wid,)))
            statements += [("INSERT INTO drawings (workspace, id, drawing) VALUES (?, ?, ?)", (wid, int(d), encode(v)))
                           for d, v in drawings.items()]
        self._write(statements)

    def add_snapshot(self, wid, epoch, label, weights, removed=()):
        """Keep one more snapshot (and forget the ``removed`` epochs, thinned away)."""
        statements = [("DELETE FROM snapshots WHERE workspace = ? AND epoch = ?", (wid, float(e))) for e in removed]
        statements.append(("INSERT OR REPLACE INTO snapshots (workspace, epoch, label, weights) VALUES (?, ?, ?, ?)",
                           (wid, float(epoch), label, encode(weights))))
        self._write(statements)

    def add_drawing(self, wid, did, drawing):
        self._write([("INSERT OR REPLACE INTO drawings (workspace, id, drawing) VALUES (?, ?, ?)",
                      (wid, int(did), encode(drawing)))])

    def delete_drawing(self, wid, did):
        self._write([("DELETE FROM drawings WHERE workspace = ? AND id = ?", (wid, int(did)))])

    def load(self, wid):
        """``{"state", "snapshots" {epoch: (label, weights)}, "drawings" {id: drawing}}`` of ``wid``, or None."""
        with self._lock:
            row = self._db.execute("SELECT state FROM workspaces WHERE id = ?", (wid,)).fetchone()
            if row is None:
                return None
            snaps = self._db.execute("SELECT epoch, label, weights FROM snapshots WHERE workspace = ? ORDER BY epoch",
                                     (wid,)).fetchall()
            draws = self._db.execute("SELECT id, drawing FROM drawings WHERE workspace = ? ORDER BY id",
                                     (wid,)).fetchall()
        return {"state": decode(row[0]), "snapshots": {e: (label, decode(w)) for e, label, w in snaps},
                "drawings": {d: decode(v) for d, v in draws}}

    def workspace_ids(self):
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT id FROM workspaces")]

    # -- the models folder's names ---------------------------------------------------------------------
    def record_model(self, name, owner, kind):
        """Note that ``owner`` saved (``kind``: "saved" or "autosaved") the model ``name``."""
        self._write([("INSERT OR REPLACE INTO models (name, owner, kind, saved) VALUES (?, ?, ?, ?)",
                      (name, owner, kind, time.time()))])

    def forget_model(self, name):
        self._write([("DELETE FROM models WHERE name = ?", (name,))])

    def models(self):
        """``{name: {"owner", "kind", "saved"}}`` of the models saved through the app."""
        with self._lock:
            rows = self._db.execute("SELECT name, owner, kind, saved FROM models").fetchall()
        return {n: {"owner": o, "kind": k, "saved": s} for n, o, k, s in rows}
