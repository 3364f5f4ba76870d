"""Model files and checkpoints on disk: JSON + safetensors, never pickle. The low level of saving.

A saved model is a directory::

    model.json            architecture, format version, loss, training history, weights checksum
    weights.safetensors   every parameter, named "<layer index>.<name>" ("0.weights", "0.biases", ...)

or, if the path ends in ``.safetensors``, one file with the same JSON in its metadata. A checkpoint
directory adds ``optimizer.safetensors`` (the optimizer's state) and ``training.json`` (where
training stood). Every write is atomic (``glassnet._io``).

This module writes and reads those files and checks everything a file can get wrong by itself
(format, version, tensor names, shapes, dtypes, file length, the SHA-256 of the weights and, from
format version 2, the SHA-256 of the document itself: architecture, dtype, loss, history and
metadata), raising :class:`~glassnet.errors.ModelFileError`. Before anything is parsed or
allocated, every size, depth and type a file declares is checked against the limits below
(``LIMITS``), and anything but a regular file (a device, a FIFO, a symlink inside a model folder)
is refused. Version 1 files (no document checksum) still load: their weights are checked as before.

A directory is replaced as a whole in one atomic swap (``glassnet._io.atomic_directory``) and read
through one handle on it (``glassnet._io.read_folder``): a process loading while another saves
sees the old model or the new one, and two processes saving at once both succeed, the last one
winning. It knows nothing of ``Network``: it writes any object
with ``get_config()``, ``get_weights()``, ``dtype``, ``loss_`` and ``history_``, and reads a file
into a document and its tensors. Building a network from them is ``Network.load``
(``glassnet.network``); ``glassnet.save`` / ``glassnet.load`` are ``glassnet.serialization``.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ._io import atomic_directory, atomic_write_bytes, read_folder, read_regular
from ._safetensors import MAX_DIMS, MAX_HEADER, MAX_JSON_DEPTH, bounded_json, dumps, loads
from ._version import __version__
from .errors import GlassnetError, ModelFileError
from .history import History

FORMAT = "glassnet.model"
FORMAT_VERSION = 2              # 2: the document carries its own SHA-256 ("document_sha256"); 1 still loads
CHECKPOINT_FORMAT = "glassnet.checkpoint"
MODEL_FILES = ("model.json", "weights.safetensors")
CHECKPOINT_FILES = MODEL_FILES + ("optimizer.safetensors", "training.json")
DTYPES = ("float32", "float64")
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024        #: model.json / training.json
MAX_WEIGHTS_BYTES = 4 * 1024 ** 3            #: weights.safetensors, optimizer.safetensors, a .safetensors model
MAX_LAYERS = 1000                            #: layers in an architecture
MAX_UNITS = 1 << 20                          #: inputs or outputs of one Dense layer
#: Every limit a model file is checked against before it is parsed or allocated (the README lists them).
LIMITS = {"model.json bytes": MAX_DOCUMENT_BYTES, "weights file bytes": MAX_WEIGHTS_BYTES,
          "safetensors header bytes": MAX_HEADER, "JSON nesting depth": MAX_JSON_DEPTH,
          "tensor dimensions": MAX_DIMS, "layers": MAX_LAYERS, "Dense inputs or outputs": MAX_UNITS}
_FILE_LIMITS = {"model.json": MAX_DOCUMENT_BYTES, "training.json": MAX_DOCUMENT_BYTES,
                "weights.safetensors": MAX_WEIGHTS_BYTES, "optimizer.safetensors": MAX_WEIGHTS_BYTES}


def weights_digest(tensors):
    """SHA-256 over the tensors' bytes in name order (the data section of the safetensors file)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def document_digest(doc):
    """SHA-256 of a model document without its ``document_sha256`` (canonical JSON: sorted keys, ASCII).

    It covers everything ``model.json`` says (architecture, dtype, loss, history, metadata) and, through
    ``weights.sha256``, the weights.
    """
    body = {key: value for key, value in doc.items() if key != "document_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# -- writing ---------------------------------------------------------------------------------------
def model_document(net, metadata=None):
    """The ``model.json`` of ``net``: architecture, dtype, loss, history, metadata, the weights' checksum
    and the document's own checksum."""
    history = net.history_.to_dict() if net.history_ is not None else None
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "glassnet_version": __version__,
           "architecture": net.get_config(), "dtype": str(net.dtype),
           "loss": net.loss_.name if net.loss_ is not None else None,
           "history": history, "metadata": dict(metadata or {}),
           "weights": {"file": "weights.safetensors", "sha256": weights_digest(net.get_weights())}}
    try:
        doc["document_sha256"] = document_digest(doc)
    except (TypeError, ValueError) as exc:
        raise GlassnetError(f"save: metadata must be JSON-serialisable with finite numbers ({exc})") from None
    return doc


def save(net, path: str | os.PathLike[str], metadata: dict | None = None) -> Path:
    """Save ``net`` to ``path`` (a directory, or one ``.safetensors`` file); returns the path.

    ``metadata``: optional JSON-serialisable dict kept in ``model.json`` (dataset name, notes...).
    """
    path = Path(path)
    doc = model_document(net, metadata)
    try:
        doc_text = json.dumps(doc, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GlassnetError(f"save: metadata must be JSON-serialisable with finite numbers ({exc})") from None
    weights = net.get_weights()
    if path.suffix == ".safetensors":
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, dumps(weights, {"glassnet.model": doc_text}))
        return path
    with atomic_directory(path, MODEL_FILES) as tmp:
        write_model_files(tmp, doc_text, weights)
    return path


def write_model_files(folder, doc_text, weights):
    """Write ``weights.safetensors`` and ``model.json`` into ``folder`` (a temporary one: see ``save``)."""
    (folder / "weights.safetensors").write_bytes(
        dumps(weights, {"format": "glassnet.weights", "format_version": str(FORMAT_VERSION)}))
    (folder / "model.json").write_text(doc_text, encoding="utf-8")


def save_checkpoint(path, run):
    """Write a checkpoint of a training run (model, optimizer state, history, position) to ``path``.

    ``run`` is the ``TrainingRun`` of ``fit`` (``network``, ``optimizer``, ``history``, ``position``,
    ``config()``).
    """
    net = run.network
    doc_text = json.dumps(model_document(net), indent=2)
    opt_config, opt_arrays = run.optimizer.state_dict()
    training = {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, "run": run.config(),
                "position": run.position, "history": run.history.to_dict()}
    with atomic_directory(path, CHECKPOINT_FILES) as tmp:
        write_model_files(tmp, doc_text, net.get_weights())
        (tmp / "optimizer.safetensors").write_bytes(dumps(opt_arrays, {"optimizer": json.dumps(opt_config)}))
        (tmp / "training.json").write_text(json.dumps(training), encoding="utf-8")
    return Path(path)


# -- reading ---------------------------------------------------------------------------------------
def read_bytes(path, limit=MAX_WEIGHTS_BYTES):
    """The bytes of the regular file ``path`` (at most ``limit``); ModelFileError (not an OSError) otherwise."""
    try:
        return read_regular(path, limit, ModelFileError)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None


def _read_files(path, names):
    """``{name: bytes}`` of one version of the model folder ``path`` (see ``glassnet._io.read_folder``)."""
    try:
        return read_folder(path, names, _FILE_LIMITS, ModelFileError)
    except FileNotFoundError as exc:
        raise ModelFileError(f"{exc.filename}: file not found") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror})") from None


def read_document(path, blob=None):
    """Parse and check ``model.json`` (or ``blob``, its text or bytes from a folder or a single-file model)."""
    raw = blob if blob is not None else read_bytes(path, MAX_DOCUMENT_BYTES)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    doc = bounded_json(raw, path, "the model document")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        received = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ModelFileError(f"{path}: not a glassnet model (expected format {FORMAT!r}, received "
                             f"{str(received)[:80]!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: format_version expected a positive integer, received {str(version)[:40]!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written by a newer glassnet (model format version {version}); this glassnet "
                             f"reads version {FORMAT_VERSION}. Upgrade glassnet to load it")
    for key, kind in (("architecture", dict), ("weights", dict), ("dtype", str)):
        if not isinstance(doc.get(key), kind):
            raise ModelFileError(f"{path}: {key!r} is missing or malformed")
    if version >= 2 and doc.get("document_sha256") != document_digest(doc):
        raise ModelFileError(f"{path}: the model document does not match its SHA-256 checksum (architecture, "
                             f"settings, history or metadata were modified or damaged)")
    check_architecture(doc["architecture"], path)
    return doc


def check_architecture(architecture, source):
    """Refuse an architecture that is not a list of at most MAX_LAYERS layer specs with plain settings,
    or with a Dense layer larger than MAX_UNITS, before anything is built."""
    layers = architecture.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelFileError(f"{source}: architecture expected a non-empty list of layers, received "
                             f"{type(layers).__name__}")
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"{source}: architecture has {len(layers):,} layers, more than the limit of {MAX_LAYERS}")
    n_features = architecture.get("n_features")
    for i, spec in enumerate(layers):
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise ModelFileError(f"{source}: layer {i} expected an object with a \"type\" name, received "
                                 f"{type(spec).__name__ if not isinstance(spec, dict) else 'no type name'}")
        plain = (str, int, float, bool, type(None))
        odd = [key for key, value in spec.items() if not isinstance(value, plain)]
        if odd:
            raise ModelFileError(f"{source}: layer {i} ({spec['type'][:40]}) setting {odd[0]!r} expected a number, "
                                 f"a string or null, received {type(spec[odd[0]]).__name__}")
        for key in ("n_in", "n_out"):
            value = spec.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > MAX_UNITS:
                raise ModelFileError(f"{source}: layer {i} ({spec['type'][:40]}) {key} = {value:,}, more than the "
                                     f"limit of {MAX_UNITS:,}")
    if n_features is not None and (not isinstance(n_features, int) or isinstance(n_features, bool)
                                   or not 1 <= n_features <= MAX_UNITS):
        raise ModelFileError(f"{source}: n_features expected an integer from 1 to {MAX_UNITS:,}, received "
                             f"{str(n_features)[:40]}")


def read_model(path):
    """``(document, tensors, source)`` of a saved model (a directory or one ``.safetensors`` file).

    The document is checked (format, version, keys, checksum, limits) and the tensors parsed; whether
    they fit together is for :func:`check_declared_shapes` and :func:`check_tensors` (``Network.load``).
    """
    path = Path(path)
    if path.is_dir():
        files = _read_files(path, MODEL_FILES)
        doc = read_document(path / "model.json", files["model.json"])
        tensors, _ = loads(files["weights.safetensors"], source=str(path / "weights.safetensors"))
    elif path.exists():
        tensors, meta = loads(read_bytes(path), source=str(path))
        if "glassnet.model" not in meta:
            raise ModelFileError(f"{path}: a safetensors file without glassnet's architecture metadata; "
                                 f"it was not saved by glassnet")
        doc = read_document(path, meta["glassnet.model"])
    else:
        raise ModelFileError(f"{path}: no model there (expected a directory with model.json and "
                             f"weights.safetensors, or a .safetensors file)")
    return doc, tensors, str(path)


def check_declared_shapes(architecture, tensors, source, layer_types):
    """Refuse an architecture whose Dense layers do not match the tensors in the file, before building it.

    The network is built (and its weights allocated) from the declared architecture; checking the
    declared sizes against the tensors first means a file can never declare a network larger than
    the weights it holds (a small, forged file cannot make ``load`` allocate gigabytes).
    ``layer_types`` are the known type names: an unknown one is left for the builder to name.
    """
    specs = architecture.get("layers") if isinstance(architecture, dict) else None
    dense = []
    for i, spec in enumerate(specs if isinstance(specs, list) else []):
        kind = spec.get("type") if isinstance(spec, dict) else None
        if not isinstance(kind, str) or kind not in layer_types:
            return            # the builder names the unknown layer
        if kind == "Dense":
            n_in, n_out = spec.get("n_in"), spec.get("n_out")
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in (n_in, n_out)):
                return        # the builder names the invalid setting
            dense.append((i, n_in, n_out))
    for (_, _, previous), (i, n_in, _) in zip(dense, dense[1:]):
        if n_in != previous:
            raise ModelFileError(f"{source}: inconsistent architecture: layer {i} (Dense) takes {n_in} inputs, the "
                                 f"Dense layer before gives {previous}")
    for i, n_in, n_out in dense:
        for name, shape in ((f"{i}.weights", (n_out, n_in)), (f"{i}.biases", (n_out,))):
            if name not in tensors:
                raise ModelFileError(f"{source}: weights do not match the architecture: layer {i} (Dense {n_in} -> "
                                     f"{n_out}) has no {name!r} in the file (missing)")
            if tuple(tensors[name].shape) != shape:
                raise ModelFileError(f"{source}: layer {i} (Dense {n_in} -> {n_out}) expected weight {name!r} of "
                                     f"shape {shape}, the file holds {tuple(tensors[name].shape)}; the weights do "
                                     f"not match the architecture")


def saved_dtype(doc, source):
    """The dtype the document declares (float32 or float64)."""
    if doc["dtype"] not in DTYPES:
        raise ModelFileError(f"{source}: dtype expected 'float32' or 'float64', received {doc['dtype']!r}")
    return np.dtype(doc["dtype"])


def check_tensors(tensors, shapes, doc, source):
    """Check that ``tensors`` are exactly the parameters ``shapes`` (name -> shape) in the declared dtype,
    and that they match the document's SHA-256; returns that dtype."""
    dtype = saved_dtype(doc, source)
    if set(tensors) != set(shapes):
        missing, extra = sorted(set(shapes) - set(tensors)), sorted(set(tensors) - set(shapes))
        raise ModelFileError(f"{source}: weights do not match the architecture (missing {missing}, "
                             f"unexpected {extra})")
    for name, arr in tensors.items():
        if arr.shape != tuple(shapes[name]) or arr.dtype != dtype:
            raise ModelFileError(f"{source}: weight {name!r} expected shape {tuple(shapes[name])} and dtype {dtype}, "
                                 f"received {arr.shape} {arr.dtype}; the weights do not match the architecture")
    bad = next((name for name, arr in tensors.items() if not np.isfinite(arr).all()), None)
    if bad is not None:
        raise ModelFileError(f"{source}: weight {bad!r} holds NaN or infinity; expected finite numbers")
    if weights_digest(tensors) != doc["weights"].get("sha256"):
        raise ModelFileError(f"{source}: the weights do not match their SHA-256 checksum; "
                             f"the file was modified or damaged")
    return dtype


def read_checkpoint(path):
    """A checkpoint's contents: ``{"model": (document, tensors, source), "optimizer": (config, arrays),
    "history", "run", "position"}``. The model part is checked as :func:`read_model` checks it."""
    path = Path(path)
    if not (path / "training.json").is_file():
        raise ModelFileError(f"{path}: not a glassnet checkpoint (no training.json); "
                             f"pass the directory given to Checkpoint(...)")
    files = _read_files(path, CHECKPOINT_FILES)
    doc = read_document(path / "model.json", files["model.json"])
    tensors, _ = loads(files["weights.safetensors"], source=str(path / "weights.safetensors"))
    training = bounded_json(files["training.json"], path / "training.json", "the training state")
    try:
        if not isinstance(training, dict) or training.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format is {training.get('format') if isinstance(training, dict) else None!r}")
        if not isinstance(training.get("format_version", 0), int) or training.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError("written by a newer glassnet")
        arrays, meta = loads(files["optimizer.safetensors"], str(path / "optimizer.safetensors"))
        opt_config = bounded_json(meta["optimizer"], path / "optimizer.safetensors", "the optimizer settings")
        history = History.from_dict(training["history"])
        run, position = training["run"], training["position"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{path}: damaged checkpoint ({exc})") from None
    return {"model": (doc, tensors, str(path)), "optimizer": (opt_config, arrays), "history": history, "run": run,
            "position": position}


__all__ = ["CHECKPOINT_FILES", "LIMITS", "MODEL_FILES", "check_architecture", "check_declared_shapes",
           "document_digest", "check_tensors", "model_document",
           "read_checkpoint", "read_document", "read_model", "save", "save_checkpoint", "weights_digest"]
