"""The app's HTTP server: FastAPI routes over the workspaces, plus the guard every request passes.

``create_app(config)`` returns an ASGI application (run it with uvicorn: ``glassnet app``).
Each request goes through :class:`Guard` first, which

- refuses a body over the size limit (413) before the app reads it,
- checks the access token when the server has one (401),
- finds the browser's workspace from its cookie, or makes one (503 when the server is full),
- adds security headers (a Content-Security-Policy that allows only this server).

Heavy work (training, fine-tuning, the learning-rate finder, the descent lab) runs in threads,
never on the event loop: handlers are plain ``def`` functions, which FastAPI runs in a thread pool,
and training has its own thread (:mod:`glassnet.app.jobs`).
"""

import asyncio
import contextlib
import hmac
import json
import logging
import math
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from .. import __version__, serialization
from ..errors import GlassnetError, ModelFileError
from ..lr_finder import lr_find
from ..network import Network
from . import analysis, jobs
from .config import AppConfig
from .schemas import (
    DescentRequest,
    DrawingRequest,
    Edit,
    FinetuneRequest,
    InsideRequest,
    LearningRate,
    LRFindRequest,
    ModelName,
    NetworkRequest,
    NeuronRequest,
    Source,
    TrainRequest,
    ViewRequest,
)
from .workspace import AppError, DataRegistry, WorkspaceStore, apply_edits, autosave, check_finite_weights

log = logging.getLogger("glassnet.app")

WORKSPACE_COOKIE = "glassnet_workspace"
TOKEN_COOKIE = "glassnet_token"
TOKEN_HEADER = "x-glassnet-token"
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
UPLOAD_PATH = "/api/models/upload"


class ErrorDetail(BaseModel):
    """Every refusal: one sentence saying what was expected and what was received."""

    detail: str


#: The refusals any endpoint may answer (in the OpenAPI schema, so clients know their shape).
ERROR_RESPONSES = {status: {"model": ErrorDetail, "description": text} for status, text in {
    400: "malformed request", 401: "the access token is missing or wrong", 404: "no such thing in this workspace",
    409: "not now: the workspace is in the wrong state (for example, training is running)",
    413: "request body too large", 422: "invalid input", 429: "a limit of the server is reached",
    503: "the server is full or shutting down"}.items()}


def _json_error(status, message, headers=None):
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


class Guard:
    """ASGI middleware: body size limit, access token, workspace cookie, security headers."""

    def __init__(self, app, state):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        config, store = self.state["config"], self.state["store"]
        path = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))
        extra = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                 (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                 (b"cache-control", b"no-store")]

        async def reply(response):
            response.headers.update({k.decode(): v.decode() for k, v in extra})
            await response(scope, receive, send)

        # 1. the access token (a class on the network); the page link carries it once as ?token=
        if config.token:
            query = dict(_query(scope.get("query_string", b"")))
            offered = headers.get(TOKEN_HEADER) or cookies.get(TOKEN_COOKIE) or ""
            if path == "/" and "token" in query:
                if not _same(query["token"], config.token):
                    return await reply(HTMLResponse(_NO_TOKEN_PAGE, status_code=401))
                redirect = RedirectResponse("./", status_code=303)    # relative: works under a path prefix
                redirect.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="strict")
                return await reply(redirect)
            if not _same(offered, config.token):
                if path.startswith("/api/") or path == "/openapi.json":
                    return await reply(_json_error(401, "this server needs its access token: open the link "
                                                        "printed by 'glassnet app' (it ends in ?token=...)"))
                return await reply(HTMLResponse(_NO_TOKEN_PAGE, status_code=401))

        # 2. the body, read whole up to the limit (so a handler never sees a partial one)
        limit = store.limits.max_upload_bytes if path == UPLOAD_PATH else store.limits.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return await reply(_json_error(400, f"Content-Length: expected a number, received {declared!r}"))
            if int(declared) > limit:
                return await reply(_json_error(413, f"request body too large: {int(declared)} bytes, the limit is "
                                                    f"{limit} bytes"))
        body = bytearray()
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                if len(body) > limit:
                    return await reply(_json_error(413, f"request body too large: over {limit} bytes, the limit"))
                if not message.get("more_body"):
                    break
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        # 3. the workspace
        new_cookie = None
        if (path.startswith("/api/") and path != "/api/health") or path == "/":
            try:
                ws, created = store.get(cookies.get(WORKSPACE_COOKIE))
            except AppError as exc:
                return await reply(_json_error(exc.status, exc.message))
            scope.setdefault("state", {})["workspace"] = ws
            if created:
                new_cookie = (f"{WORKSPACE_COOKIE}={ws.id}; HttpOnly; SameSite=Strict; Path=/").encode()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
                if new_cookie:
                    message["headers"].append((b"set-cookie", new_cookie))
            await send(message)

        await self.app(scope, replay, send_with_headers)


def _cookies(text):
    out = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _query(raw):
    from urllib.parse import parse_qsl
    return parse_qsl(raw.decode("latin-1"))


def _same(offered, token):
    return hmac.compare_digest(offered.encode(), token.encode())


_NO_TOKEN_PAGE = """<!doctype html><meta charset="utf-8"><title>glassnet: access token needed</title>
<h1>This glassnet app needs its access link</h1>
<p>Open the address your teacher gave you: the one <code>glassnet app</code> printed, ending in
<code>?token=...</code>.</p>"""


def _validation_message(exc):
    """pydantic's errors as one sentence: ``body.layers.0: Input should be ...; ...``."""
    parts = []
    for error in exc.errors()[:5]:
        if error.get("type") == "json_invalid":        # loc is ("body", character), not a field
            at = error.get("loc", ("body", 0))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"request body: expected JSON, received text that is not JSON ({reason} at character {at})")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        message = error.get("msg", "invalid")
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        received = error.get("input")
        text = f"{where}: {message}"
        if received is not None and not isinstance(received, (dict, list)):
            shown = repr(received)
            text += f" (received {shown[:60]})"
        parts.append(text)
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


# -- the application --------------------------------------------------------------------------------
def create_app(config=None, *, store=None):
    """The ASGI app for ``config`` (an :class:`AppConfig`); ``store`` is made from it unless given."""
    config = config or AppConfig()
    if store is None:
        data = DataRegistry(config.datasets)
        initial = serialization.load(config.model) if config.model else None
        if initial is not None:
            try:
                check_finite_weights(initial, str(config.model))
            except AppError as exc:
                raise GlassnetError(exc.message) from None
        store = WorkspaceStore(config.limits, data, initial_model=initial, models_dir=config.models_dir)
    state = {"config": config, "store": store, "autosaved": []}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        janitor = asyncio.create_task(_janitor(store))
        try:
            yield
        finally:
            janitor.cancel()
            state["autosaved"] = await asyncio.to_thread(shutdown, store, config)

    app = FastAPI(title="glassnet app", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  responses=ERROR_RESPONSES,
                  description="The glassnet web app's API: train, draw, look inside, evaluate, teach it your "
                              "handwriting, travel in time, save and load. Each browser has its own workspace.")
    app.state.glassnet = state
    app.add_middleware(Guard, state=state)

    @app.exception_handler(AppError)
    async def _app_error(request, exc):
        return _json_error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        return _json_error(422, _validation_message(exc))

    @app.exception_handler(GlassnetError)
    async def _glassnet_error(request, exc):
        return _json_error(422, str(exc))

    def ws_of(request):
        return request.scope["state"]["workspace"]

    def data_of(ws):
        return store.data.get(ws.dataset)

    def limits():
        return store.limits

    # -- page -----------------------------------------------------------------------------------
    static = resources.files("glassnet.app").joinpath("static")

    @app.get("/", include_in_schema=False)
    def index():
        return HTMLResponse(static.joinpath("index.html").read_text(encoding="utf-8"))

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    # -- session and network ---------------------------------------------------------------------------
    @app.get("/api/health")
    def health():
        return {"ok": True, "version": __version__}

    @app.get("/api/session")
    def session(request: Request):
        ws = ws_of(request)
        with ws.lock:
            datasets = [store.data.describe(name) for name in store.data.names]
            data = data_of(ws)
            return {"workspace": ws.public_id, "network": ws.describe_network(),
                    "dataset": store.data.describe(ws.dataset) | {"classes": list(data.classes)},
                    "datasets": datasets, "training": _job(ws), "timeline": ws.timeline.to_dict(),
                    "view_epoch": ws.view_epoch, "edits": _edits(ws), "drawings": len(ws.drawings),
                    "limits": limits().to_dict(), "token_required": bool(config.token), "version": __version__}

    @app.post("/api/network")
    def new_network(request: Request, body: NetworkRequest):
        ws = ws_of(request)
        lim = limits()
        if len(body.layers) > lim.max_hidden_layers:
            raise AppError(422, f"layers: expected at most {lim.max_hidden_layers} hidden layers, "
                                f"received {len(body.layers)}")
        if any(n > lim.max_width for n in body.layers):
            raise AppError(422, f"layers: expected at most {lim.max_width} neurons per layer, received {body.layers}")
        data = store.data.get(body.dataset)
        sizes = [data.X_train.shape[1], *body.layers, len(data.classes)]
        n_params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        if n_params > lim.max_params:
            raise AppError(422, f"layers: {sizes} has {n_params:,} weights and biases; this server allows at most "
                                f"{lim.max_params:,}")
        with ws.lock:
            ws.require_idle("new network")
            net = Network.mlp(sizes, activation=body.activation, seed=body.seed)
            ws.set_network(net, body.dataset, "new", seed=body.seed)
            ws.job = None
            return ws.describe_network()

    # -- training ----------------------------------------------------------------------------------
    @app.post("/api/train/start")
    def train_start(request: Request, body: TrainRequest):
        ws = ws_of(request)
        lim = limits()
        if body.epochs > lim.max_epochs:
            raise AppError(422, f"epochs: this server allows at most {lim.max_epochs}, received {body.epochs}")
        if body.batch_size > lim.max_batch_size:
            raise AppError(422, f"batch_size: this server allows at most {lim.max_batch_size}, "
                                f"received {body.batch_size}")
        with ws.lock:
            ws.require_idle("start")
            if ws.view_epoch is not None:
                raise AppError(409, "start: you are looking at a past epoch; go back to the latest (or train "
                                    "from there after loading it) first")
            settings = body.model_dump(exclude={"step"})
            data_of(ws)                           # loads the dataset here, so a bad one is a 4xx now
            job = jobs.TrainingJob(ws, settings, step=body.step)
            job.start()
            ws.job = job
            return job.to_dict()

    def _control(request, action):
        ws = ws_of(request)
        with ws.lock:
            if ws.job is None:
                raise AppError(409, f"{action}: there is no training; start one first")
            getattr(ws.job, action)()
            return ws.job.to_dict()

    @app.post("/api/train/pause")
    def train_pause(request: Request):
        return _control(request, "pause")

    @app.post("/api/train/resume")
    def train_resume(request: Request):
        return _control(request, "resume")

    @app.post("/api/train/step")
    def train_step(request: Request):
        ws = ws_of(request)
        with ws.lock:
            if ws.job is None or ws.job.state != "paused":
                raise AppError(409, "step: training is not paused; start with step=true, or pause first")
            ws.job.resume(step=True)
            return ws.job.to_dict()

    @app.post("/api/train/stop")
    def train_stop(request: Request):
        ws = ws_of(request)
        with ws.lock:
            if ws.job is None:
                raise AppError(409, "stop: there is no training")
            ws.job.stop()
            return ws.job.to_dict()

    @app.post("/api/train/lr")
    def train_lr(request: Request, body: LearningRate):
        ws = ws_of(request)
        with ws.lock:
            if ws.job is None:
                raise AppError(409, "learning rate: there is no training; set the rate in the form to start one")
            ws.job.set_lr(body.lr)
            return ws.job.to_dict()

    @app.get("/api/train/status")
    def train_status(request: Request):
        return _job(ws_of(request))

    @app.get("/api/train/events")
    async def train_events(request: Request):
        ws = ws_of(request)
        return StreamingResponse(_events(request, ws), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    @app.post("/api/lr-find")
    def lr_finder(request: Request, body: LRFindRequest):
        ws = ws_of(request)
        if body.steps > limits().max_lr_find_steps:
            raise AppError(422, f"steps: this server allows at most {limits().max_lr_find_steps}")
        with ws.lock:
            ws.require_idle("learning-rate finder")
            net = ws.net.copy()
            data = data_of(ws)
        n = min(len(data.X_train), body.steps * body.batch_size)
        store.acquire_training()
        try:
            with np.errstate(all="ignore"):   # the test runs the rate up until the loss blows up, on purpose
                result = lr_find(net, data.X_train[:n], data.y_train[:n], start=body.start, end=body.end,
                                 steps=body.steps, batch_size=body.batch_size, optimizer=body.optimizer,
                                 momentum=body.momentum)
        except ValueError as exc:        # e.g. a loss that is not finite on the first mini-batch
            raise AppError(422, f"learning-rate finder: {exc}") from None
        finally:
            store.release_training()
        out = result.to_dict()
        curve = out["curves"][0]
        out.update(lrs=curve["lr"], losses=curve["loss"], smoothed=curve["smoothed"], stopped=curve["stopped"])
        return _json(out)

    # -- draw -------------------------------------------------------------------------------------
    @app.post("/api/predict")
    def predict(request: Request, body: Source):
        ws = ws_of(request)
        net, data = ws.view_network(), data_of(ws)
        x, _ = analysis.example(ws, data, body.model_dump())
        out = analysis.predict(net, x, list(data.classes))
        out["epoch"] = ws.view_epoch
        out["edited"] = bool(ws.edits)
        return _json(out)

    @app.post("/api/neuron")
    def neuron(request: Request, body: NeuronRequest):
        ws = ws_of(request)
        ws.check_neuron(body.layer, body.neuron)
        key = (body.layer, body.neuron)
        edit = ws.edits.get(key, {})
        data = data_of(ws)
        if edit.get("off"):
            # Switched off: show what the neuron computes (its own weights, every other edit kept);
            # "passes_on" says that nothing of it reaches the layer above.
            net = ws.original_network().copy()
            apply_edits(net, {k: v for k, v in ws.edits.items() if k != key})
        else:
            net = ws.view_network()
        x, _ = analysis.example(ws, data, body.model_dump())
        out = analysis.neuron(net, x, body.layer, body.neuron)
        out["off"] = bool(edit.get("off"))
        out["bias_override"] = edit.get("bias")
        out["passes_on"] = 0.0 if edit.get("off") else out["a"]
        return _json(out)

    @app.post("/api/edits")
    def edit(request: Request, body: Edit):
        ws = ws_of(request)
        with ws.lock:
            ws.check_neuron(body.layer, body.neuron)
            key = (body.layer, body.neuron)
            if not body.off and body.bias is None:
                ws.edits.pop(key, None)
            else:
                ws.edits[key] = {"off": body.off, "bias": body.bias}
            ws.changed()
            return _edit_result(ws)

    @app.delete("/api/edits")
    def reset_edits(request: Request):
        ws = ws_of(request)
        with ws.lock:
            ws.edits.clear()
            ws.changed()
            return _edit_result(ws)

    def _edit_result(ws):
        data = data_of(ws)
        _, original = ws.original_network().evaluate(data.X_test, data.y_test)
        _, edited = ws.view_network().evaluate(data.X_test, data.y_test)
        return {"edits": _edits(ws), "test_accuracy": {"original": float(original), "edited": float(edited)}}

    # -- inside -----------------------------------------------------------------------------------
    @app.post("/api/inside")
    def inside(request: Request, body: InsideRequest):
        ws = ws_of(request)
        ws.check_neuron(body.layer, body.neuron)
        net, data = ws.view_network(), data_of(ws)
        x, true_label = analysis.example(ws, data, body.model_dump())
        label = body.label if body.label is not None else None
        if label is not None and label >= len(data.classes):
            raise AppError(422, f"label: expected 0 to {len(data.classes) - 1}, received {label}")
        out = analysis.inside(net, x, body.layer, body.neuron, label=label, lr=body.lr)
        out["true_label"] = true_label
        return _json(out)

    # -- evaluate ---------------------------------------------------------------------------------
    @app.get("/api/evaluate")
    def evaluate(request: Request):
        ws = ws_of(request)
        out = analysis.evaluate(ws.view_network(), data_of(ws))
        out["epoch"] = ws.view_epoch
        return _json(out)

    @app.get("/api/evaluate/cell")
    def evaluate_cell(request: Request, true: int, predicted: int, limit: int = 36):
        ws = ws_of(request)
        limit = _limit(limit)
        return _json(analysis.cell(ws.view_network(), data_of(ws), true, predicted, limit))

    @app.get("/api/evaluate/mistakes")
    def evaluate_mistakes(request: Request, limit: int = 24):
        ws = ws_of(request)
        return _json(analysis.mistakes(ws.view_network(), data_of(ws), _limit(limit)))

    def _limit(limit):
        if not 1 <= limit <= limits().max_items:
            raise AppError(422, f"limit: expected 1 to {limits().max_items}, received {limit}")
        return limit

    @app.post("/api/descent")
    def descent(request: Request, body: DescentRequest):
        ws = ws_of(request)
        net = ws.view_network().copy()
        try:
            return _json(analysis.descent(net, data_of(ws), seed=body.seed))
        except ValueError as exc:        # e.g. a loss flat in every weight (every neuron of a layer switched off)
            raise AppError(422, f"descent lab: {exc}") from None

    # -- my handwriting ----------------------------------------------------------------------------
    @app.post("/api/drawings")
    def add_drawing(request: Request, body: DrawingRequest):
        ws = ws_of(request)
        raw = analysis.drawing_image(body.drawing.model_dump())
        x = analysis.drawing_steps(raw)[-1][1].reshape(-1)
        with ws.lock:
            did = ws.add_drawing(body.label, x, raw, limits().max_drawings)
        return _drawing(ws, did, with_steps=True)

    @app.get("/api/drawings/{drawing_id}")
    def get_drawing(request: Request, drawing_id: int):
        ws = ws_of(request)
        with ws.lock:
            if drawing_id not in ws.drawings:
                raise AppError(404, f"no drawing {drawing_id} in this workspace")
            return _drawing(ws, drawing_id, with_steps=True)

    @app.get("/api/drawings")
    def list_drawings(request: Request):
        ws = ws_of(request)
        with ws.lock:
            items = [_drawing(ws, did) for did in ws.drawings]
        per_digit = {}
        for item in items:
            entry = per_digit.setdefault(item["label"], {"digit": item["label"], "n": 0, "correct": 0})
            entry["n"] += 1
            entry["correct"] += int(item["prediction"] == item["label"])
        return {"items": items, "per_digit": [per_digit[k] for k in sorted(per_digit)]}

    @app.delete("/api/drawings/{drawing_id}")
    def delete_drawing(request: Request, drawing_id: int):
        ws = ws_of(request)
        with ws.lock:
            if drawing_id not in ws.drawings:
                raise AppError(404, f"no drawing {drawing_id} in this workspace")
            del ws.drawings[drawing_id]
        return {"deleted": drawing_id}

    @app.post("/api/drawings/finetune")
    def finetune(request: Request, body: FinetuneRequest):
        ws = ws_of(request)
        if body.epochs > limits().max_finetune_epochs:
            raise AppError(422, f"epochs: this server allows at most {limits().max_finetune_epochs}")
        with ws.lock:
            ws.require_idle("fine-tune")
            if ws.view_epoch is not None:
                raise AppError(409, "fine-tune: you are looking at a past epoch; go back to the latest first")
            ws.finetuning = True          # the workspace is busy, but its other requests are answered meanwhile
        try:
            return _json(jobs.finetune(ws, epochs=body.epochs, lr=body.lr, mix=body.mix, seed=body.seed))
        finally:
            ws.finetuning = False

    def _drawing(ws, did, with_steps=False):
        d = ws.drawings[did]
        net = ws.view_network()
        out = {"id": did, "label": d["label"], "prediction": int(net.predict(d["x"][None, :])[0]),
               "image": analysis.picture(d["x"].reshape(analysis.SHAPE))}
        if with_steps:
            out["steps"] = analysis.steps_pictures(analysis.drawing_steps(d["raw"]))
        return out

    # -- time travel ------------------------------------------------------------------------------
    @app.get("/api/timeline")
    def timeline(request: Request):
        ws = ws_of(request)
        with ws.lock:
            return ws.timeline.to_dict() | {"view_epoch": ws.view_epoch}

    @app.post("/api/timeline/view")
    def view(request: Request, body: ViewRequest):
        ws = ws_of(request)
        with ws.lock:
            if body.epoch is not None:
                ws.timeline.weights_at(body.epoch)          # 404 for an epoch without a snapshot
                if float(body.epoch) == ws.timeline.last_epoch and not ws.busy():
                    body.epoch = None                        # the last snapshot is the current network
            ws.view_epoch = None if body.epoch is None else float(body.epoch)
            ws.timeline.pinned = ws.view_epoch
            ws.changed()
            return {"view_epoch": ws.view_epoch}

    @app.post("/api/timeline/replay")
    def replay(request: Request):
        ws = ws_of(request)
        with ws.lock:
            ws.require_idle("replay")
            if not ws.timeline.segments:
                raise AppError(409, "replay: nothing to replay yet; train first")
            if not ws.timeline.replayable:
                why = next(seg.get("why_not_replayable", "") for seg in ws.timeline.segments
                           if not seg.get("replayable", True))
                raise AppError(409, f"replay: this timeline can no longer be replayed: a fine-tuning's data is gone "
                                    f"({why})")
            job = jobs.TrainingJob(ws, {"epochs": 0, "seed": ws.timeline.seed}, kind="replay")
            job.start()
            ws.job = job
            return job.to_dict()

    # -- models -------------------------------------------------------------------------------------
    def owner(ws):
        return ws.owner()

    def models_dir():
        if config.models_dir is None:
            raise AppError(409, "this server was started without a models folder")
        return Path(config.models_dir)

    @app.get("/api/models")
    def list_models(request: Request):
        ws = ws_of(request)
        me = owner(ws)
        items = []
        folder = models_dir()
        if folder.is_dir():
            for path in sorted(folder.iterdir())[:500]:
                doc = _model_doc(path)
                if doc is None:
                    continue
                meta = doc.get("metadata") or {}
                saved_by = meta.get("app_owner")
                if saved_by not in (None, me):
                    continue                          # another browser's model: not listed
                sizes = _sizes(doc.get("architecture"))
                items.append({"name": path.name, "sizes": sizes, "dataset": meta.get("dataset"),
                              "saved": time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime)),
                              "mine": saved_by == me})
        return {"items": items, "folder": str(folder)}

    @app.post("/api/models/save")
    def save_model(request: Request, body: ModelName):
        ws = ws_of(request)
        path = models_dir() / body.name
        doc = _model_doc(path) if path.exists() else None
        if path.exists() and (doc is None or (doc.get("metadata") or {}).get("app_owner") != owner(ws)):
            raise AppError(409, f"a model named {body.name!r} already exists and is not yours; pick another name")
        with ws.lock:
            ws.require_idle("save")
            serialization.save(ws.network_to_save(), path, metadata={"dataset": ws.dataset, "app_owner": owner(ws),
                                                       "saved_by": "glassnet app"})
            ws.saved = True
        return {"name": body.name, "path": str(path)}

    @app.post("/api/models/load")
    def load_model(request: Request, body: ModelName):
        ws = ws_of(request)
        path = models_dir() / body.name
        doc = _model_doc(path)
        if doc is None or (doc.get("metadata") or {}).get("app_owner") not in (None, owner(ws)):
            raise AppError(404, f"no model named {body.name!r}; GET /api/models lists the ones you can load")
        return _adopt(ws, serialization.load(path), f"loaded: {body.name}")

    @app.get("/api/models/download", response_class=Response, responses={200: {"description": "the network as one "
             ".safetensors file", "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
    def download_model(request: Request):
        ws = ws_of(request)
        with ws.lock:
            net = ws.network_to_save()
        with tempfile.TemporaryDirectory() as tmp:
            path = serialization.save(net, Path(tmp) / "model.safetensors", metadata={"dataset": ws.dataset})
            blob = path.read_bytes()
        name = f"glassnet-{'-'.join(map(str, ws.describe_network()['sizes']))}.safetensors"
        return Response(blob, media_type="application/octet-stream",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    @app.post(UPLOAD_PATH, openapi_extra={"requestBody": {"content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}, "required": True}})
    async def upload_model(request: Request):
        ws = ws_of(request)
        blob = await request.body()
        if not blob:
            raise AppError(422, "upload: expected the bytes of a .safetensors model file, received an empty body")

        def read():
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "upload.safetensors"
                path.write_bytes(blob)
                try:
                    return serialization.load(path)
                except ModelFileError as exc:
                    raise AppError(422, "upload: " + str(exc).replace(str(path), "the uploaded file")) from None
        net = await asyncio.to_thread(read)
        return await asyncio.to_thread(_adopt, ws, net, "uploaded")

    def _adopt(ws, net, source):
        check_finite_weights(net, "the model")
        if net.n_features != 784:
            raise AppError(422, f"the app draws 28x28 digits: expected a network with 784 inputs, received one with "
                                f"{net.n_features}")
        dataset = (getattr(net, "metadata_", {}) or {}).get("dataset")
        dataset = dataset if dataset in store.data.names else ws.dataset
        classes = len(store.data.get(dataset).classes)
        if net.n_outputs != classes:
            raise AppError(422, f"the dataset {dataset!r} has {classes} classes, the network has {net.n_outputs} "
                                f"outputs")
        if net.n_params > limits().max_params:
            raise AppError(422, f"the network has {net.n_params:,} parameters; this server allows "
                                f"{limits().max_params:,}")
        with ws.lock:
            ws.require_idle("load")
            ws.set_network(net, dataset, source)
            ws.job = None
            return ws.describe_network()

    return app


# -- helpers ------------------------------------------------------------------------------------------
def _job(ws):
    if ws.job is None:
        return {"state": "idle", "kind": "train", "message": "", "epoch": _round(ws.timeline.last_epoch),
                "epochs": 0, "batch": 0, "steps_per_epoch": 0, "lr": None, "pending_lr": None,
                "history": list(ws.history), "points": list(ws.points), "config": None, "replay": None}
    return ws.job.to_dict()


def _round(v):
    return int(v) if float(v).is_integer() else round(float(v), 3)


def _edits(ws):
    return [{"layer": g, "neuron": j, "off": e.get("off", False), "bias": e.get("bias")}
            for (g, j), e in sorted(ws.edits.items())]


def _model_doc(path):
    try:
        text = (Path(path) / "model.json").read_text(encoding="utf-8")
        doc = json.loads(text)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _sizes(architecture):
    try:
        dense = [layer for layer in architecture["layers"] if layer.get("type") == "Dense"]
        return [dense[0]["n_in"]] + [d["n_out"] for d in dense]
    except (TypeError, KeyError, IndexError):
        return None


def _json(value):
    """A JSON answer made directly (``json.dumps``), without FastAPI's generic encoder: the views'
    answers are plain lists and numbers, and encoding them generically took a third of a prediction."""
    return JSONResponse(_finite(value))


def _finite(value):
    """JSON has no NaN or infinity: they become None (the page shows a dash)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def _sse(event, data):
    return f"event: {event}\ndata: {json.dumps(_finite(data), separators=(',', ':'))}\n\n"


async def _events(request, ws, interval=0.1, keepalive=15.0):
    """The live stream of a workspace's training: job, point, epoch events, then ``end``.

    ``point`` events carry the run's progress (epoch, batch, learning rate) for the status line; a
    ``job`` event is sent whenever the state or the message changes. An open stream counts as
    activity: a workspace watched while it trains is not evicted as idle.
    """
    job = ws.job
    if job is None:
        yield _sse("end", _job(ws))
        return
    yield _sse("job", job.to_dict())
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
            chunk.append(_sse("point", {**progress, **p}))
            last_t = p["t"]
        records = list(history)
        for record in records[sent_epochs:]:
            chunk.append(_sse("epoch", record))
        sent_epochs = max(sent_epochs, len(records))
        if (job.state, job.message) != seen:
            seen = (job.state, job.message)
            chunk.append(_sse("job", job.to_dict()))
        if not job.active:
            chunk.append(_sse("end", job.to_dict()))
            yield "".join(chunk)
            return
        if chunk:
            quiet = time.monotonic()
            yield "".join(chunk)
        elif time.monotonic() - quiet > keepalive:
            quiet = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(interval)


async def _janitor(store, every=60.0):
    while True:
        await asyncio.sleep(every)
        store.evict_idle()


def shutdown(store, config):
    """Stop every training (its weights are kept) and save each workspace's unsaved trained network."""
    unsaved = store.close()
    if config.models_dir is None:
        return []
    return [path for path in (autosave(ws, config.models_dir, "shutdown") for ws in unsaved) if path]
