"""The shapes of the app's requests, checked by pydantic before any handler runs.

Every number a browser sends is bounded here (the ceilings; a server started with tighter
:class:`~glassnet.app.config.Limits` checks those in ``deps.py``), and NaN or infinity is refused,
so a bad request is a 422 naming the field, never an exception deep in NumPy.

The names a browser may pick (activation, optimizer, schedule) are the library's registries, read
once here: pydantic checks them and the OpenAPI schema lists them, and :func:`choices` gives the page
the same lists for its dropdowns. An activation or optimizer added to the library appears in the app
with no change here.
"""

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import activations, optimizers, schedules
from .config import Limits


def one_of(names):
    """The type of a name that must be one of ``names`` (an enum in the OpenAPI schema)."""
    return Literal[tuple(names)]


if TYPE_CHECKING:  # built at run time from the registries; to a type checker, each is a str
    ActivationName = str
    OptimizerName = str
    ScheduleName = str
else:
    ActivationName = one_of(activations.names())
    OptimizerName = one_of(optimizers.names())
    ScheduleName = one_of(schedules.names())


def choices():
    """What the page's dropdowns offer: every hidden-layer activation, optimizer and schedule of the library."""
    kinds = activations.ACTIVATIONS
    return {"activations": [{"name": name, "label": f"{kinds[name].__name__}: {kinds[name].formula}"}
                            for name in activations.names()],
            "optimizers": [{"name": name, "label": optimizers.OPTIMIZERS[name].__name__}
                           for name in optimizers.names()],
            "schedules": [{"name": name, "label": name} for name in schedules.names()]}


_CEIL = Limits()
Finite = Annotated[float, Field(allow_inf_nan=False)]
Rate = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]
Pixel = Annotated[int, Field(ge=0, le=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Drawing(Strict):
    """A grayscale picture, row by row: ``width * height`` pixels from 0 (black) to 255 (white)."""

    width: int = Field(ge=_CEIL.min_drawing_side, le=_CEIL.max_drawing_side)
    height: int = Field(ge=_CEIL.min_drawing_side, le=_CEIL.max_drawing_side)
    pixels: list[Pixel] = Field(max_length=_CEIL.max_drawing_side ** 2)

    @model_validator(mode="after")
    def _size(self):
        if len(self.pixels) != self.width * self.height:
            raise ValueError(f"pixels: expected width x height = {self.width} x {self.height} = "
                             f"{self.width * self.height} values, received {len(self.pixels)}")
        return self


class Source(Strict):
    """One example: a drawing, or an image of the test set by index."""

    drawing: Drawing | None = None
    test_index: int | None = Field(default=None, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _one(self):
        if (self.drawing is None) == (self.test_index is None):
            raise ValueError("expected exactly one of drawing or test_index")
        return self


class NetworkRequest(Strict):
    dataset: str = Field(default="digits", min_length=1, max_length=200)
    layers: list[Annotated[int, Field(ge=1, le=_CEIL.max_width)]] = Field(default=[128, 64],
                                                                          max_length=_CEIL.max_hidden_layers)
    activation: ActivationName = "relu"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class TrainRequest(Strict):
    epochs: int = Field(default=5, ge=1, le=_CEIL.max_epochs)
    batch_size: int = Field(default=64, ge=1, le=_CEIL.max_batch_size)
    optimizer: OptimizerName = "sgd"
    lr: Rate = 0.05
    momentum: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)
    schedule: ScheduleName = "constant"
    augment: bool = False
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    step: bool = False


class LearningRate(Strict):
    lr: Rate


class LRFindRequest(Strict):
    start: float = Field(default=1e-5, gt=0, le=100, allow_inf_nan=False)
    end: float = Field(default=10.0, gt=0, le=1000, allow_inf_nan=False)
    steps: int = Field(default=100, ge=10, le=_CEIL.max_lr_find_steps)
    batch_size: int = Field(default=64, ge=1, le=_CEIL.max_batch_size)
    optimizer: OptimizerName = "sgd"
    momentum: float = Field(default=0.9, ge=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _range(self):
        if not self.start < self.end:
            raise ValueError(f"expected start < end, received start={self.start}, end={self.end}")
        return self


class NeuronRequest(Source):
    layer: int = Field(ge=1, le=_CEIL.max_hidden_layers + 1)
    neuron: int = Field(ge=0, lt=_CEIL.max_width)


class InsideRequest(NeuronRequest):
    label: int | None = Field(default=None, ge=0, le=9)
    lr: Rate = 0.1


class Edit(Strict):
    layer: int = Field(ge=1, le=_CEIL.max_hidden_layers + 1)
    neuron: int = Field(ge=0, lt=_CEIL.max_width)
    off: bool = False
    bias: Annotated[float, Field(ge=-1e3, le=1e3, allow_inf_nan=False)] | None = None


class DescentRequest(Strict):
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    space: Literal["weight", "gradient", "plane"] = "weight"


class DrawingRequest(Strict):
    drawing: Drawing
    label: int = Field(ge=0, le=9)


class FinetuneRequest(Strict):
    epochs: int = Field(default=5, ge=1, le=_CEIL.max_finetune_epochs)
    lr: Rate = 0.01
    mix: int = Field(default=10, ge=0, le=100)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class ViewRequest(Strict):
    epoch: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)] | None = None


class ModelName(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


class SaveRequest(ModelName):
    overwrite: bool = False        # replace a model of yours with this name (without it: 409 when it exists)
