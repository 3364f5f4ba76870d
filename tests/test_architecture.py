"""The house rules of DEVELOPERS.md, checked on the source itself (with ``ast``, nothing imported).

- no import cycle between glassnet's modules (counting imports inside functions too);
- no module imports another module's private (``_name``) names;
- imports of glassnet modules inside functions only for modules that need an optional extra
  (matplotlib, torch, onnx, the app's FastAPI, scikit-learn): importing them at the top would
  make ``import glassnet`` need that extra;
- no function over 80 lines; no module over 600 lines unless its docstring says why
  (a line starting ``Size:``).
"""

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "glassnet"

#: Modules that need an optional extra: other modules may import them inside a function, on demand.
NEEDS_AN_EXTRA = {
    "glassnet.sklearn", "glassnet.export.onnx", "glassnet.export.torch",
    "glassnet.app", "glassnet.app.server",
}
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _modules():
    """``{dotted name: (path, package parts, tree)}`` for every module of glassnet."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        package = parts[:-1]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = (path, package, ast.parse(path.read_text(encoding="utf-8")))
    return found


MODULES = _modules()


def _resolve(name):
    """The glassnet module a dotted name refers to (``glassnet.network.Network`` -> ``glassnet.network``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(tree, package):
    """``(node, imported module, imported names, inside a function)`` for each import of a glassnet module."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "glassnet":
                    yield node, _resolve(alias.name), [], id(node) in inside
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "glassnet":
                continue
            for alias in node.names:
                target = _resolve(f"{module}.{alias.name}")
                names = [] if target == f"{module}.{alias.name}" else [alias.name]
                yield node, target, names, id(node) in inside


def _graph():
    edges = defaultdict(set)
    for name, (_, package, tree) in MODULES.items():
        for _, target, _, _ in _imports(tree, package):
            if target and target != name:
                edges[name].add(target)     # to a package: its __init__ (a cycle if that imports this module back)
    return edges


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(MODULES) | set(edges)):
        if v not in index:
            visit(v)
    return found


def test_there_is_no_import_cycle_between_glassnet_modules():
    cycles = _cycles(_graph())
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_names():
    # ``from ._validation import check_X`` (public names of a package's private helper module) is fine;
    # ``from .network import _short`` or ``from . import _io`` reaches for something private.
    private = [f"{path.relative_to(SRC)}:{node.lineno} from {node.module or '.'} import {alias.name}"
               for path, _, tree in MODULES.values() for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) for alias in node.names
               if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not private, "\n".join(private)


def test_glassnet_modules_are_imported_inside_functions_only_when_they_need_an_extra():
    hidden = [f"{path.relative_to(SRC)}:{node.lineno} imports {target} inside a function"
              for name, (path, package, tree) in MODULES.items()
              for node, target, _, inner in _imports(tree, package)
              if inner and target not in NEEDS_AN_EXTRA]
    assert not hidden, "\n".join(hidden)


def test_no_function_is_longer_than_80_lines():
    long = [f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for path, _, tree in MODULES.values() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, "\n".join(long)


def test_a_module_over_600_lines_says_why_at_its_top():
    unexplained = []
    for path, _, tree in MODULES.values():
        lines = path.read_text(encoding="utf-8").count("\n")
        doc = ast.get_docstring(tree) or ""
        if lines > MAX_MODULE_LINES and not any(line.startswith("Size:") for line in doc.splitlines()):
            unexplained.append(f"{path.relative_to(SRC)} ({lines} lines)")
    assert not unexplained, "\n".join(unexplained)


def test_the_checks_see_what_they_look_for():
    """The rules above would catch a cycle, a private import and a hidden import (they cannot pass vacuously)."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    tree = ast.parse("def f():\n    from .network import _x\n")
    [(node, target, names, inner)] = list(_imports(tree, ["glassnet"]))
    assert (target, names, inner) == ("glassnet.network", ["_x"], True)
    assert len(MODULES) > 40 and "glassnet.network" in MODULES
