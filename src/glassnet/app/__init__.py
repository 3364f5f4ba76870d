"""The glassnet app: train, draw, look inside, evaluate, in the browser (``glassnet app``).

A FastAPI server (``pip install "glassnet[app]"``) with a page of plain HTML, CSS and JavaScript
shipped in ``static/`` (no build step, nothing fetched from elsewhere). Each browser gets its own
workspace (network, training job, drawings) held in memory within the limits of
:class:`~glassnet.app.config.Limits`. Where things are:

- ``server.py``: the ASGI app (the guard every request passes, one handler for every refusal);
  ``routes/``: one router per view; ``deps.py``: what a route needs (its workspace, the limits);
- ``workspace.py`` (one browser's state, each method under the workspace's lock), ``store.py`` (all
  of them), ``timeline.py`` (snapshots), ``jobs.py`` (training in the background), ``data.py``,
  ``saved_models.py``: the app's own logic, with no HTTP in it: refusals are ``errors.py``'s exceptions;
- ``analysis.py``: what each view computes with the library; ``schemas.py``: the requests' shapes.

Only ``server.py``, ``deps.py``, ``responses.py`` and ``routes/`` import FastAPI; this package's
``__init__`` imports none of them, so ``glassnet app --help`` works without the extra.

Example (in a script; ``glassnet app`` does this and more)::

    from glassnet.app import AppConfig, create_app
    import uvicorn
    uvicorn.run(create_app(AppConfig()), host="127.0.0.1", port=8000)
"""

from ..errors import require
from .config import AppConfig, Limits


def create_app(config=None, **kwargs):
    """The ASGI application (see :func:`glassnet.app.server.create_app`); needs the ``app`` extra."""
    require("fastapi", "app")
    from .server import create_app as create  # FastAPI is an extra: imported only when a server is made

    return create(config, **kwargs)


__all__ = ["AppConfig", "Limits", "create_app"]
