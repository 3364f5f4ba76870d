"""The Draw view: what the network answers for a drawing, one neuron's weighted sum term by term, and
neurons switched off or given another bias (edits), and what drives a neuron (the test images that excite it most)."""

from fastapi import APIRouter

from .. import analysis
from ..deps import CurrentWorkspace
from ..responses import json_answer
from ..schemas import Edit, NeuronRequest, Source

router = APIRouter()


@router.post("/api/predict")
def predict(ws: CurrentWorkspace, body: Source):
    net, data = ws.view_network(), ws.data()
    x, _ = analysis.example(ws, data, body.model_dump())
    out = analysis.predict(net, x, list(data.classes))
    out["epoch"] = ws.view_epoch
    out["edited"] = bool(ws.edits)
    return json_answer(out)


@router.post("/api/neuron")
def neuron(ws: CurrentWorkspace, body: NeuronRequest):
    net, edit = ws.neuron_network(body.layer, body.neuron)
    x, _ = analysis.example(ws, ws.data(), body.model_dump())
    out = analysis.neuron(net, x, body.layer, body.neuron)
    out["off"] = bool(edit.get("off"))
    out["bias_override"] = edit.get("bias")
    out["passes_on"] = 0.0 if edit.get("off") else out["a"]
    return json_answer(out)


@router.post("/api/neuron/drivers")
def drivers(ws: CurrentWorkspace, body: NeuronRequest):
    """The test images that excite the neuron most (what drives it), for the network as edited."""
    net, _ = ws.neuron_network(body.layer, body.neuron)
    return json_answer({"layer": body.layer, "neuron": body.neuron,
                        "images": analysis.drivers(net, ws.data(), body.layer, body.neuron)})


@router.post("/api/edits")
def edit(ws: CurrentWorkspace, body: Edit):
    return ws.edit(body.layer, body.neuron, off=body.off, bias=body.bias)


@router.delete("/api/edits")
def reset_edits(ws: CurrentWorkspace):
    return ws.clear_edits()
