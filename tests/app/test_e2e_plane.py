"""The Plane tab in a real headless Chromium (Debian's, through Playwright), at desktop and phone sizes:
pick a data set, train and see every neuron's picture change while it trains, add a neuron, edit a weight
and see the pictures downstream change, open a neuron's formula, travel back to an epoch; no console
error, no failed request, no request outside the server, and no sideways scrolling on a phone."""

import pytest

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PICTURES = """() => Object.fromEntries([...document.querySelectorAll('#plane-diagram canvas.plane-neuron')]
    .map((c) => [c.dataset.layer + '.' + c.dataset.neuron, c.toDataURL()]))"""


def frames(page):
    return int(page.get_attribute("#plane-panel-frames", "data-frames"))


def next_frame(page, seen, more=1):
    """Wait until the page has painted ``more`` frames after the ``seen``-th."""
    page.wait_for_function(f"() => Number(document.querySelector('#plane-panel-frames').dataset.frames) >= "
                           f"{seen + more}")


@pytest.mark.parametrize("size", sorted(SIZES))
def test_the_plane_view(browser, live_server, artifacts, size):
    sync_api, b = browser
    context = b.new_context(viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.method} {r.url} {r.failure}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: requests.append(r.url))
    expect = sync_api.expect
    try:
        page.goto(f"{live_server.url}/#plane", wait_until="load")
        expect(page.locator("#plane-status")).to_contain_text("epoch 0")
        # pick a data set
        seen = frames(page)
        page.select_option("#plane-dataset", "xor")
        next_frame(page, seen)
        assert page.locator("#plane-diagram canvas.plane-neuron").count() == 2 + 4 + 2 + 2
        before = page.evaluate(PICTURES)
        # train: every neuron's picture changes while the training runs (the inputs' do not)
        page.click("#plane-play")
        expect(page.locator("#plane-play")).to_have_attribute("data-running", "true")
        next_frame(page, frames(page), 3)
        during = page.evaluate(PICTURES)
        assert page.get_attribute("#plane-play", "data-running") == "true"
        changed = [k for k in before if not k.startswith("0.") and before[k] != during[k]]
        assert sorted(changed) == sorted(k for k in before if not k.startswith("0.")), (before.keys(), changed)
        assert all(before[k] == during[k] for k in before if k.startswith("0."))
        page.wait_for_function("() => /epoch ([3-9]|[1-9][0-9]+)/"
                               ".test(document.querySelector('#plane-status').textContent)")
        page.click("#plane-play")
        expect(page.locator("#plane-play")).to_have_attribute("data-running", "false")
        page.screenshot(path=str(artifacts / f"plane-{size}.png"), full_page=True)
        # time travel: epoch 1 looks different from the latest
        latest = page.evaluate(PICTURES)
        seen = frames(page)
        page.evaluate("""() => { const s = document.querySelector('#plane-time'); s.value = '1';
                                 s.dispatchEvent(new Event('change')); }""")
        next_frame(page, seen)
        expect(page.locator("#plane-time-label")).to_have_text("epoch 1")
        past = page.evaluate(PICTURES)
        assert past["3.0"] != latest["3.0"]
        page.click("#plane-latest")
        expect(page.locator("#plane-time-label")).to_have_text("the latest weights")
        # add a neuron to the first hidden layer
        seen = frames(page)
        page.click("[data-testid=plane-add-neuron-1]")
        next_frame(page, seen)
        assert page.locator("#plane-diagram canvas[data-layer='1']").count() == 5
        # edit a weight: the pictures above it change, the ones below do not
        before = page.evaluate(PICTURES)
        page.locator("[data-testid=plane-link-2-0-1]").dispatch_event("click")
        expect(page.locator("#plane-weight-card")).to_be_visible()
        page.fill("#plane-weight-value", "4.5")
        seen = frames(page)
        page.click("[data-testid=plane-weight-set]")
        next_frame(page, seen)
        after = page.evaluate(PICTURES)
        assert all(before[k] == after[k] for k in before if k.split(".")[0] in ("0", "1"))
        assert after["2.0"] != before["2.0"] and after["3.0"] != before["3.0"]
        # a neuron explained: its formula with the weight just set
        page.click("[data-testid=plane-neuron-2-0]")
        expect(page.locator("#plane-formula")).to_contain_text("4.5·h1.2")
        page.fill("#plane-bias-value", "-1.25")
        page.click("[data-testid=plane-bias-set]")
        expect(page.locator("#plane-formula")).to_contain_text("− 1.25")
        # the library's diagnostics and descent lab on this network
        page.click("#plane-diagnose")
        expect(page.locator("#plane-lab-out")).not_to_be_empty()
        page.click("#plane-descent")
        expect(page.locator("#plane-lab-out")).to_contain_text("about right")
        # your own points: two of each class clicked on the output picture become the data set
        page.click("#plane-add-0")
        for x, y in ((0.15, 0.2), (0.3, 0.8)):
            output = page.locator("#plane-output")
            box = output.bounding_box()
            output.click(position={"x": x * box["width"], "y": y * box["height"]})
        page.click("#plane-add-1")
        for x, y in ((0.8, 0.15), (0.7, 0.75)):
            output = page.locator("#plane-output")
            box = output.bounding_box()
            output.click(position={"x": x * box["width"], "y": y * box["height"]})
        expect(page.locator("#plane-dataset")).to_have_value("own")
        expect(page.locator("#plane-own-count")).to_have_text("4 points of your own")
        # a regression on one input: the features follow, the status has no accuracy
        page.select_option("#plane-dataset", "sine")
        expect(page.locator("#plane-status")).not_to_contain_text("accuracy")
        assert page.locator("#plane-diagram canvas[data-layer='0']").count() == 1
        if size == "phone":
            assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"]
        assert problems == [], problems
        outside = [u for u in requests if not u.startswith(live_server.url) and not u.startswith(("data:", "blob:"))]
        assert outside == [], outside
    finally:
        context.close()
