"""``glassnet app`` killed at seeded random points (SIGINT, SIGINT twice, SIGTERM, SIGHUP, SIGKILL): the
browser that comes back with its cookie finds its drawings, its snapshots and its network (at most the
epoch in progress lost), and is told what was restored.

One chain of real server processes over one folder: each process restores what the previous one kept,
gets more work (drawings, a training) and is killed with the next signal while it trains. Bounded: a
few seconds per process. ``python tests/app/test_app_kill.py N`` runs N rounds (the soak run whose
figures the README gives)."""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np

import glassnet as gn
from optional import need

SIGNALS = ["SIGINT", "SIGINT twice", "SIGTERM", "SIGHUP", "SIGKILL"]


def _request(port, method, path, body=None, cookie=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if cookie:
        headers["Cookie"] = cookie
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, json.loads(data) if data else None


def _drawing(label, rng):
    img = np.zeros((56, 56), dtype=np.uint8)
    x = int(rng.integers(10, 40))
    img[8:48, x:x + 6] = 255
    return {"drawing": {"width": 56, "height": 56, "pixels": img.ravel().tolist()}, "label": label}


class Server:
    """One ``glassnet app`` process over ``folder`` on a free port."""

    def __init__(self, folder):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "glassnet", "app", "--port", "0", "--models", str(folder)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     start_new_session=True)
        first = self.proc.stdout.readline()
        match = re.search(r"open http://127\.0\.0\.1:(\d+)/$", first.strip())
        assert match, first + self.proc.stdout.read()
        self.port = int(match.group(1))
        deadline = time.monotonic() + 30
        while True:
            try:
                _request(self.port, "GET", "/api/health")
                return
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)

    def call(self, method, path, body=None, cookie=None):
        response, data = _request(self.port, method, path, body, cookie)
        assert response.status == 200, (path, response.status, data)
        return response, data

    def kill(self, how):
        """Send ``how`` (a name of SIGNALS); the process's output once it has ended (bounded)."""
        sig = getattr(signal, how.split()[0])
        self.proc.send_signal(sig)
        if how.endswith("twice"):
            time.sleep(0.05)
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
        return out


def one_round(folder, how, rng, cookie, expected):
    """Restore, check, add work, train, kill with ``how`` at a random point; the new cookie and expectations."""
    server = Server(folder)
    try:
        if cookie is None:
            response, _ = server.call("GET", "/api/session")
            cookie = response.getheader("set-cookie").split(";")[0]
            server.call("POST", "/api/network", {"layers": [8], "seed": 0}, cookie)
        _, s = server.call("GET", "/api/session", cookie=cookie)
        if expected:                                   # what the previous process kept
            assert s["drawings"] == expected["drawings"], (how, s["drawings"], expected)
            epochs = [p["epoch"] for p in s["timeline"]["snapshots"]]
            assert epochs[-1] >= expected["epoch"], (how, epochs, expected)
            assert s["network"]["sizes"] == [784, 8, 10] and s["network"]["trained"]
            assert s["notices"] and s["notices"][0].startswith("Welcome back"), s["notices"]
            if s["view_epoch"] is not None:
                server.call("POST", "/api/timeline/view", {"epoch": None}, cookie)
        for _ in range(2):
            server.call("POST", "/api/drawings", _drawing(int(rng.integers(0, 10)), rng), cookie)
        drawings = s["drawings"] + 2
        server.call("POST", "/api/train/start", {"epochs": 50, "batch_size": 32, "lr": 0.02,
                                                  "seed": int(rng.integers(0, 1000))}, cookie)
        deadline = time.monotonic() + 30
        while True:                                    # at least one epoch of this run done ...
            _, status = server.call("GET", "/api/train/status", cookie=cookie)
            if status["history"] and status["epoch"] >= (expected or {}).get("epoch", 0) + 1:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0, 0.6)))          # ... then a random point
        _, status = server.call("GET", "/api/train/status", cookie=cookie)
        seen = max(h["epoch"] for h in status["history"])
        out = server.kill(how)
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate()
    if how != "SIGKILL":
        assert server.proc.returncode == 0, out
        assert out.rstrip().endswith("glassnet app: stopped"), out
        kept = re.search(r"kept unsaved trained work in (\S+)", out)
        assert kept, out
        assert gn.load(kept.group(1)).layers[0].n_out == 8
    return cookie, {"drawings": drawings, "epoch": seen}


def run_chain(folder, signals, seed):
    rng = np.random.default_rng(seed)
    cookie, expected = None, None
    for how in signals:
        cookie, expected = one_round(folder, how, rng, cookie, expected)
    server = Server(folder)                             # the last one's work, restored
    try:
        _, s = server.call("GET", "/api/session", cookie=cookie)
        assert s["drawings"] == expected["drawings"] and s["timeline"]["snapshots"][-1]["epoch"] >= expected["epoch"]
    finally:
        server.kill("SIGTERM")


def test_the_app_killed_by_every_signal_keeps_drawings_snapshots_and_networks(tmp_path):
    need("fastapi")
    need("uvicorn")
    signals = list(SIGNALS)
    random.Random(15).shuffle(signals)
    run_chain(tmp_path / "models", signals, seed=15)


if __name__ == "__main__":                  # the soak run: python tests/app/test_app_kill.py ROUNDS
    import tempfile
    from collections import Counter

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    survived = Counter()
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            order = random.Random(r).sample(SIGNALS, len(SIGNALS))
            run_chain(os.path.join(tmp, "models"), order, seed=r)
            survived.update(order)
        print(f"round {r + 1}/{rounds}: survived {', '.join(order)}", flush=True)
    print(f"{sum(survived.values())} kills survived: {dict(survived)}")
