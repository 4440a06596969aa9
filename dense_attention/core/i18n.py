"""The interface's languages: one translation function, `tr`, over gettext catalogs (.po files).

Every user-visible English string is written once, as a gettext msgid, inside `tr("...")` (or
`N_("...")` where it is defined before the language is known, e.g. a table of titles; `tr` then
translates it where it is shown). Numbers go in as named fields, never into the msgid:
`tr("τ = {tau:g} sharpens the attention", tau=0.5)`; the translation keeps the same fields.

The language is per browser session, never one global for the process (sessions run
concurrently in one server): `use_language("zh")` sets it for the current context (the CLI,
tests, a worker); the ui registers `set_source`, a function that reads the language of the
session whose script is running. Catalogs: `dense_attention/locale/<lang>/LC_MESSAGES/
dense_attention.po`, read by the small reader here (no compiled .mo to keep in step).
`python -m dense_attention.core.i18n` adds new msgids to every catalog (see docs/i18n.md).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "N_",
    "catalog",
    "extract",
    "fields_of",
    "from_locale",
    "language",
    "read_po",
    "set_source",
    "tr",
    "update_catalogs",
    "use_language",
    "write_po",
]

LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}  # code -> its own name
DEFAULT = "en"  # the msgids' language: needs no catalog
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "dense_attention"
ROOT = LOCALE_DIR.parent.parent  # the repository: dense_attention/, views/, app.py
MARKERS = frozenset({"tr", "N_"})  # the calls whose first argument is a msgid

_chosen: ContextVar[str | None] = ContextVar("dense_attention_language", default=None)
_source: list[Callable[[], str | None]] = []  # at most one: the ui's per-session lookup


def set_source(source: Callable[[], str | None]) -> None:
    """Where `language()` looks when no `use_language` is active: the ui passes a function
    that reads the running session's choice (None outside a session)."""
    _source[:] = [source]


def language() -> str:
    """The current context's language code: `use_language`'s, else the session's, else en."""
    chosen = _chosen.get()
    if chosen is None and _source:
        chosen = _source[0]()
    return chosen if chosen in LANGUAGES else DEFAULT


@contextmanager
def use_language(code: str) -> Iterator[None]:
    """Translate into `code` inside the block, in this context only (other threads and
    sessions keep theirs). Raises ValueError for a language with no catalog."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; choose from {list(LANGUAGES)}")
    token = _chosen.set(code)
    try:
        yield
    finally:
        _chosen.reset(token)


def from_locale(locale: str | None) -> str:
    """The interface language for a browser locale or Accept-Language header ("zh-CN",
    "zh-TW,zh;q=0.9,en;q=0.8"): the first listed language we have, else en."""
    for part in (locale or "").split(","):
        code = part.split(";")[0].strip().lower().replace("_", "-").split("-")[0]
        if code in LANGUAGES:
            return code
    return DEFAULT


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for "mark, translate later"
    """Mark `message` for extraction without translating it yet (returned unchanged)."""
    return message


def tr(message: str, **fields: object) -> str:
    """`message` in the current language, with `fields` formatted in (str.format). A msgid
    missing from the catalog is shown in English (tests/test_i18n.py fails on it)."""
    code = language()
    text = catalog(code).get(message) or message if code != DEFAULT else message
    return text.format(**fields) if fields else text


@functools.cache
def catalog(code: str) -> dict[str, str]:
    """The translations of language `code`: msgid -> msgstr ({} for the msgids' language)."""
    if code == DEFAULT:
        return {}
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    return {m: s for m, s in read_po(path.read_text(encoding="utf-8")).items() if s}


_FIELD = re.compile(r"(?<!\{)\{([a-zA-Z_]\w*)")


def fields_of(message: str) -> set[str]:
    """The named fields a message formats in ("{tau:g}" -> "tau"); "{{" is a literal brace."""
    return set(_FIELD.findall(message.replace("{{", "")))


def _unquote(line: str) -> str:
    return ast.literal_eval(line.strip())  # a .po string is a C/Python-style double-quoted one


def read_po(text: str) -> dict[str, str]:
    """A .po file's entries, msgid -> msgstr, in file order. Skips the header (msgid ""), fuzzy
    entries (their msgstr is a guess) and obsolete ones (#~); strings may span lines."""
    entries: dict[str, str] = {}
    msgid, msgstr, field = "", "", ""
    fuzzy = flagged = False
    for line in [*text.splitlines(), 'msgid ""']:  # the sentinel ends the last entry
        stripped = line.strip()
        if stripped.startswith("#,"):
            flagged = "fuzzy" in stripped
        elif stripped.startswith("msgid "):
            if msgid and field == "str" and not fuzzy:
                entries[msgid] = msgstr
            msgid, msgstr, field = _unquote(stripped[6:]), "", "id"
            fuzzy, flagged = flagged, False
        elif stripped.startswith("msgstr "):
            msgstr, field = _unquote(stripped[7:]), "str"
        elif stripped.startswith('"') and field == "id":
            msgid += _unquote(stripped)
        elif stripped.startswith('"') and field == "str":
            msgstr += _unquote(stripped)
    return entries


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_po(entries: dict[str, str], code: str, places: dict[str, list[str]]) -> str:
    """A .po file of `entries` (msgid -> msgstr, "" when untranslated), each with its source
    places as a "#:" comment, under a header naming language `code`."""
    header = (
        f'msgid ""\nmsgstr ""\n"Language: {code}\\n"\n'
        '"Content-Type: text/plain; charset=UTF-8\\n"\n'
    )
    blocks = [header]
    for msgid, msgstr in entries.items():
        where = "".join(f"#: {place}\n" for place in places.get(msgid, [])[:3])
        blocks.append(f"{where}msgid {_quote(msgid)}\nmsgstr {_quote(msgstr)}\n")
    return "\n".join(blocks)


def _marked(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        first = node.args[0]
        if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, node.lineno


def source_files(root: Path = ROOT) -> list[Path]:
    """The files whose marked strings the interface shows: the library, views/ and app.py."""
    return sorted([*(root / "dense_attention").rglob("*.py"), *(root / "views").glob("*.py"),
                   root / "app.py"])  # fmt: skip


def extract(root: Path = ROOT) -> dict[str, list[str]]:
    """Every msgid marked with tr(...) or N_(...) under `root`, with its places ("path:line"),
    in the order first met."""
    found: dict[str, list[str]] = {}
    for path in source_files(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for message, line in _marked(tree):
            found.setdefault(message, []).append(f"{path.relative_to(root)}:{line}")
    return found


def update_catalogs(root: Path = ROOT) -> dict[str, int]:
    """Rewrite every language's catalog with today's msgids: translations kept, new msgids
    added untranslated, gone ones dropped. Returns the untranslated count per language."""
    places = extract(root)
    missing = {}
    for code in LANGUAGES:
        if code == DEFAULT:
            continue
        path = root / "dense_attention" / "locale" / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        old = read_po(path.read_text(encoding="utf-8")) if path.exists() else {}
        entries = {msgid: old.get(msgid, "") for msgid in places}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(write_po(entries, code, places), encoding="utf-8")
        missing[code] = sum(1 for text in entries.values() if not text)
    return missing


if __name__ == "__main__":
    for code, count in update_catalogs().items():
        print(f"{code}: {count} msgid(s) still to translate", file=sys.stderr)
