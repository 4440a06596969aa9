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


def classifier_layer_breaches(path: str, source: str) -> list[str]:
    """classifier.py sits below training and datasets: it must not import train or data."""
    if path != f"{PACKAGE}/classifier.py":
        return []
    return [
        f"{path}:{line}: classifier.py imports {_package_module(module)}"
        for line, module in _imports(ast.parse(source))
        if _package_module(module) in ("train", "data")
    ]


CHECKERS: tuple[Checker, ...] = (
    streamlit_breaches,
    views_numeric_breaches,
    long_function_breaches,
    private_import_breaches,
    classifier_layer_breaches,
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
        (classifier_layer_breaches, f"{PACKAGE}/classifier.py", "from .train import TensorSplit\n",
         [f"{PACKAGE}/classifier.py:1: classifier.py imports train"]),
        (classifier_layer_breaches, f"{PACKAGE}/classifier.py", "from dense_attention import data",
         [f"{PACKAGE}/classifier.py:1: classifier.py imports data"]),
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
        (classifier_layer_breaches, f"{PACKAGE}/classifier.py", "from .splits import TensorSplit"),
    ],
)  # fmt: skip
def test_what_is_allowed_is_not_reported(checker, path, source):
    assert checker(path, source) == []
