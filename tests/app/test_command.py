"""``glassnet app``: the command line, a real server process, Ctrl-C keeping the trained work."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

import glassnet as gn
from glassnet.app.config import AppConfig, is_loopback
from glassnet.cli import main
from glassnet.cli.app import access_token, banner
from optional import need


def test_help_lists_the_options(capsys):
    assert main(["app", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--model", "--host", "--port", "--open", "--models", "--token", "--max-trainings"):
        assert flag in out


def test_loopback_needs_no_token_anything_else_gets_one():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert access_token("127.0.0.1") is None
    token = access_token("0.0.0.0")
    assert len(token) >= 16 and token != access_token("0.0.0.0")
    assert access_token("127.0.0.1", "class-2026") == "class-2026"
    with pytest.raises(gn.GlassnetError, match="at least 8"):
        access_token("0.0.0.0", "short")


def test_the_class_banner_prints_links_with_the_token():
    lines = banner("0.0.0.0", 8000, "tok-12345", AppConfig(host="0.0.0.0"))
    assert "every network interface" in lines[0]
    assert all(line.strip().endswith(":8000/?token=tok-12345") for line in lines[1:-2])
    assert "token in the link is required" in lines[-2]
    assert banner("127.0.0.1", 8001, None, AppConfig())[0] == "glassnet app: open http://127.0.0.1:8001/"


def test_bad_values_are_usage_errors(capsys, tmp_path):
    need("fastapi")
    assert main(["app", "--port", "70000"]) == 2
    assert main(["app", "--token", "abc"]) == 2
    assert "at least 8" in capsys.readouterr().err
    assert main(["app", "--dataset", "no-such-data", "--models", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["app", "--model", str(tmp_path / "missing"), "--models", str(tmp_path)]) == 2


def test_a_busy_port_is_one_clear_line(capsys, tmp_path):
    need("fastapi")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["app", "--port", str(port), "--models", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def _request(port, method, path, body=None, cookie=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json"}
    if cookie:
        headers["cookie"] = cookie
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, json.loads(data) if data else None


def test_server_process_starts_trains_and_keeps_the_work_on_ctrl_c(tmp_path):
    need("fastapi")
    need("uvicorn")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "glassnet", "app", "--port", "0", "--models", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = proc.stdout.readline()
        match = re.search(r"open http://127\.0\.0\.1:(\d+)/$", first.strip())
        assert match, first
        port = int(match.group(1))
        deadline = time.monotonic() + 30
        while True:
            try:
                response, body = _request(port, "GET", "/api/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)
        assert response.status == 200 and body["ok"] is True
        response, _ = _request(port, "GET", "/api/session")
        cookie = response.getheader("set-cookie").split(";")[0]
        _request(port, "POST", "/api/network", {"layers": [8]}, cookie)
        response, job = _request(port, "POST", "/api/train/start", {"epochs": 100, "batch_size": 4, "lr": 0.01},
                                 cookie)
        assert response.status == 200 and job["state"] == "running"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    kept = re.search(r"kept unsaved trained work in (\S+)", out)
    assert kept, out
    net = gn.load(kept.group(1))
    assert net.layers[0].n_out == 8 and net.metadata_["autosaved"] == "shutdown"
    assert out.rstrip().endswith("glassnet app: stopped")


def test_open_waits_for_the_server_then_opens_the_browser(monkeypatch):
    from glassnet.cli import app as command

    opened = []
    monkeypatch.setattr(command.webbrowser, "open", opened.append)

    class Server:
        started = True

    command.open_when_started(Server(), "http://127.0.0.1:8000/")
    assert opened == ["http://127.0.0.1:8000/"]
