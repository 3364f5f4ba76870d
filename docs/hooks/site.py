"""MkDocs hooks that build glassnet's site from what the repository already has, so nothing is written twice.

- The course: each ``course/NN-*.ipynb`` becomes ``course/NN-*.md`` from its committed outputs (the
  notebooks are executed when they are written and in the tests, never while the site builds, so
  ``make docs`` is offline and takes seconds): markdown cells as they are, code as Python blocks, and
  the outputs as a notebook shows them (HTML views, PNG pictures, text).
- The guides: a line ``<!-- readme: Heading -->`` is replaced by that section of README.md (links to
  files outside the site point at the repository; the app's screenshots are the site's own copies).
- The CLI reference: ``glassnet --help`` and every command's ``--help``, from the parser itself.
- The API reference: one page per public module, rendered by mkdocstrings from the docstrings.

Not here: the pages' own words (``docs/*.md``) or the site's settings (``mkdocs.yml``).
"""

import argparse
import base64
import inspect
import json
import os
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

import glassnet
from glassnet.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"
REPOSITORY = "https://github.com/glassnet/glassnet/blob/main/"

#: The API reference: (page, title, modules on it).
API = [
    ("network", "Network, layers and training", ["glassnet.network", "glassnet.layers", "glassnet.training",
                                                 "glassnet.callbacks", "glassnet.history"]),
    ("maths", "Activations, losses, optimizers, schedules, initializers",
     ["glassnet.activations", "glassnet.losses", "glassnet.optimizers", "glassnet.schedules",
      "glassnet.initializers"]),
    ("data", "Datasets, preprocessing and metrics", ["glassnet.datasets", "glassnet.preprocess", "glassnet.metrics"]),
    ("explain", "Explainers and checks", ["glassnet.explain", "glassnet.gradcheck", "glassnet.descent",
                                          "glassnet.lr_finder", "glassnet.diagnostics"]),
    ("pictures", "Pictures, notebooks and reports", ["glassnet.plots", "glassnet.notebook", "glassnet.views",
                                                     "glassnet.report"]),
    ("files", "Saving, loading and export", ["glassnet.serialization", "glassnet.modelfile", "glassnet.export",
                                             "glassnet.sklearn"]),
    ("errors", "Errors", ["glassnet.errors"]),
]


# -- the course ---------------------------------------------------------------------------------
def _text(value):
    return "".join(value) if isinstance(value, list) else value


def _fence(text, language=""):
    text = _text(text).rstrip("\n")
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text}\n{ticks}"


def _output(out):
    """One cell output as markdown (raw HTML for rich views), or None for nothing to show."""
    kind = out["output_type"]
    if kind == "stream":
        return _fence(out["text"], "text")
    if kind == "error":
        raise PluginError(f"a course notebook holds an error output ({out['ename']}); run it again")
    data = out.get("data", {})
    if "text/html" in data:
        return f'<div class="nb-output">\n{_text(data["text/html"]).strip()}\n</div>'
    if "image/png" in data:
        png = _text(data["image/png"]).replace("\n", "")
        base64.b64decode(png, validate=True)
        return f'<div class="nb-output"><img alt="output picture" src="data:image/png;base64,{png}"></div>'
    if "text/plain" in data:
        return _fence(data["text/plain"], "text")
    return None


def notebook_markdown(path):
    """A course notebook as a page: its cells and their committed outputs, and where to get it."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for k, cell in enumerate(nb["cells"]):
        source = _text(cell["source"])
        if cell["cell_type"] == "markdown":
            parts.append(source)
            if k == 0:
                parts.append(f"*Run it yourself: [`course/{path.name}`]({REPOSITORY}course/{path.name}) "
                             "(`pip install \"glassnet[notebook]\"`, then open it in Jupyter or VS Code).*")
        elif cell["cell_type"] == "code":
            parts.append(_fence(source, "python"))
            parts += [shown for shown in map(_output, cell.get("outputs", [])) if shown]
    return "\n\n".join(parts) + "\n"


# -- README sections ----------------------------------------------------------------------------
def readme_section(heading, readme=None):
    """The section of README.md under ``heading`` (to the next heading of its level or above)."""
    lines = (readme or (ROOT / "README.md").read_text(encoding="utf-8")).splitlines()
    fenced, start, level = False, None, None
    for k, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#+) (.*)$", line)
        if match is None:
            continue
        if start is None and match.group(2).strip() == heading:
            start, level = k, len(match.group(1))
        elif start is not None and len(match.group(1)) <= level:
            return "\n".join(lines[start:k])
    if start is None:
        raise PluginError(f"README.md has no section {heading!r} (docs/ asks for it with <!-- readme: ... -->)")
    return "\n".join(lines[start:])


def site_target(target, depth):
    """Where a README link or picture points from a page ``depth`` folders down in the site: the site's own
    copy of ``docs/...`` (also for the repository's absolute URLs of it), the repository for other files."""
    if target.startswith("#"):
        return target
    local = re.match(r"^https://(?:raw\.githubusercontent\.com/glassnet/glassnet/[^/]+|"
                     r"github\.com/glassnet/glassnet/(?:blob|raw)/[^/]+)/docs/(.*)$", target)
    if local:
        return "../" * depth + local.group(1)
    if re.match(r"^[a-z]+:", target):
        return target
    return "../" * depth + target[5:] if target.startswith("docs/") else REPOSITORY + target


def include_readme(markdown, page_path):
    depth = page_path.count("/")

    def section(match):
        text = readme_section(match.group(1).strip())
        text = re.sub(r"(!?\[[^\]]*\])\(([^)\s]+)\)", lambda m: f"{m.group(1)}({site_target(m.group(2), depth)})",
                      text)
        return re.sub(r'(<(?:img|a)\b[^>]*?\b(?:src|href)=")([^"]+)"',
                      lambda m: f'{m.group(1)}{site_target(m.group(2), depth)}"', text)

    return re.sub(r"<!--\s*readme:\s*(.*?)\s*-->", section, markdown)


# -- the CLI and the API -------------------------------------------------------------------------
def cli_markdown():
    """Every command's ``--help``, as the parser prints it (100 columns)."""
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    parts = ["# Command-line reference", "", "`glassnet` (installed with the package) runs the library from a "
             "shell. Each command's `--help`, exactly as it prints it:", "", "## glassnet", "",
             _fence(parser.format_help(), "text")]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        parts += ["", f"## glassnet {name}", "", _fence(sub.format_help(), "text")]
    return "\n".join(parts) + "\n"


def api_markdown(title, modules):
    parts = [f"# {title}", ""]
    for module in modules:
        parts += [f"::: {module}", "    options:", "      show_submodules: true" if module in (
            "glassnet.explain", "glassnet.datasets", "glassnet.export") else "      show_submodules: false", ""]
    return "\n".join(parts)


def _documented_as(name):
    """The identifier mkdocstrings gives the public name ``glassnet.<name>`` (where it is defined)."""
    obj = getattr(glassnet, name)
    if inspect.ismodule(obj):
        return obj.__name__
    return f"{obj.__module__}.{obj.__qualname__}" if hasattr(obj, "__qualname__") else f"glassnet.{name}"


def api_index_markdown():
    """Every public name of ``glassnet`` (its ``__all__``), each linked to where it is documented."""
    pages = {module: page for page, _, modules in API for module in modules}
    parts = ["# API reference", "", "Generated from the docstrings. Every name `import glassnet as gn` "
             "offers, and the page that documents it:", "", "| name | documented as |", "| --- | --- |"]
    for name in sorted(glassnet.__all__, key=str.lower):
        if name.startswith("__"):
            continue
        target = _documented_as(name)
        parts.append(f"| `gn.{name}` | [`{target}`][{target}] |")
    parts += ["", "The pages: " + ", ".join(f"[{title}]({page}.md)" for page, title, _ in API) + "."]
    del pages
    return "\n".join(parts) + "\n"


def on_files(files, config):
    files.append(File.generated(config, "api/index.md", content=api_index_markdown()))
    for path in sorted(COURSE.glob("[0-9][0-9]-*.ipynb")):
        files.append(File.generated(config, f"course/{path.stem}.md", content=notebook_markdown(path)))
    files.append(File.generated(config, "cli.md", content=cli_markdown()))
    for page, title, modules in API:
        files.append(File.generated(config, f"api/{page}.md", content=api_markdown(title, modules)))
    return files


def on_page_markdown(markdown, page, config, files):
    return include_readme(markdown, page.file.src_uri)


__all__ = ["API", "api_markdown", "cli_markdown", "notebook_markdown", "readme_section", "site_target"]
