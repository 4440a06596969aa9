"""Dense Attention Lab: the Streamlit entry point. Page config, shared sidebar, navigation."""

import json
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Dense Attention Lab", page_icon=":material/hub:", layout="wide")

# Before the imports below (2 s of CPU for torch and the library, begun only when the first
# browser connects; the browser waits idle meanwhile), the browser fetches and compiles the code
# of the charts, formulas and components the first page draws: Streamlit loads each with its
# first element, and plotly.js alone is 4.7 MB (0.5-1 s of the browser's CPU to compile here).
# A hidden element in the sidebar (preload.html; the main area's elements are the page's).
PRELOAD = ("PlotlyChart", "BidiComponent", "rehype-katex", "StreamlitSyntaxHighlighter")
STREAMLIT_JS = Path(st.__file__).parent / "static" / "static" / "js"
chunks = sorted(f.name for f in STREAMLIT_JS.glob("*.js") if f.name.split(".")[0] in PRELOAD)
preload = Path(__file__).parent / "dense_attention" / "ui" / "assets" / "preload.html"
st.sidebar.html(
    preload.read_text().replace("CHUNKS", json.dumps(chunks)), unsafe_allow_javascript=True
)

import torch  # noqa: E402

import dense_attention  # noqa: E402

with dense_attention.IMPORT_LOCK:  # one thread at a time imports the app's modules
    from dense_attention import ui
    from dense_attention.inputs import text_encoder
    from dense_attention.server import jobs

# One intra-op thread: an explanation is a few small matrix products, and with several sessions
# (or a training run) on the CPU, extra threads mostly wait for each other. Measured on a busy
# 2-core machine: a MiniLM-contextual explanation took 940 ms with 2 threads, 12 ms with 1.
torch.set_num_threads(1)

# The language first: every word below (the page titles too) follows this session's choice.
ui.language_switch()

# One entry per page in views/; the text page is home: users come to type a sentence. The folder
# is not called pages/: Streamlit would also serve pages/*.py on their own, and a fresh server's
# first visitor of a page URL (e.g. /train) got the page without this script (no shared sidebar
# title, no workspace cookie, no restored view).
PAGES = [
    st.Page("views/text.py", title=ui.tr("Text"), icon=":material/text_fields:", default=True),
    st.Page("views/image.py", title=ui.tr("Image"), icon=":material/image:"),
    st.Page("views/model.py", title=ui.tr("The model"), icon=":material/function:"),
    st.Page("views/train.py", title=ui.tr("Train"), icon=":material/model_training:"),
    st.Page("views/present.py", title=ui.tr("Present"), icon=":material/slideshow:"),
    st.Page("views/compare.py", title=ui.tr("Compare"), icon=":material/compare:"),
    st.Page(
        "views/attention.py", title=ui.tr("Does attention matter?"), icon=":material/visibility:"
    ),
    st.Page("views/dataset.py", title=ui.tr("Dataset view"), icon=":material/table_view:"),
    st.Page("views/about.py", title=ui.tr("About"), icon=":material/info:"),
]

# The app's name above the page list: st.logo is drawn at the very top of the sidebar, where a
# st.sidebar.title came out below the pages (st.navigation draws its list first).
st.logo("assets/wordmark.svg", size="large")
page = st.navigation(PAGES)
ui.restore_view()  # a shared link opens the same sentence, model, settings and slide
ui.remember_browser()  # this browser's trained models survive a reload
# Once per server, a few seconds after the first page's run (so the browser draws it first):
# MiniLM loads in the background (the shipped examples did not need it: encoding_cache), the
# other pages' heavy imports are done, and a worker process for training starts, not at the
# first Start (a spawn and its imports take 2-5 s); it waits idle at a lower priority
# (DAL_WARM_WORKER=0: never). After the run, not before: the warm-up takes ~9 s of CPU, which
# the browser drawing the first page's charts on a 2-core machine would share.
try:
    page.run()
finally:
    ui.warm_up_later(text_encoder.preload_minilm, ui.warm_pages, jobs.warm_workers)
