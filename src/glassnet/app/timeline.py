"""A workspace's timeline: a snapshot of the weights after every epoch, and what changed them.

Epoch 0 is where the network started. Every change to the weights is a *segment*: a training run
(its settings, seed, the mini-batch after which each live learning-rate change happened, how many
mini-batches ran) or a fine-tuning on drawings (:mod:`glassnet.app.jobs` writes them). Retraining the
segments in order from the first snapshot repeats the weights bit for bit, which the Time travel
view checks with a replay.

Snapshots are bounded by a byte budget: past it, every other snapshot in the middle goes (the first,
the last and the one a browser is looking at always stay). Not here: the training itself (jobs.py)
and who may look at which epoch (workspace.py).
"""

import threading
from collections import OrderedDict

from .errors import BadState, NotFound


class Timeline:
    """Snapshots of a network's weights (epoch 0 = where it started) and the segments between them.

    The training thread adds snapshots while requests read them: every access to the snapshots goes
    through the timeline's own lock.
    """

    def __init__(self, weights, seed, budget, start=0, label="start"):
        self.budget = budget
        self.seed = seed
        self.snapshots = OrderedDict()       # epoch (float) -> (label, weights dict)
        self.segments = []                   # what changed the weights, in order (see jobs.py)
        self.thinned = False
        self.pinned = None                   # the epoch a browser is looking at: never thinned away
        self.architecture = None             # the network's config, when the timeline began
        self.on_add = None                   # called as on_add(epoch, label, weights, removed epochs): the database
        self._lock = threading.Lock()
        self.add(start, label, weights)         # a loaded model starts at the epoch its history ends

    @classmethod
    def from_record(cls, snapshots, seed, budget, segments=(), thinned=False, architecture=None):
        """A timeline as the database kept it: ``snapshots`` ``{epoch: (label, weights)}`` in order."""
        timeline = cls.__new__(cls)
        timeline.budget, timeline.seed, timeline.thinned = budget, seed, bool(thinned)
        timeline.snapshots = OrderedDict((float(e), (label, w)) for e, (label, w) in sorted(snapshots.items()))
        timeline.segments = list(segments)
        timeline.pinned = None
        timeline.architecture = architecture
        timeline.on_add = None
        timeline._lock = threading.Lock()
        return timeline

    def records(self):
        """``{epoch: (label, weights)}``: every snapshot kept (for the database)."""
        with self._lock:
            return dict(self.snapshots)

    @property
    def last_epoch(self):
        with self._lock:
            return next(reversed(self.snapshots))

    def add(self, epoch, label, weights):
        """Keep a copy of ``weights`` as the snapshot at ``epoch`` (thinning older ones past the budget)."""
        epoch = float(epoch)
        copied = {k: v.copy() for k, v in weights.items()}
        with self._lock:
            before = set(self.snapshots)
            self.snapshots[epoch] = (label, copied)
            self._thin()
            removed = before - set(self.snapshots)
        if self.on_add is not None:
            self.on_add(epoch, label, copied, removed)

    def size_bytes(self):
        """The bytes the snapshots hold (what the budget bounds)."""
        with self._lock:
            return self._bytes()

    def _bytes(self):
        return sum(a.nbytes for _, w in self.snapshots.values() for a in w.values())

    def _thin(self):
        """Over budget: drop every other snapshot in the middle (first and last always stay)."""
        while self._bytes() > self.budget and len(self.snapshots) > 2 + (self.pinned is not None):
            keys = [k for k in list(self.snapshots)[1:-1] if k != self.pinned]
            for key in keys[::2] or keys[:1]:
                del self.snapshots[key]
            self.thinned = True

    def weights_at(self, epoch):
        """The snapshot at ``epoch``; :class:`NotFound` (naming the epochs there are) when there is none."""
        key = float(epoch)
        with self._lock:
            if key not in self.snapshots:
                available = ", ".join(epoch_text(e) for e in self.snapshots)
                raise NotFound(f"no snapshot at epoch {epoch_text(key)}; the timeline has epochs {available}")
            return self.snapshots[key][1]

    def first(self):
        """The weights the timeline started from (where a replay begins)."""
        with self._lock:
            return next(iter(self.snapshots.values()))[1]

    @property
    def replayable(self):
        return bool(self.segments) and all(s.get("replayable", True) for s in self.segments)

    def check_replayable(self):
        """Refuse a replay that cannot run (:class:`BadState`): nothing trained yet, or data let go."""
        if not self.segments:
            raise BadState("replay: nothing to replay yet; train first")
        if not self.replayable:
            why = next(seg.get("why_not_replayable", "") for seg in self.segments if not seg.get("replayable", True))
            raise BadState(f"replay: this timeline can no longer be replayed: a fine-tuning's data is gone ({why})")

    def to_dict(self):
        """What the page shows: the snapshots (epoch, label), the seed and the segments (without their data)."""
        with self._lock:
            snapshots = [{"epoch": epoch_value(e), "label": label} for e, (label, _) in self.snapshots.items()]
        return {"snapshots": snapshots,
                "seed": self.seed, "replayable": self.replayable, "thinned": self.thinned,
                "segments": [{k: v for k, v in s.items() if not k.startswith("_")} for s in self.segments]}


def epoch_value(e):
    """An epoch as the page shows it: ``2`` for a whole epoch, ``2.417`` inside one."""
    return int(e) if float(e).is_integer() else round(float(e), 3)


def epoch_text(e):
    return str(epoch_value(e))
