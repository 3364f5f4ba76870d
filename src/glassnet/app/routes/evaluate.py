"""The Evaluate view: the confusion matrix, the images of one cell, the most confident mistakes, and the
descent lab (the loss along one weight, along the gradient or on a plane, steps of three sizes, a
finite-difference check)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from .. import analysis
from ..deps import CurrentWorkspace, item_limit
from ..errors import BadInput
from ..responses import json_answer
from ..schemas import DescentRequest

router = APIRouter()


@router.get("/api/evaluate")
def evaluate(ws: CurrentWorkspace):
    out = analysis.evaluate(ws.view_network(), ws.data())
    out["epoch"] = ws.view_epoch
    return json_answer(out)


@router.get("/api/evaluate/cell")
def evaluate_cell(ws: CurrentWorkspace, true: int, predicted: int, limit: Annotated[int, Depends(item_limit(36))]):
    return json_answer(analysis.cell(ws.view_network(), ws.data(), true, predicted, limit))


@router.get("/api/evaluate/mistakes")
def evaluate_mistakes(ws: CurrentWorkspace, limit: Annotated[int, Depends(item_limit(24))]):
    return json_answer(analysis.mistakes(ws.view_network(), ws.data(), limit))


@router.post("/api/descent")
def descent(ws: CurrentWorkspace, body: DescentRequest):
    net = ws.view_network().copy()
    try:
        return json_answer(analysis.descent(net, ws.data(), seed=body.seed, space=body.space))
    except ValueError as exc:        # e.g. a loss flat in every weight (every neuron of a layer switched off)
        reason = str(exc).split(": ", 1)[1] if str(exc).startswith("desc") else str(exc)   # no function name
        raise BadInput(f"The descent lab cannot run on this network: {reason}") from None
