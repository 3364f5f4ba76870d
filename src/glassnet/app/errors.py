"""What the app refuses, and why: plain exceptions, one class per kind of refusal.

The workspaces, the training jobs and the views raise these; they know nothing of HTTP. The server
turns each kind into a status code in one place (``glassnet.app.server.STATUS``), so a new kind of
refusal is one class here and one line there. The message is one sentence saying what was expected
and what was received (or what to do instead); the page shows it as it is.

Not here: a request whose JSON does not fit its schema (pydantic refuses it before any of the app's
code runs), and the HTTP-level refusals of the server's guard (a body too large, a missing token).
"""

from ..errors import GlassnetError


class AppError(GlassnetError):
    """A request the app refuses; ``str(error)`` says why in one sentence."""


class BadInput(AppError):
    """The request asks for something that cannot be: a neuron that does not exist, a drawing with no ink,
    more epochs than this server allows, a model file that is not one."""


class NotFound(AppError):
    """The thing named is not in this workspace (a drawing, a snapshot, a saved model)."""


class Busy(AppError):
    """Not now: the workspace is computing (a training or a fine-tuning runs); stop it or wait."""


class BadState(AppError):
    """Not in this state: there is no training to pause, a past epoch is being viewed, nothing to replay."""


class OverLimit(AppError):
    """A limit of the server is reached (trainings at once, drawings kept); try again later or delete some."""


class Unavailable(AppError):
    """The server cannot take this browser now: it is full, or shutting down."""
