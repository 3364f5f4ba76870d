"""Saving and loading networks and training checkpoints, safely: JSON + safetensors, never pickle.

``glassnet.save(net, path)`` and ``glassnet.load(path)`` (also ``net.save(path)`` and
``Network.load(path)``). The files themselves (the layout, every check, atomic writes, the
checkpoint format) are ``glassnet.modelfile``, which knows nothing of ``Network``; building a
network from a file is ``Network.from_saved`` in ``glassnet.network``. This module is where the
two meet, for callers that want one import: it adds no behaviour of its own.

A saved model is a directory::

    model.json            architecture, format version, loss, training history, weights checksum
    weights.safetensors   every parameter, named "<layer index>.<name>" ("0.weights", "0.biases", ...)

or, if the path ends in ``.safetensors``, one file with the same JSON in its metadata.
Loading executes no code, validates everything (format, version, layer types and
arguments, tensor names, shapes, dtypes, file length, SHA-256 of the weights and of the
document, every declared size against ``glassnet.modelfile.LIMITS`` before it is allocated) and
raises :class:`~glassnet.errors.ModelFileError` with a clear message on any problem. Every write
is atomic, and a process loading while another saves sees the old model or the new one. A
checkpoint directory adds the optimizer state and where training stood.
"""

from __future__ import annotations

import os

from .modelfile import (
    CHECKPOINT_FILES,
    CHECKPOINT_FORMAT,
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILES,
    read_checkpoint,
    save,
    save_checkpoint,
    weights_digest,
)
from .network import Network


def load(path: str | os.PathLike[str]) -> Network:
    """Load a network saved with ``save``; raises ModelFileError for anything missing or wrong.

    Example:
        >>> import glassnet as gn, tempfile, os
        >>> net = gn.Network.mlp([4, 3, 2], seed=0)
        >>> folder = os.path.join(tempfile.mkdtemp(), "model")
        >>> _ = net.save(folder)
        >>> gn.load(folder).n_params == net.n_params
        True
    """
    return Network.load(path)


def build_network(architecture: dict, source: str = "model") -> Network:
    """A network (fresh weights) from an architecture dict; ModelFileError if it is malformed."""
    return Network.from_config(architecture, source)


def load_checkpoint(path: str | os.PathLike[str]) -> dict:
    """Read a checkpoint: ``{"architecture", "weights", "optimizer", "history", "run", "position"}``.

    The model in it is checked as ``load`` checks a model.
    """
    state = read_checkpoint(path)
    net = Network.from_saved(*state["model"])
    return {"architecture": net.get_config(), "weights": net.get_weights(), "optimizer": state["optimizer"],
            "history": state["history"], "run": state["run"], "position": state["position"]}


__all__ = ["CHECKPOINT_FILES", "CHECKPOINT_FORMAT", "FORMAT", "FORMAT_VERSION", "MODEL_FILES", "build_network",
           "load", "load_checkpoint", "save", "save_checkpoint", "weights_digest"]
