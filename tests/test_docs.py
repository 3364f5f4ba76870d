"""The documentation site: ``mkdocs build --strict`` (no broken link, no missing reference) builds it
offline, the API reference lists every public name of ``glassnet`` and documents each, and its pages
open from disk in Chromium with no console error and no request that fails.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from optional import CHROMIUM_ARGS, chromium, need

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["index.html", "getting-started.html", "course/index.html", "course/05-feed-forward.html",
         "course/11-what-the-network-learned.html", "guides/app.html", "guides/explainers.html", "cli.html",
         "api/index.html", "api/network.html"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    need("mkdocs"), need("mkdocstrings"), need("material"), need("nbformat")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_site_builds_strictly_with_every_page(site):
    for page in PAGES:
        assert (site / page).is_file(), page
    chapters = sorted(p.name for p in (site / "course").glob("[0-9][0-9]-*.html"))
    assert len(chapters) == 12
    page = (site / "course/05-feed-forward.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "glassnet-view" in page          # pictures and views, as run


def test_the_api_reference_lists_and_documents_every_public_name(site):
    import glassnet

    index = (site / "api/index.html").read_text(encoding="utf-8")
    documented = "".join(p.read_text(encoding="utf-8") for p in (site / "api").glob("*.html"))
    ids = set(re.findall(r'id="(glassnet\.[\w.]+)"', documented))
    for name in (n for n in glassnet.__all__ if not n.startswith("__")):
        assert f"<code>gn.{name}</code>" in index, name
        target = re.search(rf"<code>gn\.{re.escape(name)}</code></td>\s*<td><a [^>]*href=\"[^\"#]*#([\w.]+)\"", index)
        assert target and target.group(1) in ids, name


def test_the_pages_open_from_disk_without_a_console_error(site):
    sync_api, executable = chromium()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in (
                "error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:120]}"))
            for name in PAGES:
                page.goto((site / name).as_uri(), timeout=30_000)
                page.wait_for_load_state("load", timeout=30_000)
                page.wait_for_timeout(300)                   # scripts that fetch after load would fail by now
                assert page.title(), name
            assert errors == []
        finally:
            browser.close()


def test_readme_links_point_at_the_sites_copies_or_the_repository():
    need("mkdocs")
    import importlib.util

    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "hooks" / "site.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    assert hooks.site_target("docs/app/train.png", 1) == "../app/train.png"
    assert hooks.site_target("https://raw.githubusercontent.com/glassnet/glassnet/main/docs/app/draw.png", 1) == \
        "../app/draw.png"
    assert hooks.site_target("benchmarks/results.md", 1) == hooks.REPOSITORY + "benchmarks/results.md"
    assert hooks.site_target("https://numpy.org", 1) == "https://numpy.org"
    page = hooks.include_readme('x\n<!-- readme: The two commands -->\n', "guides/x.md")
    assert page.startswith("x\n## The two commands") and "make demo" in page
    with pytest.raises(hooks.PluginError, match="no section 'Nothing like this'"):
        hooks.readme_section("Nothing like this")
