"""A bounded load test on loopback: 20 simulated browsers drawing and predicting while 4 of them train.

The scenario is ``benchmarks/app_load.py``'s (the benchmark runs it bigger, with the server in its own
process); here uvicorn serves a fresh app in a thread of the test. Asserted: every request succeeds,
no browser sees another's network, drawings or models, each prediction is exactly what the browser's
own network computes for that drawing, and the trainings finish. The prediction latencies (median,
p99, max, requests/s) are printed and written to test-artifacts/app/load.json; no assertion on time.
"""

import importlib.util
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLIENTS, TRAINERS, REQUESTS, EPOCHS = 20, 4, 40, 2


def _scenario():
    spec = importlib.util.spec_from_file_location("glassnet_app_load", ROOT / "benchmarks" / "app_load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_twenty_browsers_predict_while_four_train(live_server, artifacts):
    load = _scenario()
    plan = load.Plan(clients=CLIENTS, trainers=TRAINERS, requests=REQUESTS, epochs=EPOCHS, after=5, tag="test")
    drawings = load.digit_drawings(40)
    result = load.run(live_server.url, plan, drawings, timeout=120.0)
    lat = result["latency"]
    summary = {"clients": CLIENTS, "trainers": TRAINERS, "requests_per_client": REQUESTS, "epochs": EPOCHS,
               "server": "uvicorn in the test process (one interpreter with the browsers)", **lat,
               "reconnects": sum(r.get("reconnects", 0) for r in result["records"]),
               "training_seconds": [r.get("training", {}).get("seconds") for r in result["records"][:TRAINERS]]}
    (artifacts / "load.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"\npredict under load ({CLIENTS} browsers, {TRAINERS} training): {lat['count']} requests, "
          f"median {lat['median_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms, "
          f"{lat['requests_per_s']:.1f} requests/s")

    assert not result["hung"], f"browsers still running after the time limit: {result['hung']}"
    assert not load.errors_of(result), load.errors_of(result)[:10]
    assert not load.isolation_problems(result, plan), load.isolation_problems(result, plan)
    assert lat["count"] == CLIENTS * REQUESTS

    for i, record in enumerate(result["records"][:TRAINERS]):
        training = record["training"]
        assert training["state"] == "finished", f"browser {i}: {training['state']}: {training['message']}"
        assert training["epoch"] == EPOCHS and len(training["history"]) == EPOCHS
    during = sum(not p["final"] for r in result["records"][:TRAINERS] for p in r["predictions"])
    assert during > 0, "no prediction was made while a training ran: the scenario did not overlap"
    store = live_server.app.state.glassnet["store"]
    deadline = time.monotonic() + 10
    while store.trainings and time.monotonic() < deadline:     # a job frees its slot just after it ends
        time.sleep(0.05)
    assert store.trainings == 0, f"{store.trainings} training slots still held after every training finished"

    # Each answer is what the browser's own network (the server's copy, read after the run) gives.
    from glassnet.app import analysis

    inputs = [analysis.drawing_steps(d)[-1][1].reshape(-1) for d, _ in drawings]
    classes = [str(k) for k in range(10)]
    checked = 0
    for i, record in enumerate(result["records"]):
        net = store._items[record["cookie"]].net.copy()
        assert net.n_params != 0 and [net.n_features, *plan.layers(i), 10] == record["seen_sizes"]
        expected = {}
        for p in record["predictions"]:
            assert abs(sum(p["probabilities"]) - 1) < 1e-6
            if p["final"]:
                k = p["drawing"]
                expected.setdefault(k, analysis.predict(net, inputs[k], classes)["probabilities"])
                assert p["probabilities"] == expected[k], f"browser {i}, drawing {k}: not its own network's answer"
                checked += 1
    assert checked >= (CLIENTS - TRAINERS) * REQUESTS + TRAINERS * 5

    # The networks differ, so the same drawing gets different answers in different workspaces.
    first = {}
    for record in result["records"]:
        for p in record["predictions"]:
            if p["final"]:
                first.setdefault(p["drawing"], []).append(np.asarray(p["probabilities"]))
    spread = [np.ptp(np.stack(ps), axis=0).max() for ps in first.values() if len(ps) > 1]
    assert spread and max(spread) > 1e-3
