"""Saving and loading: the models folder (each browser sees its own models and the shared ones; saving
over a name asks first, deleting one's own models), and a model as one file to download or upload."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from .. import saved_models
from ..deps import Config, CurrentWorkspace, Store
from ..schemas import ModelName, SaveRequest

router = APIRouter()
UPLOAD_PATH = "/api/models/upload"


def _binary():
    """A file's bytes, as the OpenAPI schema describes them."""
    return {"schema": {"type": "string", "format": "binary"}}


@router.get("/api/models")
def list_models(ws: CurrentWorkspace, config: Config):
    return saved_models.listing(config.models_dir, ws.owner())


@router.post("/api/models/save")
def save_model(ws: CurrentWorkspace, store: Store, body: SaveRequest):
    return store.save_model(ws, body.name, overwrite=body.overwrite)


@router.delete("/api/models/{name}")
def delete_model(ws: CurrentWorkspace, store: Store,
                 name: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]):
    return store.delete_model(ws, name)


@router.post("/api/models/load")
def load_model(ws: CurrentWorkspace, config: Config, body: ModelName):
    net = saved_models.load(config.models_dir, body.name, ws.owner())
    return ws.adopt(net, f"loaded: {body.name}")


@router.get("/api/models/download", response_class=Response, responses={200: {
    "description": "the network as one .safetensors file", "content": {"application/octet-stream": _binary()}}})
def download_model(ws: CurrentWorkspace):
    blob = saved_models.file_bytes(ws.network_to_save(), ws.dataset)
    name = f"glassnet-{'-'.join(map(str, ws.describe_network()['sizes']))}.safetensors"
    return Response(blob, media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.post(UPLOAD_PATH, openapi_extra={"requestBody": {"content": {"application/octet-stream": _binary()},
                                                         "required": True}})
async def upload_model(request: Request, ws: CurrentWorkspace):
    blob = await request.body()                  # (the guard has read it whole, within the upload limit)
    net = await asyncio.to_thread(saved_models.read_upload, blob)
    return await asyncio.to_thread(ws.adopt, net, "uploaded")
