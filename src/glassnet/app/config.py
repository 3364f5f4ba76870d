"""What the app allows: the limits that keep one server usable by a whole class, and its settings.

Every number a browser can ask for is bounded here, so no request can make the server build a
network, a training run or a response that does not fit in memory or time. When a limit is reached
the server answers with a sentence saying which one (HTTP 413, 422 or 429), never by failing. The
checks live where the request is read (``deps.py``: one request's values; the server's guard: the
body size) and where things are counted (``store.py``: workspaces and trainings; ``workspace.py``:
drawings; ``timeline.py``: snapshots).
"""

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Bounds on what one browser (one workspace) and the whole server may use."""

    max_workspaces: int = 100          # browsers served at once; idle ones are evicted to make room
    idle_seconds: float = 3600.0       # a workspace untouched this long (and not training) is evicted
    max_trainings: int = 4             # training runs computing at the same time (paused ones do not count)
    max_body_bytes: int = 1 << 20      # a JSON request (a 256x256 drawing is about 1 MB at worst)
    max_upload_bytes: int = 16 << 20   # an uploaded model file
    max_hidden_layers: int = 4
    max_width: int = 1024              # neurons in one hidden layer
    max_params: int = 1_500_000        # weights and biases in one network
    max_epochs: int = 100              # epochs in one training request
    max_batch_size: int = 1024
    max_lr_find_steps: int = 300
    max_drawings: int = 500            # "teach it my handwriting" drawings kept per workspace
    max_finetune_epochs: int = 20
    snapshot_bytes: int = 32 << 20     # time-travel snapshots kept per workspace (thinned beyond this)
    max_points: int = 4000             # live curve points kept per workspace (thinned beyond this)
    max_drawing_side: int = 256        # pixels on each side of a drawing sent to the server
    min_drawing_side: int = 8
    max_items: int = 200               # images in one answer (confusion-matrix cell, mistakes)

    def to_dict(self):
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class AppConfig:
    """How ``glassnet app`` was started."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: Path | None = None                 # every new workspace starts from this model
    models_dir: Path = Path("glassnet-models")  # where "save" writes (and Ctrl-C keeps trained work)
    data_dir: Path | None = None              # where the workspaces' database lives (default: models_dir)
    datasets: tuple = ("digits",)             # names or paths offered in the Train view
    token: str | None = None                  # required by every request when set
    limits: Limits = field(default_factory=Limits)


def is_loopback(host):
    """True for 127.0.0.0/8, ::1 and ``localhost``: addresses only this computer can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
