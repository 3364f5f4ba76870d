"""The Time travel view: the timeline's snapshots, looking at a past epoch, and replaying every run
from the seed to check the weights come out bit for bit the same."""

from fastapi import APIRouter

from ..deps import CurrentWorkspace
from ..schemas import ViewRequest

router = APIRouter()


@router.get("/api/timeline")
def timeline(ws: CurrentWorkspace):
    return ws.timeline_state()


@router.post("/api/timeline/view")
def view(ws: CurrentWorkspace, body: ViewRequest):
    return {"view_epoch": ws.view(body.epoch)}


@router.post("/api/timeline/replay")
def replay(ws: CurrentWorkspace):
    return ws.replay()
