"""The page, its files, and what it reads when it opens: ``/``, ``/static/*``, ``/api/health``, ``/api/session``."""

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from ... import __version__
from ..deps import Config, CurrentWorkspace, Store
from ..schemas import choices

router = APIRouter()
STATIC = resources.files("glassnet.app").joinpath("static")


def static_files():
    """The page's scripts, styles and pictures (mounted at ``/static``)."""
    return StaticFiles(directory=str(STATIC))


@router.get("/", include_in_schema=False)
def index():
    return HTMLResponse(STATIC.joinpath("index.html").read_text(encoding="utf-8"))


@router.get("/api/health")
def health():
    return {"ok": True, "version": __version__}


@router.get("/api/session")
def session(ws: CurrentWorkspace, store: Store, config: Config):
    # Everything the page shows when it opens (a docstring here would become the OpenAPI description).
    state = ws.state()
    data = store.data
    return {"workspace": ws.public_id, "network": state["network"],
            "dataset": data.describe(ws.dataset) | {"classes": list(ws.data().classes)},
            "datasets": [data.describe(name) for name in data.names], "training": state["training"],
            "timeline": state["timeline"], "view_epoch": state["view_epoch"], "edits": state["edits"],
            "drawings": state["drawings"], "limits": store.limits.to_dict(), "choices": choices(),
            "token_required": bool(config.token), "version": __version__,
            "notices": ws.take_notices()}
