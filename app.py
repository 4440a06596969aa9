"""Dense Attention Lab: the Streamlit entry point. Page config, shared sidebar, navigation."""

from pathlib import Path

import streamlit as st
import torch

from dense_attention import ui

st.set_page_config(page_title="Dense Attention Lab", page_icon=":material/hub:", layout="wide")

HERE = Path(__file__).resolve().parent

# One intra-op thread: an explanation is a few small matrix products, and with several sessions
# (or a training run) on the CPU, extra threads mostly wait for each other. Measured on a busy
# 2-core machine: a MiniLM-contextual explanation took 940 ms with 2 threads, 12 ms with 1.
torch.set_num_threads(1)

# One entry per page in pages/; the text page is home: users come to type a sentence.
PAGES = [
    st.Page("pages/text.py", title="Text", icon=":material/text_fields:", default=True),
    *(
        [st.Page("pages/image.py", title="Image", icon=":material/image:")]
        if (HERE / "pages" / "image.py").is_file()  # written in parallel: the app runs without it
        else []
    ),
    st.Page("pages/model.py", title="The model", icon=":material/function:"),
    *(
        [st.Page("pages/train.py", title="Train", icon=":material/model_training:")]
        if (HERE / "pages" / "train.py").is_file()
        else []
    ),
    *(
        [st.Page("pages/present.py", title="Present", icon=":material/slideshow:")]
        if (HERE / "pages" / "present.py").is_file()
        else []
    ),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/about.py", title="About", icon=":material/info:"),
]

st.sidebar.title("Dense Attention Lab")
page = st.navigation(PAGES)
ui.restore_view()  # a shared link opens the same sentence, model, settings and slide
ui.remember_browser()  # this browser's trained models survive a reload
page.run()
