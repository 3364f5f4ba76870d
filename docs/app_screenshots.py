"""Screenshots of the glassnet app for the README: one PNG per view in docs/app/.

Starts the app on a free loopback port (in this process, models in a temporary folder), drives it in
headless Chromium like a learner would (train a network, draw a 7, open a neuron, ...), and writes
docs/app/<view>.png, 1200 px wide. With Pillow installed the PNGs are reduced to 256 colours (a few
times smaller, no visible change for a page of flat colours). ``--views watch`` makes only the pictures
of watching it learn (the live filters and gallery, the diagnostics, an exploded loss), at desktop
width and on a 390 px phone: docs/app/watch-*.png; ``--views lab`` the descent lab's (docs/app/lab-*.png);
``--views train`` only the Train view's.

    python docs/app_screenshots.py [--out docs/app] [--chromium /usr/bin/chromium] [--views all|tour|train|watch|lab]

Needs the app and dev extras (fastapi, uvicorn, playwright) and a Chromium (Debian: apt install chromium).
"""

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

VIEWPORT = {"width": 1200, "height": 900}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MAX_HEIGHT = 1700          # a long page is cut here: the top of each view is what the README shows
WAIT_MS = 120_000
SEVEN = [[(0.22, 0.2), (0.78, 0.2), (0.62, 0.45), (0.5, 0.68), (0.44, 0.86)]]
ONE = [[(0.52, 0.14), (0.5, 0.4), (0.49, 0.66), (0.48, 0.88)]]
ZERO = [[(0.5, 0.15), (0.3, 0.25), (0.24, 0.5), (0.3, 0.75), (0.5, 0.86), (0.7, 0.75), (0.76, 0.5), (0.7, 0.25),
         (0.5, 0.15)]]


class Server:
    """The app under uvicorn on a free 127.0.0.1 port, in a thread."""

    def __init__(self, models_dir):
        import uvicorn

        from glassnet.app import AppConfig, create_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        app = create_app(AppConfig(models_dir=Path(models_dir)))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app server did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)
        self.sock.close()


def draw(page, canvas, strokes):
    box = page.locator(canvas).bounding_box()
    for stroke in strokes:
        points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=6)
        page.mouse.up()


def shot(page, out, name):
    """Close the corner messages, then save the view (cut at MAX_HEIGHT), reduced to 256 colours if possible."""
    for button in page.locator(".message-close").all():
        button.click()
    page.mouse.move(0, 0)
    height = min(MAX_HEIGHT, page.evaluate("document.documentElement.scrollHeight"))
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
    reduce(path)


def element_shot(page, selector, out, name):
    """One part of the page (``selector``), its corner messages closed, as docs/app/<name>.png."""
    page.evaluate("document.querySelectorAll('#messages .message').forEach((m) => m.remove())")
    page.mouse.move(0, 0)
    path = out / f"{name}.png"
    page.locator(selector).screenshot(path=str(path))
    reduce(path)


def reduce(path):
    """The PNG in 256 colours when Pillow is there (a few times smaller, the same to the eye)."""
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(path, optimize=True)
    print(f"{path}  {path.stat().st_size / 1024:.0f} KiB")


def run(page, url, out, train_only=False):
    expect = __import__("playwright.sync_api", fromlist=["expect"]).expect
    page.goto(f"{url}/#train", wait_until="load")
    expect(page.locator("#net-summary")).to_contain_text("network 784")

    # Train: the learning-rate finder on a new 784-128-64-10 network, then 5 epochs.
    page.fill("#net-layers", "128,64")
    page.click("#new-network")
    expect(page.locator("#net-summary")).to_contain_text("784–128–64–10")
    page.click("#lr-find")
    expect(page.locator("#lrf-card")).to_be_visible(timeout=WAIT_MS)
    page.fill("#train-lr", "0.05")
    page.fill("#train-epochs", "5")
    page.click("#train-start")
    expect(page.locator("#train-status")).to_contain_text("finished", timeout=WAIT_MS)
    expect(page.locator("#watch-card")).to_have_attribute("data-epoch", "5", timeout=WAIT_MS)
    shot(page, out, "train")
    if train_only:
        return

    # Draw: a 7, and one neuron of the first hidden layer opened.
    page.click("#tab-draw")
    draw(page, "#draw-canvas", SEVEN)
    expect(page.locator("#prediction")).to_have_text("7")
    page.click("[data-testid='neuron-1-12']")
    expect(page.locator("#neuron-weights canvas")).to_have_count(1)
    shot(page, out, "draw")

    # Inside: the same drawing, neuron 12 of layer 1, true label 7.
    page.click("#tab-inside")
    page.select_option("#inside-layer", "1")
    page.fill("#inside-neuron", "12")
    page.select_option("#inside-label", "7")
    page.click("#inside-run")
    expect(page.locator("[data-testid='inside-backward']")).to_be_visible()
    shot(page, out, "inside")

    # Evaluate: the confusion matrix with the 4s read as 9s, and the descent lab.
    page.click("#tab-evaluate")
    page.click("[data-testid='cell-4-9']")
    expect(page.locator("#cell-title")).to_contain_text("True 4, said 9")
    page.click("#mistakes-run")
    page.click("#descent-run")
    expect(page.locator("[data-testid='descent-fd']")).to_be_visible()
    shot(page, out, "evaluate")

    # My handwriting: three drawings, the steps of the last, one fine-tune.
    page.click("#tab-handwriting")
    for strokes, label in ((SEVEN, "7"), (ONE, "1"), (ZERO, "0")):
        draw(page, "#hw-canvas", strokes)
        page.select_option("#hw-label", label)
        page.click("#hw-add")
        expect(page.locator("#hw-steps")).to_contain_text(f"You said {label}")
    page.click("#hw-finetune")
    expect(page.locator("[data-testid='hw-finetune-table']")).to_be_visible(timeout=WAIT_MS)
    shot(page, out, "handwriting")

    # Time travel: back to epoch 1.
    page.click("#tab-timetravel")
    page.focus("#tt-slider")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tt-prediction")).to_have_attribute("data-epoch", "1")
    shot(page, out, "timetravel")
    page.click("#tt-latest")
    expect(page.locator("#view-banner")).to_be_hidden()

    # Models: save it.
    page.click("#tab-models")
    page.fill("#model-name", "digits-128-64")
    page.click("#model-save")
    expect(page.locator("#models-list tr[data-model='digits-128-64']")).to_be_visible()
    shot(page, out, "models")


def train(page, layers, epochs, lr, wait=True):
    """New network with ``layers``, then Start with ``epochs`` and ``lr`` (and wait for the end)."""
    expect = __import__("playwright.sync_api", fromlist=["expect"]).expect
    page.fill("#net-layers", layers)
    page.click("#new-network")
    expect(page.locator("#net-summary")).to_contain_text(f"784–{layers.replace(',', '–')}–10")
    page.fill("#train-lr", lr)
    page.fill("#train-epochs", str(epochs))
    page.click("#train-start")
    if wait:
        expect(page.locator("#train-status")).to_contain_text(re.compile("finished|failed"), timeout=WAIT_MS)


def run_watch(page, phone, url, out):
    """Watching it learn: the 1-neuron network's diagnosis, an exploded loss, the live grid and gallery."""
    expect = __import__("playwright.sync_api", fromlist=["expect"]).expect
    page.goto(f"{url}/#train", wait_until="load")
    expect(page.locator("#net-summary")).to_contain_text("network 784")
    train(page, "1", 2, "0.05")
    expect(page.locator("[data-testid='finding-loss_flat']")).to_be_visible()
    element_shot(page, "#watch-diagnostics", out, "watch-diagnostics")
    train(page, "32", 1, "100")
    expect(page.locator("#loss-chart .axis-label")).to_contain_text(["epoch", "loss (log scale)"])
    element_shot(page, "figure:has(#loss-chart)", out, "watch-exploded")
    refreshes = "Number(document.querySelector('#watch-card').dataset.refreshes || 0)"
    before = page.evaluate(f"() => {refreshes}")
    train(page, "128,64", 30, "0.05", wait=False)
    page.wait_for_function(f"() => {refreshes} >= {before + 2} && Number(document.querySelector('#watch-card')"
                           ".dataset.epoch) >= 4 && document.querySelector('#train-status').textContent"
                           ".startsWith('running')", timeout=WAIT_MS)
    element_shot(page, "#watch-card", out, "watch-live")
    page.click("#train-stop")
    expect(page.locator("#train-status")).to_contain_text("stopped", timeout=WAIT_MS)

    phone.goto(f"{url}/#train", wait_until="load")
    expect(phone.locator("#net-summary")).to_contain_text("784")
    train(phone, "32", 3, "0.05")
    expect(phone.locator("#watch-gallery figure")).to_have_count(24)
    element_shot(phone, "#watch-card", out, "watch-phone")


def run_lab(page, url, out):
    """The descent lab (Evaluate) on a network trained 2 epochs, one weight and all weights downhill, at
    desktop width: docs/app/lab-*.png (on a phone the lab is a long column; its test checks it there)."""
    expect = __import__("playwright.sync_api", fromlist=["expect"]).expect
    page.goto(f"{url}/#train", wait_until="load")
    expect(page.locator("#net-summary")).to_contain_text("network 784")
    train(page, "64", 2, "0.05")
    page.click("#tab-evaluate")
    for space in ("weight", "gradient"):
        page.select_option("#descent-space", space)
        page.click("#descent-run")
        expect(page.locator("[data-testid='descent-verdicts'] li")).to_have_count(3, timeout=WAIT_MS)
        element_shot(page, ".card:has(#descent-panels)", out, f"lab-{space}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "app")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium to drive")
    parser.add_argument("--views", choices=["all", "tour", "train", "watch", "lab"], default="all",
                        help="the tour of every view, its Train picture only, the pictures of watching it "
                             "learn, the descent lab's, or all of them (default)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    problems = []
    with tempfile.TemporaryDirectory() as models, Server(models) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            pages = []
            for viewport, mobile in ((VIEWPORT, False), (PHONE, True)):
                context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                              device_scale_factor=2 if mobile else 1)
                page = context.new_page()
                page.set_default_timeout(30_000)
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                pages.append(page)
            if args.views in ("all", "tour", "train"):
                run(pages[0], server.url, args.out, train_only=args.views == "train")
            if args.views in ("all", "watch"):
                run_watch(*pages, server.url, args.out)
            if args.views in ("all", "lab"):
                run_lab(pages[0], server.url, args.out)
        finally:
            browser.close()
    if problems:
        print("the page reported errors:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
