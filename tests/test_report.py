"""The HTML report: one self-contained file that opens in headless Chromium with nothing fetched and no error."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet.cli import main
from glassnet.datasets import Dataset
from glassnet.report import build_report, initial_weights
from optional import CHROMIUM_ARGS, chromium, need

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"   # kept by CI (gitignored)


def small_digits(digits):
    """Every 8th training and every 4th test digit: all ten classes, a fraction of the time."""
    return Dataset(digits.X_train[::8], digits.y_train[::8], digits.X_test[::4], digits.y_test[::4],
                   classes=digits.classes, shape=digits.shape, name="digits (subset)")


@pytest.fixture(scope="module")
def report(digits, tmp_path_factory):
    """A report on a tiny network trained two epochs, with the lr-finder picture, written once."""
    need("matplotlib")
    from glassnet.lr_finder import lr_find

    data = small_digits(digits)
    net = gn.Network.mlp([784, 24, 12, 10], seed=5)
    finder = lr_find(net, data.X_train, data.y_train, steps=30, batch_size=32)
    net.fit(data.X_train, data.y_train, epochs=2, batch_size=32, optimizer=gn.SGD(0.05, momentum=0.9),
            validation_data=(data.X_test, data.y_test), seed=0)
    path = build_report(net, data, path=tmp_path_factory.mktemp("report") / "report.html", seed=5,
                        lr_find=finder, explained=2, settings={"layers": [24, 12], "seed": 5})
    return path, net, data


def test_report_is_one_self_contained_file(report):
    path, net, data = report
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert re.findall(r"https?://[^\s\"'<>]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg")
    sources = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(sources) >= 10 and all(s.startswith("data:image/png;base64,") for s in sources)
    for heading in ("The network", "Training", "Results on the test set", "Inside the network",
                    "Weights now against at initialisation", "Choosing the step", "The direction and the step",
                    "One step of learning", "The loss along one weight", "Predictions explained"):
        assert f">{heading}" in page, heading
    accuracy = net.evaluate(data.X_test, data.y_test).accuracy
    assert f"{100 * accuracy:.2f}%" in page
    assert page.count('class="explained"') == 2
    assert "wrong</span>" in page                            # at least one explained mistake
    assert "The prediction neuron by neuron" in page and "pushed up + pushed down + b = z" in page
    assert "backpropagation says" in page                    # the finite-difference check, in words


def test_report_numbers_come_from_the_network(report):
    path, net, data = report
    page = path.read_text(encoding="utf-8")
    C = np.zeros((10, 10), dtype=int)
    np.add.at(C, (data.y_test, net.predict(data.X_test)), 1)
    for k in range(10):                                     # the per-class table: examples and right answers
        assert f"<td>{k}</td><td>{C[k].sum():,}</td><td>{C[k, k]:,}</td>" in page
    assert f"Total parameters: <b>{net.n_params:,}</b>" in page
    for record in net.history_.epochs:
        assert f"{record['loss']:.4f}" in page


def test_report_shows_the_descent_labs_numbers(report):
    """The descent lab in the report is the library's, on the report's 100 test examples: the same rates and
    verdicts as descend_weight and descend_gradient give (and so as the app and the CLI's report)."""
    import html

    from glassnet.descent import descend_gradient, descend_weight
    from glassnet.report import DESCENT_EXAMPLES

    path, net, data = report
    page = path.read_text(encoding="utf-8")
    some = np.linspace(0, len(data.X_test) - 1, DESCENT_EXAMPLES).round().astype(int)
    X, y = data.X_test[some], data.y_test[some]
    for result in (descend_weight(net, X, y, steps=10), descend_gradient(net, X, y, steps=10)):
        assert result["labels_hold"], result["note"]
        for p in result["paths"]:
            row = f"<td>{p['label']}</td><td>{p['lr']:.3g}</td><td class=\"l\">{html.escape(p['verdict'])}</td>"
            assert row in page
    assert ">The direction training takes: all the weights, downhill" in page
    assert "pass lrs" not in page and "1 times" not in page


def test_report_opens_in_headless_chromium(report):
    sync_api, executable = chromium()
    path, _, _ = report
    url = path.resolve().as_uri()
    requests, failed, errors = [], [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url, wait_until="load", timeout=30_000)
            images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
            svgs = page.evaluate("document.querySelectorAll('svg circle').length")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert failed == [] and errors == []
    assert [r for r in requests if r != url and not r.startswith("data:")] == []
    assert len(images) >= 10
    assert all(complete and width > 0 for _, complete, width in images), [i for i in images if not i[2]]
    assert svgs > 0


def test_initial_weights_replay_the_seed():
    for kwargs in ({}, {"activation": "tanh", "dropout": 0.3}):
        start = gn.Network.mlp([6, 5, 4, 3], seed=11, **kwargs)
        trained = start.copy()
        trained.fit(np.random.default_rng(0).random((20, 6)), np.arange(20) % 3, epochs=2, seed=0)
        rebuilt = initial_weights(trained, 11)
        assert set(rebuilt) == set(start.get_weights())
        for name, value in start.get_weights().items():
            np.testing.assert_array_equal(rebuilt[name], value)
        assert not np.array_equal(rebuilt["0.weights"], trained.get_weights()["0.weights"])
    custom = gn.Network([gn.Dense(3, 2, init=lambda shape, rng, dtype: np.ones(shape, dtype))])
    with pytest.raises(ValueError, match="custom function"):
        initial_weights(custom, 0)


def test_report_without_history_or_seed(digits, tmp_path):
    need("matplotlib")
    data = small_digits(digits)
    net = gn.Network.mlp([784, 8, 10], seed=0)
    path = build_report(net, data, path=tmp_path / "untrained.html", explained=0, descent=False)
    page = path.read_text(encoding="utf-8")
    assert "No training history was recorded" in page
    assert "initial weights are unknown" in page
    with pytest.raises(ValueError, match=r"ending in \.html"):
        build_report(net, data, path=tmp_path / "report.pdf")
    with pytest.raises(TypeError, match="Dataset"):
        build_report(net, (data.X_test, data.y_test), path=tmp_path / "r.html")
    with pytest.raises(ValueError, match="784"):
        build_report(gn.Network.mlp([10, 3], seed=0), data, path=tmp_path / "r.html")
    assert not (tmp_path / "report.pdf").exists() and not (tmp_path / "r.html").exists()


@pytest.fixture
def quick_reports(monkeypatch):
    """The commands' reports without the descent lab and with one explained prediction: the same code
    path, fewer pictures (the full report is checked above)."""
    import glassnet.report as report_module

    real = report_module.build_report

    def quick(*args, **kwargs):
        return real(*args, **{**kwargs, "descent": False, "explained": 0})

    monkeypatch.setattr(report_module, "build_report", quick)


def test_glassnet_report_and_train_report(tmp_path, capsys, quick_reports):
    need("matplotlib")
    code = main(["train", "--layers", "8", "--epochs", "1", "--out", str(tmp_path / "run"), "--report", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    html_path = tmp_path / "run" / "report.html"
    assert result["html_report_path"] == str(html_path) and html_path.is_file()
    assert (tmp_path / "run" / "report.md").is_file()
    assert "Weights now against at initialisation" in html_path.read_text(encoding="utf-8")

    html_path.unlink()
    assert main(["report", str(tmp_path / "run" / "model")]) == 0              # by default, beside the model
    assert capsys.readouterr().out.strip() == f"report: {html_path}"
    page = html_path.read_text(encoding="utf-8")
    assert 'alt="loss and accuracy per epoch"' in page              # the saved history gives the curves
    assert "initial weights are unknown" not in page                # the seed came from the saved settings


def test_glassnet_report_errors(tmp_path, capsys):
    need("matplotlib")
    gn.Network.mlp([10, 4, 3], seed=0).save(tmp_path / "small")
    assert main(["report", str(tmp_path / "small"), "-o", str(tmp_path / "r.html")]) == 2
    assert "expects 10 inputs" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing"), "--json"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "small"), "--explained", "-1"]) == 2
    assert "--explained" in capsys.readouterr().err
    # a wrong output name is refused first, in the option's own words, before the model is even read
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.txt")]) == 2
    err = capsys.readouterr().err
    assert err == f"glassnet: error: -o expected a file name ending in .html, received '{tmp_path / 'r.txt'}'\n"
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "r.html").exists()


def test_glassnet_report_json_and_output_path(digits, tmp_path, capsys, quick_reports):
    need("matplotlib")
    net = gn.Network.mlp([784, 6, 10], seed=3)
    net.save(tmp_path / "model", metadata={"settings": {"dataset": "digits", "seed": 3}})
    assert main(["report", str(tmp_path / "model"), "-o", str(tmp_path / "out" / "r.html"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["report_path"] == str(tmp_path / "out" / "r.html") and (tmp_path / "out" / "r.html").is_file()
    assert result["dataset"] == "digits"
    assert result["test_accuracy"] == net.evaluate(digits.X_test, digits.y_test).accuracy


def test_report_on_a_table_of_numbers(blobs, tmp_path):
    need("matplotlib")
    X, y = blobs
    data = Dataset(X[:200], y[:200], X[200:], y[200:], classes=["a", "b", "c"], shape=(5,), name="blobs")
    net = gn.Network.mlp([5, 8, 3], seed=0)
    net.fit(data.X_train, data.y_train, epochs=2, seed=0)
    net.layers[0].biases[:6] = -1e3                   # 6 of the 8 hidden neurons can no longer fire
    page = build_report(net, data, path=tmp_path / "blobs.html", seed=0, explained=1, descent=False).read_text()
    assert '<div class="finding"><b>dead neurons</b>' in page and "<b>Fix:</b>" in page
    assert "What each first-layer neuron looks for" not in page       # 5 numbers are not a picture
    assert "most confident mistakes" not in page
    assert page.count('class="explained"') == 1 and "Why " in page
