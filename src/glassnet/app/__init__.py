"""The glassnet app: train, draw, look inside, evaluate, in the browser (``glassnet app``).

A FastAPI server (``pip install "glassnet[app]"``) with a page of plain HTML, CSS and JavaScript
shipped in ``static/`` (no build step, nothing fetched from elsewhere). Each browser gets its own
workspace (network, training job, drawings) held in memory within the limits of
:class:`~glassnet.app.config.Limits`; see :mod:`glassnet.app.server` for the HTTP side,
:mod:`glassnet.app.jobs` for training in the background and :mod:`glassnet.app.analysis` for what
each view computes with the library.

Example (in a script; ``glassnet app`` does this and more)::

    from glassnet.app import AppConfig, create_app
    import uvicorn
    uvicorn.run(create_app(AppConfig()), host="127.0.0.1", port=8000)
"""

from .config import AppConfig, Limits


def create_app(config=None, **kwargs):
    """The ASGI application (see :func:`glassnet.app.server.create_app`); needs the ``app`` extra."""
    from ..errors import require

    require("fastapi", "app")
    from .server import create_app as _create

    return _create(config, **kwargs)


__all__ = ["AppConfig", "Limits", "create_app"]
