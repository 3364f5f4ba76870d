"""Learning-rate schedules: how the step size changes as training goes on.

A schedule is called with the optimizer's step number ``t`` (0-based, one step per
mini-batch) and returns the learning rate for that step. Schedules that need the
length of training (cosine, one-cycle, step in epochs) get it from ``fit`` through
``bind(total_steps, steps_per_epoch)`` unless it was given explicitly.

Settings become a schedule in one place, :func:`build`, under the names :func:`names` lists
(``one_cycle`` and ``onecycle`` are accepted for ``one-cycle``). A new schedule is a subclass here
plus an entry in ``SCHEDULES`` and a line in ``build``.

Not here: schedules that react to the validation loss (plateau) — use a callback.
"""

import math
from typing import Self

from ._validation import check_params

_lr = ("float", 0.0, None, True)


class Schedule:
    """Base class: ``schedule(t) -> lr``."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def bind(self, total_steps: int, steps_per_epoch: int) -> Self:
        """Fill in the training length if it was not given; returns self."""
        return self

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr_t = lr`` for every step."""

    def __init__(self, lr: float) -> None:
        check_params("Constant", {"lr": _lr}, {"lr": lr})
        self.lr = float(lr)

    def __call__(self, t: int) -> float:
        return self.lr

    def get_config(self) -> dict:
        return {"lr": self.lr}


class StepDecay(Schedule):
    """``lr_t = lr * gamma ** floor(epoch / step_size)``: drop by ``gamma`` every ``step_size`` epochs."""

    _limits = {"lr": _lr, "gamma": ("float", 0.0, 1.0, True), "step_size": ("int", 1, None, False)}

    def __init__(self, lr: float, gamma: float = 0.1, step_size: int = 10, steps_per_epoch: int | None = None) -> None:
        check_params("StepDecay", self._limits, {"lr": lr, "gamma": gamma, "step_size": step_size})
        self.lr, self.gamma, self.step_size = float(lr), float(gamma), int(step_size)
        self.steps_per_epoch = steps_per_epoch

    def bind(self, total_steps: int, steps_per_epoch: int) -> Self:
        if self.steps_per_epoch is None:
            self.steps_per_epoch = int(steps_per_epoch)
        return self

    def __call__(self, t: int) -> float:
        epoch = t // (self.steps_per_epoch or 1)
        return self.lr * self.gamma ** (epoch // self.step_size)

    def get_config(self) -> dict:
        return {"lr": self.lr, "gamma": self.gamma, "step_size": self.step_size,
                "steps_per_epoch": self.steps_per_epoch}


class Cosine(Schedule):
    """Cosine annealing: ``lr_t = min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2``, from ``lr`` to ``min_lr``."""

    _limits = {"lr": _lr, "min_lr": ("float", 0.0, None, False)}

    def __init__(self, lr: float, total_steps: int | None = None, min_lr: float = 0.0) -> None:
        check_params("Cosine", self._limits, {"lr": lr, "min_lr": min_lr})
        self.lr, self.min_lr, self.total_steps = float(lr), float(min_lr), total_steps

    def bind(self, total_steps: int, steps_per_epoch: int) -> Self:
        if self.total_steps is None:
            self.total_steps = int(total_steps)
        return self

    def __call__(self, t: int) -> float:
        progress = min(t / max(self.total_steps or 1, 1), 1.0)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2

    def get_config(self) -> dict:
        return {"lr": self.lr, "total_steps": self.total_steps, "min_lr": self.min_lr}


class OneCycle(Schedule):
    """One-cycle policy (Smith 2018, https://arxiv.org/abs/1708.07120), cosine-shaped as in PyTorch.

    Warm up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the steps,
    then anneal to ``max_lr / (div_factor * final_div_factor)``.
    """

    _limits = {"max_lr": _lr, "pct_start": ("float", 0.0, 1.0, True),
               "div_factor": ("float", 1.0, None, False), "final_div_factor": ("float", 1.0, None, False)}

    def __init__(self, max_lr: float, total_steps: int | None = None, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4) -> None:
        check_params("OneCycle", self._limits, {"max_lr": max_lr, "pct_start": pct_start,
                                                "div_factor": div_factor, "final_div_factor": final_div_factor})
        self.max_lr, self.total_steps, self.pct_start = float(max_lr), total_steps, float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)

    def bind(self, total_steps: int, steps_per_epoch: int) -> Self:
        if self.total_steps is None:
            self.total_steps = int(total_steps)
        return self

    @staticmethod
    def _cos(start, end, progress):
        return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2

    def __call__(self, t: int) -> float:
        total = max(self.total_steps or 1, 2)
        peak = self.pct_start * total - 1            # step where max_lr is reached, as in PyTorch (may be fractional)
        start = self.max_lr / self.div_factor
        if peak > 0 and t <= peak:
            return self._cos(start, self.max_lr, t / peak)
        final = start / self.final_div_factor
        span = total - 1 - peak
        return self._cos(self.max_lr, final, min((t - peak) / span, 1.0) if span > 0 else 1.0)

    def get_config(self) -> dict:
        return {"max_lr": self.max_lr, "total_steps": self.total_steps, "pct_start": self.pct_start,
                "div_factor": self.div_factor, "final_div_factor": self.final_div_factor}


#: The schedules a user can name (``--schedule``, the estimators, the app), under their one canonical spelling.
SCHEDULES = {"constant": Constant, "step": StepDecay, "cosine": Cosine, "one-cycle": OneCycle}
#: Other spellings accepted for the same schedules; never shown to users.
ALIASES = {"one_cycle": "one-cycle", "onecycle": "one-cycle", "stepdecay": "step", "step_decay": "step"}
#: ``step`` divides the rate by ``STEP_GAMMA`` this many times over training (every third of the epochs).
STEP_DROPS = 3
STEP_GAMMA = 0.1


def names() -> tuple[str, ...]:
    """The canonical schedule names, in the order users see them.

    Example:
        >>> names()
        ('constant', 'step', 'cosine', 'one-cycle')
    """
    return tuple(SCHEDULES)


def canonical(name: str) -> str:
    """The canonical spelling of a schedule name (aliases and upper case accepted), or a ValueError.

    Example:
        >>> canonical("One_Cycle")
        'one-cycle'
    """
    key = name.lower() if isinstance(name, str) else name
    key = ALIASES.get(key, key)
    if key not in SCHEDULES:
        raise ValueError(f"schedule expected one of {', '.join(names())}, received {name!r}")
    return key


def build(name: str, lr: float, epochs: int | None = None) -> Schedule:
    """The schedule ``name`` with ``lr`` as its starting (or, for one-cycle, its peak) learning rate.

    - ``constant``: ``lr`` throughout;
    - ``step``: ``lr`` divided by 10 every third of ``epochs`` (every 10 epochs when ``epochs`` is None);
    - ``cosine``: from ``lr`` down to 0 over training;
    - ``one-cycle``: up from ``lr / 25`` to ``lr`` over the first 30% of the steps, then down.

    The training length (steps) is filled in by ``fit`` (``Schedule.bind``).

    Example:
        >>> build("one_cycle", 0.1)
        OneCycle(max_lr=0.1, total_steps=None, pct_start=0.3, div_factor=25.0, final_div_factor=10000.0)
    """
    key = canonical(name)
    if epochs is not None:
        check_params("schedule", {"epochs": ("int", 1, None, False)}, {"epochs": epochs})
    if key == "one-cycle":
        return OneCycle(max_lr=lr)
    if key == "cosine":
        return Cosine(lr)
    if key == "step":
        step_size = 10 if epochs is None else max(1, round(epochs / STEP_DROPS))
        return StepDecay(lr, gamma=STEP_GAMMA, step_size=step_size)
    return Constant(lr)


def as_schedule(lr: float | Schedule) -> Schedule:
    """A schedule from a number (constant) or a Schedule."""
    if isinstance(lr, Schedule):
        return lr
    return Constant(lr)


def from_config(config: dict) -> Schedule:
    """Rebuild a schedule from ``{"type": name, **args}``."""
    kinds = {cls.__name__: cls for cls in SCHEDULES.values()}      # a new schedule's checkpoints load too
    args = dict(config)
    kind = args.pop("type")
    if kind not in kinds:
        raise ValueError(f"schedule type expected one of {sorted(kinds)}, received {kind!r}")
    return kinds[kind](**args)


def to_config(schedule: Schedule) -> dict:
    return {"type": type(schedule).__name__, **schedule.get_config()}
