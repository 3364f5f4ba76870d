"""The record of a training run: one dict per epoch (loss, accuracy, validation, learning rate, time).

``fit`` returns a :class:`History` and keeps it as ``net.history_``; a saved model and a checkpoint
store it as ``to_dict()``. Plain data, no behaviour: not here the loop that fills it
(``glassnet.training``) or its plots (``glassnet.plots.plot_history``).
"""

from collections.abc import Mapping
from typing import Any, Self

from . import views


class History:
    """What happened in each epoch: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds``.

    ``history["loss"]`` (or ``history.loss``) is the list over epochs; ``history.epochs`` holds
    one dict per epoch. ``interrupted`` / ``stopped_early`` say how training ended, and
    ``seed`` replays the run.

    Example:
        >>> h = History(seed=0)
        >>> h.append({"epoch": 1, "loss": 0.5, "accuracy": 0.9})
        >>> h.loss, len(h)
        ([0.5], 1)
    """

    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")

    def __init__(self, seed: int | None = None) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.seed = seed
        self.interrupted = False
        self.stopped_early = False

    def append(self, record: Mapping[str, Any]) -> None:
        self.epochs.append(dict(record))

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, key):
        if key not in self.keys:
            raise KeyError(f"History has {list(self.keys)}, not {key!r}")
        return [record.get(key) for record in self.epochs]

    def __getattr__(self, key):
        if key in History.keys:
            return self[key]
        raise AttributeError(key)

    def to_dict(self) -> dict:
        return {"seed": self.seed, "interrupted": self.interrupted, "stopped_early": self.stopped_early,
                "epochs": self.epochs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        history = cls(data.get("seed"))
        history.interrupted = bool(data.get("interrupted", False))
        history.stopped_early = bool(data.get("stopped_early", False))
        history.epochs = [dict(r) for r in data.get("epochs", [])]
        return history

    def __repr__(self):
        return views.history_text(self)

    def _repr_html_(self):
        """In a notebook: the loss curves and a table of the epochs (``glassnet.views``)."""
        return views.history_html(self)


__all__ = ["History"]
