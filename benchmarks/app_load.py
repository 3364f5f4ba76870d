"""``python -m benchmarks.app_load``: a class on one ``glassnet app`` server, on loopback.

Simulated browsers (threads, each with its own workspace cookie and keep-alive connection) build
their own network (each a different size and seed), teach it two drawings, save it under their own
name, then draw: they send the page's drawings (real test digits scaled up to 56x56, white ink on
black, as the Draw view downsamples its canvas) to ``POST /api/predict`` again and again. It runs twice:

1. **idle**: every browser predicts, nobody trains;
2. **training**: the same, while ``--trainers`` of the browsers train their network (Adam, batch 64,
   on the bundled digits) the whole time, watching ``GET /api/train/status``.

Reported: the latency of every predict request (median, p90, p99, max, requests/s) in each phase,
the training speed (epochs/s per training, while the others predict), any request that did not
succeed, and whether any browser saw another's network, drawings or models. The server runs in its
own process (``python -m glassnet app``), so the browsers do not share its interpreter.

Writes ``app-load.md`` and ``app-load.json`` next to this file (or in ``--out``). The same
scenario, smaller and with the server in-process, is the test ``tests/app/test_load.py``.
"""

import argparse
import http.client
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

HERE = Path(__file__).resolve().parent
COOKIE = "glassnet_workspace"
SIDE = 56                           # the Draw view sends its 280x280 canvas averaged to 56x56


# -- what a browser sends ------------------------------------------------------------------------------
def digit_drawings(n, seed=0):
    """``n`` drawings as the page sends them: test digits scaled up 2x to 56x56, 0-255 ints, with labels."""
    import glassnet as gn

    data = gn.datasets.load_digits()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(data.X_test), size=n, replace=False)
    out = []
    for i in picks:
        image = data.X_test[i].reshape(28, 28)
        big = np.kron(image, np.ones((SIDE // 28, SIDE // 28), dtype=np.float32))
        pixels = np.clip(np.rint(big * 255), 0, 255).astype(int).ravel().tolist()
        out.append(({"width": SIDE, "height": SIDE, "pixels": pixels}, int(data.y_test[i])))
    return out


def percentile(values, q):
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def latency_summary(seconds, wall):
    """Median, p90, p99, max (milliseconds), count and requests per second of a list of latencies."""
    ms = [1000.0 * s for s in seconds]
    return {"count": len(ms), "median_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else None,
            "mean_ms": float(np.mean(ms)) if ms else None, "wall_s": wall,
            "requests_per_s": len(ms) / wall if wall else None}


# -- one browser ---------------------------------------------------------------------------------------
class Browser:
    """One browser: its own keep-alive connection and workspace cookie (the server sets it on first contact)."""

    def __init__(self, url, index, timeout=60.0):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.index = index
        self.timeout = timeout
        self.cookie = None
        self.conn = None
        self.errors = []           # (method, path, status, text) of every answer that was not expected
        self.reconnects = 0        # keep-alive connections the server had closed (re-sent once, counted)

    def call(self, method, path, body=None, expect=(200,)):
        """``(status, decoded answer, seconds)``; an unexpected status is recorded in ``errors``."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookie}"
        for attempt in (0, 1):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if fresh or attempt:     # only a stale keep-alive connection is retried, once
                    raise
                self.reconnects += 1
        seconds = time.perf_counter() - start
        cookie = re.search(rf"{COOKIE}=([^;]+)", response.getheader("set-cookie") or "")
        if cookie:
            if self.cookie is not None and cookie.group(1) != self.cookie:
                self.errors.append((method, path, response.status, "the server gave this browser a new workspace"))
            self.cookie = cookie.group(1)
        answer = json.loads(raw) if (response.getheader("content-type") or "").startswith("application/json") else raw
        if response.status not in expect:
            self.errors.append((method, path, response.status, raw[:300].decode("utf-8", "replace")))
        return response.status, answer, seconds

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Plan:
    """What the simulated class does (sizes differ per browser so every workspace is recognisable)."""

    def __init__(self, clients=20, trainers=4, requests=40, epochs=2, seed=0, train_until_stopped=False,
                 after=5, tag="load"):
        self.clients, self.trainers, self.requests, self.epochs = clients, trainers, requests, epochs
        self.seed, self.train_until_stopped, self.after, self.tag = seed, train_until_stopped, after, tag

    def layers(self, i):
        return [48 + 4 * i, 16 + (i % 5)]     # 784-(48..124)-(16..20)-10: a different network per browser

    def model_name(self, i):
        return f"{self.tag}-browser-{i:02d}"

    def teach(self, i):
        """The two labelled drawings browser ``i`` adds (indices into the drawing list)."""
        return [(2 * i) % 40, (2 * i + 1) % 40]


def run_browser(browser, plan, drawings, bodies, start, stop_training, record):
    """One browser's visit (run in its own thread); fills ``record`` (a dict) with what it saw."""
    i = browser.index
    trainer = i < plan.trainers
    status, session, _ = browser.call("GET", "/api/session")
    record["workspace"] = session.get("workspace") if status == 200 else None
    _, net, _ = browser.call("POST", "/api/network", {"layers": plan.layers(i), "seed": plan.seed + i})
    record["sizes"] = net.get("sizes") if isinstance(net, dict) else None
    record["taught"] = []
    for k in plan.teach(i):
        status, added, _ = browser.call("POST", "/api/drawings", {"drawing": drawings[k][0], "label": drawings[k][1]})
        if status == 200:
            record["taught"].append({"id": added["id"], "label": added["label"]})
    browser.call("POST", "/api/models/save", {"name": plan.model_name(i)})
    start.wait()

    latencies, predictions, states = [], [], []
    began = time.perf_counter()
    if trainer:
        browser.call("POST", "/api/train/start", {"epochs": plan.epochs, "batch_size": 64, "optimizer": "adam",
                                                  "lr": 0.002, "seed": plan.seed + i})
        training_began = time.perf_counter()
    finished = not trainer
    for r in range(plan.requests):
        k = (7 * i + r) % len(bodies)
        status, out, seconds = browser.call("POST", "/api/predict", bodies[k])
        if status == 200:
            latencies.append(seconds)
            predictions.append({"drawing": k, "probabilities": out["probabilities"], "final": finished})
        if trainer and not finished and r % 4 == 3:
            _, job, _ = browser.call("GET", "/api/train/status")
            states.append(job.get("state"))
            finished = job.get("state") not in ("running", "paused", "starting")
    record["load_seconds"] = time.perf_counter() - began
    if trainer:
        job = _finish_training(browser, plan, stop_training)
        record["training"] = {"state": job.get("state"), "message": job.get("message"), "epoch": job.get("epoch"),
                              "history": job.get("history", []), "states_seen": states,
                              "seconds": time.perf_counter() - training_began,
                              "epochs_done": _epochs_done(job)}
        for r in range(plan.after):         # the trained network, while the others may still be drawing
            k = (7 * i + r) % len(bodies)
            status, out, _ = browser.call("POST", "/api/predict", bodies[k])
            if status == 200:
                predictions.append({"drawing": k, "probabilities": out["probabilities"], "final": True})
    record["latencies"], record["predictions"] = latencies, predictions

    _, session, _ = browser.call("GET", "/api/session")
    record["seen_sizes"] = session.get("network", {}).get("sizes") if isinstance(session, dict) else None
    _, listed, _ = browser.call("GET", "/api/drawings")
    record["seen_drawings"] = [{"id": d["id"], "label": d["label"]} for d in listed.get("items", [])]
    _, models, _ = browser.call("GET", "/api/models")
    record["seen_models"] = [(m["name"], m["mine"]) for m in models.get("items", [])]
    record["errors"], record["reconnects"], record["cookie"] = browser.errors, browser.reconnects, browser.cookie
    browser.close()


def _epochs_done(job):
    """Epochs this run computed, a part-epoch included (a stopped run keeps the mini-batch it reached)."""
    steps = job.get("steps_per_epoch") or 0
    done = float(job.get("run_epoch") or 0)
    if steps and job.get("batch") and job.get("state") != "finished":
        done += job["batch"] / steps
    return done


def _finish_training(browser, plan, stop_training, timeout=300.0):
    """Wait for the training to end (or stop it when the run says so); returns the last JOB."""
    deadline = time.monotonic() + timeout
    stopped = False
    while True:
        if plan.train_until_stopped and stop_training.is_set() and not stopped:
            browser.call("POST", "/api/train/stop")
            stopped = True
        _, job, _ = browser.call("GET", "/api/train/status")
        if job.get("state") not in ("running", "paused", "starting"):
            return job
        if time.monotonic() > deadline:
            browser.errors.append(("GET", "/api/train/status", 0, f"training still {job.get('state')} after "
                                                                  f"{timeout:.0f} s"))
            return job
        time.sleep(0.1)


def run(url, plan, drawings=None, timeout=300.0):
    """Run ``plan`` against the server at ``url``: the browsers' records and the latency summary."""
    drawings = drawings or digit_drawings(40, seed=plan.seed)
    bodies = [json.dumps({"drawing": d}).encode() for d, _ in drawings]
    start, stop_training = threading.Barrier(plan.clients + 1), threading.Event()
    records = [{} for _ in range(plan.clients)]
    browsers = [Browser(url, i) for i in range(plan.clients)]
    threads = [threading.Thread(target=_guarded, args=(run_browser, b, plan, drawings, bodies, start, stop_training,
                                                       records[b.index]), name=f"browser-{b.index}", daemon=True)
               for b in browsers]
    for t in threads:
        t.start()
    start.wait(timeout)
    began = time.perf_counter()
    deadline = time.monotonic() + timeout
    while any(r.get("load_seconds") is None and not r.get("crashed") for r in records[plan.trainers:]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - began            # until the last drawing browser's last prediction
    stop_training.set()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic()))
    alive = [t.name for t in threads if t.is_alive()]
    latencies = [s for r in records for s in r.get("latencies", [])]
    return {"records": records, "latency": latency_summary(latencies, wall), "hung": alive,
            "drawing_labels": [label for _, label in drawings]}


def _guarded(function, browser, *args):
    record = args[-1]
    try:
        function(browser, *args)
    except Exception as exc:      # a dead connection, a timeout: reported, never silently lost
        record["crashed"] = f"{type(exc).__name__}: {exc}"
        record.setdefault("errors", []).extend(browser.errors)


def isolation_problems(result, plan):
    """Everything one browser saw that was not its own (sizes, drawings, models), as sentences."""
    problems = []
    for i, r in enumerate(result["records"]):
        if r.get("crashed"):
            problems.append(f"browser {i} crashed: {r['crashed']}")
            continue
        want = [784, *plan.layers(i), 10]
        if r.get("sizes") != want or r.get("seen_sizes") != want:
            problems.append(f"browser {i} built {want}, the server answered {r.get('sizes')} then showed "
                            f"{r.get('seen_sizes')}")
        if r.get("seen_drawings") != r.get("taught"):
            problems.append(f"browser {i} taught {r.get('taught')}, GET /api/drawings lists {r.get('seen_drawings')}")
        mine = {plan.model_name(i)}
        names = {name for name, _ in r.get("seen_models", [])}
        if names != mine:                     # another browser's model listed, or its own missing
            problems.append(f"browser {i} saved {sorted(mine)}, GET /api/models lists {sorted(names)}")
        if not all(is_mine for name, is_mine in r.get("seen_models", []) if name in mine):
            problems.append(f"browser {i}: its own model is not marked mine")
    cookies = [r.get("cookie") for r in result["records"]]
    if len(set(cookies)) != len(cookies):
        problems.append("two browsers were given the same workspace cookie")
    return problems


def errors_of(result):
    return [(i, *e) for i, r in enumerate(result["records"]) for e in r.get("errors", [])]


# -- the benchmark ----------------------------------------------------------------------------------------
def start_server(models, max_trainings, timeout=60.0):
    """``python -m glassnet app`` on a free loopback port, in its own process; returns (process, url)."""
    command = [sys.executable, "-m", "glassnet", "app", "--host", "127.0.0.1", "--port", "0", "--models", str(models),
               "--max-trainings", str(max_trainings), "--dataset", "digits"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        found = re.search(r"open (http://127\.0\.0\.1:\d+)/", line)
        if found:
            threading.Thread(target=process.stdout.read, daemon=True).start()   # keep its output flowing
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("the app server did not print its address")


def stop_server(process, timeout=30.0):
    process.send_signal(signal.SIGINT)   # Ctrl-C: trainings stop, unsaved work is kept
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def machine():
    import glassnet
    from benchmarks.report import cpu_model

    info = {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)), "numpy": np.__version__, "glassnet": glassnet.__version__,
            "cpu": cpu_model(), "load_average_at_start": os.getloadavg()}
    for name in ("fastapi", "starlette", "uvicorn", "pydantic"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    return info


def training_speed(result, plan):
    """Epochs per second of each training: epochs done (a stopped run counts its part-epoch) over its seconds."""
    speeds = []
    for r in result["records"][:plan.trainers]:
        training = r.get("training") or {}
        if training.get("epochs_done") and training.get("seconds"):
            speeds.append(training["epochs_done"] / training["seconds"])
    return {"per_training_epochs_per_s": speeds, "median_epochs_per_s": float(np.median(speeds)) if speeds else None,
            "total_epochs_per_s": float(np.sum(speeds)) if speeds else None,
            "epochs_done": [(r.get("training") or {}).get("epochs_done") for r in result["records"][:plan.trainers]],
            "seconds": [(r.get("training") or {}).get("seconds") for r in result["records"][:plan.trainers]]}


def train_alone(url, trainers, seconds):
    """The reference: ``trainers`` browsers train for ``seconds`` while nobody draws; their epochs/s."""
    plan = Plan(clients=trainers, trainers=trainers, tag="alone")
    browsers = [Browser(url, i) for i in range(trainers)]
    began = {}
    for b in browsers:
        b.call("POST", "/api/network", {"layers": plan.layers(b.index), "seed": b.index})
        b.call("POST", "/api/train/start", {"epochs": 100, "batch_size": 64, "optimizer": "adam", "lr": 0.002,
                                            "seed": b.index})
        began[b.index] = time.perf_counter()
    time.sleep(seconds)
    records = []
    for b in browsers:
        b.call("POST", "/api/train/stop")
        job = _finish_training(b, plan, threading.Event())
        records.append({"training": {"epochs_done": _epochs_done(job), "seconds": time.perf_counter() - began[b.index]},
                        "errors": b.errors})
        b.close()
    return training_speed({"records": records}, plan) | {"errors": [e for r in records for e in r["errors"]]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.app_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="simulated browsers (default 20)")
    parser.add_argument("--trainers", type=int, default=4, help="browsers that train in the second phase (default 4)")
    parser.add_argument("--requests", type=int, default=40, help="predict requests per browser per phase (default 40)")
    parser.add_argument("--train-seconds", type=float, default=10.0,
                        help="how long the trainings run alone, for reference (default 10)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for app-load.md and app-load.json")
    args = parser.parse_args(argv)
    if not 0 <= args.trainers <= args.clients or args.clients < 1 or args.requests < 1:
        parser.error("expected 1 <= clients, 0 <= trainers <= clients, 1 <= requests")

    results = {"machine": machine(), "settings": {
        "clients": args.clients, "trainers": args.trainers, "requests": args.requests, "drawing": f"{SIDE}x{SIDE}",
        "networks": "784-(48+4i)-(16+i%5)-10 for browser i", "training": "Adam lr 0.002, batch 64, bundled digits",
        "command": " ".join(["python -m benchmarks.app_load", *(argv if argv is not None else sys.argv[1:])])}}
    print(f"machine: {results['machine']['cpu']}, {results['machine']['usable_cores']} usable cores", flush=True)
    drawings = digit_drawings(40)
    with tempfile.TemporaryDirectory(prefix="glassnet-app-load-") as tmp:
        process, url = start_server(Path(tmp) / "models", max_trainings=max(1, args.trainers))
        try:
            phases = {}
            if args.trainers:
                phases["training alone"] = {"training": train_alone(url, args.trainers, args.train_seconds)}
                speed = phases["training alone"]["training"]
                print(f"training alone: {args.trainers} trainings, {speed['median_epochs_per_s']:.2f} epochs/s each "
                      f"(median), {speed['total_epochs_per_s']:.2f} in all", flush=True)
            for name, clients, trainers in (("one browser", 1, 0), ("idle", args.clients, 0),
                                            ("training", args.clients, args.trainers)):
                plan = Plan(clients=clients, trainers=trainers, requests=args.requests, epochs=100,
                            train_until_stopped=True, after=0, tag=name.replace(" ", "-"))
                result = run(url, plan, drawings)
                phases[name] = {"latency": result["latency"], "errors": errors_of(result),
                                "isolation_problems": isolation_problems(result, plan), "hung": result["hung"],
                                "reconnects": sum(r.get("reconnects", 0) for r in result["records"])}
                if trainers:
                    phases[name]["training"] = training_speed(result, plan)
                lat = result["latency"]
                print(f"{name}: {lat['count']} predicts, median {lat['median_ms']:.1f} ms, p90 {lat['p90_ms']:.1f} ms, "
                      f"p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms, {lat['requests_per_s']:.1f} requests/s;"
                      f" {len(phases[name]['errors'])} errors, {len(phases[name]['isolation_problems'])} isolation "
                      f"problems", flush=True)
                if trainers:
                    speed = phases[name]["training"]
                    print(f"  {trainers} trainings: {speed['median_epochs_per_s']:.2f} epochs/s each (median), "
                          f"{speed['total_epochs_per_s']:.2f} in all", flush=True)
        finally:
            stop_server(process)
    results["phases"] = phases
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "app-load.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (args.out / "app-load.md").write_text(markdown(results), encoding="utf-8")
    print(f"wrote {args.out / 'app-load.md'} and {args.out / 'app-load.json'}")
    bad = any(p.get("errors") or p.get("isolation_problems") or p.get("hung") for p in phases.values())
    return 1 if bad else 0


def markdown(results):
    m, s = results["machine"], results["settings"]
    lines = ["# glassnet app under load", "",
             f"`{s['command']}` on {m['cpu']} ({m['usable_cores']} usable cores, load average at the start "
             f"{m['load_average_at_start'][0]:.2f}); Python {m['python']}, NumPy {m['numpy']}, glassnet "
             f"{m['glassnet']}, FastAPI {m['fastapi']}, Starlette {m['starlette']}, uvicorn {m['uvicorn']}.", "",
             f"{s['clients']} simulated browsers, each with its own workspace ({s['networks']}), each sending "
             f"{s['requests']} drawings ({s['drawing']}, as the page sends them) to `POST /api/predict` one after "
             f"the other; the server (`python -m glassnet app`) in its own process on loopback.", "",
             "| phase | predicts | median | p90 | p99 | max | requests/s | errors | isolation problems |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    labels = {"one browser": "one browser alone", "idle": f"{s['clients']} browsers, nobody trains",
              "training": f"{s['clients']} browsers, {s['trainers']} of them training"}
    for name, p in results["phases"].items():
        if "latency" not in p:
            continue
        lat = p["latency"]
        label = labels.get(name, name)
        lines.append(f"| {label} | {lat['count']} | {lat['median_ms']:.1f} ms | {lat['p90_ms']:.1f} ms | "
                     f"{lat['p99_ms']:.1f} ms | {lat['max_ms']:.1f} ms | {lat['requests_per_s']:.1f} | "
                     f"{len(p['errors'])} | {len(p['isolation_problems'])} |")
    alone = results["phases"].get("training alone", {}).get("training")
    training = results["phases"].get("training", {}).get("training")
    if alone and training and alone["median_epochs_per_s"] and training["median_epochs_per_s"]:
        lines += ["", f"Training ({s['training']}), {s['trainers']} at once: "
                      f"{alone['median_epochs_per_s']:.2f} epochs/s per training while nobody draws, "
                      f"{training['median_epochs_per_s']:.2f} epochs/s while the {s['clients']} browsers predict "
                      f"(medians; {alone['total_epochs_per_s']:.2f} and {training['total_epochs_per_s']:.2f} epochs/s "
                      f"in all)."]
    lines += ["", "Latency is measured in the browser thread: from sending the request to reading the whole answer "
                  "(the prediction, ten probabilities and every neuron's value). Numbers from one run on a shared "
                  "machine: compare the phases within the run, not across machines.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
