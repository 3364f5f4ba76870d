"""The app in a real headless Chromium (Debian's, driven by Playwright): train and watch the curves grow,
draw a digit with the mouse and read the prediction, open a neuron and switch it off, then every other tab.

Each test runs its own server (fixture ``live_server``: uvicorn on a free loopback port) and browser
context (its own workspace cookie), fails on any console error, page error, failed request, HTTP error
or request to anywhere but that server, and writes a screenshot per view to test-artifacts/app/.
"""

import re

import pytest

WAIT_MS = 60_000      # upper bound for a training to finish on a slow, shared CI machine
VIEWPORT = {"width": 1200, "height": 900}


class Watched:
    """A page of a fresh browser context, with everything that went wrong collected in ``problems``."""

    def __init__(self, browser, url, viewport=VIEWPORT, **context):
        self.sync_api, b = browser
        self.url = url
        self.context = b.new_context(viewport=viewport, accept_downloads=True, **context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems = []
        self.requests = []
        page = self.page
        page.on("console", lambda m: self.problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.request.method} {r.url}")
                if r.status >= 400 else None)
        page.on("request", lambda r: self.requests.append(r.url))

    def expect(self, target):
        return self.sync_api.expect(self.page.locator(target) if isinstance(target, str) else target)

    def open(self, tab="train"):
        self.page.goto(f"{self.url}/#{tab}", wait_until="load")
        self.expect("#net-summary").to_contain_text("network 784")

    def tab(self, name):
        self.page.click(f"#tab-{name}")
        self.expect(f"#panel-{name}").to_be_visible()

    def shot(self, artifacts, name):
        self.page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)

    def assert_clean(self):
        """No errors, and not one request left this server (nothing external, nothing from a CDN)."""
        outside = [u for u in self.requests if not u.startswith(self.url) and not u.startswith(("data:", "blob:"))]
        assert self.problems == [], self.problems
        assert outside == [], outside

    def close(self):
        self.context.close()


@pytest.fixture
def watched(browser, live_server):
    w = Watched(browser, live_server.url)
    try:
        yield w
    finally:
        w.close()


def train(w, layers, epochs, lr="0.05"):
    """Build a network with ``layers`` (text like "64") and train it for ``epochs`` from the Train tab."""
    w.tab("train")
    w.page.fill("#net-layers", layers)
    w.page.click("#new-network")
    w.expect("#net-summary").to_contain_text(f"784–{layers.replace(',', '–')}–10")
    w.page.fill("#train-lr", lr)
    w.page.fill("#train-epochs", str(epochs))
    w.page.click("#train-start")
    w.expect(f"#epoch-table tbody tr[data-epoch='{epochs}']").to_be_visible(timeout=WAIT_MS)
    w.expect("#train-status").to_contain_text("finished", timeout=WAIT_MS)


def draw(w, canvas, strokes):
    """Draw ``strokes`` (lists of (x, y) in fractions of the canvas) with the mouse on ``canvas``."""
    box = w.page.locator(canvas).bounding_box()
    for stroke in strokes:
        points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
        w.page.mouse.move(*points[0])
        w.page.mouse.down()
        for x, y in points[1:]:
            w.page.mouse.move(x, y, steps=4)
        w.page.mouse.up()


ONE = [[(0.5, 0.15), (0.5, 0.35), (0.5, 0.55), (0.5, 0.75), (0.5, 0.88)]]
ZERO = [[(0.5, 0.15), (0.3, 0.25), (0.24, 0.5), (0.3, 0.75), (0.5, 0.86), (0.7, 0.75), (0.76, 0.5), (0.7, 0.25),
         (0.5, 0.15)]]


def test_train_one_epoch_and_watch_the_curve_grow(watched, artifacts):
    w = watched
    w.open("train")
    w.page.fill("#net-layers", "32")
    w.page.click("#new-network")
    w.expect("#net-summary").to_contain_text("784–32–10")
    loss = w.page.locator("#loss-chart path[data-series='batch-loss']")
    w.expect(loss).to_have_attribute("data-count", "0")          # nothing trained yet
    w.expect("#epoch-table tbody tr").to_have_count(0)

    # The learning-rate finder: loss against a log-scale rate, the suggestion marked, one click to use it.
    w.page.click("#lr-find")
    w.expect("#lrf-card").to_be_visible(timeout=WAIT_MS)
    assert int(w.page.locator("#lrf-chart path[data-series='lrf-smoothed']").get_attribute("data-count")) >= 10
    w.expect("#lrf-chart .note-label").to_contain_text("suggested: ")
    w.expect("#lrf-chart .axes text").to_contain_text(["1e−5", "1e−4", "1e−3", "1e−2", "1e−1", "1", "10"])
    w.page.click("#lrf-use")
    suggested = w.page.input_value("#train-lr")
    w.expect("#lrf-text").to_contain_text(f"Suggested learning rate: {suggested}.")
    w.page.fill("#train-lr", "0.05")

    w.page.fill("#train-epochs", "1")
    w.page.click("#train-start")
    w.expect("#epoch-table tbody tr[data-epoch='1']").to_be_visible(timeout=WAIT_MS)
    w.expect("#train-status").to_contain_text("finished", timeout=WAIT_MS)
    points = int(loss.get_attribute("data-count"))
    assert points >= 5                                             # the loss points within the epoch
    assert re.fullmatch(r"M[\d.,]+(L[\d.,]+){%d}" % (points - 1), loss.get_attribute("d"))
    w.expect("#loss-chart g[data-dots='train-loss'] circle").to_have_count(1)   # the epoch record
    w.expect("#acc-chart g[data-dots='test-accuracy'] circle").to_have_count(1)
    w.expect("#big-test-acc").to_have_text(re.compile(r"^\d+\.\d\d%$"))
    w.expect("#train-status").to_contain_text("epoch 1/1")

    # One more epoch with "Step one epoch": it pauses after the epoch; the rate can be changed while paused.
    w.page.fill("#train-epochs", "3")
    w.page.click("#train-step")
    w.expect("#train-status").to_contain_text("paused", timeout=WAIT_MS)
    w.expect("#epoch-table tbody tr[data-epoch='2']").to_be_visible()
    w.page.fill("#live-lr", "0.02")
    w.page.click("#live-lr-set")
    w.expect("#train-status").to_contain_text("next batch: lr 0.02")
    w.page.click("#train-stop")
    w.expect("#train-status").to_contain_text("stopped", timeout=WAIT_MS)
    w.expect("#train-start").to_be_enabled()
    assert int(loss.get_attribute("data-count")) > points

    # A longer run: the status line follows it live (batch and epoch move while it runs), Pause and Resume.
    w.page.fill("#train-epochs", "4")
    w.page.fill("#train-batch", "8")
    w.page.click("#train-start")
    # Two whole epochs are done, so this run's epochs are 3 to 6; mid-epoch the line names the one under way.
    w.expect("#train-status").to_contain_text(re.compile(r"running · epoch [3-6]/6 · batch \d+/1001"),
                                              timeout=WAIT_MS)
    first = w.page.text_content("#train-status")
    w.page.wait_for_function("first => { const t = document.getElementById('train-status').textContent;"
                             " return t.startsWith('running') && t !== first; }", arg=first, timeout=WAIT_MS)
    w.page.click("#train-pause")
    w.expect("#train-status").to_contain_text("paused", timeout=WAIT_MS)
    w.page.click("#train-resume")
    w.expect("#train-status").to_contain_text("running", timeout=WAIT_MS)
    w.page.click("#train-stop")
    # Usually mid-epoch ("stopped in epoch 4 after mini-batch 848 of 1001"); a Stop that lands on the
    # last mini-batch of an epoch ends it there ("stopped after epoch 4").
    w.expect("#train-status").to_contain_text(re.compile(r"stopped (in|after) epoch \d"), timeout=WAIT_MS)
    w.page.fill("#train-batch", "64")
    w.shot(artifacts, "train")
    w.assert_clean()


def test_draw_a_digit_and_open_a_neuron(watched, artifacts):
    w = watched
    w.open("train")
    train(w, "64", 3, lr="0.1")
    w.tab("draw")
    draw(w, "#draw-canvas", ONE)
    w.expect("#prediction").to_have_text("1")
    w.expect("#prediction-text").to_contain_text("your drawing")
    w.expect("#prob-bars .bar-row").to_have_count(10)
    w.expect("#prob-bars [data-testid='prob-1']").to_have_class(re.compile("winner"))
    w.expect("#draw-input canvas").to_have_count(1)
    w.expect("[data-testid='diagram'] circle.neuron").to_have_count(64 + 10)
    w.expect("[data-testid='diagram-input']").to_have_attribute("href", re.compile("^data:image/png"))

    w.page.click("[data-testid='neuron-1-5']")                    # a neuron of the first hidden layer
    w.expect("#neuron-panel").to_be_visible()
    w.expect("#neuron-title").to_contain_text("hidden 1 · neuron 5")
    w.expect("#neuron-sum").to_contain_text(re.compile(r"z = Σ w·x \+ b = .*\(bias\) = "))
    w.expect("#neuron-activation").to_contain_text("relu")
    weights = w.page.locator("#neuron-weights canvas")
    w.expect(weights).to_have_count(1)
    assert (weights.get_attribute("width"), weights.get_attribute("height")) == ("28", "28")
    w.expect("#neuron-terms canvas").to_have_count(1)

    w.page.check("#neuron-off")
    w.expect("#edit-accuracy").to_contain_text(re.compile(r"original \d+\.\d% → edited \d+\.\d%"))
    w.expect("#neuron-title").to_contain_text("switched off")
    w.expect("[data-testid='neuron-1-5']").to_have_class(re.compile(r"\boff\b"))
    w.expect("#prediction-text").to_contain_text("with your edits")
    w.expect("#net-summary").to_contain_text("1 edit")
    w.shot(artifacts, "draw")
    w.page.click("#reset-edits")
    w.expect("#edit-accuracy").to_contain_text("No edits")
    w.expect("#prediction-text").not_to_contain_text("with your edits")
    w.assert_clean()


def test_every_other_tab_shows_real_content(watched, artifacts, tmp_path):
    w = watched
    w.open("train")
    train(w, "32", 2)
    w.tab("draw")
    draw(w, "#draw-canvas", ONE)
    w.expect("#prediction").not_to_have_text("?")

    # Inside, with a true label: the forward maths, softmax, and one backward step.
    w.tab("inside")
    w.page.select_option("#inside-layer", "1")
    w.page.fill("#inside-neuron", "3")
    w.page.select_option("#inside-label", "1")
    w.page.click("#inside-run")
    w.expect("[data-testid='inside-backward']").to_contain_text("δ")          # the nudges: INSIDE's tests check them
    w.expect("[data-testid='inside-backward']").to_contain_text("Row 3 of dW")
    w.expect("[data-testid='inside-softmax']").to_contain_text("exp(z − max)")
    w.expect("[data-testid='inside-layer-1']").to_contain_text("Neuron 3 (the neuron you chose)")
    w.shot(artifacts, "inside")

    # Evaluate: accuracy, the confusion matrix, a cell's images, the mistakes, the descent lab.
    w.tab("evaluate")
    w.expect("#eval-accuracy").to_have_text(re.compile(r"\d+\.\d\d%"))
    w.expect("#confusion button").to_have_count(100)
    w.page.click("[data-testid='cell-7-7']")
    w.expect("#cell-title").to_contain_text("True 7, said 7")
    assert w.page.locator("#cell-images canvas").count() >= 1
    w.page.click("#mistakes-run")
    w.expect("#mistakes figure").not_to_have_count(0)
    w.page.click("#descent-run")
    w.expect("[data-testid='descent-verdicts'] li").to_have_count(3)
    w.expect("[data-testid='descent-fd']").to_contain_text("backpropagation says")
    w.expect("#descent-chart").to_be_visible()
    w.expect("#descent-chart path[data-series='descent-steps-0']").to_have_count(1)
    w.shot(artifacts, "evaluate")

    # My handwriting: two labelled drawings, their preprocessing steps, the gallery, a fine-tune.
    w.tab("handwriting")
    draw(w, "#hw-canvas", ONE)
    w.page.select_option("#hw-label", "1")
    w.page.click("#hw-add")
    w.expect("[data-testid='hw-item']").to_have_count(1)
    assert w.page.locator("[data-testid='hw-step'] canvas").count() >= 3
    draw(w, "#hw-canvas", ZERO)
    w.page.select_option("#hw-label", "0")
    w.page.click("#hw-add")
    w.expect("[data-testid='hw-item']").to_have_count(2)
    w.expect("#hw-steps").to_contain_text("You said 0")
    w.expect("#hw-counts").to_contain_text("2 drawings")
    w.page.fill("#hw-epochs", "1")
    w.page.click("#hw-finetune")
    w.expect("[data-testid='hw-finetune-table']").to_be_visible(timeout=WAIT_MS)
    w.expect("#hw-finetune-result").to_contain_text("On the test set")
    w.shot(artifacts, "handwriting")

    # Time travel: back to epoch 1 with the keyboard on the slider; the view, the marker and the prediction follow.
    w.tab("timetravel")
    w.expect("#tt-slider").to_have_attribute("max", "3")          # start, 2 epochs, the fine-tune
    w.expect("#tt-prediction").to_have_attribute("data-epoch", "latest")
    with w.page.expect_request(lambda r: r.url.endswith("/api/timeline/view") and '"epoch":1' in (r.post_data or "")):
        w.page.focus("#tt-slider")
        w.page.keyboard.press("Home")
        w.page.keyboard.press("ArrowRight")
    w.expect("#tt-epoch").to_contain_text("epoch 1 of 3")
    w.expect("#tt-prediction").to_have_attribute("data-epoch", "1")
    w.expect("#tt-loss-chart line.marker").to_have_attribute("data-marker", "1")
    w.expect("#view-banner").to_be_visible()
    w.expect("[data-testid='tt-diagram'] circle.neuron").to_have_count(32 + 10)
    w.shot(artifacts, "timetravel")
    w.page.click("#tt-latest")
    w.expect("#view-banner").to_be_hidden()
    w.expect("#tt-prediction").to_have_attribute("data-epoch", "latest")
    w.page.click("#tt-replay")                                   # retrain from the seed, compare bit for bit
    w.expect("#tt-replay-result").to_have_class(re.compile(r"\bgood\b"), timeout=WAIT_MS)
    w.expect("#tt-replay-result").to_contain_text("bit for bit")

    # Models: save, see it listed, download it, upload it back.
    w.tab("models")
    w.page.fill("#model-name", "e2e-net")
    w.page.click("#model-save")
    w.expect("#models-list tr[data-model='e2e-net']").to_contain_text("784–32–10")
    with w.page.expect_download() as download:
        w.page.click("#model-download")
    path = tmp_path / "model.safetensors"
    download.value.save_as(path)
    assert path.stat().st_size > 32 * 784 * 4
    w.page.set_input_files("#model-upload-file", str(path))
    w.page.click("#model-upload")
    w.expect("#net-summary").to_contain_text("uploaded")
    w.shot(artifacts, "models")
    w.assert_clean()


def test_a_page_opened_on_any_tab_uses_one_workspace(watched, live_server):
    """The first request gets the workspace cookie; the tab's own requests must wait for it."""
    w = watched
    w.page.goto(f"{w.url}/#evaluate", wait_until="load")
    w.expect("#confusion button").to_have_count(100)
    w.expect("#eval-accuracy").to_have_text(re.compile(r"\d+\.\d\d%"))
    w.page.click("#tab-inside")
    w.expect("[data-testid='inside-softmax']").to_be_visible()
    store = live_server.app.state.glassnet["store"]
    assert len(store._items) == 1
    w.assert_clean()


def test_a_phone_draws_with_a_finger_and_sees_the_answer_under_the_pad(browser, live_server, artifacts):
    """390x844 with touch: a finger stroke predicts, the answer sits right under the pad (on screen while
    drawing), nothing overflows sideways, and the diagram keeps readable neurons (it scrolls instead)."""
    sync_api, b = browser
    context = b.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{live_server.url}/#draw", wait_until="load")
        sync_api.expect(page.locator("#net-summary")).to_contain_text("network 784")
        page.locator("#draw-canvas").scroll_into_view_if_needed()
        box = page.locator("#draw-canvas").bounding_box()
        cdp = context.new_cdp_session(page)
        xs = box["x"] + box["width"] / 2
        ys = [box["y"] + f * box["height"] for f in (0.15, 0.3, 0.45, 0.6, 0.75, 0.88)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xs, "y": ys[0]}]})
        for y in ys[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": xs, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        mini = page.locator("#draw-mini")
        sync_api.expect(mini).to_contain_text("says ", timeout=15_000)
        mini_box, viewport_height = mini.bounding_box(), page.evaluate("window.innerHeight")
        assert 0 <= mini_box["y"] and mini_box["y"] + mini_box["height"] <= viewport_height
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        radius = float(page.locator("#diagram circle.neuron").first.get_attribute("r"))
        svg_width = page.locator("#diagram").bounding_box()["width"]
        view_width = float(page.locator("#diagram").get_attribute("viewBox").split()[2])
        assert radius * svg_width / view_width >= 3.0                 # not shrunk to specks
        page.screenshot(path=str(artifacts / "phone-draw.png"))
        assert errors == []
    finally:
        context.close()


def test_the_keyboard_moves_through_tabs_and_opens_a_neuron(watched, artifacts):
    w = watched
    w.open("draw")
    w.page.focus("#tab-draw")
    w.page.keyboard.press("ArrowRight")
    w.expect("#panel-inside").to_be_visible()
    w.expect("#tab-inside").to_be_focused()
    w.page.keyboard.press("ArrowLeft")
    w.expect("#panel-draw").to_be_visible()
    w.page.fill("#draw-test-index", "0")
    w.page.click("#draw-test-show")
    w.expect("#prediction").not_to_have_text("?")
    w.page.focus("#diagram")
    w.page.keyboard.press("ArrowDown")
    w.page.keyboard.press("ArrowDown")
    w.expect("#diagram-hover").to_contain_text("hidden 1, neuron 1")
    w.page.keyboard.press("Enter")
    w.expect("#neuron-panel").to_be_visible()
    w.expect("#neuron-title").to_contain_text("neuron 1")
    w.assert_clean()
