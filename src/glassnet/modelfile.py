"""Model files and checkpoints on disk: JSON + safetensors, never pickle. The low level of saving.

A saved model is a directory::

    model.json            architecture, format version, loss, training history, weights checksum
    weights.safetensors   every parameter, named "<layer index>.<name>" ("0.weights", "0.biases", ...)

or, if the path ends in ``.safetensors``, one file with the same JSON in its metadata. A checkpoint
directory adds ``optimizer.safetensors`` (the optimizer's state) and ``training.json`` (where
training stood). Every write is atomic (``glassnet._io``).

This module writes and reads those files and checks everything a file can get wrong by itself
(format, version, tensor names, shapes, dtypes, file length, SHA-256 of the weights), raising
:class:`~glassnet.errors.ModelFileError`. It knows nothing of ``Network``: it writes any object
with ``get_config()``, ``get_weights()``, ``dtype``, ``loss_`` and ``history_``, and reads a file
into a document and its tensors. Building a network from them is ``Network.load``
(``glassnet.network``); ``glassnet.save`` / ``glassnet.load`` are ``glassnet.serialization``.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from ._io import atomic_directory, atomic_write_bytes
from ._safetensors import dumps, loads
from ._version import __version__
from .errors import GlassnetError, ModelFileError
from .history import History

FORMAT = "glassnet.model"
FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "glassnet.checkpoint"
MODEL_FILES = ("model.json", "weights.safetensors")
CHECKPOINT_FILES = MODEL_FILES + ("optimizer.safetensors", "training.json")
DTYPES = ("float32", "float64")


def weights_digest(tensors):
    """SHA-256 over the tensors' bytes in name order (the data section of the safetensors file)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


# -- writing ---------------------------------------------------------------------------------------
def model_document(net, metadata=None):
    """The ``model.json`` of ``net``: architecture, dtype, loss, history, metadata and the weights' checksum."""
    history = net.history_.to_dict() if net.history_ is not None else None
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "glassnet_version": __version__,
            "architecture": net.get_config(), "dtype": str(net.dtype),
            "loss": net.loss_.name if net.loss_ is not None else None,
            "history": history, "metadata": dict(metadata or {}),
            "weights": {"file": "weights.safetensors", "sha256": weights_digest(net.get_weights())}}


def save(net, path, metadata=None):
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
def read_bytes(path):
    """The bytes of ``path``; ModelFileError (not an OSError) when it is missing or unreadable."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror})") from None


def read_document(path, blob=None):
    """Parse and check ``model.json`` (or ``blob``, the metadata of a single-file model)."""
    text = blob if blob is not None else read_bytes(path).decode("utf-8", errors="replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); the file is damaged") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a glassnet model (expected format {FORMAT!r}, "
                             f"received {doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path}: format_version expected a positive integer, received {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written by a newer glassnet (model format version {version}); this glassnet "
                             f"reads version {FORMAT_VERSION}. Upgrade glassnet to load it")
    for key, kind in (("architecture", dict), ("weights", dict), ("dtype", str)):
        if not isinstance(doc.get(key), kind):
            raise ModelFileError(f"{path}: {key!r} is missing or malformed")
    return doc


def read_model(path):
    """``(document, tensors, source)`` of a saved model (a directory or one ``.safetensors`` file).

    The document is checked (format, version, keys) and the tensors parsed; whether they fit
    together is for :func:`check_declared_shapes` and :func:`check_tensors` (``Network.load``).
    """
    path = Path(path)
    if path.is_dir():
        doc = read_document(path / "model.json")
        weights_file = path / "weights.safetensors"
        tensors, _ = loads(read_bytes(weights_file), source=str(weights_file))
    elif path.is_file():
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
        kind = spec.get("type") if isinstance(spec, dict) else spec
        if kind not in layer_types:
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
    model = read_model(path)
    try:
        training = json.loads(read_bytes(path / "training.json").decode("utf-8"))
        if training.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format is {training.get('format')!r}")
        if training.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError("written by a newer glassnet")
        arrays, meta = loads(read_bytes(path / "optimizer.safetensors"), str(path / "optimizer.safetensors"))
        opt_config = json.loads(meta["optimizer"])
        history = History.from_dict(training["history"])
        run, position = training["run"], training["position"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: damaged checkpoint ({exc})") from None
    return {"model": model, "optimizer": (opt_config, arrays), "history": history, "run": run,
            "position": position}


__all__ = ["CHECKPOINT_FILES", "MODEL_FILES", "check_declared_shapes", "check_tensors", "model_document",
           "read_checkpoint", "read_document", "read_model", "save", "save_checkpoint", "weights_digest"]
