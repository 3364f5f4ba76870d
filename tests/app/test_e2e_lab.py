"""The descent lab in the app: the numbers the page gets are the library's, and in a real headless Chromium
(desktop 1280 and phone 390 wide) the lab shows three readable paths whose verdicts agree with their labels.

The browser part fails on any console error, page error, failed request or HTTP error, and on a page wider
than the phone's screen; it writes screenshots to test-artifacts/app/.
"""

import numpy as np
import pytest

from appserver import workspace_of

LAB_MS = 180_000      # the lab runs a few hundred gradient steps: seconds, more on a slow, shared CI machine
AGREES = {"too small": ("crawls",), "about right": ("reaches", "converges"), "too big": ("diverges", "bounces")}


@pytest.mark.parametrize("space", ["weight", "gradient", "plane"])
def test_the_app_shows_the_library_numbers(app, client, space):
    from glassnet.app import analysis
    from glassnet.descent import descend_gradient, descend_plane, descend_weight

    assert client.post("/api/network", json={"layers": [16], "seed": 0}).status_code == 200
    r = client.post("/api/descent", json={"seed": 2, "space": space})
    assert r.status_code == 200, r.text
    body = r.json()
    ws = workspace_of(app, client)
    X, y = analysis.descent_examples(ws.data(), seed=2)
    net = ws.view_network()
    lab = {"weight": descend_weight, "gradient": descend_gradient,
           "plane": lambda *a: descend_plane(*a, seed=2, grid=15)}[space](net, X, y)
    assert body["examples"] == len(X) and body["labels_hold"] == lab["labels_hold"] is True
    for shown, computed in zip(body["paths"], lab["paths"], strict=True):
        assert shown["label"] == computed["label"]
        assert shown["lr"] == pytest.approx(computed["lr"], rel=1e-12)
        assert shown["verdict"] == computed["verdict"]
        assert shown["kind"] in AGREES[shown["label"]]
        np.testing.assert_allclose(shown["losses"], computed["losses"], rtol=1e-12)
    assert body["rule"] == lab["rule"] and "pass lrs" not in body["rule"]


def test_a_flat_network_is_refused_in_a_plain_sentence(client):
    """Every neuron of the hidden layer off: the loss is flat in every weight; the page says so in words."""
    assert client.post("/api/network", json={"layers": [4], "seed": 0}).status_code == 200
    for j in range(4):
        assert client.post("/api/edits", json={"layer": 1, "neuron": j, "off": True}).status_code == 200
    for space in ("weight", "plane"):
        r = client.post("/api/descent", json={"seed": 0, "space": space})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert detail.startswith("The descent lab cannot run on this network: ")
        assert not any(code in detail for code in ("descend_", "lrs", "{", "=", "Error"))


def test_a_bad_space_is_refused_in_words(client):
    r = client.post("/api/descent", json={"seed": 0, "space": "3d"})
    assert r.status_code == 422
    assert "{" not in r.json()["detail"]


@pytest.mark.parametrize("width", [1280, 390])
def test_the_lab_draws_three_readable_paths_with_true_labels(browser, live_server, artifacts, width):
    sync_api, b = browser
    phone = width < 500
    context = b.new_context(viewport={"width": width, "height": 900}, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    expect = sync_api.expect
    try:
        page.goto(f"{live_server.url}/#train", wait_until="load")
        expect(page.locator("#net-summary")).to_contain_text("network 784")
        page.fill("#net-layers", "16")
        page.click("#new-network")
        expect(page.locator("#net-summary")).to_contain_text("784–16–10")
        page.click("#tab-evaluate")
        for space in (["weight", "gradient", "plane"] if not phone else ["weight"]):
            page.select_option("#descent-space", space)
            page.click("#descent-run")
            items = page.locator("[data-testid='descent-verdicts'] li")
            try:
                expect(items).to_have_count(3, timeout=LAB_MS)
            except AssertionError:
                raise AssertionError(f"{problems} {page.locator('#messages').inner_text()}") from None
            expect(page.locator("[data-testid='descent-text']")).to_contain_text(
                {"weight": "one weight", "gradient": "downhill direction", "plane": "a plane"}[space])
            for k, label in enumerate(("too small", "about right", "too big")):
                item = items.nth(k)
                expect(item).to_contain_text(f"{label}, lr = ")
                kinds = AGREES[label] + (("reaches",) if label == "too big" else ())    # after bouncing, slower
                assert item.get_attribute("data-kind") in kinds, item.inner_text()
                assert item.get_attribute("data-as-labelled") == "true", item.inner_text()
                assert "1 times" not in item.inner_text()
                panel = page.locator(f"[data-testid='descent-panel-{k}']")
                expect(panel.locator(f"path[data-series='descent-path-{k}']")).to_have_count(1)
                box = panel.bounding_box()
                assert box["width"] >= 200 and box["height"] >= 120      # its own chart, big enough to read
            expect(page.locator("#descent-chart path[data-series='descent-steps-2']")).to_have_count(1)
            page.locator("#descent-panels").screenshot(path=str(artifacts / f"descent-{space}-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert problems == [], problems
    finally:
        context.close()


def test_a_chart_note_keeps_its_colour_and_stays_off_the_legend_and_inside_the_chart(browser, live_server):
    """lineChart's labelled dots ("start" in the plane panels): drawn where the legend is, at the right edge,
    in the middle and at the bottom, the label stays off the legend, inside the chart, in its dot's colour."""
    sync_api, b = browser
    context = b.new_context(viewport={"width": 800, "height": 700})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/#train", wait_until="load")
        charts = page.evaluate("""async () => {
          const w = await import(new URL("static/widgets.js", document.baseURI).href);
          const out = [];
          for (const [x, y] of [[0, 10], [10, 10], [5, 5], [0, 0], [10, 0]]) {
            const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
            s.setAttribute("width", "360");
            s.setAttribute("height", "260");
            document.body.append(s);
            w.lineChart(s, { width: 360, height: 260, series: [{ id: "a", label: "about right", colour: "#1f77b4",
              points: [[0, 0], [10, 10]] }], notes: [{ x, y, text: "start", colour: "#334155" }] });
            const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
            const label = s.querySelector(".note-label");
            out.push({ at: [x, y], label: box(label), legend: box(s.querySelector(".legend")), frame: box(s),
                       fill: getComputedStyle(label).fill });
            s.remove();
          }
          return out;
        }""")
        assert len(charts) == 5
        for c in charts:
            label, legend, frame = c["label"], c["legend"], c["frame"]
            overlap = label[0] < legend[2] and legend[0] < label[2] and label[1] < legend[3] and legend[1] < label[3]
            assert not overlap, c
            assert frame[0] <= label[0] and label[2] <= frame[2] and frame[1] <= label[1] and label[3] <= frame[3], c
            assert c["fill"] == "rgb(51, 65, 85)", c          # #334155: the dot's colour, not a warning's red
    finally:
        context.close()
