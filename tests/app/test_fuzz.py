"""Fuzzing the app's HTTP API: schemathesis over every operation of its OpenAPI schema, random bytes
for the raw upload. Whatever arrives, the answer is a 2xx or a 4xx with a readable sentence, never a 5xx.

The app runs in-process (ASGI) with tight limits so that every training a fuzzed request starts stays
tiny (2 epochs of a network at most 64 wide). All fuzzed requests share one browser's workspace, so
they also meet it in many states (training running, paused, stopped; edits; a past epoch viewed).
Hypothesis is derandomized: CI sees the same cases every run.
"""

import json
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from appserver import make_app
from optional import STRICT

try:
    import schemathesis
    from fastapi.testclient import TestClient
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    from glassnet.app.server import WORKSPACE_COOKIE, shutdown
except ImportError as exc:  # pragma: no cover - the app extra is part of dev
    if STRICT:
        raise
    pytest.skip(f"the app's fuzz tests need fastapi and schemathesis ({exc})", allow_module_level=True)

EXAMPLES = 15                  # hypothesis examples per operation (schemathesis also adds its boundary cases)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# One app for the module (schemathesis reads the schema at import): tight limits keep fuzzed work tiny.
MODELS = Path(tempfile.mkdtemp(prefix="glassnet-fuzz-"))
APP = make_app(MODELS, max_epochs=2, max_width=64, max_hidden_layers=2, max_trainings=2, max_batch_size=256,
               max_lr_find_steps=20, max_finetune_epochs=2, max_drawings=30, max_items=50, max_workspaces=1000,
               max_body_bytes=300_000, max_upload_bytes=200_000)
CONFIG = APP.state.glassnet["config"]
STORE = APP.state.glassnet["store"]
BROWSER = {"Cookie": f"{WORKSPACE_COOKIE}=FuzzFuzzFuzzFuzzFuzzFuzz",   # one browser: a 24-character workspace id
           "Host": "127.0.0.1"}                                     # on this computer (others get 403)


async def _without_lifespan(scope, receive, send):
    """The app minus its lifespan: schemathesis ends an app's lifespan after every test, and the app's
    shutdown (stop trainings, close the store) is for the end of the server; the fixture below runs it."""
    if scope["type"] != "lifespan":
        return await APP(scope, receive, send)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan)
# The event stream lasts as long as the training it follows (forever while paused, like a browser tab
# left open): it is checked by test_event_stream_of_a_finished_or_absent_training_ends, after the trainings are stopped.
schema = schema.exclude(path="/api/train/events")

MISMATCHES = {}   # operation -> the first response that contradicts the schema
SEEN = {}   # operation -> Counter of status codes (printed at the end)



@pytest.fixture(scope="module", autouse=True)
def _stop_trainings():
    """At the end: stop every background training (as Ctrl-C does) and remove the models folder."""
    yield
    for label, codes in SEEN.items():
        print(f"{label}: {dict(sorted(codes.items()))}")
    shutdown(STORE, CONFIG)
    assert STORE.trainings == 0, f"{STORE.trainings} training slots still held after every training stopped"
    for ws in STORE.workspaces():
        if ws.job is not None:
            assert not ws.job.thread.is_alive(), "a training thread outlived the server's shutdown"
    shutil.rmtree(MODELS, ignore_errors=True)


def _readable_error(response):
    """A 4xx carries {"detail": "one sentence"}."""
    content_type = " ".join(response.headers.get("content-type", []))
    if 400 <= response.status_code < 500 and content_type.startswith("application/json"):
        detail = response.json().get("detail")
        assert isinstance(detail, str) and detail.strip(), f"{response.status_code} without a sentence: {response.text}"


# Operations whose answer depends on how far a background training got (its timing, not the requests):
# the descent lab reads the weights, saving refuses while a training runs or is paused, loading needs a
# saved model. They are fuzzed in a second browser's workspace, which no fuzzed training touches, so every
# run sees the same cases and the same answers (the first browser's many states cover every other operation).
SETTLED = {"POST /api/descent", "POST /api/models/save", "POST /api/models/load"}
SETTLED_BROWSER = {"Cookie": f"{WORKSPACE_COOKIE}=QuietBrowserQuietBrowser", "Host": "127.0.0.1"}


@schema.parametrize()
@FUZZ
def test_every_operation_answers_without_a_server_error(case):
    response = case.call(headers=SETTLED_BROWSER if case.operation.label in SETTLED else BROWSER)
    SEEN.setdefault(case.operation.label, Counter())[response.status_code] += 1
    case.validate_response(response, checks=[not_a_server_error])
    _readable_error(response)
    try:       # where the schema declares the answer's shape; gathered, asserted by the next test
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance])
    except FailureGroup as exc:
        MISMATCHES.setdefault(case.operation.label, str(exc).splitlines()[:12])


# Operations whose fuzzed requests must sometimes succeed (else the fuzzing never got past validation).
MUST_SUCCEED = ["POST /api/network", "POST /api/train/start", "POST /api/predict", "POST /api/neuron",
                "POST /api/inside", "POST /api/edits", "POST /api/descent", "POST /api/lr-find", "GET /api/evaluate",
                "GET /api/evaluate/cell", "POST /api/timeline/view", "POST /api/models/save", "POST /api/models/load"]


def test_the_fuzzing_reached_the_handlers():
    if not SEEN:
        pytest.skip("run together with the fuzzing above (it counts the answers)")
    never = [label for label in MUST_SUCCEED if not SEEN.get(label, {}).get(200)]
    assert not never, f"no fuzzed request succeeded for {never}: {[SEEN.get(label) for label in never]}"


def test_answers_match_the_schema():
    """Every answer the fuzzing got has the shape the OpenAPI schema declares (where it declares one)."""
    if not SEEN:
        pytest.skip("run together with the fuzzing above (it gathers the answers)")
    report = "\n\n".join(f"{label}:\n" + "\n".join(lines) for label, lines in MISMATCHES.items())
    assert not MISMATCHES, f"{len(MISMATCHES)} operation(s) answer differently from their schema:\n{report}"


# -- beyond the schema: drawings with any content, cookies, raw bytes ---------------------------------------
def _client(cookie):
    client = TestClient(_without_lifespan, base_url="http://127.0.0.1")
    client.cookies.set(WORKSPACE_COOKIE, cookie)
    return client


@st.composite
def drawings(draw):
    """A drawing of the right shape with any content: blank, full, one dot, noise, a bar, extreme aspect."""
    width = draw(st.integers(8, 64))
    height = draw(st.integers(8, 64))
    kind = draw(st.sampled_from(["blank", "full", "dot", "noise", "bar"]))
    n = width * height
    if kind == "blank":
        pixels = [0] * n
    elif kind == "full":
        pixels = [draw(st.integers(1, 255))] * n
    elif kind == "dot":
        pixels = [0] * n
        pixels[draw(st.integers(0, n - 1))] = draw(st.integers(1, 255))
    elif kind == "noise":
        pixels = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    else:
        row = draw(st.integers(0, height - 1))
        pixels = [255 if i // width == row else 0 for i in range(n)]
    return {"width": width, "height": height, "pixels": pixels}


@FUZZ
@given(drawing=drawings(), label=st.integers(0, 9), layer=st.integers(1, 2), neuron=st.integers(0, 3))
def test_any_drawing_gets_an_answer(drawing, label, layer, neuron):
    """Blank, saturated, one-pixel, noisy drawings: predicted and explained, or refused in a sentence."""
    with _client("DrawDrawDrawDrawDrawDraw") as client:
        if not client.get("/api/session").json()["network"]["sizes"] == [784, 8, 4, 10]:
            assert client.post("/api/network", json={"layers": [8, 4], "seed": 1}).status_code == 200
        answers = [client.post("/api/predict", json={"drawing": drawing}),
                   client.post("/api/neuron", json={"drawing": drawing, "layer": layer, "neuron": neuron}),
                   client.post("/api/inside", json={"drawing": drawing, "layer": layer, "neuron": neuron,
                                                    "label": label})]
        added = client.post("/api/drawings", json={"drawing": drawing, "label": label})
        if added.status_code == 200:
            assert client.delete(f"/api/drawings/{added.json()['id']}").status_code == 200
        for response in [*answers, added]:
            assert response.status_code in (200, 422), response.text
            if response.status_code == 422:
                assert response.json()["detail"].strip()
        if answers[0].status_code == 200:
            probabilities = answers[0].json()["probabilities"]
            assert abs(sum(probabilities) - 1) < 1e-6 and len(probabilities) == 10


HEADER_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))   # any text a header can carry (UTF-8 bytes)


@FUZZ
@given(cookie=st.text(HEADER_TEXT, max_size=80), token=st.text(HEADER_TEXT, max_size=30))
def test_any_cookie_or_token_header_is_harmless(cookie, token):
    """A hostile or garbled cookie/token header: a new, well-formed workspace or a 4xx, never a 5xx."""
    raw = {"cookie": f"{WORKSPACE_COOKIE}={cookie}".encode(), "x-glassnet-token": token.encode()}
    with TestClient(_without_lifespan, base_url="http://127.0.0.1") as client:
        response = client.get("/api/session", headers=raw)
    assert response.status_code == 200, response.text
    given_id = response.cookies.get(WORKSPACE_COOKIE)
    if given_id is not None:                   # a fresh workspace: a 24-character URL-safe id
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", given_id), given_id


def _upload(client, blob):
    return client.post("/api/models/upload", content=blob, headers={"content-type": "application/octet-stream"})


def _small_model_file():
    from glassnet import serialization
    from glassnet.network import Network

    folder = Path(tempfile.mkdtemp(dir=MODELS))
    return serialization.save(Network.mlp([784, 4, 10], seed=3), folder / "tiny.safetensors").read_bytes()


@FUZZ
@given(blob=st.binary(max_size=4096))
def test_upload_of_random_bytes_is_refused_in_a_sentence(blob):
    with _client("UploadUploadUploadUpload") as client:
        response = _upload(client, blob)
    assert response.status_code == 422, f"{response.status_code}: {response.text}"
    assert response.json()["detail"].startswith("upload")


VALID_MODEL = _small_model_file()


@st.composite
def damaged_models(draw):
    """A real model file, damaged: bytes overwritten, truncated, or its header length changed."""
    blob = bytearray(VALID_MODEL)
    damage = draw(st.sampled_from(["overwrite", "truncate", "header length", "header bytes"]))
    if damage == "overwrite":
        for _ in range(draw(st.integers(1, 8))):
            blob[draw(st.integers(0, len(blob) - 1))] = draw(st.integers(0, 255))
    elif damage == "truncate":
        del blob[draw(st.integers(0, len(blob) - 1)):]
    elif damage == "header length":
        blob[:8] = draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little")
    else:                                  # inside the JSON header: architecture, dtype, shapes, offsets
        header_length = int.from_bytes(VALID_MODEL[:8], "little")
        for _ in range(draw(st.integers(1, 4))):
            blob[draw(st.integers(8, 8 + header_length - 1))] = draw(st.sampled_from(b'0123456789-.e"{}[],:'))
    return bytes(blob)


@FUZZ
@given(blob=damaged_models())
def test_upload_of_a_damaged_model_is_refused_or_loaded(blob):
    """A damaged file is refused with a sentence (or, if the damage left it valid, loaded); never a 5xx."""
    with _client("DamagedDamagedDamagedDa") as client:
        response = _upload(client, blob)
        assert response.status_code in (200, 422), f"{response.status_code}: {response.text}"
        if response.status_code == 200:
            assert client.post("/api/predict", json={"test_index": 0}).status_code == 200
        else:
            assert response.json()["detail"].startswith("upload")


def test_an_upload_over_the_size_limit_is_413():
    with _client("BigBigBigBigBigBigBigBig") as client:
        response = _upload(client, os.urandom(CONFIG.limits.max_upload_bytes + 1))
    assert response.status_code == 413 and "too large" in response.json()["detail"]


# -- what the fuzzing found (each fixed in the server; kept as regression tests) -------------------------------
def _model_file_with(architecture=None, weights=None):
    """A real model file, with its declared architecture replaced and/or its weights changed."""
    from glassnet import serialization
    from glassnet.network import Network

    net = Network.mlp([784, 4, 10], seed=0)
    if weights is not None:      # written into the arrays: set_weights itself refuses NaN and infinity
        for key, value in weights(net.get_weights()).items():
            index, name = key.split(".")
            net.layers[int(index)].params[name][...] = value
    folder = Path(tempfile.mkdtemp(dir=MODELS))
    blob = serialization.save(net, folder / "model.safetensors").read_bytes()
    if architecture is None:
        return blob
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    doc = json.loads(header["__metadata__"]["glassnet.model"])
    doc["architecture"] = architecture
    header["__metadata__"]["glassnet.model"] = json.dumps(doc)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + blob[8 + n:]


def _infinite(weights):
    first = dict(weights)
    first["0.weights"] = first["0.weights"].copy()
    first["0.weights"][0, 0] = float("inf")
    return first


def test_a_model_with_infinite_weights_is_refused():
    """Found by fuzzing (fixed): NaN or infinity in an uploaded model's weights broke every view with a 500.
    Now refused up front, and the workspace keeps its network."""
    with _client("InfiniteInfiniteInfinite") as client:
        before = client.get("/api/session").json()["network"]["sizes"]
        response = _upload(client, _model_file_with(weights=_infinite))
        assert response.status_code == 422, response.text
        assert "NaN or infinity" in response.json()["detail"]
        assert client.get("/api/session").json()["network"]["sizes"] == before
        assert client.post("/api/predict", json={"test_index": 0}).status_code == 200


def test_descent_with_every_neuron_off_is_a_4xx():
    """Found by fuzzing (fixed): with every neuron of a layer off the loss is flat; the descent lab says so."""
    with _client("DescentDescentDescentDes") as client:
        assert client.post("/api/network", json={"layers": [4], "seed": 0}).status_code == 200
        for j in range(4):
            assert client.post("/api/edits", json={"layer": 1, "neuron": j, "off": True}).status_code == 200
        response = client.post("/api/descent", json={"seed": 0})
        assert response.status_code in (409, 422), response.status_code
        assert response.json()["detail"].strip()


def test_an_upload_cannot_declare_a_huge_network():
    """Found by fuzzing (fixed): a 13 KB file's header declared a 2^24 x 2^24 layer (1 PB) -> MemoryError, 500."""
    side = 1 << 24
    blob = _model_file_with({"n_features": side, "layers": [{"type": "Dense", "n_in": side, "n_out": side}]})
    with _client("HugeHugeHugeHugeHugeHuge") as client:
        response = _upload(client, blob)
    assert response.status_code in (413, 422), response.status_code


def test_an_upload_allocates_memory_in_proportion_to_its_size():
    """Found by fuzzing (fixed): a 13 KB file declaring 784-20000-10 made the server allocate ~190 MB
    before refusing it (and a wider one, gigabytes); now it is refused before any weight exists."""
    import tracemalloc

    layers = [{"type": "Dense", "n_in": 784, "n_out": 20_000}, {"type": "ReLU"},
              {"type": "Dense", "n_in": 20_000, "n_out": 10}]
    blob = _model_file_with({"n_features": 784, "layers": layers})
    with _client("MemoryMemoryMemoryMemory") as client:
        tracemalloc.start()
        try:
            response = _upload(client, blob)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert response.status_code == 422
    assert peak < 20e6, f"refusing a {len(blob):,}-byte upload took {peak / 1e6:.0f} MB"


def test_event_stream_of_a_finished_or_absent_training_ends():
    """The event stream (left out of the schema fuzzing: it lasts as long as its training) ends."""
    with _client("EventsEventsEventsEvents") as client:
        with client.stream("GET", "/api/train/events") as stream:
            text = "".join(stream.iter_text())
        assert text.startswith("event: end\n")
        assert client.post("/api/network", json={"layers": [4], "seed": 0}).status_code == 200
        assert client.post("/api/train/start", json={"epochs": 1, "batch_size": 256}).status_code == 200
        with client.stream("GET", "/api/train/events") as stream:
            events = re.findall(r"^event: (\w+)$", "".join(stream.iter_text()), flags=re.M)
        assert events[0] == "job" and events[-1] == "end" and "epoch" in events, events


# -- one workspace, several tabs at once ---------------------------------------------------------------------
TAB_ACTIONS = [
    ("post", "/api/train/start", {"epochs": 2, "batch_size": 256, "step": False}),
    ("post", "/api/train/start", {"epochs": 1, "batch_size": 128, "step": True}),
    ("post", "/api/train/pause", None), ("post", "/api/train/resume", None), ("post", "/api/train/step", None),
    ("post", "/api/train/stop", None), ("post", "/api/train/lr", {"lr": 0.01}),
    ("post", "/api/network", {"layers": [8], "seed": 2}), ("post", "/api/timeline/view", {"epoch": 0}),
    ("post", "/api/timeline/view", {"epoch": None}), ("post", "/api/timeline/replay", None),
    ("post", "/api/edits", {"layer": 1, "neuron": 0, "off": True}), ("delete", "/api/edits", None),
    ("post", "/api/predict", {"test_index": 5}), ("get", "/api/train/status", None), ("get", "/api/session", None),
    ("get", "/api/evaluate", None), ("post", "/api/models/save", {"name": "tabs"}),
    ("post", "/api/models/load", {"name": "tabs"}), ("post", "/api/drawings/finetune", {"epochs": 1}),
]


def _running():
    return sum(1 for w in STORE.workspaces() if w.job is not None and w.job.state == "running")


def _slots_settle(timeout=10.0):
    """True once the training slots held equal the trainings running (a job frees its slot just after it ends)."""
    import time

    deadline = time.monotonic() + timeout
    while STORE.trainings != _running():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_three_tabs_of_one_browser_race_without_breaking_it():
    """Three tabs share one workspace and click training controls in random order at once: every answer
    is a 2xx or a 4xx, the training slots all come back, and the workspace still works afterwards."""
    import random
    import threading

    from glassnet.app.jobs import wait_for

    cookie = "TabsTabsTabsTabsTabsTabs"
    with _client(cookie) as first:
        assert first.post("/api/network", json={"layers": [8], "seed": 1}).status_code == 200
    failures = []

    def tab(seed):
        rng = random.Random(seed)
        with _client(cookie) as client:
            for _ in range(40):
                method, path, body = rng.choice(TAB_ACTIONS)
                response = client.request(method, path, json=body)
                if response.status_code >= 500 or response.status_code not in (200, 404, 409, 422, 429):
                    failures.append((method, path, body, response.status_code, response.text[:200]))

    tabs = [threading.Thread(target=tab, args=(seed,)) for seed in range(3)]
    for t in tabs:
        t.start()
    for t in tabs:
        t.join(120)
    assert not any(t.is_alive() for t in tabs), "a tab's requests did not finish within 120 s"
    assert not failures, failures[:5]

    ws = STORE._items[cookie]
    if ws.job is not None:
        ws.job.stop()
        assert wait_for(ws.job, timeout=60) in ("finished", "stopped", "failed")
    assert _slots_settle(), f"{STORE.trainings} training slots held, {_running()} trainings running"
    with _client(cookie) as client:
        assert client.post("/api/timeline/view", json={"epoch": None}).status_code == 200
        assert client.post("/api/train/start", json={"epochs": 1, "batch_size": 256}).status_code == 200
        assert wait_for(STORE._items[cookie].job, timeout=60) == "finished"
        assert client.post("/api/predict", json={"test_index": 5}).status_code == 200
