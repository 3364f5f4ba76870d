"""The Train view: build a network, train it (start, pause, resume, one epoch, stop, the rate live),
follow it as server-sent events, watch it learn (first-layer weights, a gallery of test answers, the
diagnostics), and find a learning rate."""

import asyncio
import time

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ...network import Network
from ..analysis import diagnose
from ..deps import CurrentWorkspace, LRFindSettings, NetworkSettings, Store, TrainSettings
from ..jobs import find_learning_rate
from ..responses import json_answer, sse
from ..schemas import LearningRate
from ..watch import filters, gallery, test_score

router = APIRouter()


@router.post("/api/network")
def new_network(ws: CurrentWorkspace, store: Store, body: NetworkSettings):
    data = store.data.get(body.dataset)
    net = Network.mlp([data.X_train.shape[1], *body.layers, len(data.classes)], activation=body.activation,
                      seed=body.seed)
    return ws.replace_network(net, body.dataset, "new", "new network", seed=body.seed)


@router.post("/api/train/start")
def train_start(ws: CurrentWorkspace, body: TrainSettings):
    return ws.start_training(body.model_dump(exclude={"step"}), step=body.step)


@router.post("/api/train/pause")
def train_pause(ws: CurrentWorkspace):
    return ws.control_training("pause")


@router.post("/api/train/resume")
def train_resume(ws: CurrentWorkspace):
    return ws.control_training("resume")


@router.post("/api/train/step")
def train_step(ws: CurrentWorkspace):
    return ws.control_training("step")


@router.post("/api/train/stop")
def train_stop(ws: CurrentWorkspace):
    return ws.control_training("stop")


@router.post("/api/train/lr")
def train_lr(ws: CurrentWorkspace, body: LearningRate):
    return ws.control_training("lr", lr=body.lr)


@router.get("/api/train/status")
def train_status(ws: CurrentWorkspace):
    return ws.training_state()


@router.get("/api/train/events")
async def train_events(request: Request, ws: CurrentWorkspace):
    return StreamingResponse(events(request, ws), media_type="text/event-stream", headers={"x-accel-buffering": "no"})


@router.get("/api/train/watch")
def train_watch(ws: CurrentWorkspace, images: bool = True, neurons: int = Query(32, ge=1, le=64),
                examples: int = Query(24, ge=1, le=48), test: bool = False):
    """While it trains (and after): the first layer's weights as pictures, the gallery's test images with
    the current answers, and the diagnostics as sentences; all from one copy of the latest weights.
    ``test``: the network's test loss and accuracy too (``net.evaluate``, as Evaluate computes them)."""
    with ws.lock:
        net, data = ws.net.copy(), ws.data()
        epochs = [r["epoch"] for r in ws.history if r.get("loss") is not None]
        state = ws.job.state if ws.job is not None else "idle"
    return json_answer({"state": state, "epoch": epochs[-1] if epochs else 0,
                        "filters": filters(net, data.shape, neurons),
                        "gallery": gallery(net, data, examples, images=images),
                        "diagnostics": diagnose(ws), "test": test_score(net, data) if test else None})


@router.post("/api/lr-find")
def lr_finder(ws: CurrentWorkspace, body: LRFindSettings):
    net = ws.network_copy("learning-rate finder")
    return json_answer(find_learning_rate(net, ws.data(), ws.store, **body.model_dump()))


async def events(request, ws, interval=0.1, keepalive=15.0):
    """The live stream of a workspace's training: job, point, epoch events, then ``end``.

    ``point`` events carry the run's progress (epoch, batch, learning rate) for the status line; a
    ``job`` event is sent whenever the state or the message changes. An open stream counts as
    activity: a workspace watched while it trains is not evicted as idle.
    """
    job = ws.job
    if job is None:
        yield sse("end", ws.training_state())
        return
    yield sse("job", job.to_dict())
    history, points = job.shown()
    last_t = max((p["t"] for p in list(points)), default=-1.0)
    sent_epochs = len(history)
    seen = (job.state, job.message)
    quiet = time.monotonic()
    while True:
        if await request.is_disconnected():
            return
        ws.touched = time.monotonic()
        history, points = job.shown()
        chunk = []                       # everything new in one write (a closed browser: one failed send)
        progress = job.progress_fields()
        for p in [p for p in list(points) if p["t"] > last_t]:
            chunk.append(sse("point", {**progress, **p}))
            last_t = p["t"]
        records = list(history)
        for record in records[sent_epochs:]:
            chunk.append(sse("epoch", record))
        sent_epochs = max(sent_epochs, len(records))
        if (job.state, job.message) != seen:
            seen = (job.state, job.message)
            chunk.append(sse("job", job.to_dict()))
        if not job.active:
            chunk.append(sse("end", job.to_dict()))
            yield "".join(chunk)
            return
        if chunk:
            quiet = time.monotonic()
            yield "".join(chunk)
        elif time.monotonic() - quiet > keepalive:
            quiet = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(interval)
