"""``glassnet app``: start the web app's server and print where to open it.

On loopback (the default, 127.0.0.1) only this computer can connect and no token is needed. Any
other ``--host`` (``0.0.0.0`` for a class) makes the server require an access token: it is printed
inside the address to give out, and the page keeps it in a cookie. Ctrl-C, SIGTERM (``docker stop``,
a scheduler) and SIGHUP (the terminal closed) stop the server cleanly: running trainings stop after
their current mini-batch and every trained network not yet saved is written to the models folder.
Each browser's work is kept in the database in the models folder (or ``--data``) as it changes, so
even a kill -9 loses at most the epoch in progress; the browser finds it again by its cookie.

The server needs FastAPI and uvicorn (the ``app`` extra): they, and :func:`glassnet.app.create_app`,
are imported only when the command runs, so ``glassnet --help`` works without them.
Not here: the server, its views or its limits (:mod:`glassnet.app`).
"""

import argparse
import contextlib
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
import webbrowser
from pathlib import Path

from ..app.config import AppConfig, Limits, is_loopback
from ..app.data import DataRegistry
from ..datasets.loader import check as check_dataset
from ..errors import GlassnetError, require
from .common import EXIT_OK, number, subcommand

#: The signals that stop the server cleanly (the work is kept); SIGHUP where the system has it.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def add(subparsers):
    """Add ``glassnet app`` to the subparsers."""
    p = subcommand(
        subparsers, "app", run, "the web app: train, draw a digit, look inside, in the browser",
        "Start the glassnet web app and print its address. Views: Train (live curves, pause, step, change the "
        "learning rate, the learning-rate finder), Draw (predict as you draw, click any neuron), Inside (the "
        "maths of a layer and one backward step), Evaluate (confusion matrix, mistakes, the descent lab), My "
        "handwriting (fine-tune on your drawings), Time travel (any past epoch, exact replay) and Models (save, "
        "load, download, upload). Each browser gets its own workspace. --host 0.0.0.0 lets a class connect: "
        "an access token is then required and printed in the address. Ctrl-C stops; trained networks not yet "
        "saved are kept in --models. Needs pip install \"glassnet[app]\".",
        ["glassnet app", "glassnet app --model runs/demo/model --open",
         "glassnet app --host 0.0.0.0 --port 8000 --max-trainings 4   # a class on the local network"])
    p.add_argument("--model", metavar="MODEL", help="a saved model every new workspace starts from "
                                                     "(default: an untrained 784-128-64-10 network)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                   help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0: every network "
                        "interface, with an access token)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--models", metavar="DIR", default="glassnet-models",
                   help="folder for saved models and for the work kept at shutdown (default glassnet-models)")
    p.add_argument("--data", metavar="DIR", help="folder for the database of every browser's work (default: --models)")
    p.add_argument("--dataset", action="append", metavar="NAME_OR_PATH",
                   help="a dataset of 28x28 images to offer (repeat for several; default: the bundled digits and "
                        "every named dataset already downloaded)")
    p.add_argument("--token", help="the access token to require (default: a random one when --host is not "
                                   "loopback, none on loopback)")
    defaults = Limits()
    p.add_argument("--max-trainings", type=number(int, 1, 64), default=defaults.max_trainings, metavar="N",
                   help=f"trainings computing at once (default {defaults.max_trainings})")
    p.add_argument("--max-workspaces", type=number(int, 1, 10000), default=defaults.max_workspaces, metavar="N",
                   help=f"browsers served at once (default {defaults.max_workspaces})")
    p.add_argument("--idle-minutes", type=number(float, 1), default=defaults.idle_seconds / 60, metavar="MINUTES",
                   help=f"evict a workspace idle this long (default {defaults.idle_seconds / 60:g})")


def run(args: argparse.Namespace) -> int:
    """``glassnet app``: serve until Ctrl-C; returns the exit code."""
    require("fastapi", "app")          # FastAPI is an extra: the server is imported only now
    uvicorn = require("uvicorn", "app")
    from ..app import create_app

    token = access_token(args.host, args.token)
    names = args.dataset or DataRegistry.default_names()
    for name in names:
        check_dataset(name)
    limits = Limits(max_trainings=args.max_trainings, max_workspaces=args.max_workspaces,
                    idle_seconds=args.idle_minutes * 60)
    models = usable_folder(args.models, "--models")
    data = usable_folder(args.data, "--data") if args.data else None
    config = AppConfig(host=args.host, port=args.port, model=Path(args.model) if args.model else None,
                       models_dir=models, data_dir=data, datasets=tuple(names), token=token, limits=limits)
    app = create_app(config)
    app.state.glassnet["store"].data.preload()     # a dataset that cannot be used fails now, not in the page
    sock = bind(args.host, args.port)
    port = sock.getsockname()[1]
    server = stopping_server(uvicorn)(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
    for line in banner(args.host, port, token, config):
        print(line, flush=True)
    if args.open:
        local = is_loopback(args.host) or args.host in ("0.0.0.0", "::")
        url = page_address("127.0.0.1" if local else args.host, port, token)
        threading.Thread(target=open_when_started, args=(server, url), daemon=True).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:     # (a Ctrl-C before the server installed its handlers)
        pass
    saved = app.state.glassnet.get("autosaved") or []
    for path in saved:
        print(f"glassnet app: kept unsaved trained work in {path}", flush=True)
    if server.stopped_by not in (None, signal.SIGINT):
        print(f"glassnet app: {signal.Signals(server.stopped_by).name} received: stopped cleanly", flush=True)
    print("glassnet app: stopped", flush=True)
    return EXIT_OK


def usable_folder(path, option):
    """``path`` as a folder the server can write in (created if missing); a GlassnetError (exit 2) if not."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        what = "is a file, not a folder" if folder.exists() and not folder.is_dir() else (exc.strerror or str(exc))
        raise GlassnetError(f"{option}: expected a folder the server can write in, received {str(path)!r} "
                            f"({what})") from None
    return folder


def stopping_server(uvicorn):
    """uvicorn's Server stopping cleanly on Ctrl-C, SIGTERM and SIGHUP alike (the work is kept), without
    raising the signal again afterwards (uvicorn does, which would kill the process before it reports)."""

    class StoppingServer(uvicorn.Server):
        stopped_by = None

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.stop_on) for sig in STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def stop_on(self, sig, frame):
            self.stopped_by = self.stopped_by or sig
            self.handle_exit(sig, frame)

    return StoppingServer


def access_token(host, token=None):
    """The token the server requires: ``token`` if given, else a random one unless ``host`` is loopback."""
    if token is not None:
        if len(token) < 8 or not token.isprintable() or " " in token:
            raise GlassnetError(f"--token: expected at least 8 printable characters without spaces, received "
                                f"{len(token)} characters")
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(16)


def bind(host, port):
    """The listening socket, bound here so a busy port is one clear line, not a server log."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only for such sockets;
    # without it every answer waits ~40 ms for the client's delayed ACK (Nagle's algorithm).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GlassnetError(f"cannot listen on {host}:{port} ({exc.strerror}); is another server using the port? "
                            f"Try --port {port + 1 if port else 8001}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def page_address(host, port, token):
    """The address to open: ``http://HOST:PORT/``, with ``?token=...`` when one is required."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def banner(host, port, token, config):
    """The lines printed when the server starts: where to open it, the token, where models go."""
    lines = []
    if host in ("0.0.0.0", "::"):
        lines.append("glassnet app: listening on every network interface; give the class one of:")
        for host_address in _local_addresses():
            lines.append(f"  {page_address(host_address, port, token)}")
    else:
        lines.append(f"glassnet app: open {page_address(host, port, token)}")
    if token:
        lines.append("  (the token in the link is required: only people you give it to can connect)")
    lines.append(f"  models are saved to {config.models_dir}/; Ctrl-C stops (unsaved trained work is kept there)")
    return lines


def _local_addresses():
    """This computer's IPv4 addresses other than loopback, for a class to connect to."""
    addresses = []
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            if info[4][0] not in addresses and not info[4][0].startswith("127."):
                addresses.append(info[4][0])
    except OSError:
        pass
    return addresses or ["<this computer's address>"]


def open_when_started(server, url):
    """Open ``url`` in the browser once ``server`` has started (waits up to 10 s)."""
    for _ in range(100):
        if server.started:
            webbrowser.open(url)
            return
        time.sleep(0.1)
    print(f"glassnet app: the server did not start in 10 s; open {url} yourself", file=sys.stderr)


__all__ = ["access_token", "add", "banner", "bind", "open_when_started", "page_address", "run"]
