"""The Plane view: a 2-input network trained live, every neuron painted (``/api/plane``, ``/api/plane/*``).

Each route calls one method of the browser's :class:`~glassnet.app.plane.PlaneSession` (``workspace.plane``,
made on first use); the descent lab and the diagnostics are the library's own (``glassnet.descent``,
``glassnet.diagnostics``) run on the plane's network. Request shapes are here: they belong to this view only.
"""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ... import descent
from .. import saved_models
from ..deps import CurrentWorkspace, Store
from ..errors import BadInput
from ..plane import model_file, parse_csv, session_of
from ..responses import json_answer

router = APIRouter()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlaneSettings(_Strict):
    """Any of the plane's settings; training settings apply from the next mini-batch, others start over."""

    dataset: str | None = Field(None, max_length=20)
    noise: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=20, le=2000)
    data_seed: int | None = Field(None, ge=0, le=2**31)
    test_fraction: float | None = Field(None, ge=0.1, le=0.9)
    features: list[Annotated[str, Field(max_length=12)]] | None = Field(None, min_length=1, max_length=7)
    hidden: list[Annotated[int, Field(ge=1, le=8)]] | None = Field(None, max_length=6)
    activation: str | None = Field(None, max_length=20)
    seed: int | None = Field(None, ge=0, le=2**31)
    optimizer: str | None = Field(None, max_length=20)
    lr: float | None = Field(None, ge=1e-6, le=10)
    momentum: float | None = Field(None, ge=0, le=0.99)
    batch_size: int | None = Field(None, ge=1, le=500)
    l2: float | None = Field(None, ge=0, le=1)
    l1: float | None = Field(None, ge=0, le=1)


class Steps(_Strict):
    batches: int = Field(1, ge=1, le=1000)


class WeightEdit(_Strict):
    layer: int = Field(ge=1, le=7)
    to: int = Field(ge=0, le=7)
    source: int = Field(ge=0, le=7, alias="from")
    value: float = Field(ge=-100, le=100)


class BiasEdit(_Strict):
    layer: int = Field(ge=1, le=7)
    neuron: int = Field(ge=0, le=7)
    value: float = Field(ge=-100, le=100)


class ViewEpoch(_Strict):
    epoch: int | None = Field(None, ge=0)


class Point(_Strict):
    x1: float = Field(ge=-6, le=6)
    x2: float = Field(ge=-6, le=6)
    label: Literal[0, 1]


class CSVPoints(_Strict):
    csv: str = Field(max_length=200_000)


@router.get("/api/plane")
def plane_state(ws: CurrentWorkspace):
    return session_of(ws).state()


@router.post("/api/plane/settings")
def plane_settings(ws: CurrentWorkspace, body: PlaneSettings):
    return session_of(ws).configure(body.model_dump(exclude_none=True))


@router.post("/api/plane/train/start")
def plane_start(ws: CurrentWorkspace, store: Store):
    return session_of(ws).start(closing=lambda: getattr(store, "closed", False))


@router.post("/api/plane/train/pause")
def plane_pause(ws: CurrentWorkspace):
    return session_of(ws).pause()


@router.post("/api/plane/step")
def plane_step(ws: CurrentWorkspace, body: Steps):
    return session_of(ws).step(body.batches)


@router.get("/api/plane/frame")
def plane_frame(ws: CurrentWorkspace, since: Annotated[int, Query(ge=0)] = 0):
    return json_answer(session_of(ws).frame(since))


@router.get("/api/plane/neuron")
def plane_neuron(ws: CurrentWorkspace, layer: Annotated[int, Query(ge=1, le=7)],
                 neuron: Annotated[int, Query(ge=0, le=7)]):
    return json_answer(session_of(ws).neuron(layer, neuron))


@router.post("/api/plane/weight")
def plane_weight(ws: CurrentWorkspace, body: WeightEdit):
    return session_of(ws).set_weight(body.layer, body.to, body.source, body.value)


@router.post("/api/plane/bias")
def plane_bias(ws: CurrentWorkspace, body: BiasEdit):
    return session_of(ws).set_bias(body.layer, body.neuron, body.value)


@router.post("/api/plane/view")
def plane_view(ws: CurrentWorkspace, body: ViewEpoch):
    return session_of(ws).view(body.epoch)


@router.post("/api/plane/replay")
def plane_replay(ws: CurrentWorkspace):
    return session_of(ws).replay()


@router.post("/api/plane/points")
def plane_add_point(ws: CurrentWorkspace, body: Point):
    return session_of(ws).add_point(body.x1, body.x2, body.label)


@router.post("/api/plane/points/csv")
def plane_csv(ws: CurrentWorkspace, body: CSVPoints):
    return session_of(ws).set_points(parse_csv(body.csv))


@router.delete("/api/plane/points")
def plane_clear_points(ws: CurrentWorkspace):
    return session_of(ws).clear_points()


@router.get("/api/plane/diagnose")
def plane_diagnose(ws: CurrentWorkspace):
    return json_answer(session_of(ws).diagnose())


@router.post("/api/plane/descent")
def plane_descent(ws: CurrentWorkspace, store: Store):
    net, X, y, loss = session_of(ws).lab_inputs()
    with store.training_slot():
        try:
            return json_answer(descent.descend_weight(net, X, y, loss=loss, steps=20))
        except ValueError as exc:
            raise BadInput(f"descent lab: {exc}") from None


@router.get("/api/plane/download", response_class=Response, responses={200: {
    "description": "the plane's network as one .safetensors file",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
def plane_download(ws: CurrentWorkspace):
    session = session_of(ws)
    blob = model_file(session)
    name = f"glassnet-plane-{session.settings['dataset']}.safetensors"
    return Response(blob, media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post("/api/plane/upload", openapi_extra={"requestBody": {"content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}, "required": True}})
async def plane_upload(request: Request, ws: CurrentWorkspace):
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
        raise BadInput("upload: expected Content-Type application/octet-stream (the bytes of a .safetensors file)")
    blob = await request.body()
    net = await asyncio.to_thread(saved_models.read_upload, blob)
    return await asyncio.to_thread(session_of(ws).adopt, net, getattr(net, "metadata_", {}))
