"""glassnet: the neural network you can see through.

Neurons hold values, layers are arrays of neurons, weights and biases connect them
(``z = W·x + b``), a loss says how wrong the output is, backpropagation finds the
direction and an optimizer takes the step, epoch after epoch. Needs only NumPy.

    >>> import glassnet as gn
    >>> net = gn.Network.mlp([784, 128, 64, 10], activation="relu", seed=0)
"""

from . import activations, datasets, export, initializers, losses, metrics, optimizers, schedules
from ._version import __version__
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar
from .descent import (
    descend_gradient,
    descend_plane,
    descend_weight,
    descent_paths,
    finite_difference,
    loss_along_weight,
    loss_surface,
)
from .diagnostics import Finding, diagnose
from .errors import GlassnetError, MissingExtraError, ModelFileError, TrainingDiverged
from .explain import explain, explain_step
from .gradcheck import GradcheckReport, gradcheck
from .history import History
from .layers import Dense, Dropout, Layer
from .losses import BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError
from .lr_finder import lr_find
from .network import Network
from .notebook import LivePlot
from .optimizers import SGD, Adam, AdamW, Optimizer
from .schedules import Constant, Cosine, OneCycle, StepDecay
from .serialization import load, save
from .training import StepBuffers

__all__ = [
    "Network", "Layer", "Dense", "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Identity",
    "StepBuffers", "Loss", "MeanSquaredError", "CrossEntropy", "BinaryCrossEntropy",
    "Optimizer", "SGD", "Adam", "AdamW", "Constant", "StepDecay", "Cosine", "OneCycle",
    "Callback", "History", "ProgressBar", "EarlyStopping", "Checkpoint", "LivePlot",
    "gradcheck", "GradcheckReport", "save", "load", "datasets", "export", "initializers", "losses", "optimizers",
    "explain", "explain_step", "lr_find", "diagnose", "Finding", "loss_along_weight", "finite_difference",
    "loss_surface", "descend_weight", "descend_plane", "descend_gradient", "descent_paths",
    "schedules", "metrics", "activations", "GlassnetError", "ModelFileError", "TrainingDiverged", "MissingExtraError",
    "__version__",
]

# Every activation of the registry is a top-level name as well (gn.ReLU, gn.GELU, gn.Softplus, ...), so a new
# activation needs no edit here: it is one class in activations.py.
globals().update(activations.LAYER_TYPES)
__all__ += [name for name in activations.LAYER_TYPES if name not in __all__]
