"""Saving and loading networks and training checkpoints, safely: JSON + safetensors, never pickle.

A saved model is a directory::

    model.json            architecture, format version, loss, training history, weights checksum
    weights.safetensors   every parameter, named "<layer index>.<name>" ("0.weights", "0.biases", ...)

or, if the path ends in ``.safetensors``, one file with the same JSON in its metadata.
Loading executes no code, validates everything (format, version, layer types and
arguments, tensor names, shapes, dtypes, file length, SHA-256 of the weights) and raises
:class:`~glassnet.errors.ModelFileError` with a clear message on any problem. Every write is
atomic. A checkpoint directory adds the optimizer state and where training stood.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from . import _safetensors, losses
from ._io import atomic_directory, atomic_write_bytes
from .errors import GlassnetError, ModelFileError

FORMAT = "glassnet.model"
FORMAT_VERSION = 1
CHECKPOINT_FORMAT = "glassnet.checkpoint"
MODEL_FILES = ("model.json", "weights.safetensors")
CHECKPOINT_FILES = MODEL_FILES + ("optimizer.safetensors", "training.json")


def weights_digest(tensors):
    """SHA-256 over the tensors' bytes in name order (the data section of the safetensors file)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _model_document(net, metadata=None):
    from . import __version__

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
    doc = _model_document(net, metadata)
    try:
        doc_text = json.dumps(doc, indent=2, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GlassnetError(f"save: metadata must be JSON-serialisable with finite numbers ({exc})") from None
    weights = net.get_weights()
    if path.suffix == ".safetensors":
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, _safetensors.dumps(weights, {"glassnet.model": doc_text}))
        return path
    with atomic_directory(path, MODEL_FILES) as tmp:
        _write_model_files(tmp, doc_text, weights)
    return path


def _write_model_files(folder, doc_text, weights):
    (folder / "weights.safetensors").write_bytes(
        _safetensors.dumps(weights, {"format": "glassnet.weights", "format_version": str(FORMAT_VERSION)}))
    (folder / "model.json").write_text(doc_text, encoding="utf-8")


def _read(path):
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc.strerror})") from None


def _read_document(path, blob=None):
    """Parse and check ``model.json`` (or the metadata of a single-file model)."""
    text = blob if blob is not None else _read(path).decode("utf-8", errors="replace")
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


def build_network(architecture, source="model"):
    """A network (fresh weights) from an architecture dict; ModelFileError if it is malformed."""
    from .network import LAYER_TYPES, Network

    layers_spec = architecture.get("layers")
    if not isinstance(layers_spec, list) or not layers_spec:
        raise ModelFileError(f"{source}: architecture has no layer list")
    layers = []
    for i, spec in enumerate(layers_spec):
        if not isinstance(spec, dict) or spec.get("type") not in LAYER_TYPES:
            kind = spec.get("type") if isinstance(spec, dict) else spec
            raise ModelFileError(f"{source}: layer {i} has unknown type {kind!r} "
                                 f"(known: {', '.join(sorted(LAYER_TYPES))})")
        args = {k: v for k, v in spec.items() if k != "type"}
        try:
            layers.append(LAYER_TYPES[spec["type"]](**args))
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{source}: layer {i} ({spec['type']}) has invalid settings: {exc}") from None
    try:
        return Network(layers, n_features=architecture.get("n_features"))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}: inconsistent architecture: {exc}") from None


def _check_declared_shapes(architecture, tensors, source):
    """Refuse an architecture whose Dense layers do not match the tensors in the file, before building it.

    The network is built (and its weights allocated) from the declared architecture; checking the
    declared sizes against the tensors first means a file can never declare a network larger than
    the weights it holds (a small, forged file cannot make ``load`` allocate gigabytes).
    """
    from .network import LAYER_TYPES

    specs = architecture.get("layers") if isinstance(architecture, dict) else None
    dense = []
    for i, spec in enumerate(specs if isinstance(specs, list) else []):
        kind = spec.get("type") if isinstance(spec, dict) else spec
        if kind not in LAYER_TYPES:
            return            # build_network names the unknown layer
        if kind == "Dense":
            n_in, n_out = spec.get("n_in"), spec.get("n_out")
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in (n_in, n_out)):
                return        # build_network names the invalid setting
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


def _attach_weights(net, tensors, doc, source):
    dtype = np.dtype(doc["dtype"]) if doc["dtype"] in ("float32", "float64") else None
    if dtype is None:
        raise ModelFileError(f"{source}: dtype expected 'float32' or 'float64', received {doc['dtype']!r}")
    expected = dict(net.astype(dtype).named_parameters()) if dtype != net.dtype else dict(net.named_parameters())
    if set(tensors) != set(expected):
        missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
        raise ModelFileError(f"{source}: weights do not match the architecture (missing {missing}, "
                             f"unexpected {extra})")
    for name, arr in tensors.items():
        if arr.shape != expected[name].shape or arr.dtype != dtype:
            raise ModelFileError(f"{source}: weight {name!r} expected shape {expected[name].shape} and dtype {dtype}, "
                                 f"received {arr.shape} {arr.dtype}; the weights do not match the architecture")
    if weights_digest(tensors) != doc["weights"].get("sha256"):
        raise ModelFileError(f"{source}: the weights do not match their SHA-256 checksum; "
                             f"the file was modified or damaged")
    if dtype != net.dtype:
        net = net.astype(dtype)
    net.set_weights(tensors)
    return net


def load(path):
    """Load a network saved with ``save``; raises ModelFileError for anything missing or wrong.

    Example:
        >>> import glassnet as gn, tempfile, os
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> folder = os.path.join(tempfile.mkdtemp(), "model")
        >>> _ = net.save(folder)
        >>> gn.load(folder).n_params == net.n_params
        True
    """
    from .training import History

    path = Path(path)
    if path.is_dir():
        doc = _read_document(path / "model.json")
        weights_file = path / "weights.safetensors"
        tensors, _ = _safetensors.loads(_read(weights_file), source=str(weights_file))
        source = str(path)
    elif path.is_file():
        tensors, meta = _safetensors.loads(_read(path), source=str(path))
        if "glassnet.model" not in meta:
            raise ModelFileError(f"{path}: a safetensors file without glassnet's architecture metadata; "
                                 f"it was not saved by glassnet")
        doc = _read_document(path, meta["glassnet.model"])
        source = str(path)
    else:
        raise ModelFileError(f"{path}: no model there (expected a directory with model.json and "
                             f"weights.safetensors, or a .safetensors file)")
    _check_declared_shapes(doc["architecture"], tensors, source)
    net = build_network(doc["architecture"], source)
    net = _attach_weights(net, tensors, doc, source)
    try:
        if doc.get("loss"):
            net.loss_ = losses.get(doc["loss"])
        if doc.get("history"):
            net.history_ = History.from_dict(doc["history"])
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelFileError(f"{source}: malformed training information ({exc})") from None
    net.metadata_ = doc.get("metadata") or {}
    return net


# -- checkpoints -----------------------------------------------------------------------
def save_checkpoint(path, run):
    """Write a checkpoint of a training run (model, optimizer state, history, position) to ``path``."""
    net = run.network
    doc_text = json.dumps(_model_document(net), indent=2)
    opt_config, opt_arrays = run.optimizer.state_dict()
    training = {"format": CHECKPOINT_FORMAT, "format_version": FORMAT_VERSION, "run": run.config(),
                "position": run.position, "history": run.history.to_dict()}
    with atomic_directory(path, CHECKPOINT_FILES) as tmp:
        _write_model_files(tmp, doc_text, net.get_weights())
        (tmp / "optimizer.safetensors").write_bytes(
            _safetensors.dumps(opt_arrays, {"optimizer": json.dumps(opt_config)}))
        (tmp / "training.json").write_text(json.dumps(training), encoding="utf-8")
    return Path(path)


def load_checkpoint(path):
    """Read a checkpoint: ``{"architecture", "weights", "optimizer", "history", "run", "position"}``."""
    from .training import History

    path = Path(path)
    if not (path / "training.json").is_file():
        raise ModelFileError(f"{path}: not a glassnet checkpoint (no training.json); "
                             f"pass the directory given to Checkpoint(...)")
    net = load(path)
    try:
        training = json.loads(_read(path / "training.json").decode("utf-8"))
        if training.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format is {training.get('format')!r}")
        if training.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError("written by a newer glassnet")
        arrays, meta = _safetensors.loads(_read(path / "optimizer.safetensors"), str(path / "optimizer.safetensors"))
        opt_config = json.loads(meta["optimizer"])
        history = History.from_dict(training["history"])
        run, position = training["run"], training["position"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: damaged checkpoint ({exc})") from None
    return {"architecture": net.get_config(), "weights": net.get_weights(), "optimizer": (opt_config, arrays),
            "history": history, "run": run, "position": position}


__all__ = ["save", "load", "save_checkpoint", "load_checkpoint"]
