"""The My handwriting view: labelled drawings kept with their preprocessing steps, and a fine-tuning
of the network on them (some held out, to see what it learnt)."""

from fastapi import APIRouter

from .. import analysis
from ..deps import CurrentWorkspace, FinetuneSettings
from ..jobs import per_digit
from ..responses import json_answer
from ..schemas import DrawingRequest

router = APIRouter()


@router.post("/api/drawings")
def add_drawing(ws: CurrentWorkspace, body: DrawingRequest):
    raw = analysis.drawing_image(body.drawing.model_dump())
    x = analysis.drawing_steps(raw)[-1][1].reshape(-1)
    did = ws.add_drawing(body.label, x, raw)
    return drawing_answer(ws, did, ws.drawing(did), with_steps=True)


@router.get("/api/drawings/{drawing_id}")
def get_drawing(ws: CurrentWorkspace, drawing_id: int):
    return drawing_answer(ws, drawing_id, ws.drawing(drawing_id), with_steps=True)


@router.get("/api/drawings")
def list_drawings(ws: CurrentWorkspace):
    items = [drawing_answer(ws, did, d) for did, d in ws.drawing_items()]
    labels = [item["label"] for item in items]
    return {"items": items, "per_digit": per_digit(labels, [item["prediction"] for item in items]) if items else []}


@router.delete("/api/drawings/{drawing_id}")
def delete_drawing(ws: CurrentWorkspace, drawing_id: int):
    ws.delete_drawing(drawing_id)
    return {"deleted": drawing_id}


@router.post("/api/drawings/finetune")
def finetune(ws: CurrentWorkspace, body: FinetuneSettings):
    return json_answer(ws.finetune(epochs=body.epochs, lr=body.lr, mix=body.mix, seed=body.seed))


def drawing_answer(ws, did, drawing, with_steps=False):
    """A drawing as the page lists it: its label, the network's answer, its 28x28 picture (and steps)."""
    net = ws.view_network()
    out = {"id": did, "label": drawing["label"], "prediction": int(net.predict(drawing["x"][None, :])[0]),
           "image": analysis.picture(drawing["x"].reshape(analysis.SHAPE))}
    if with_steps:
        out["steps"] = analysis.steps_pictures(analysis.drawing_steps(drawing["raw"]))
    return out
