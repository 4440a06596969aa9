"""Architecture: where streamlit, torch and numpy may be imported, function length, layering."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "dense_attention"
MAX_FUNCTION_LINES = 60  # def line to last line, inclusive
# The app layer, the only code that may import streamlit.
UI_PATHS = ("app.py", "views/", f"{PACKAGE}/ui/")
# Breaches allowed for now, each with who removes it; the test fails once one is gone, so that
# its entry is deleted too. Empty: keep it so.
KNOWN_BREACHES: dict[str, str] = {}

Checker = Callable[[str, str], list[str]]


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import, relative ones as `.name`; function bodies included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.append((node.lineno, module))
            if module in (".", PACKAGE):  # from . import data: the module data
                found += [(node.lineno, f"{module.rstrip('.')}.{a.name}") for a in node.names]
    return found


def _top(module: str) -> str:
    """The top-level package an import names ("." for a relative one)."""
    return "." if module.startswith(".") else module.split(".")[0]


def _package_module(module: str) -> str | None:
    """`data` for `.data`, `dense_attention.data` or `dense_attention.data.x`; else None."""
    if module.startswith(".") and module.strip("."):
        return module.strip(".").split(".")[0]
    if module.startswith(f"{PACKAGE}.") or module == PACKAGE:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else None
    return None


def streamlit_breaches(path: str, source: str) -> list[str]:
    """streamlit imported outside the app layer (UI_PATHS)."""
    if path.startswith(UI_PATHS):
        return []
    tree = ast.parse(source)
    return [
        f"{path}:{line}: imports streamlit outside app.py, views/ and {PACKAGE}/ui/"
        for line, module in _imports(tree)
        if _top(module) == "streamlit"
    ]


def views_numeric_breaches(path: str, source: str) -> list[str]:
    """torch or numpy in a page: its maths belongs in the library."""
    if not path.startswith("views/"):
        return []
    return [
        f"{path}:{line}: views/ imports {_top(module)}"
        for line, module in _imports(ast.parse(source))
        if _top(module) in ("torch", "numpy")
    ]


def long_function_breaches(path: str, source: str) -> list[str]:
    """A function of dense_attention/ (the ui/ package included) over MAX_FUNCTION_LINES lines."""
    if not path.startswith(f"{PACKAGE}/"):
        return []
    return [
        f"{path}:{node.lineno}: {node.name} is {node.end_lineno - node.lineno + 1} lines; "
        f"split it into named steps (at most {MAX_FUNCTION_LINES})"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_import_breaches(path: str, source: str) -> list[str]:
    """`from .x import _y`, or `x._y` on an imported dense_attention module `x`."""
    tree = ast.parse(source)
    breaches, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            inside = node.level > 0 or module == PACKAGE or module.startswith(f"{PACKAGE}.")
            for alias in node.names if inside else ():
                if _private(alias.name):
                    breaches.append(f"{path}:{node.lineno}: imports {alias.name} from {module}")
                elif module.strip(".") in ("", PACKAGE):  # from . import data
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.asname and _package_module(a.name)}
    for node in ast.walk(tree):
        on_module = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if on_module and _private(node.attr) and node.value.id in modules:
            breaches.append(f"{path}:{node.lineno}: uses {node.value.id}.{node.attr}")
    return breaches


# The library's layers, lowest first: a module may import its own layer and those before it.
# The package's face (dense_attention/__init__.py) counts as core; __main__ (the CLI) sits
# above every library layer and below the app; the app layer (ui/, views/, app.py) is last.
LAYERS = (
    "core", "inputs", "data", "training", "storage", "explain", "figures", "server", "cli", "ui",
    "app",
)  # fmt: skip


def _module_of(path: str) -> str:
    """`dense_attention.core.model` for dense_attention/core/model.py (a package: its name)."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(
    path: str, node: ast.ImportFrom | ast.Import, known: frozenset = frozenset()
) -> list[str]:
    """The absolute modules an import statement names; `from pkg import m` names pkg.m (a module
    on disk or in `known`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        here = _module_of(path).split(".")
        here = here if path.endswith("__init__.py") else here[:-1]
        up = here[: len(here) - node.level + 1]
        base = ".".join([*up, *([base] if base else [])])
    modules, names = [], []
    for alias in node.names:  # from . import state: the module state, not the package's face
        candidate = f"{base}.{alias.name}"
        file = ROOT / candidate.replace(".", "/")
        is_module = candidate in known or file.with_suffix(".py").exists() or file.is_dir()
        (modules if is_module else names).append(candidate)
    return [base, *modules] if names else modules


def layer_of(module: str) -> str | None:
    """The layer of an app or library module; None outside the project."""
    parts = module.split(".")
    if parts[0] in ("app", "views"):
        return "app"
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "core"
    return "cli" if parts[1] == "__main__" else parts[1] if parts[1] in LAYERS else "?"


def project_imports(
    path: str, source: str, known: frozenset = frozenset()
) -> list[tuple[int, str]]:
    """(line, module) of every import of the project's own modules, function bodies included."""
    tree = ast.parse(source)
    return [
        (node.lineno, module)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for module in _resolve(path, node, known)
        if layer_of(module) is not None
    ]


def layer_breaches(path: str, source: str) -> list[str]:
    """An import of a higher layer (or a module outside every layer)."""
    mine = layer_of(_module_of(path))
    if mine is None:
        return []
    if mine == "?":
        return [f"{path}: in no layer; put it in one of {', '.join(LAYERS[:-3])}"]
    breaches = []
    for line, module in project_imports(path, source):
        theirs = layer_of(module)
        if theirs == "?" or LAYERS.index(theirs) > LAYERS.index(mine):
            breaches.append(f"{path}:{line}: {mine} imports {module} ({theirs})")
    return breaches


def import_cycles(sources: list[tuple[str, str]]) -> list[str]:
    """Every cycle of module imports (function bodies included), each once, as a -> b -> a."""
    known = frozenset(_module_of(path) for path, _ in sources)
    graph = {
        _module_of(path): {m for _, m in project_imports(path, source, known)} - {_module_of(path)}
        for path, source in sources
    }
    cycles, done = [], set()

    def visit(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycle = stack[stack.index(nxt) :]
                if frozenset(cycle) not in done:
                    done.add(frozenset(cycle))
                    cycles.append(" -> ".join([*cycle, nxt]))
            elif nxt not in finished:
                visit(nxt, [*stack, nxt])
        finished.add(node)

    finished: set[str] = set()
    for start in sorted(graph):
        if start not in finished:
            visit(start, [start])
    return cycles


# Code whose session-state keys must come from dense_attention/ui/state.py, never be spelled
# out: the pages, and the train page's form.
STATE_KEY_PATHS = ("views/", f"{PACKAGE}/ui/train_form.py")


def _spelled_key(node: ast.AST | None) -> bool:
    """A key written in place: a string literal or an f-string."""
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _session_key(node: ast.AST) -> ast.AST | None:
    """The key of `key=...`, `session_state[...]` or `session_state.get(...)`, else None."""
    if isinstance(node, ast.keyword) and node.arg == "key":
        return node.value
    if isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "session_state":
        return node.slice
    reads = ("get", "pop", "setdefault")
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in reads:
        owner = getattr(node.func, "value", None)
        if getattr(owner, "attr", "") == "session_state" and node.args:
            return node.args[0]
    return None


def state_key_breaches(path: str, source: str) -> list[str]:
    """A session-state or widget key spelled out in a page or the train form (ui/state.py
    declares each key once)."""
    if not path.startswith(STATE_KEY_PATHS):
        return []
    return [
        f"{path}:{key.lineno}: a key spelled out; declare it in {PACKAGE}/ui/state.py"
        for node in ast.walk(ast.parse(source))
        if _spelled_key(key := _session_key(node))
    ]


CHECKERS: tuple[Checker, ...] = (
    state_key_breaches,
    streamlit_breaches,
    views_numeric_breaches,
    long_function_breaches,
    private_import_breaches,
    layer_breaches,
)


def _sources() -> list[tuple[str, str]]:
    """(path relative to the root, text) of the app and library code (tests and bench drive the
    app from outside and may import what they like)."""
    files = [ROOT / "app.py", *ROOT.glob("views/**/*.py"), *ROOT.glob(f"{PACKAGE}/**/*.py")]
    return [(f.relative_to(ROOT).as_posix(), f.read_text(encoding="utf-8")) for f in files]


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_the_code_keeps_its_layers(checker):
    found = [b for path, source in _sources() for b in checker(path, source)]
    new = [b for b in found if b not in KNOWN_BREACHES]
    assert not new, "\n".join(new)


def test_every_known_breach_still_exists():
    found = {b for path, text in _sources() for check in CHECKERS for b in check(path, text)}
    fixed = sorted(set(KNOWN_BREACHES) - found)
    assert not fixed, f"fixed: delete from KNOWN_BREACHES: {fixed}"


# ---------------------------------------------------------------- the checkers catch breaches


def long_function(name: str, lines: int) -> str:
    return f"def {name}():\n" + "    x = 1\n" * (lines - 2) + "    return x\n"


@pytest.mark.parametrize(
    ("checker", "path", "source", "expected"),
    [
        (streamlit_breaches, f"{PACKAGE}/plots.py", "import numpy\nimport streamlit as st\n",
         [f"{PACKAGE}/plots.py:2: imports streamlit outside app.py, views/ and {PACKAGE}/ui/"]),
        (streamlit_breaches, f"{PACKAGE}/train.py", "def f():\n    from streamlit import x\n",
         [f"{PACKAGE}/train.py:2: imports streamlit outside app.py, views/ and {PACKAGE}/ui/"]),
        (views_numeric_breaches, "views/text.py", "import torch.nn\nfrom numpy import ones\n",
         ["views/text.py:1: views/ imports torch", "views/text.py:2: views/ imports numpy"]),
        (long_function_breaches, f"{PACKAGE}/tune.py", long_function("search", 61),
         [f"{PACKAGE}/tune.py:1: search is 61 lines; split it into named steps (at most 60)"]),
        (long_function_breaches, f"{PACKAGE}/ui/sidebar.py", long_function("sidebar", 71),
         [f"{PACKAGE}/ui/sidebar.py:1: sidebar is 71 lines; split it into named steps (at most "
          "60)"]),
        (streamlit_breaches, f"{PACKAGE}/ui.py", "import streamlit as st\n",
         [f"{PACKAGE}/ui.py:1: imports streamlit outside app.py, views/ and {PACKAGE}/ui/"]),
        (private_import_breaches, f"{PACKAGE}/jobs.py", "from .data import Split, _limit\n",
         [f"{PACKAGE}/jobs.py:1: imports _limit from .data"]),
        (private_import_breaches, "views/a.py", "def f():\n    from dense_attention.x import _y\n",
         ["views/a.py:2: imports _y from dense_attention.x"]),
        (private_import_breaches, f"{PACKAGE}/images.py", "from . import data\ndata._open(b'')\n",
         [f"{PACKAGE}/images.py:2: uses data._open"]),
        (layer_breaches, f"{PACKAGE}/inputs/classifier.py", "from ..training.train import x\n",
         [f"{PACKAGE}/inputs/classifier.py:1: inputs imports {PACKAGE}.training.train "
          "(training)"]),
        (layer_breaches, f"{PACKAGE}/core/model.py", "def f():\n    from dense_attention import ui",
         [f"{PACKAGE}/core/model.py:2: core imports {PACKAGE}.ui (ui)"]),
        (layer_breaches, f"{PACKAGE}/figures/plots.py", "from ..server import jobs\n",
             [f"{PACKAGE}/figures/plots.py:1: figures imports {PACKAGE}.server.jobs (server)"]),
        (state_key_breaches, "views/model.py", 'st.selectbox("s", [1], key="similarity")\n',
         ["views/model.py:1: a key spelled out; declare it in dense_attention/ui/state.py"]),
        (state_key_breaches, f"{PACKAGE}/ui/train_form.py", 'st.slider("e", key=f"{K}epochs")\n',
         [f"{PACKAGE}/ui/train_form.py:1: a key spelled out; declare it in {PACKAGE}/ui/state.py"]),
        (state_key_breaches, "views/train.py", 'x = st.session_state.get("mode")\n',
         ["views/train.py:1: a key spelled out; declare it in dense_attention/ui/state.py"]),
        (state_key_breaches, "views/train.py", 'st.session_state[f"{slot}_seen"] = 1\n',
         ["views/train.py:1: a key spelled out; declare it in dense_attention/ui/state.py"]),
        (layer_breaches, f"{PACKAGE}/stray.py", "import os\n",
         [f"{PACKAGE}/stray.py: in no layer; put it in one of core, inputs, data, training, "
          "storage, explain, figures, server"]),
    ],
)  # fmt: skip
def test_a_planted_breach_is_caught_with_file_and_line(checker, path, source, expected):
    assert checker(path, source) == expected


@pytest.mark.parametrize(
    ("checker", "path", "source"),
    [
        (streamlit_breaches, f"{PACKAGE}/ui/sidebar.py", "import streamlit as st\n"),
        (streamlit_breaches, "views/text.py", "import streamlit as st\n"),
        (streamlit_breaches, "app.py", "import streamlit as st\nimport torch\n"),
        (long_function_breaches, f"{PACKAGE}/train.py", long_function("train", 60)),
        (private_import_breaches, f"{PACKAGE}/data.py", "from .archive import __all__, open_zip\n"),
        (private_import_breaches, f"{PACKAGE}/x.py", "import numpy as np\nnp._x = 1\n"),
        (layer_breaches, f"{PACKAGE}/inputs/classifier.py", "from .splits import TensorSplit"),
        (layer_breaches, f"{PACKAGE}/server/jobs.py", "from ..core import model\nfrom . import x"),
        (layer_breaches, f"{PACKAGE}/__main__.py", "from .server import jobs\n"),
        (layer_breaches, "views/text.py", "from dense_attention import ui\n"),
        (state_key_breaches, "views/train.py", "st.session_state[MODE] = ui.TRAIN_MODE\n"),
        (state_key_breaches, "views/a.py", 'st.slider("e", key=ui.X)\nd.get("key")\n'),
        (state_key_breaches, f"{PACKAGE}/ui/charts.py", 'st.plotly_chart(f, key="chart")\n'),
    ],
)  # fmt: skip
def test_what_is_allowed_is_not_reported(checker, path, source):
    assert checker(path, source) == []


def test_no_import_cycle():
    assert not import_cycles(_sources()), "\n".join(import_cycles(_sources()))


def test_a_planted_cycle_is_caught():
    sources = [
        (f"{PACKAGE}/core/a.py", "from . import b\n"),
        (f"{PACKAGE}/core/b.py", "def f():\n    from .a import x\n"),
        (f"{PACKAGE}/core/c.py", "from .a import y\n"),
    ]
    assert import_cycles(sources) == [f"{PACKAGE}.core.a -> {PACKAGE}.core.b -> {PACKAGE}.core.a"]


def test_every_layer_is_a_package_with_a_docstring():
    for layer in LAYERS[:-3]:
        init = ROOT / PACKAGE / layer / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init}: say what the layer owns"


def test_every_library_module_is_in_the_design_docs_layer_table():
    table = (ROOT / "docs" / "design.md").read_text(encoding="utf-8").split("## Layers")[1]
    table = table.split("\n## ")[0]
    missing = []
    for layer in LAYERS[:-3]:
        row = next((r for r in table.splitlines() if r.startswith(f"| `{layer}/`")), "")
        for file in sorted((ROOT / PACKAGE / layer).glob("*.py")):
            if file.stem != "__init__" and f"`{file.stem}`" not in row:
                missing.append(f"{layer}/{file.name}")
    assert not missing, f"docs/design.md's layer table does not list: {missing}"
