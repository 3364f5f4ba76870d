"""What the routes declare they need (FastAPI dependencies), so that a route holds only its view's work.

- :data:`CurrentWorkspace`: the browser's workspace, which the server's guard found from its cookie
  (or made) before the request reached any route;
- :data:`Store` and :data:`Config`: the server's workspaces and how it was started;
- request bodies checked against the server's :class:`~glassnet.app.config.Limits`
  (:data:`NetworkSettings`, :data:`TrainSettings`, ...) and :func:`item_limit` for a query's ``limit``.

pydantic's schemas (``schemas.py``) hold the ceilings every server has; a server started with tighter
limits refuses more here, with the same kind of sentence (a :class:`~glassnet.app.errors.BadInput`).
Two limits are not dependencies, because they are not about one request's values: the body size is
refused by the guard before the body is read, and the trainings running at once are counted by the
store while they run (``WorkspaceStore.training_slot``).
"""

from typing import Annotated

from fastapi import Depends, Request

from .config import AppConfig
from .errors import BadInput
from .schemas import FinetuneRequest, LRFindRequest, NetworkRequest, TrainRequest
from .store import WorkspaceStore
from .workspace import Workspace


# The dependencies that only look something up are ``async``: FastAPI runs them on the event loop, without
# the thread-pool hop a plain ``def`` costs (a prediction is answered in a few milliseconds).
async def workspace_of(request: Request) -> Workspace:
    """The browser's workspace (the guard put it in the request's state)."""
    return request.scope["state"]["workspace"]


async def store_of(request: Request) -> WorkspaceStore:
    return request.app.state.glassnet["store"]


async def config_of(request: Request) -> AppConfig:
    return request.app.state.glassnet["config"]


CurrentWorkspace = Annotated[Workspace, Depends(workspace_of)]
Store = Annotated[WorkspaceStore, Depends(store_of)]
Config = Annotated[AppConfig, Depends(config_of)]


def check_within(limits, body, ceilings):
    """Refuse a field of ``body`` over its limit: ``ceilings`` maps field names to ``Limits`` field names."""
    for field, limit_name in ceilings.items():
        value, ceiling = getattr(body, field), getattr(limits, limit_name)
        if value > ceiling:
            raise BadInput(f"{field}: this server allows at most {ceiling}, received {value}")


def limited(model, **ceilings):
    """A dependency: the request body (a ``model``), each field of ``ceilings`` at most its limit."""
    async def checked(body: model, store: Store) -> model:
        check_within(store.limits, body, ceilings)
        return body
    return checked


def network_within_limits(body: NetworkRequest, store: Store) -> NetworkRequest:
    """A new network's body within the limits: layers, neurons per layer, weights and biases in all.

    A plain ``def`` (FastAPI runs it in its thread pool): counting the weights needs the dataset's
    sizes, and the dataset is loaded on first use.
    """
    limits = store.limits
    if len(body.layers) > limits.max_hidden_layers:
        raise BadInput(f"layers: expected at most {limits.max_hidden_layers} hidden layers, "
                       f"received {len(body.layers)}")
    if any(n > limits.max_width for n in body.layers):
        raise BadInput(f"layers: expected at most {limits.max_width} neurons per layer, received {body.layers}")
    data = store.data.get(body.dataset)
    sizes = [data.X_train.shape[1], *body.layers, len(data.classes)]
    n_params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    if n_params > limits.max_params:
        raise BadInput(f"layers: {sizes} has {n_params:,} weights and biases; this server allows at most "
                       f"{limits.max_params:,}")
    return body


NetworkSettings = Annotated[NetworkRequest, Depends(network_within_limits)]
TrainSettings = Annotated[TrainRequest, Depends(limited(TrainRequest, epochs="max_epochs",
                                                        batch_size="max_batch_size"))]
LRFindSettings = Annotated[LRFindRequest, Depends(limited(LRFindRequest, steps="max_lr_find_steps"))]
FinetuneSettings = Annotated[FinetuneRequest, Depends(limited(FinetuneRequest, epochs="max_finetune_epochs"))]


def item_limit(default):
    """A dependency: the query's ``limit`` (images in one answer), 1 to the server's ``max_items``."""
    async def limit_within(store: Store, limit: int = default) -> int:
        if not 1 <= limit <= store.limits.max_items:
            raise BadInput(f"limit: expected 1 to {store.limits.max_items}, received {limit}")
        return limit
    return limit_within
