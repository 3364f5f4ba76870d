"""How the app's answers are written: JSON made directly, NaN as null, server-sent events, refusals.

Not here: what an answer says (the workspace and ``analysis.py`` compute it) or which status a refusal
gets (``server.py`` maps the errors of ``errors.py`` to statuses, in one place).
"""

import json
import math

import numpy as np
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class ErrorDetail(BaseModel):
    """Every refusal: one sentence saying what was expected and what was received."""

    detail: str


def refusal(status, message, headers=None):
    """A refusal as every endpoint answers it: ``{"detail": "one sentence"}`` with ``status``."""
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def json_answer(value):
    """A JSON answer made directly (``json.dumps``), without FastAPI's generic encoder: the views'
    answers are plain lists and numbers, and encoding them generically took a third of a prediction."""
    return JSONResponse(finite(value))


def finite(value):
    """JSON has no NaN or infinity: they become None (the page shows a dash)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        return finite(value.item())
    return value


def sse(event, data):
    """One server-sent event: ``event: <name>`` and its data as one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(finite(data), separators=(',', ':'))}\n\n"
