"""The Inside view: one example through the network number by number, and one step of backpropagation."""

from fastapi import APIRouter

from .. import analysis
from ..deps import CurrentWorkspace
from ..errors import BadInput
from ..responses import json_answer
from ..schemas import InsideRequest

router = APIRouter()


@router.post("/api/inside")
def inside(ws: CurrentWorkspace, body: InsideRequest):
    ws.check_neuron(body.layer, body.neuron)
    net, data = ws.view_network(), ws.data()
    x, true_label = analysis.example(ws, data, body.model_dump())
    if body.label is not None and body.label >= len(data.classes):
        raise BadInput(f"label: expected 0 to {len(data.classes) - 1}, received {body.label}")
    out = analysis.inside(net, x, body.layer, body.neuron, label=body.label, lr=body.lr)
    out["true_label"] = true_label
    return json_answer(out)
