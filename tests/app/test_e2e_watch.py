"""Watching it learn, in a real headless Chromium: the live first-layer grid and test gallery while it
trains, the diagnostics' sentences (a 1-neuron network), a loss chart that stays readable when the loss
explodes, the form's own messages for impossible settings, a loaded model whose numbers agree across
the views (checked against the library's), and no page wider than a 390 px phone.

Uses the fixtures and the ``Watched`` page of test_e2e.py (fails on any console error or failed request).
"""

import re

import numpy as np
import pytest

import glassnet as gn
from app.test_e2e import WAIT_MS, Watched, train
from glassnet import serialization

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TABS = ["train", "draw", "inside", "evaluate", "handwriting", "timetravel", "models", "plane"]


@pytest.fixture
def desktop(browser, live_server):  # noqa: F811
    w = Watched(browser, live_server.url, viewport=DESKTOP)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def phone(browser, live_server):  # noqa: F811
    w = Watched(browser, live_server.url, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        yield w
    finally:
        w.close()


def watch_state(w):
    """(refreshes of the watch card, the first filter's pixels, the gallery's captions, the status line)."""
    return w.page.evaluate("""() => {
        const c = document.querySelector('#watch-filters canvas');
        return [Number(document.querySelector('#watch-card').dataset.refreshes || 0), c ? c.toDataURL() : '',
                [...document.querySelectorAll('#watch-gallery figcaption')].map((f) => f.textContent).join('|'),
                document.querySelector('#train-status').textContent];
    }""")


def test_watching_it_learn(desktop, artifacts):
    w = desktop
    w.open("train")
    # a 1-neuron network sits at chance: a sentence says why, and what to change
    train(w, "1", 1)
    finding = w.page.locator("[data-testid='finding-loss_flat']")
    w.expect(finding).to_contain_text("hidden 1 has only 1 neuron to carry everything the 10 outputs need")
    w.expect(finding.locator(".fix")).to_contain_text("Try this: Widen hidden 1 (Hidden layers: 32 or more neurons)")
    w.expect("#watch-filters canvas").to_have_count(1)

    # the filters and the gallery change while it trains, before the run ends
    w.page.fill("#net-layers", "32")
    w.page.click("#new-network")
    w.expect("#net-summary").to_contain_text("784–32–10")
    w.expect("#watch-diagnostics").not_to_contain_text("⚠")
    w.page.fill("#train-epochs", "40")
    w.page.click("#train-start")
    seen = []
    for _ in range(400):
        refreshes, pixels, captions, status = watch_state(w)
        if status.startswith("running") and refreshes and (not seen or seen[-1][0] != refreshes):
            seen.append((refreshes, pixels, captions))
        if len(seen) >= 3:
            break
        w.page.wait_for_timeout(100)
    assert len(seen) >= 3, seen
    assert len({pixels for _, pixels, _ in seen}) >= 2                # the weights' pictures moved
    w.page.click("#train-stop")
    w.expect("#train-status").to_contain_text("stopped", timeout=WAIT_MS)
    w.expect("#watch-filters canvas").to_have_count(32)
    w.expect("#watch-gallery figure").to_have_count(24)
    w.page.wait_for_function("""() => document.querySelector('#watch-gallery-caption').textContent.startsWith(
        `${document.querySelectorAll('#watch-gallery figure.right').length} of 24 right`)""")
    # Time travel names a mid-epoch stop in words, never "epoch 10.563 of 10.563"
    w.tab("timetravel")
    w.expect("#tt-epoch").to_contain_text("snapshot")
    for text in (w.page.text_content("#tt-epoch"), w.page.text_content("#tt-loss-chart .marker-label")):
        assert not re.search(r"\d\.\d", text), text
    w.tab("train")

    # impossible settings: a sentence in the page (the browser's bubble is not the only word)
    for field, value, words in (("#train-epochs", "0", "Epochs: expected a whole number of 1 or more"),
                                ("#train-batch", "0", "Batch size: expected a whole number of 1 or more"),
                                ("#train-lr", "-1", "Learning rate: expected a number above 0")):
        w.page.fill(field, value)
        w.page.click("#train-start")
        w.expect("#messages").to_contain_text(words)
        w.expect(field).to_have_attribute("aria-invalid", "true")
        w.page.fill(field, {"#train-epochs": "1", "#train-batch": "64", "#train-lr": "0.05"}[field])

    # another form (My handwriting's fine-tune): the browser's refusal is said in the page too
    w.tab("handwriting")
    w.page.fill("#hw-epochs", "0")
    w.page.click("#hw-finetune")
    w.expect("#messages").to_contain_text('Epochs: expected a whole number of 1 or more; received "0".')
    w.page.fill("#hw-epochs", "3")
    w.tab("train")

    # lr = 100: the loss explodes; the chart turns logarithmic with short labels and still draws the curve
    train(w, "32", 1, lr="100")
    w.expect("#loss-chart .axis-label").to_contain_text(["epoch", "loss (log scale)"])
    ticks = w.page.locator("#loss-chart text.y-tick").all_text_contents()
    assert len(ticks) >= 2 and all(re.fullmatch(r"1e\d+|\d+(\.\d+)?", t) and len(t) <= 5 for t in ticks), ticks
    assert int(w.page.get_attribute("#loss-chart path[data-series='batch-loss']", "data-count")) >= 5
    w.expect("#loss-chart g[data-dots='train-loss'] circle").to_have_count(1)
    w.expect("#loss-chart .corner-note").to_contain_text("highest")
    w.expect("[data-testid='finding-loss_exploding']").to_contain_text("times what an untrained network scores")
    w.expect("[data-testid='finding-loss_exploding'] .fix").to_contain_text("Find a learning rate")
    w.shot(artifacts, "watch-exploded")
    w.assert_clean()


def test_a_loaded_model_on_a_phone(phone, tmp_path):
    """A model trained by the library: its numbers agree in every view, and no page is wider than the phone."""
    data = gn.datasets.load_digits()
    net = gn.Network.mlp([784, 32, 10], seed=0)
    history = net.fit(data.X_train, data.y_train, epochs=3, batch_size=64, optimizer=gn.SGD(lr=0.05, momentum=0.9),
                      seed=0)
    serialization.save(net, tmp_path / "models" / "lib-model", metadata={"dataset": "digits"})
    loss, accuracy = net.evaluate(data.X_test, data.y_test)
    w = phone
    w.open("models")
    w.page.click("[data-testid='model-load-lib-model']")
    w.expect("#net-summary").to_contain_text("784–32–10")
    w.tab("train")
    w.expect("#train-status").to_contain_text("idle · trained 3 epochs before it was loaded")
    w.expect("#big-epoch").to_have_text("3")
    last = history.epochs[-1]
    w.expect("#big-loss").to_have_text(f"{float(np.float64(last['loss'])):.3g}")
    w.expect(w.page.locator("#big-loss").locator("xpath=..").locator(".label")).to_have_text("training loss · epoch 3")
    w.expect("#big-test-acc").to_have_text(f"{100 * accuracy:.2f}%")
    w.expect("#loss-chart g[data-dots='train-loss'] circle").to_have_count(3)
    w.tab("evaluate")
    w.expect("#eval-accuracy").to_have_text(f"{100 * accuracy:.2f}%")
    w.expect("[data-testid='confusion'] [data-testid='scroll-hint']").to_be_visible()   # it says that it scrolls
    w.tab("timetravel")
    w.expect("#tt-epoch").to_contain_text("as loaded, after epoch 3 (trained before it was loaded")
    # training it further goes on from epoch 4 (not from 1 again)
    w.tab("train")
    w.page.fill("#train-epochs", "1")
    w.page.click("#train-start")
    w.expect("#train-status").to_contain_text("finished", timeout=WAIT_MS)
    w.expect("#epoch-table tbody tr").to_have_count(4)
    w.expect("#epoch-table tbody tr[data-epoch='4']").to_be_visible()
    w.expect("#big-epoch").to_have_text("4")
    w.tab("timetravel")
    w.expect("#tt-epoch").to_contain_text("epoch 4 of 4 (snapshot 2 of 2)")
    for tab in TABS:
        w.tab(tab)
        w.page.wait_for_timeout(300)
        wide = w.page.evaluate("""() => {
            const width = document.documentElement.clientWidth;
            const over = [...document.querySelectorAll('body *')]
                .filter((e) => e.getBoundingClientRect().right > width + 0.5 && e.offsetParent !== null)
                .map((e) => `${e.tagName}#${e.id}.${e.className}`).slice(0, 6);
            return [document.documentElement.scrollWidth, width, over];
        }""")
        assert wide[0] <= wide[1], (tab, wide)
    w.assert_clean()
