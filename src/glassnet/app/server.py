"""The app's HTTP server: the routers of ``routes/``, the guard every request passes, one error handler.

``create_app(config)`` returns an ASGI application (run it with uvicorn: ``glassnet app``).
Each request goes through :class:`Guard` first, which

- refuses a request whose ``Host`` is not this server's, and a state-changing one whose ``Origin``
  is another site's (403: DNS rebinding, cross-site forms); on loopback only loopback names are this
  server's, on another address that address (on ``0.0.0.0``/``::`` any: the token guards it),
- checks the access token when the server has one (401),
- refuses a body over the size limit (413) before the app reads it, and an upload that is not
  ``application/octet-stream`` (415: a cross-site form can only send text),
- finds the browser's workspace from its cookie, or makes one (503 when the server is full),
- adds security headers (a Content-Security-Policy that allows only this server).

The workspaces are kept in the server's database (:mod:`glassnet.app.database`, in the models folder
or ``AppConfig.data_dir``): see :mod:`glassnet.app.store`.

Then a route of ``routes/`` answers. A refusal anywhere below is an exception of
:mod:`glassnet.app.errors`, which knows nothing of HTTP; :data:`STATUS` gives each kind its status,
and :func:`refused` is the one handler that answers it. Heavy work (training, fine-tuning, the
learning-rate finder, the descent lab) never runs on the event loop: routes that compute are plain
``def`` functions, which FastAPI runs in a thread pool, and training has its own thread
(:mod:`glassnet.app.jobs`).
"""

import asyncio
import contextlib
import hmac
import logging
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from .. import __version__, serialization
from ..errors import GlassnetError
from .config import AppConfig, is_loopback
from .data import DataRegistry
from .database import Database
from .errors import BadInput, BadState, Busy, NotFound, OverLimit, Unavailable
from .responses import ErrorDetail, refusal
from .routes import ROUTERS
from .routes.models import UPLOAD_PATH
from .routes.page import static_files
from .store import WorkspaceStore
from .workspace import autosave, check_finite_weights, register_part

try:                                          # the Plane view's state, persisted when that view exists
    from .plane import PlaneSession
except ModuleNotFoundError as exc:
    if exc.name != f"{__package__}.plane":
        raise
    PlaneSession = None  # type: ignore[assignment,misc]  # an app built without the Plane view
if PlaneSession is not None:
    register_part("plane", PlaneSession.from_record)

log = logging.getLogger("glassnet.app")

WORKSPACE_COOKIE = "glassnet_workspace"
TOKEN_COOKIE = "glassnet_token"
TOKEN_HEADER = "x-glassnet-token"
COOKIE_DAYS = 30                 # a browser finds its work again for this long after its last visit
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY"),
                    (b"cache-control", b"no-store")]

#: The HTTP status of each kind of refusal (the first class the error is an instance of). Any other
#: glassnet error (a setting the library refuses) is invalid input: 422.
STATUS = {BadInput: 422, NotFound: 404, Busy: 409, BadState: 409, OverLimit: 429, Unavailable: 503}

#: The refusals any endpoint may answer (in the OpenAPI schema, so clients know their shape).
ERROR_RESPONSES = {status: {"model": ErrorDetail, "description": text} for status, text in {
    400: "malformed request", 401: "the access token is missing or wrong",
    403: "the request's Host or Origin is not this server's", 404: "no such thing in this workspace",
    409: "not now: the workspace is in the wrong state (for example, training is running)",
    413: "request body too large", 415: "an upload that is not application/octet-stream", 422: "invalid input",
    429: "a limit of the server is reached",
    503: "the server is full or shutting down"}.items()}


def status_of(error):
    """The HTTP status that answers ``error`` (a glassnet error)."""
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 422)


class Guard:
    """ASGI middleware: Host and Origin, access token, body size and type, workspace cookie, security headers."""

    def __init__(self, app, state):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = _cookies(headers.get("cookie", ""))

        async def reply(response):
            response.headers.update({k.decode(): v.decode() for k, v in SECURITY_HEADERS})
            await response(scope, receive, send)

        # 0. this server's name, and no other site's page sending state changes
        refused = self._door(scope, headers)
        if refused is not None:
            return await reply(refused)
        # 1. the access token (a class on the network); the page link carries it once as ?token=
        refused = self._token(scope, headers, cookies)
        if refused is not None:
            return await reply(refused)
        # 2. the body, read whole up to the limit (so a handler never sees a partial one)
        body, refused = await self._body(scope, receive, headers)
        if refused is not None:
            return await reply(refused)
        if body is None:                       # the browser went away
            return
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        # 3. the workspace (a thread: it may read the database)
        try:
            new_cookie = await asyncio.to_thread(self._workspace, scope, cookies)
        except Unavailable as exc:
            return await reply(refusal(status_of(exc), str(exc)))

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = (list(message.get("headers", []))
                                      + [h for h in SECURITY_HEADERS if h[0] not in names])
                if new_cookie:
                    message["headers"].append((b"set-cookie", new_cookie))
            await send(message)

        await self.app(scope, replay, send_with_headers)

    def _door(self, scope, headers):
        """403 for a Host that is not this server's or a state-changing request from another site; else None.

        The Host is checked where a browser's work is read or changed (the page, ``/api/*``); the
        page's static files, the schema and ``/api/health`` (a container's health check) answer any name.
        """
        host = headers.get("host", "")
        name = _hostname(host)
        path = scope["path"]
        guarded = path == "/" or (path.startswith("/api/") and path != "/api/health")
        if (guarded or scope["method"] in STATE_CHANGING) and not self._host_allowed(name):
            return refusal(403, f"Host: expected this server's address ({self._expected()}), received {host!r}; "
                                f"open the address 'glassnet app' printed")
        origin = headers.get("origin")
        if scope["method"] in STATE_CHANGING and origin is not None:
            parts = urlsplit(origin) if origin != "null" else None
            if parts is None or parts.netloc.lower() != host.lower():
                return refusal(403, f"Origin: expected this server's own page ({host}), received {origin!r}; "
                                    f"another site cannot change this server's state")
        return None

    def _host_allowed(self, name):
        bound = self.state["config"].host
        if bound in ("0.0.0.0", "::", ""):
            return True                       # every interface: the access token guards it
        if is_loopback(bound):
            return name == "localhost" or name.endswith(".localhost") or is_loopback(name)
        return name == bound.lower().strip("[]")

    def _expected(self):
        bound = self.state["config"].host
        return "localhost or 127.0.0.1" if is_loopback(bound) else bound

    def _token(self, scope, headers, cookies):
        """The answer refusing (or redirecting) a request for its access token; None to let it through."""
        token = self.state["config"].token
        if not token:
            return None
        path = scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if path == "/" and "token" in query:
            if not _same(query["token"], token):
                return HTMLResponse(_NO_TOKEN_PAGE, status_code=401)
            redirect = RedirectResponse("./", status_code=303)    # relative: works under a path prefix
            redirect.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return redirect
        if _same(headers.get(TOKEN_HEADER) or cookies.get(TOKEN_COOKIE) or "", token):
            return None
        if path.startswith("/api/") or path == "/openapi.json":
            return refusal(401, "this server needs its access token: open the link printed by 'glassnet app' "
                                "(it ends in ?token=...)")
        return HTMLResponse(_NO_TOKEN_PAGE, status_code=401)

    async def _body(self, scope, receive, headers):
        """``(body, None)``, ``(None, refusal)`` over the limit, or ``(None, None)`` when the browser left."""
        limits = self.state["store"].limits
        limit = limits.max_upload_bytes if scope["path"] == UPLOAD_PATH else limits.max_body_bytes
        if scope["path"] == UPLOAD_PATH and scope["method"] in STATE_CHANGING:
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/octet-stream":
                return None, refusal(415, f"upload: expected Content-Type application/octet-stream (the bytes of a "
                                          f".safetensors file), received {kind or 'none'!r}")
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return None, refusal(400, f"Content-Length: expected a number, received {declared!r}")
            if int(declared) > limit:
                return None, refusal(413, f"request body too large: {int(declared)} bytes, the limit is {limit} bytes")
        body = bytearray()
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None, None
                body += message.get("body", b"")
                if len(body) > limit:
                    return None, refusal(413, f"request body too large: over {limit} bytes, the limit")
                if not message.get("more_body"):
                    break
        return body, None

    def _workspace(self, scope, cookies):
        """Put the browser's workspace in the request's state (the page and the API; not health checks);
        the ``Set-Cookie`` value when it is a new one."""
        path = scope["path"]
        if not ((path.startswith("/api/") and path != "/api/health") or path == "/"):
            return None
        client = (scope.get("client") or ("?",))[0]
        ws, created = self.state["store"].get(cookies.get(WORKSPACE_COOKIE), client)
        scope.setdefault("state", {})["workspace"] = ws
        return (f"{WORKSPACE_COOKIE}={ws.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={COOKIE_DAYS * 86400}"
                .encode() if created else None)


def _hostname(host):
    """The name in a ``Host`` header, without its port (``[::1]:8000`` -> ``::1``), lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() and ":" not in name else host


def _cookies(text):
    out = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def _same(offered, token):
    return hmac.compare_digest(offered.encode(), token.encode())


_NO_TOKEN_PAGE = """<!doctype html><meta charset="utf-8"><title>glassnet: access token needed</title>
<h1>This glassnet app needs its access link</h1>
<p>Open the address your teacher gave you: the one <code>glassnet app</code> printed, ending in
<code>?token=...</code>.</p>"""


# -- errors: one handler ------------------------------------------------------------------------------
async def refused(request, error):
    """The one handler of refusals: a glassnet error (the app's or the library's) as ``{"detail"}``."""
    return refusal(status_of(error), str(error))


async def invalid(request, error):
    """A request that does not fit its schema (pydantic refused it): 422 with one sentence."""
    return refusal(422, validation_message(error))


def validation_message(exc):
    """pydantic's errors as one sentence: ``body.layers.0: Input should be ...; ...``."""
    parts = []
    for error in exc.errors()[:5]:
        if error.get("type") == "json_invalid":        # loc is ("body", character), not a field
            at = error.get("loc", ("body", 0))[-1]
            reason = (error.get("ctx") or {}).get("error", "invalid JSON")
            parts.append(f"request body: expected JSON, received text that is not JSON ({reason} at character {at})")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {plain_error(error)}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


_EXPECTED = {   # pydantic's error type -> what was expected, in plain words (ctx fills the braces)
    "too_long": "at most {max_length} items", "too_short": "at least {min_length} items",
    "string_too_long": "at most {max_length} characters", "string_too_short": "at least {min_length} characters",
    "greater_than": "a number above {gt}", "greater_than_equal": "a number of {ge} or more",
    "less_than": "a number below {lt}", "less_than_equal": "a number of {le} or less",
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
    "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "text", "list_type": "a list",
    "dict_type": "an object", "literal_error": "one of {expected}", "enum": "one of {expected}",
    "string_pattern_mismatch": "text made only of the characters allowed here", "missing": "a value",
}


def plain_error(error):
    """One pydantic error as "expected X, received Y", without the validation library's wording."""
    kind, received = error.get("type"), error.get("input")
    ctx = {k: f"{v:g}" if isinstance(v, float) else str(v).replace("'", "")
           for k, v in (error.get("ctx") or {}).items()}
    if kind in ("too_long", "too_short", "string_too_long", "string_too_short") and "actual_length" in ctx:
        shown = str(ctx["actual_length"])
    elif kind == "missing":
        shown = "nothing"
    elif isinstance(received, str):
        shown = f'"{received[:40]}"'
    elif isinstance(received, bool) or received is None:
        shown = {True: "true", False: "false", None: "null"}[received]
    elif isinstance(received, (int, float)):
        shown = f"{received:g}"
    else:
        shown = "a list" if isinstance(received, list) else "an object" if isinstance(received, dict) else "that"
    if kind in _EXPECTED:
        try:
            expected = _EXPECTED[kind].format(**ctx)
        except (KeyError, IndexError):
            expected = _EXPECTED[kind].split(" {")[0]
        return f"expected {expected}, received {shown}"
    message = str(error.get("msg", "invalid"))
    if message.startswith("Value error, "):
        return message[len("Value error, "):]
    if message.startswith("Input should be "):
        return f"expected {message[len('Input should be '):]}, received {shown}"
    return f"{message[:1].lower()}{message[1:]} (received {shown})"


# -- the application --------------------------------------------------------------------------------
def create_app(config=None, *, store=None):
    """The ASGI app for ``config`` (an :class:`AppConfig`); ``store`` is made from it unless given."""
    config = config or AppConfig()
    if store is None:
        store = make_store(config)
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
    app.add_exception_handler(GlassnetError, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", static_files(), name="static")
    return app


def make_store(config):
    """The workspaces of a server started with ``config`` (its model, if any, checked first)."""
    initial = serialization.load(config.model) if config.model else None
    if initial is not None:
        try:
            check_finite_weights(initial, str(config.model))
        except BadInput as exc:
            raise GlassnetError(str(exc)) from None
    folder = config.data_dir or config.models_dir
    database = Database.in_folder(folder) if folder is not None else None
    return WorkspaceStore(config.limits, DataRegistry(config.datasets), initial_model=initial,
                          models_dir=config.models_dir, database=database)


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
