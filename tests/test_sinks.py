"""Injection sinks: every text the app hands Streamlit goes through styles.md, every CSV through
figures.export.safe_csv. An AST walk over the app layer (ui/, views/, app.py), with planted-breach
self-tests, as test_architecture does for the layers."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from conftest import open_train_upload

from dense_attention.ui.styles import WORD_JOINER, md

ROOT = Path(__file__).resolve().parents[1]
APP_FILES = ("app.py", "views/", "dense_attention/ui/")

# Streamlit calls whose text renders as markdown (body, label, help; radio/pills options).
_SINK_NAMES = (
    "markdown caption write warning error info success toast header subheader title radio "
    "selectbox multiselect select_slider checkbox toggle button download_button link_button "
    "form_submit_button expander popover tabs status metric text_input text_area number_input "
    "slider file_uploader pills segmented_control page_link color_picker date_input time_input "
    "chat_input dialog update spinner progress"
)
SINKS = frozenset(_SINK_NAMES.split())
TEXT_KEYWORDS = frozenset(
    ("body", "label", "help", "placeholder", "title", "value", "delta", "text")
)
# Widgets whose options are drawn as markdown: non-literal options need a safe format_func.
MARKDOWN_OPTIONS = frozenset({"radio", "pills", "segmented_control"})
# Widgets whose options are plain text (checked in Chromium: a selectbox shows "T\\-shirt" for
# md("T-shirt")): an escaping format_func would show its backslashes.
PLAIN_OPTIONS = frozenset({"selectbox", "multiselect", "select_slider"})
# Receivers whose .info/.warning/.error/.write/.update are not Streamlit.
NOT_STREAMLIT = frozenset({"log", "logger", "logging", "warnings", "file", "handle", "out", "f"})
NOT_STREAMLIT |= {"words"}  # explain.words.caption: the library's words, not st.caption
ESCAPERS = frozenset({"md"})  # styles.md: the one escaping function
NUMERIC = frozenset({"len", "int", "float", "round", "abs"})
# Calls whose result is safe though this walk cannot see it, each with the reason.
SAFE_CALLS: dict[str, str] = {
    "centered": "styles.centered: html.escape inside one <div> block (no markdown inside HTML)",
    "token_chips_html": "styles.token_chips_html: html.escape inside one <div> block",
}

NUMBER, CONFIG = "a number", "a name from the config or the code's registries"
WORDS = "explain.words / figures.slides: words from the model's config, no user string"
# Values that reach Streamlit unwrapped on purpose (a whole text argument, or one {...} of an
# f-string): (path under the root or under dense_attention/, expression, why). Only developers'
# words, config names and numbers belong here; never a string a user typed or uploaded.
ALLOWED_VALUES: tuple[tuple[str, str, str], ...] = (
    ('views/model.py', "' '.join(toy.tokens)", "the toy model's fixed sentence (core.toy)"),
    ('ui/train_time.py', '_duration(found.epoch_seconds)', 'a duration the code formats'),
    ('ui/train_time.py', '_duration(found.seconds)', 'a duration the code formats'),
    ('ui/train_time.py', '_duration(left)', 'a duration the code formats'),
    ('ui/train_time.py', '_duration(spent)', 'a duration the code formats'),
    ('ui/train_time.py', 'encode', 'a duration the code formats'),
    ('ui/train_time.py', 'found.epochs', NUMBER),
    ('ui/job_panels.py', '_run_summary(run)', "epochs and stop reason, the code's words"),
    ('ui/job_panels.py', 'about', "_baseline_metric's help: the code's words and numbers"),
    ('ui/job_panels.py', 'value', "_baseline_metric's value: a percentage or a dash"),
    ('ui/job_panels.py', 'label', 'a parameter: every caller passes a literal'),
    ('ui/job_panels.py', 'job.phase', "the worker's phase words (training, encoding...)"),
    ('ui/job_panels.py', 'job.progress', NUMBER),
    ('ui/job_panels.py', 'done', NUMBER),
    ('ui/code_download.py', 'encoder', CONFIG),
    ('ui/charts.py', 'help', "a parameter: callers pass the code's words and config names"),
    ('ui/share.py', "', '.join(ignored)", "setting names = md() of link values"),
    ('ui/share.py', 'OTHER_BROWSER', "a fixed sentence (N_), the name md()'d"),
    ('ui/browser.py', 'what', "a fixed sentence, or one with the model's name md()'d"),
    ('ui/browser.py', 'button', 'a literal of either branch'),
    ('ui/breakdown.py', 'chosen.unit', "the breakdown's unit: 'dimension' or 'hidden unit'"),
    ('ui/walkthrough.py', 'formulas.EXCLUDE_SELF_NOTE', "the library's fixed sentence"),
    ('ui/job_panels.py', 'stopped_note(result)',
     "numbers, the run's summary and the baseline's name and note: the code's words"),
    ('ui/unfamiliar.py', 'note',
     "familiarity.caution: numbers and fixed words; the dataset's name is md()'d before"),
    ('ui/job_panels.py', "result.baseline_note or 'the baseline is shown'",
     "the code's words about the baseline"),
    ('ui/job_panels.py', 'result.best_epoch', NUMBER),
    ('ui/job_panels.py', 'result.device', CONFIG),
    ('ui/job_panels.py', 'result.run_summary()', "epochs and stop reason, the code's words"),
    ('ui/matters.py', 'answer.text',
     'verdict.judge: numbers and fixed words, no class name or token'),
    ('ui/matters.py', 'faithfulness.IG_BASELINE', CONFIG),
    ('ui/matters.py', 'faithfulness_plots.METHOD_LABELS[best]', CONFIG),
    ('ui/sweep_panels.py', 'best.similarity', CONFIG),
    ('ui/sweep_panels.py', 'result.best_number', NUMBER),
    ('ui/sweep_panels.py', 'result.probe_index', NUMBER),
    ('ui/sweep_panels.py', '_beaten(result)', "fixed words and validation accuracies"),
    ('ui/what_if.py', "block.get('examples', '?')", NUMBER),
    ('ui/what_if.py', 'note', "the code's words about the stored study"),
    ('ui/walkthrough.py', 'caption',
     "explain.formulas.cell_latex's fixed captions (LaTeX on purpose)"),
    ('ui/walkthrough.py', 'step.title', "explain.formulas' step titles, from the config"),
    ('ui/walkthrough.py', 'step.explanation',
     "explain.formulas' text from the config (LaTeX on purpose), no token"),
    ('ui/present.py', 'step.explanation',
     "explain.formulas' text from the config (LaTeX on purpose), no token"),
    ('ui/present.py', 'slide.note', "figures.slides' fixed speaker notes"),
    ('ui/present.py', 'slide.title', "figures.slides' fixed titles"),
    ('ui/present.py', 'titles', "figures.slides' fixed titles"),
    ('views/about.py', 'cfg.activation', CONFIG),
    ('views/about.py', 'cfg.hidden_dim', CONFIG),
    ('views/about.py', 'cfg.input_dim', CONFIG),
    ('views/about.py', 'cfg.num_classes', CONFIG),
    ('views/about.py', 'cfg.pool_activation', CONFIG),
    ('views/about.py', 'name', CONFIG),
    ('views/about.py', 'sim.description', CONFIG),
    ('views/about.py', 'sim.latex', CONFIG),
    ('views/about.py', 'rows', "explain.formulas.MODEL_TABLE, the developers' table"),
    ('views/image.py', 'cfg.num_patches', NUMBER),
    ('views/image.py', 'cfg.patch', NUMBER),
    ('views/image.py', 'cfg.size', NUMBER),
    ('views/model.py', 'toy.model.config.hidden_dim', NUMBER),
    ('views/model.py', 'toy.x.shape[-1]', NUMBER),
    ('ui/picture.py', 'cfg.size', NUMBER),
    ('ui/picture.py', 'height', NUMBER),
    ('ui/picture.py', 'width', NUMBER),
    ('ui/picture.py', 'limit_mb', NUMBER),
    ('ui/picture.py', 'note', "images.input_notes: sizes in pixels, the code's words"),
    ('ui/sidebar.py', 'checkpoint_root()', "the server's checkpoint folder, set by its operator"),
    ('ui/sidebar.py', 'describe(info)', "a shipped model's summary, written by the developers"),
    ('ui/sidebar.py', 'describe(variant)', "a shipped model's summary, written by the developers"),
    ('ui/sidebar.py', "kind or ''", "'text' or 'image'"),
    ('ui/sidebar.py', 'pick_device().type', CONFIG),
    ('ui/train_form.py', 'pick_device().type', CONFIG),
    ('ui/train_form.py', 'fmt', 'formats a number'),
    ('ui/train_form.py', 'name', "a built-in dataset's name (data.builtin)"),
    ('ui/charts.py', 'label', 'a parameter: every caller passes a literal'),
    ('ui/replay.py', 'lambda f: names[f]', "frame names: 'step k' / 'epoch k'"),
    ('ui/replay.py', 'names[t]', "frame names: 'step k' / 'epoch k'"),
    ('ui/checkpoint_zip.py', 'message',
     "_add_uploaded_checkpoint's, md() around every name and error"),
    ('ui/inputs.py', 'max_len', NUMBER),
    ('ui/live_page.py', 'patch_features(picked.model)', 'patch counts and sizes'),
    ('ui/live.py', 'retrained[value]', "a shipped variant's checkpoint name"),
    ('ui/live.py', 'setting.format(trained)', "a setting's value: a number or a config name"),
    ('ui/live.py', 'value', "a setting's value: a number or a config name"),
    ('ui/compare.py', 'settings.temperature', NUMBER),
    ('views/compare.py', 'name_a', "'A: similarity, τ = number'"),
    ('views/compare.py', 'name_b', "'B: similarity, τ = number'"),
    ("ui/verdicts.py", "text", "verdict_words' second value: md(found.text)"),
    ("ui/sidebar.py", "loaded_summary(label, info)",
     "a shipped checkpoint's summary and a similarity name"),
    ("ui/present.py", "slide_title(slide, config)", WORDS),
    ("ui/presenter.py", "slide_title(slide, config)", WORDS),
    ("ui/presenter.py", "paragraph",
     "presenter.notes(): speaker_note's words and md() around every other value"),
    ("ui/present.py", "words.caption(step.key, config, inputs)", WORDS),
    ("ui/walkthrough.py", "words.step_title(step.key, config)", WORDS),
    ("ui/walkthrough.py", "words.caption(step.key, config, inputs)", WORDS),
    ("ui/walkthrough.py", "spread.entropy", NUMBER),
    ("ui/live_view.py", "a", NUMBER),
    ("ui/live_view.py", "keep", NUMBER),
    ("ui/live_view.py", "alpha", NUMBER),
    ("ui/walkthrough.py", "spread.maximum", NUMBER),
    ("ui/sidebar.py", "what", "'text' or 'image' (or nothing), translated"),
    ("views/present.py", "ui.tr", "translates the page's own options (TEXT, IMAGE)"),
    ("ui/language.py", "i18n.LANGUAGES.__getitem__", "the languages' own names (core.i18n)"),
)  # fmt: skip
ALLOWED = {f"{path}: {expr}" for path, expr, _ in ALLOWED_VALUES}

Walker = dict[str, list[ast.AST]]


def _callee(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


class _Safety:
    """Is an expression safe to render as markdown? Literals, styles.md(...), numbers formatted
    with a spec, and names whose every assignment in scope is safe (functions of the same file
    whose every return is safe count as safe calls)."""

    def __init__(self, tree: ast.Module, path: str = "") -> None:
        self.path = path
        self.functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        self.module_names = self._assignments(tree.body)
        self.busy: set[int] = set()
        self.others: dict[str, _Safety] = {}  # every app file's, for functions imported by name

    @staticmethod
    def _assignments(body: list[ast.stmt] | ast.AST) -> Walker:
        found: Walker = {}
        nodes = body if isinstance(body, list) else [body]
        for stmt in nodes:
            for node in ast.walk(stmt):
                targets = node.targets if isinstance(node, ast.Assign) else []
                if isinstance(node, ast.AnnAssign) and node.value is not None:
                    targets = [node.target]
                for t in targets:
                    names = t.elts if isinstance(t, ast.Tuple) else [t]
                    for n in names:
                        if isinstance(n, ast.Name):
                            value = node.value if n is t else None  # tuple unpacking: unknown
                            found.setdefault(n.id, []).append(value)
        return found

    def safe(self, node: ast.AST | None, scope: Walker) -> bool:
        if node is not None and f"{_short(self.path)}: {ast.unparse(node)}" in ALLOWED:
            return True
        if node is None or id(node) in self.busy:
            return node is not None  # a cycle proves nothing unsafe by itself
        self.busy.add(id(node))
        try:
            return self._safe(node, scope)
        finally:
            self.busy.discard(id(node))

    def _safe(self, node: ast.AST, scope: Walker) -> bool:
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.JoinedStr):
            return all(self._safe_part(v, scope) for v in node.values)
        if isinstance(node, ast.BinOp) and _number(node.left) or _number(getattr(node, "right", 0)):
            return True  # k + 1: a number
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            return self.safe(node.left, scope) and self.safe(node.right, scope)
        if isinstance(node, ast.IfExp):
            return self.safe(node.body, scope) and self.safe(node.orelse, scope)
        if isinstance(node, ast.Tuple | ast.List):
            return all(self.safe(e, scope) for e in node.elts)
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            return self.safe(node.elt, scope)
        if isinstance(node, ast.Dict):
            return all(self.safe(v, scope) for v in node.values)
        if isinstance(node, ast.Subscript):
            return self.safe(node.value, scope)
        if isinstance(node, ast.Name):
            return self._safe_name(node.id, scope)
        if isinstance(node, ast.Attribute):  # REGISTRY[k].description: developers' words
            return _constant(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub | ast.Mult | ast.Div):
            return True  # arithmetic: a number
        if isinstance(node, ast.Call):
            return self._safe_call(node, scope)
        return False

    def _safe_part(self, part: ast.AST, scope: Walker) -> bool:
        if isinstance(part, ast.FormattedValue):
            numeric = part.format_spec is not None and part.conversion == -1
            return numeric or (part.conversion == -1 and self.safe(part.value, scope))
        return True

    def _safe_name(self, name: str, scope: Walker) -> bool:
        if name.isupper():
            return True
        values = scope.get(name) or self.module_names.get(name)
        if values and all(self.safe(v, scope) for v in values):
            return True
        return name in self.functions and self._returns_safe(self.functions[name])

    def _safe_call(self, node: ast.Call, scope: Walker) -> bool:
        name = _callee(node)
        if name in ESCAPERS or name in NUMERIC or name in SAFE_CALLS:
            return True
        if name == "tr" and node.args:  # core.i18n.tr: a safe msgid in our catalog's words,
            numeric = _numeric_fields(node.args[0])  # safe fields formatted in; as in an f-string,
            fields = [k.value for k in node.keywords if k.arg not in numeric]  # {x:.2f} is a number
            return all(self.safe(field, scope) for field in [node.args[0], *fields])
        if name == "join" and len(node.args) == 1:
            arg = node.args[0]
            if isinstance(arg, ast.Call) and _callee(arg) == "map" and arg.args:
                return getattr(arg.args[0], "id", getattr(arg.args[0], "attr", "")) in ESCAPERS
            if isinstance(arg, ast.GeneratorExp | ast.ListComp):
                return self.safe(arg.elt, scope)
            return self.safe(arg, scope)
        if name == "format" and isinstance(node.func, ast.Attribute):  # "{:.1%}".format(x)
            return isinstance(node.func.value, ast.Constant)
        if f"{ast.unparse(node.func)}()" in SAFE_CALLS:
            return True
        return self._function_safe(name)

    def _function_safe(self, name: str) -> bool:
        if name in self.functions:
            return self._returns_safe(self.functions[name])
        owners = [s for s in self.others.values() if name in s.functions]
        return len(owners) == 1 and owners[0]._function_safe(name)

    def _returns_safe(self, function: ast.FunctionDef) -> bool:
        scope = self._assignments(function.body)
        returns = [n.value for n in ast.walk(function) if isinstance(n, ast.Return)]
        return bool(returns) and all(self.safe(r, scope) for r in returns)

    def safe_formatter(self, node: ast.AST, scope: Walker) -> bool:
        if isinstance(node, ast.Lambda):
            return self.safe(node.body, scope)
        if isinstance(node, ast.Attribute) and node.attr == "format":
            return isinstance(node.value, ast.Constant)
        if isinstance(node, ast.Attribute) and node.attr == "__getitem__":
            return self.safe(node.value, scope)
        name = getattr(node, "id", getattr(node, "attr", ""))
        if name in ESCAPERS:
            return True
        values = scope.get(name)
        if values and all(v is not None and self.safe_formatter(v, scope) for v in values):
            return True
        return self._function_safe(name)


def _numeric_fields(msgid: ast.AST) -> set[str]:
    """The fields a constant msgid formats with a format spec and no conversion ("{p:.1%}"):
    str.format raises unless they are numbers, as an f-string's {p:.1%} does."""
    if not isinstance(msgid, ast.Constant) or not isinstance(msgid.value, str):
        return set()
    parsed = string.Formatter().parse(msgid.value)
    return {field for _, field, spec, conversion in parsed if field and spec and not conversion}


def _short(path: str) -> str:
    return path.removeprefix("dense_attention/")


def _number(node: object) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _constant(node: ast.AST) -> bool:
    """An attribute chain rooted at an UPPER_CASE name (a registry the developers wrote)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name) and node.id.isupper()


def _receiver(node: ast.Call) -> str:
    value = node.func.value if isinstance(node.func, ast.Attribute) else None
    while isinstance(value, ast.Attribute | ast.Call | ast.Subscript):
        value = value.func if isinstance(value, ast.Call) else value.value
    return getattr(value, "id", "")


def _literal_options(node: ast.AST, safety: _Safety, scope: Walker) -> bool:
    if isinstance(node, ast.Call) and _callee(node) == "range":
        return True
    return safety.safe(node, scope)


def _text_args(call: ast.Call, method: str) -> list[ast.AST]:
    keywords = [k.value for k in call.keywords if k.arg in TEXT_KEYWORDS]
    if method in ("write", "tabs"):
        return [*call.args, *keywords]
    if method == "metric":  # label, value, delta
        return [*call.args[:3], *keywords]
    return [*call.args[:1], *keywords]


def _scopes(tree: ast.Module) -> list[tuple[ast.AST, Walker]]:
    """(call, the names assigned in its enclosing function) for every call of the file."""
    found, seen = [], set()
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    for function in sorted(functions, key=lambda f: f.end_lineno - f.lineno):  # innermost first
        scope = _Safety._assignments(function.body)
        for node in ast.walk(function):
            if isinstance(node, ast.Call) and id(node) not in seen:
                seen.add(id(node))
                found.append((node, scope))
    module_scope = _Safety._assignments(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and id(node) not in seen:
            found.append((node, module_scope))
    return found


def markdown_sink_breaches(
    path: str, source: str, others: dict[str, _Safety] | None = None
) -> list[str]:
    """A Streamlit call whose text (or markdown options) may carry a user string unescaped;
    `others`: every app file's _Safety, to follow a call into the file that defines it."""
    if not path.startswith(APP_FILES):
        return []
    tree = ast.parse(source)
    safety, breaches = _Safety(tree, path), []
    safety.others = others or {}
    for call, scope in _scopes(tree):
        method = _callee(call)
        if not isinstance(call.func, ast.Attribute) or method not in SINKS:
            continue
        if _receiver(call) in NOT_STREAMLIT:
            continue
        where = f"{path}:{call.lineno}: st.{method}"
        for arg in _text_args(call, method):
            if not safety.safe(arg, scope):
                breaches.append(f"{where} text not wrapped in md(): {ast.unparse(arg)[:60]}")
        formatter = next((k.value for k in call.keywords if k.arg == "format_func"), None)
        if method in PLAIN_OPTIONS and formatter is not None and _escapes(formatter, tree):
            breaches.append(f"{where} options are plain text: md() in format_func shows its \\")
            continue
        if method not in MARKDOWN_OPTIONS:
            continue  # a selectbox's options and the like are plain text: nothing to escape
        if formatter is not None and not safety.safe_formatter(formatter, scope):
            if f"{_short(path)}: {ast.unparse(formatter)}" in ALLOWED:
                continue
            breaches.append(f"{where} format_func not escaped: {ast.unparse(formatter)[:60]}")
        options = call.args[1] if len(call.args) > 1 else None
        options = next((k.value for k in call.keywords if k.arg == "options"), options)
        markdown_options = method in MARKDOWN_OPTIONS and options is not None
        if markdown_options and formatter is None and not _literal_options(options, safety, scope):
            breaches.append(f"{where} options drawn as markdown without an escaping format_func")
    return breaches


def _escapes(formatter: ast.expr, tree: ast.Module) -> bool:
    """Whether a format_func (a lambda, or a function defined in the module) calls md()."""
    bodies = [formatter]
    if isinstance(formatter, ast.Name):
        bodies = [
            f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.name == formatter.id
        ]
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ESCAPERS
        for body in bodies
        for node in ast.walk(body)
    )


# Other writers of CSV, as "path: what .to_csv is called on", each with the reason.
CSV_ALLOWED: dict[str, str] = {
    "dense_attention/training/sweep.py: self.table()": "the training layer sits below figures; "
    "its table is similarity names (the code's) and numbers, written by the CLI",
    "dense_attention/training/tune.py: self.table()": "the training layer sits below figures; "
    "its table is trial numbers, states and hyperparameters, written by the CLI",
    "dense_attention/cli/train_commands.py: result": "SweepResult / TuneResult.to_csv (above)",
}
CSV_WRITER = "dense_attention/figures/export.py"


def csv_breaches(path: str, source: str) -> list[str]:
    """`.to_csv(` anywhere but the one writer, figures.export.safe_csv."""
    if path == CSV_WRITER:
        return []
    return [
        f"{path}:{node.lineno}: .to_csv outside export.safe_csv"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and _callee(node) == "to_csv"
        and isinstance(node.func, ast.Attribute)
        and f"{path}: {ast.unparse(node.func.value)}" not in CSV_ALLOWED
    ]  # fmt: skip


def _sources() -> list[tuple[str, str]]:
    files = [ROOT / "app.py", *ROOT.glob("views/**/*.py"), *ROOT.glob("dense_attention/**/*.py")]
    return [(f.relative_to(ROOT).as_posix(), f.read_text(encoding="utf-8")) for f in files]


def _app_safeties(sources: list[tuple[str, str]]) -> dict[str, _Safety]:
    found = {p: _Safety(ast.parse(s), p) for p, s in sources if p.startswith(APP_FILES)}
    for safety in found.values():
        safety.others = found
    return found


def test_every_user_string_reaches_streamlit_through_md():
    sources = _sources()
    others = _app_safeties(sources)
    found = [b for path, source in sources for b in markdown_sink_breaches(path, source, others)]
    assert not found, "\n".join(found)


def test_every_csv_goes_through_safe_csv():
    found = [b for path, source in _sources() for b in csv_breaches(path, source)]
    assert not found, "\n".join(found)


# ---------------------------------------------------------------- the checkers catch breaches

UI = "dense_attention/ui/x.py"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("st.markdown(f'Prediction: **{label}**')\n",
         [f"{UI}:1: st.markdown text not wrapped in md(): f'Prediction: **{{label}}**'"]),
        ("def f(err):\n    st.error(str(err))\n",
         [f"{UI}:2: st.error text not wrapped in md(): str(err)"]),
        ("st.radio('Example', range(3), format_func=lambda p: f'{p + 1} · {probes[p].label}')\n",
         [f"{UI}:1: st.radio format_func not escaped: lambda p: f'{{p + 1}} · "
          "{probes[p].label}'"]),
        ("st.selectbox('Example', range(3), format_func=lambda p: md(probes[p].label))\n",
         [f"{UI}:1: st.selectbox options are plain text: md() in format_func shows its \\"]),
        ("st.pills('Or try', list(examples))\n",
         [f"{UI}:1: st.pills options drawn as markdown without an escaping format_func"]),
        ("col.warning(message, icon='x')\n",
         [f"{UI}:1: st.warning text not wrapped in md(): message"]),
        ("with st.spinner(f'Reading {file.name}'):\n    pass\n",
         [f"{UI}:1: st.spinner text not wrapped in md(): f'Reading {{file.name}}'"]),
    ],
)  # fmt: skip
def test_a_planted_markdown_sink_is_caught_with_file_and_line(source, expected):
    assert markdown_sink_breaches(UI, source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "st.markdown('**Training**')\n",
        "st.markdown(f'Prediction: **{md(label)}** ({p:.1%})')\n",
        "st.radio('Example', range(3), format_func=lambda p: f'{p + 1} · {md(probes[p].label)}')\n",
        "def name(k):\n    return f'{k + 1} · {tokens[k]}'\n"
        "st.multiselect('x', ks, format_func=name)\n",
        "st.selectbox('Example', range(3), format_func=lambda p: f'{p + 1} · {probes[p].label}')\n",
        "note = f'{n:,} rows of {md(ds.name)}'\nst.caption(note)\n",
        "st.error(md(err))\nlog.info(f'{err}')\n",
        "st.radio('Input', [TEXT, IMAGE])\n",
    ],
)
def test_what_is_escaped_is_not_reported(source):
    assert markdown_sink_breaches(UI, source) == []


def test_a_planted_csv_writer_is_caught():
    source = "def f(table):\n    return table.to_csv(index=False)\n"
    assert csv_breaches(UI, source) == [f"{UI}:2: .to_csv outside export.safe_csv"]
    assert csv_breaches(CSV_WRITER, source) == []


# ---------------------------------------------------------------- md: what a user string becomes

HOSTILE = (
    "![x](http://127.0.0.1:9/a.png)",
    "[clk](http://127.0.0.1:9/link)",
    "[x](javascript:alert(1))",
    "http://127.0.0.1:9/phish",
    "www.example.invalid/x",
    "me@example.invalid",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] $x^2$ **bold** `code`",
    "# heading",
    "- item",
    "1. item",
)


@pytest.mark.parametrize("text", HOSTILE)
def test_md_leaves_no_live_markdown_and_no_bare_url(text):
    out = md(text)
    assert out.replace("\\", "").replace(WORD_JOINER, "") == text  # shown as typed
    unescaped = re.findall(r"(?<!\\)[\[\]()<>`*$!#:]", out)
    assert not unescaped, (out, unescaped)
    for trigger in ("http://", "javascript:", "www.", "@e"):  # GFM's autolink triggers
        assert trigger not in out.replace("\\", "")


# ---------------------------------------------------------------- the defects, where they showed

BAD_LABEL = "![e](http://127.0.0.1:9/e.png)"


def _friendly_error(text: str) -> None:
    from dense_attention.data.dataset import DataError
    from dense_attention.ui.errors import friendly_errors

    with friendly_errors(stop=False):
        raise DataError(text)


def test_an_error_quoting_a_label_shows_it_as_text():
    """Issue 28: "label '![e](…)' has only 1 example" fetched the image at upload time."""
    from streamlit.testing.v1 import AppTest

    message = f"label '{BAD_LABEL}' has only 1 example"
    at = AppTest.from_function(_friendly_error, args=(message,), default_timeout=60).run()
    assert not at.exception
    shown = at.error[0].value
    assert "![e](" not in shown and "http://" not in shown
    assert shown.replace("\\", "").replace(WORD_JOINER, "") == message


@pytest.mark.browser
def test_browser_hostile_labels_at_upload_fetch_nothing_and_link_nothing(
    page, app_url: str, wait_for_app, tmp_path
) -> None:
    """Issue 28: a CSV whose labels are markdown images and links made the small-data warning
    fetch the image at upload time, and a bare URL label was a clickable link."""
    from playwright.sync_api import expect

    labels = ("![w](http://127.0.0.1:9/warn.png)", "[clk](http://127.0.0.1:9/link)",
              "http://127.0.0.1:9/phish")  # fmt: skip
    rows = ["text,label"] + [f"word{k} row{r},{label}" for k, label in enumerate(labels)
                             for r in range(3)]  # fmt: skip
    data = tmp_path / "hostile.csv"
    data.write_text("\n".join(rows))
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    open_train_upload(page, app_url)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(data))
    expect(page.get_by_test_id("stAlertContentWarning")).to_be_visible(timeout=60_000)
    wait_for_app(page)
    links = page.locator("a[href*='127.0.0.1:9']")
    assert links.count() == 0, [links.nth(k).get_attribute("href") for k in range(links.count())]
    assert page.locator("img[src*='127.0.0.1:9']").count() == 0
    assert not [url for url in fetched if "127.0.0.1:9" in url]
    expect(page.get_by_text("![w](http").first).to_be_visible()  # shown as typed
