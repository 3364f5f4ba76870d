"""The models folder of a server, as browsers see it: whose model is whose, and files that come and go.

A model saved from the app records its owner in its metadata (a digest of the workspace id, never the
id): a browser lists, loads and overwrites only its own models and the ones put in the folder by hand
(no owner: everyone's). Uploads and downloads are single ``.safetensors`` files (the architecture in
their metadata, as ``glassnet.save`` writes them), read and written in a temporary folder.

Not here: which network a workspace uses (``Workspace.adopt``, ``Workspace.save``) or HTTP.
"""

import tempfile
import time
from pathlib import Path

from .. import modelfile, serialization
from ..errors import GlassnetError, ModelFileError
from .errors import BadInput, BadState, NotFound

MAX_LISTED = 500                  # entries of the folder looked at for one listing, at most


def folder(models_dir):
    """The models folder as a Path; :class:`BadState` when the server was started without one."""
    if models_dir is None:
        raise BadState("this server was started without a models folder")
    return Path(models_dir)


def listing(models_dir, owner):
    """The models ``owner`` may load: theirs and everyone's (``{"items": [...], "folder": ...}``)."""
    where = folder(models_dir)
    items = []
    if where.is_dir():
        for path in sorted(where.iterdir())[:MAX_LISTED]:
            doc = model_doc(path)
            if doc is None:
                continue
            saved_by = (doc.get("metadata") or {}).get("app_owner")
            if saved_by not in (None, owner):
                continue                          # another browser's model: not listed
            items.append({"name": path.name, "sizes": sizes(doc.get("architecture")),
                          "dataset": (doc.get("metadata") or {}).get("dataset"),
                          "saved": time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime)),
                          "mine": saved_by == owner})
    return {"items": items, "folder": str(where)}


def writable(models_dir, name, owner):
    """Where ``owner`` may save a model called ``name``; :class:`BadState` when it names someone else's."""
    path = folder(models_dir) / name
    if path.exists():
        doc = model_doc(path)
        if doc is None or (doc.get("metadata") or {}).get("app_owner") != owner:
            raise BadState(f"a model named {name!r} already exists and is not yours; pick another name")
    return path


def load(models_dir, name, owner):
    """The model ``name`` if ``owner`` may load it; :class:`NotFound` otherwise (someone else's: not shown)."""
    path = folder(models_dir) / name
    doc = model_doc(path)
    if doc is None or (doc.get("metadata") or {}).get("app_owner") not in (None, owner):
        raise NotFound(f"no model named {name!r}; GET /api/models lists the ones you can load")
    return serialization.load(path)


def read_upload(blob):
    """The network in the bytes of an uploaded ``.safetensors`` file; :class:`BadInput` when it is not one."""
    if not blob:
        raise BadInput("upload: expected the bytes of a .safetensors model file, received an empty body")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.safetensors"
        path.write_bytes(blob)
        try:
            return serialization.load(path)
        except ModelFileError as exc:
            raise BadInput("upload: " + str(exc).replace(str(path), "the uploaded file")) from None


def file_bytes(net, dataset):
    """``net`` as the bytes of one ``.safetensors`` file (its dataset named in the metadata)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = serialization.save(net, Path(tmp) / "model.safetensors", metadata={"dataset": dataset})
        return path.read_bytes()


def model_doc(path):
    """The ``model.json`` of a saved model folder as a dict, or None when it is not one.

    Read by the library's bounded reader (:func:`glassnet.modelfile.read_document`: size, nesting depth,
    checksum and architecture checked before use), so one crafted or damaged folder is left out of the
    listing instead of failing it for every browser.
    """
    try:
        doc = modelfile.read_document(Path(path) / "model.json")
    except (OSError, GlassnetError, ValueError, RecursionError):
        return None
    if not isinstance(doc.get("metadata", {}), (dict, type(None))):
        return None
    return doc


def sizes(architecture):
    """``[inputs, *neurons per Dense layer]`` from a network's architecture (``get_config()``), or None."""
    try:
        dense = [layer for layer in architecture["layers"] if layer.get("type") == "Dense"]
        return [dense[0]["n_in"]] + [d["n_out"] for d in dense]
    except (TypeError, KeyError, IndexError):
        return None
