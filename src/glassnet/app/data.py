"""The datasets the app offers, shared read-only by every workspace.

The bundled digits, plus the named datasets already in the cache (the app never downloads) or the
ones ``glassnet app --data`` names. Each is loaded on first use, once, and its arrays are made
read-only: every workspace reads the same memory. Not here: what a workspace trains on (its dataset's
name, ``Workspace.dataset``).
"""

import threading

from .. import datasets as gn_datasets
from ..datasets import catalog, named
from ..errors import GlassnetError
from .errors import BadInput


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
        except (GlassnetError, OSError, ValueError) as exc:
            return {"name": name, "description": "", "classes": [], "image_shape": None, "n_train": None,
                    "n_test": None, "available": False, "reason": str(exc)}
        return {"name": name, "description": data.description, "classes": list(data.classes),
                "image_shape": list(data.shape), "n_train": len(data.X_train), "n_test": len(data.X_test),
                "available": True}

    def get(self, name):
        if name not in self.names:
            raise BadInput(f"dataset: expected one of {', '.join(self.names)}, received {name!r}")
        with self._lock:
            if name not in self._loaded:
                data = gn_datasets.load(name, download=False, progress=False)
                if tuple(data.shape) != (28, 28):
                    raise BadInput(f"dataset {name!r}: the app draws 28x28 images, the dataset's images are "
                                   f"{tuple(data.shape)}")
                for array in (data.X_train, data.X_test, data.y_train, data.y_test):
                    array.flags.writeable = False          # shared by every workspace: nobody writes
                self._loaded[name] = data
            return self._loaded[name]

    def preload(self):
        for name in self.names:
            self.get(name)
