"""The walk-through as a handout: one self-contained HTML file (the input, the prediction, every
step's formula with its numbers, its words and its chart; plotly.js, KaTeX and its fonts inside,
no network needed) and the same printed to PDF by headless Chromium."""

from __future__ import annotations

import base64
import functools
import gzip
import html
import importlib.util
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from ..core.config import ModelConfig
from ..core.errors import DenseAttentionError
from ..core.trace import Trace
from ..explain import attention_work, formulas, words, worked
from ..inputs.classifier import Explanation
from . import trace_plots
from .export import Provenance, for_export

__all__ = [
    "CHROMIUM_NAMES",
    "HandoutError",
    "PAGE_WIDTH_PX",
    "chromium_path",
    "handout_html",
    "handout_pdf",
    "katex_assets",
    "picture_png",
    "titled_figures",
]

PAGE_WIDTH_PX = 700  # the text column, on screen and on A4 (210 mm - 2 x 12 mm margins = 703 px)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PDF_TIMEOUT_S = 120
TOP_CLASSES = 5  # classes listed under the prediction

_CSS = f"""
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: #1f2330; margin: 0; line-height: 1.45; }}
main {{ max-width: {PAGE_WIDTH_PX}px; margin: 1.5em auto; padding: 0 0.5em; }}
h1 {{ font-size: 1.7em; margin-bottom: 0.2em; }}
h2 {{ font-size: 1.25em; border-bottom: 1px solid #d0d4de; padding-bottom: 0.15em;
  margin-top: 1.6em; break-after: avoid; }}
.about {{ color: #5a6070; font-size: 0.9em; }}
blockquote {{ border-left: 4px solid #3b5bdb; margin: 0.6em 0; padding: 0.3em 0.9em;
  background: #f4f6fb; white-space: pre-wrap; overflow-wrap: anywhere; }}
.tokens span {{ display: inline-block; border: 1px solid #c5cbe0; border-radius: 0.3em;
  padding: 0 0.35em; margin: 0.12em; font-size: 0.9em; }}
.tokens sub {{ color: #7a8090; }}
.prediction {{ font-size: 1.2em; }}
table.classes td {{ padding: 0.1em 0.8em 0.1em 0; }}
.math {{ overflow-x: auto; overflow-y: hidden; break-inside: avoid; }}
.worked {{ background: #f7f8fb; border-radius: 0.4em; padding: 0.2em 0.6em; font-size: 0.92em; }}
.label {{ font-size: 0.85em; color: #5a6070; margin: 0.6em 0 0; }}
.chart {{ break-inside: avoid; }}
img.picture {{ width: 192px; image-rendering: pixelated; border: 1px solid #c5cbe0; }}
footer {{ margin-top: 2.5em; color: #7a8090; font-size: 0.8em; }}
"""

# Renders every .math element in place with the inlined KaTeX; the LaTeX stays as the text of
# the element (a reader with scripts off sees the source, never an empty box).
_RENDER = """<script>
document.querySelectorAll('.math').forEach(function (el) {
  katex.render(el.textContent, el, {displayMode: true, throwOnError: false, strict: 'ignore'});
});
</script>"""

# plotly.js travels gzipped and base64-encoded (2.0 MB instead of 4.8 MB): unpacked with the
# browser's DecompressionStream, run, then every .chart drawn from its JSON. When the charts are
# drawn, <body data-charts="drawn">; on failure a note says why (the formulas keep the numbers).
_DRAW = """<script>
(async function () {
  try {
    const packed = document.getElementById('plotly-gz').textContent;
    const bytes = Uint8Array.from(atob(packed), function (c) { return c.charCodeAt(0); });
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const tag = document.createElement('script');
    tag.textContent = await new Response(stream).text();
    document.head.appendChild(tag);
    for (const holder of document.querySelectorAll('.chart')) {
      const figure = JSON.parse(holder.querySelector('script').textContent);
      const config = {displaylogo: false, responsive: false};
      await Plotly.newPlot(holder.firstElementChild, figure.data, figure.layout, config);
    }
    document.body.dataset.charts = 'drawn';
  } catch (err) {
    const note = document.getElementById('charts-note');
    note.textContent = 'The charts could not be drawn in this browser (' + err + '); ' +
      'every number is in the formulas.';
    note.hidden = false;
    document.body.dataset.charts = 'failed';
  }
})();
</script>"""


@functools.cache
def _packed_plotly() -> str:
    """plotly.js, gzipped and base64-encoded (made once per process)."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 9)).decode("ascii")


class HandoutError(DenseAttentionError):
    """The handout could not be made (KaTeX missing, no Chromium for the PDF); says why."""


def titled_figures(
    trace: Trace,
    tokens: list[str],
    classes: list[str],
    titles: dict[str, str],
    cell: tuple[int, int] | None = None,
    hover: list[str] | None = None,
) -> dict[str, go.Figure]:
    """trace_plots.trace_figures with `titles` (words.chart_titles: the ones that depend on the
    model, e.g. c's activation) in place of the generic ones."""
    figures = trace_plots.trace_figures(trace, tokens, classes, cell=cell, hover=hover)
    for name, title in titles.items():
        figures[name].update_layout(title_text=title)
    return figures


def _streamlit_static() -> Path:
    spec = importlib.util.find_spec("streamlit")
    if spec is None or not spec.submodule_search_locations:
        raise HandoutError("the handout's formulas need KaTeX, found in streamlit: install it")
    return Path(spec.submodule_search_locations[0]) / "static" / "static"


def _data_uri(match: re.Match[str], media: Path) -> str:
    font = media / Path(match.group(1)).name
    if not font.is_file():
        raise HandoutError(f"KaTeX font {font.name} is missing from streamlit's static files")
    return f"url(data:font/woff2;base64,{base64.b64encode(font.read_bytes()).decode()})"


@functools.cache
def katex_assets() -> tuple[str, str]:
    """(JavaScript, CSS) of the KaTeX that streamlit ships (its static files): the script
    defines `window.katex`; the CSS holds the KaTeX rules and every font as a data URI."""
    static = _streamlit_static()
    scripts = sorted((static / "js").glob("katex.*.js"))
    sheets = sorted((static / "css").glob("*.css"))
    if not scripts:
        raise HandoutError(f"no KaTeX script in {static / 'js'}: the formulas cannot be drawn")
    module = scripts[0].read_text(encoding="utf-8")
    export = re.search(r"export\s*\{\s*([\w$]+)\s+as\s+default\s*\}\s*;?\s*$", module)
    if export is None:
        raise HandoutError(f"{scripts[0].name} does not export KaTeX as its default")
    script = f"(function(){{{module[: export.start()]};window.katex={export.group(1)};}})();"
    rules = [rule for sheet in sheets for rule in _top_level_rules(sheet.read_text("utf-8"))]
    katex_rules = "".join(rule for rule in rules if "katex" in rule.lower())
    if "KaTeX_Main" not in katex_rules:
        raise HandoutError(f"no KaTeX style sheet in {static / 'css'}")
    media = static / "media"
    css = re.sub(r"url\((\.\./media/[^)]+)\)", lambda m: _data_uri(m, media), katex_rules)
    return script.replace("</script", "<\\/script"), css


def _top_level_rules(css: str) -> list[str]:
    """A style sheet split into its top-level rules (an @media block stays whole)."""
    rules, depth, start = [], 0, 0
    for k, char in enumerate(css):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                rules.append(css[start : k + 1])
                start = k + 1
    return rules


def picture_png(pixels: np.ndarray) -> bytes:
    """What an image model sees, (H, W, C) floats in [0, 1], as PNG bytes."""
    from PIL import Image

    array = np.clip(np.asarray(pixels, dtype=np.float64), 0.0, 1.0)
    array = (array * 255).round().astype(np.uint8)
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    out = io.BytesIO()
    image.save(out, format="png")
    return out.getvalue()


def _math(latex: str, extra: str = "") -> str:
    return f'<div class="math {extra}">{html.escape(latex, quote=False)}</div>'


def _input_section(
    explanation: Explanation, about: Provenance | None, picture: bytes | None
) -> str:
    tokens = "".join(
        f"<span>{html.escape(t)}<sub>{k + 1}</sub></span>" for k, t in enumerate(explanation.tokens)
    )
    parts = ['<section id="input"><h2>The input</h2>']
    if about is not None and about.text:
        parts.append(f"<blockquote>{html.escape(about.text)}</blockquote>")
    if picture is not None:
        uri = base64.b64encode(picture).decode()
        parts.append(f'<img class="picture" alt="the picture" src="data:image/png;base64,{uri}">')
    note = f" ({explanation.truncated} more cut off)" if explanation.truncated else ""
    parts.append(f"<p>The model reads {len(explanation.tokens)} tokens{note}:</p>")
    parts.append(f'<p class="tokens">{tokens}</p></section>')
    return "\n".join(parts)


def _prediction_section(explanation: Explanation, about: Provenance | None) -> str:
    probs = explanation.trace.probs[0].detach().double().numpy()
    order = np.argsort(-probs)[:TOP_CLASSES]
    top = int(order[0])
    rows = "".join(
        f"<tr><td>{html.escape(explanation.classes[k])}</td><td>{probs[k]:.1%}</td></tr>"
        for k in order
    )
    verdict = about.verdict if about is not None else ""
    return (
        '<section id="prediction"><h2>The prediction</h2>'
        f'<p class="prediction">Prediction: <b>{html.escape(explanation.classes[top])}</b> '
        f"({probs[top]:.1%})</p>"
        f'<table class="classes">{rows}</table>'
        + (
            f"<p><b>Which attention does the work:</b> {html.escape(verdict)}</p>"
            if verdict
            else ""
        )
        + "</section>"
    )


def _cell_words(explanation: Explanation, cell: tuple[int, int]) -> str:
    i, j = cell
    tokens = explanation.tokens
    return (
        f"<p>The numbers under each formula follow query token i = {i + 1} "
        f"(“{html.escape(tokens[i])}”) and key token j = {j + 1} (“{html.escape(tokens[j])}”): "
        "how much one token looks at another, from the input to the prediction.</p>"
    )


def _chart(fig: go.Figure) -> str:
    """A placeholder and the figure's JSON: _DRAW draws it once plotly.js is unpacked."""
    out = for_export(fig).update_layout(width=PAGE_WIDTH_PX, autosize=False)
    spec = out.to_json().replace("</", "<\\/")  # "<\/" is the same JSON, never an end tag
    return f'<div class="chart"><div></div><script type="application/json">{spec}</script></div>'


def _step_section(
    key: str,
    explanation: Explanation,
    config: ModelConfig,
    caption: str,
    latex: str,
    figure: go.Figure,
) -> str:
    trace = explanation.trace
    general = formulas.step_latex(key, trace.similarity, config, trace.temperature)
    body = [
        f'<section class="step" id="step-{key}" data-step="{key}">',
        f"<h2>{formulas.STEP_KEYS.index(key) + 1} · "
        f"{html.escape(words.step_title(key, config))}</h2>",
        _math(general, "formula"),
        f'<p class="caption">{html.escape(caption)}</p>',
    ]
    if key == "attn" and trace.exclude_self:
        body.append(f"<p>{html.escape(formulas.EXCLUDE_SELF_NOTE)}</p>")
    if key == "alpha":
        body.append(trace_plots.token_shading_html(explanation.tokens, trace.alpha[0]))
    if latex != general:  # h_o under skip = none: nothing to work through
        body += ['<p class="label">With this input’s numbers:</p>', _math(latex, "worked")]
    body += [_chart(figure), "</section>"]
    return "\n".join(body)


def _head(title: str, about: Provenance | None) -> str:
    script, katex_css = katex_assets()
    meta = "" if about is None else "".join(
        f'<meta name="dal:{k}" content="{html.escape(v)}">' for k, v in about.fields().items()
    )  # fmt: skip
    return (
        f'<head><meta charset="utf-8"><title>{html.escape(title)}</title>{meta}'
        f"<style>{katex_css}</style><style>{_CSS}</style>"
        f'<script type="text/javascript">{script}</script></head>'
    )


def handout_html(
    explanation: Explanation,
    config: ModelConfig,
    *,
    about: Provenance | None = None,
    cell: tuple[int, int] | None = None,
    inputs: words.Inputs = None,
    picture: bytes | None = None,
) -> str:
    """The walk-through of one input as one self-contained HTML page: the input (`about.text`,
    the `picture` PNG of an image model), its tokens, the prediction (and `about.verdict`),
    then every step: its formula for this model, its words, the formula with this input's
    numbers for query i and key j (`cell`, 0-based; default the input's strongest link,
    attention_work.lesson_cell) and its chart. plotly.js, KaTeX and KaTeX's fonts are inlined
    once, so the file opens offline; formulas render when it opens.

    `config` is the model's config with the live settings in (what ran); `inputs` its encoder's
    config (words.caption says what x is made of)."""
    trace = explanation.trace
    tokens, classes = list(explanation.tokens), list(explanation.classes)
    if cell is None:
        cell = attention_work.lesson_cell(trace.attn[0], trace.alpha[0])
    numbers = worked.worked_steps(trace, cell, tokens, classes, config)
    figures = titled_figures(
        trace, tokens, classes, words.chart_titles(config), cell, explanation.hover_tokens
    )
    title = "The walk-through" if about is None else f"The walk-through · {about.model}"
    steps = [
        _step_section(
            key, explanation, config, words.caption(key, config, inputs), numbers[key], figures[key]
        )
        for key in formulas.STEP_KEYS
    ]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        "" if about is None else f'<p class="about">{html.escape(about.line())}</p>',
        _input_section(explanation, about, picture),
        _prediction_section(explanation, about),
        _cell_words(explanation, cell),
        *steps,
        "<footer>Made with Dense Attention Lab: a dense layer and attention, one formula at a "
        "time, with the real numbers.</footer>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en">{_head(title, about)}<body><main>\n'
        + "\n".join(body)
        + '\n<p id="charts-note" hidden></p></main>'
        + f'<script id="plotly-gz" type="application/octet-stream">{_packed_plotly()}</script>'
        + f"{_RENDER}{_DRAW}</body></html>\n"
    )


def chromium_path() -> str | None:
    """The Chromium (or Chrome) executable the PDF is printed with; None when there is none."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def handout_pdf(page: str, timeout: float = PDF_TIMEOUT_S) -> bytes:
    """The handout HTML `page` printed to A4 PDF by headless Chromium with the network off
    (every host resolves to nothing), after its scripts drew the formulas and charts."""
    browser = chromium_path()
    if browser is None:
        raise HandoutError(
            "the PDF handout needs Chromium on the server (apt-get install chromium); "
            "the HTML handout works without it and prints from any browser"
        )
    with tempfile.TemporaryDirectory(prefix="dal-handout-") as folder:
        source, target = Path(folder) / "handout.html", Path(folder) / "handout.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={Path(folder) / 'profile'}", "--window-size=1000,1400",
            "--run-all-compositor-stages-before-draw", "--virtual-time-budget=20000",
            "--no-pdf-header-footer", f"--print-to-pdf={target}", source.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            raise HandoutError(f"Chromium took over {timeout:g} s to print the handout") from err
        if not target.is_file() or _page_count(pdf := target.read_bytes()) == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise HandoutError(f"Chromium did not print the handout: {' '.join(tail)}")
        return pdf
