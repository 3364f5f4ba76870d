"""The exceptions glassnet raises on purpose.

Every error a user can cause is a ``GlassnetError`` (or a plain ``ValueError`` /
``TypeError`` for bad arguments, as Python users expect), with a message that
says what was expected, what was received and, where there is one, the fix.
"""


class GlassnetError(Exception):
    """Base class for glassnet's own errors."""


class ModelFileError(GlassnetError, ValueError):
    """A saved model (or checkpoint) is missing, truncated, tampered with or inconsistent."""


class TrainingDiverged(GlassnetError, ArithmeticError):
    """The loss became NaN or infinite; the network keeps the last good weights.

    Attributes:
        epoch: 1-based epoch where it happened.
        batch: 1-based mini-batch within that epoch.
        lr: learning rate used for the step that led there.
        loss: the offending loss value.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, lr: float, loss: float) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.lr = lr
        self.loss = loss


class MissingExtraError(GlassnetError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


def require(module, extra):
    """Import ``module`` or raise ``MissingExtraError`` naming ``pip install "glassnet[extra]"``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"this feature needs the '{module}' package, which is not installed; "
            f'install it with: pip install "glassnet[{extra}]"'
        ) from exc
