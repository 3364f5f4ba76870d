"""The explanations in a real headless Chromium: why this digit next to the prediction, the forward and
backward passes played and stepped over the diagram, an open neuron's connections and its terms linked to
their pixels, the output's logits and softmax, and Inside's backpropagation as nudges, its numbers checked
against the library's (``explain.nudges``, ``explain``, and the step applied to the network); on a desktop
(1280 wide) and a phone (390 wide, touch: the first tap opens a neuron, nothing scrolls sideways).

Every test fails on a console error, a page error, a failed request or an HTTP error; screenshots go to
test-artifacts/app/ (``GLASSNET_DOCS_SCREENSHOTS=1``: to docs/app/ too, for the README).
"""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from glassnet.explain import explain, explain_step, nudges

DOCS = Path(__file__).resolve().parents[2] / "docs" / "app"
ONE = [(0.5, 0.15), (0.5, 0.35), (0.5, 0.55), (0.5, 0.75), (0.5, 0.88)]


class Page:
    """A page of a fresh browser context with everything that went wrong in ``problems``."""

    def __init__(self, browser, server, **context):
        self.expect_api, b = browser
        self.server = server
        self.context = b.new_context(**context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems = []
        self.page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)

    def expect(self, target):
        return self.expect_api.expect(self.page.locator(target) if isinstance(target, str) else target)

    def open(self, tab, layers="32", epochs=0):
        """Open the page with a new network of one hidden layer (trained ``epochs``), on ``tab``."""
        self.page.goto(f"{self.server.url}/#train", wait_until="load")
        self.expect("#net-summary").to_contain_text("network 784")
        self.page.fill("#net-layers", layers)
        self.page.click("#new-network")
        self.expect("#net-summary").to_contain_text(f"784–{layers}–10")
        if epochs:
            self.page.fill("#train-lr", "0.1")
            self.page.fill("#train-epochs", str(epochs))
            self.page.click("#train-start")
            self.expect("#train-status").to_contain_text("finished", timeout=60_000)
        self.page.click(f"#tab-{tab}")

    def workspace(self):
        """The server's workspace of this browser (by its cookie): the network and data it shows."""
        cookie = next(c["value"] for c in self.context.cookies() if c["name"] == "glassnet_workspace")
        return self.server.app.state.glassnet["store"]._items[cookie]

    def no_sideways_scroll(self, width):
        assert self.page.evaluate("document.documentElement.scrollWidth") <= width

    def shot(self, artifacts, name, start=None, height=1600):
        """A screenshot of the page from the top of ``start`` (a selector; the page's top when None), at most
        ``height`` px tall."""
        path = artifacts / f"{name}.png"
        for close in self.page.locator(".message-close").all():
            close.click()
        y = 0 if start is None else self.page.locator(start).first.evaluate(
            "(e) => e.getBoundingClientRect().top + window.scrollY")
        total = self.page.evaluate("document.documentElement.scrollHeight")
        width = self.page.viewport_size["width"]
        self.page.screenshot(path=str(path), full_page=True,
                             clip={"x": 0, "y": y, "width": width, "height": min(height, total - y)})
        if os.environ.get("GLASSNET_DOCS_SCREENSHOTS") == "1":
            shutil.copyfile(path, DOCS / path.name)

    def close(self):
        self.context.close()


def shown_number(page, selector):
    """A number as the page shows it (num(): a true minus sign)."""
    text = page.page.locator(selector).first.inner_text()
    return float(text.replace("−", "-"))


def draw_one(p):
    box = p.page.locator("#draw-canvas").bounding_box()
    points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in ONE]
    p.page.mouse.move(*points[0])
    p.page.mouse.down()
    for x, y in points[1:]:
        p.page.mouse.move(x, y, steps=4)
    p.page.mouse.up()


def test_why_passes_connections_and_nudges_on_a_desktop(browser, live_server, artifacts):
    p = Page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        p.open("draw", epochs=1)
        draw_one(p)
        p.expect("#prediction").not_to_have_text("?")
        p.expect("[data-testid='why-contribution'] canvas").to_be_visible()        # why: as the user draws
        p.expect("[data-testid='why-contrast'] canvas").to_be_visible()
        p.expect("#anim-status").to_have_attribute("data-step", "2", timeout=10_000)   # forward pass played
        p.expect("#anim-status").to_contain_text("Forward pass, 2 of 2")
        p.expect("[data-testid='diagram-connections'] line.connection").not_to_have_count(0)   # the path
        p.page.click("#draw-clear")                                                  # Clear clears the answer
        p.expect("#prediction").to_have_text("?")
        p.expect("#draw-why").to_be_empty()
        p.expect("#prob-bars .bar-row").to_have_count(0)

        p.page.fill("#draw-test-index", "3")
        p.page.click("#draw-test-show")
        p.expect("#prediction-text").to_contain_text("test image #3")
        ws = p.workspace()
        net, data = ws.view_network(), ws.data()
        x, label = np.asarray(data.X_test[3]), int(data.y_test[3])
        e = explain(net, x)
        shown = shown_number(p, "#draw-why figcaption b")
        assert shown == pytest.approx(e.maps["contribution"].sum(), rel=1e-3, abs=1e-4)

        p.page.click("#anim-stop")                                                   # stepping by hand
        p.page.click("#anim-next")
        p.expect("#anim-status").to_have_attribute("data-step", "0")
        p.page.click("#anim-next")
        p.expect("#anim-status").to_have_attribute("data-step", "1")
        p.expect("g.layer[data-layer='2']").to_have_class(re.compile(r"\bdim\b"))
        p.page.click("#anim-prev")
        p.expect("#anim-status").to_have_attribute("data-step", "0")
        p.page.select_option("#anim-label", str(label))
        p.page.click("#anim-backward")
        p.expect("#anim-status").to_have_attribute("data-direction", "backward")
        p.expect("#anim-status").to_have_attribute("data-step", "1", timeout=10_000)
        p.expect("#anim-status").to_contain_text("moves the loss from")
        p.page.click("#anim-prev")                                                   # back: toward the output
        p.expect("#anim-status").to_have_attribute("data-step", "2")
        p.shot(artifacts, "inside-draw-why")

        p.page.click("[data-testid='neuron-1-5']")                                  # connections of a neuron
        p.expect("#neuron-panel").to_be_visible()
        p.expect("[data-testid='diagram-connections']").to_have_attribute("data-kind", "neuron")
        p.expect("[data-testid='diagram-connections'] line.connection").to_have_count(8 + 8)
        p.expect("[data-testid='neuron-incoming'] tbody tr").to_have_count(8)
        p.expect("[data-testid='neuron-drivers'] canvas").to_have_count(6)
        row = p.page.locator("[data-testid='neuron-top-up-table'] tbody tr").first
        pixel = [int(v) for v in row.get_attribute("data-pixel").split(",")]
        assert re.match(r"\(\d+, \d+\)", row.locator("td").first.inner_text())      # named (row, col)
        row.hover()                                                                  # term -> its pixel
        p.expect("[data-testid='neuron-terms-picture-mark']").to_be_visible()
        p.expect("[data-testid='diagram-pixel']").to_have_attribute("visibility", "visible")
        box = p.page.locator("[data-testid='neuron-terms-picture'] canvas").bounding_box()
        cell = box["width"] / 28
        p.page.mouse.move(box["x"] + (pixel[1] + 0.5) * cell, box["y"] + (pixel[0] + 0.5) * cell)   # pixel -> term
        p.expect(row).to_have_class(re.compile(r"\bhover\b"))
        p.expect("[data-testid='neuron-term-readout']").to_contain_text(f"pixel ({pixel[0]}, {pixel[1]})")
        p.shot(artifacts, "inside-connections", start="#diagram", height=1500)

        p.page.click("[data-testid='neuron-2-4']")                                  # the output: logits, softmax
        p.expect("[data-testid='neuron-output-numbers'] tbody tr").to_have_count(10)
        p.expect("[data-testid='neuron-effective'] canvas").to_have_count(2)        # what drives a deeper neuron
        logits = p.page.locator("[data-testid='neuron-output-numbers'] tbody tr").nth(4).locator("td").nth(1)
        assert float(logits.inner_text().replace("−", "-")) == pytest.approx(e.logits[4], rel=1e-3, abs=1e-4)

        p.page.click("#tab-inside")                                                  # backpropagation as nudges
        p.page.select_option("#inside-source", "test")
        p.page.fill("#inside-test-index", "3")
        p.page.select_option("#inside-label", str(label))
        p.page.click("#inside-run")
        p.expect("[data-testid='nudge-summary']").to_be_visible()
        n = nudges(net, x, label, lr=0.1)
        before, after = shown_number(p, "[data-testid='loss-before']"), shown_number(p, "[data-testid='loss-after']")
        assert before == pytest.approx(n.loss_before, rel=1e-5) and after == pytest.approx(n.loss_after, rel=1e-5)
        stepped = net.astype(np.float64)                                             # apply the shown step
        explain_step(net, x[None, :], [label], lr=0.1).apply(stepped)
        really = stepped.evaluate(x[None, :].astype(np.float64), [label]).loss
        assert after == pytest.approx(really, rel=1e-5)
        assert shown_number(p, "[data-testid='loss-change']") == pytest.approx(really - n.loss_before, rel=1e-3)
        outputs = p.page.locator("[data-testid='nudge-outputs'] li")                # ranked as the library ranks
        assert [int(k) for k in outputs.evaluate_all("(items) => items.map((li) => li.dataset.k)")] == \
            [o.k for o in n.outputs]
        for layer in n.layers:
            if layer.name != "output":
                items = p.page.locator(f"[data-testid='nudge-neurons-{layer.index}'] li")
                p.expect(items).to_have_count(len(layer.neurons))
                assert f"neuron {layer.neurons[0].j} should go {layer.neurons[0].direction}" in items.first.inner_text()
            first = p.page.locator(f"[data-testid='nudge-weights-{layer.index}'] tbody tr").first.locator("td")
            w = layer.weights[0]
            assert first.nth(0).inner_text() == f"W[{w.j}, {f'({w.pixel[0]}, {w.pixel[1]})' if w.pixel else w.i}]"
            assert float(first.nth(4).inner_text().replace("−", "-")) == pytest.approx(w.dW, rel=1e-3)
        p.expect("[data-testid='nudge-pixels-1'] .marker").to_have_count(len(n.layers[-1].weights))
        p.page.locator("[data-testid='nudge-weights-1'] tbody tr").nth(2).hover()   # a weight -> its pixel
        p.expect("[data-testid='nudge-pixels-1-mark']").to_be_visible()
        term = p.page.locator("[data-testid='inside-terms-1'] tbody tr").first        # Inside's terms, linked too
        term.hover()
        p.expect("[data-testid='inside-terms-picture-mark']").to_be_visible()
        row, col = (int(v) for v in term.get_attribute("data-pixel").split(","))
        p.page.mouse.move(0, 0)
        box = p.page.locator("[data-testid='inside-terms-picture'] canvas").bounding_box()
        p.page.mouse.move(box["x"] + (col + 0.5) * box["width"] / 28, box["y"] + (row + 0.5) * box["height"] / 28)
        p.expect(term).to_have_class(re.compile(r"\bhover\b"))
        terms = p.page.locator("[data-testid='inside-terms-1']")                      # "show all": 784 rows, linked too
        terms.locator("xpath=..").locator("button.show-all").click()
        p.expect(terms.locator("tbody tr")).to_have_count(784)
        far = terms.locator("tbody tr").nth(300)
        far.hover()
        assert re.fullmatch(r"\d+,\d+", far.get_attribute("data-pixel") or "")
        row, col = (int(v) for v in far.get_attribute("data-pixel").split(","))
        assert far.locator("td").first.inner_text() == f"({row}, {col})"
        canvas = p.page.locator("[data-testid='inside-terms-picture'] canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        p.page.mouse.move(box["x"] + (col + 0.5) * box["width"] / 28, box["y"] + (row + 0.5) * box["height"] / 28)
        p.expect(far).to_have_class(re.compile(r"\bhover\b"))
        p.expect("[data-testid='inside-term-readout']").to_contain_text(f"pixel ({row}, {col})")
        terms.locator("xpath=..").locator("button.show-all").click()                 # back to the first rows
        p.expect(terms.locator("tbody tr").first).to_have_attribute("data-pixel", re.compile(r"\d+,\d+"))
        p.expect("[data-testid='nudge-full-1']").not_to_have_attribute("open", "")      # full tables: folded
        text = p.page.locator("[data-testid='inside-backward']").inner_text()
        assert re.search(r"(?<![\w)])-\d|e-\d", text) is None and re.search(r"−\d", text)      # one minus sign
        p.no_sideways_scroll(1280)
        p.shot(artifacts, "inside-nudges", start="[data-testid='inside-backward']", height=1700)
        assert p.problems == [], p.problems
    finally:
        p.close()


def test_a_phone_opens_a_neuron_with_the_first_tap(browser, live_server, artifacts):
    p = Page(browser, live_server, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        p.open("draw")
        p.page.fill("#draw-test-index", "1")
        p.page.click("#draw-test-show")
        p.expect("[data-testid='why-contribution'] canvas").to_be_visible()
        p.page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")   # the page's end: a page
        height = p.page.evaluate("document.documentElement.scrollHeight")         # that shortened would move
        box = p.page.locator("[data-testid='neuron-1-3']").bounding_box()        # the circle under the finger
        p.page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)   # the first tap opens it
        p.expect("#neuron-panel").to_be_visible()
        p.expect("#neuron-title").to_contain_text("neuron 3")
        p.expect("[data-testid='diagram-connections'] line.connection").not_to_have_count(0)
        p.no_sideways_scroll(390)
        p.shot(artifacts, "inside-phone-neuron", start="#diagram", height=1400)
        p.page.click("#neuron-close")
        assert p.page.evaluate("document.documentElement.scrollHeight") == height   # the hover text took no room
        p.page.click("#tab-inside")
        p.page.select_option("#inside-label", "2")
        p.page.click("#inside-run")
        p.expect("[data-testid='nudge-summary']").to_be_visible()
        p.no_sideways_scroll(390)
        p.shot(artifacts, "inside-phone-nudges", start="[data-testid='inside-backward']", height=1400)
        assert p.problems == [], p.problems
    finally:
        p.close()
