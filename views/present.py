"""Present the walk-through to a room: one step of the model per slide, in large type."""

import streamlit as st

from dense_attention import ui
from dense_attention.figures.slides import SLIDES

# A later call overrides the app's page config (Streamlit 1.67); the layout is repeated because
# the browser shows an unset one as "centered".
st.set_page_config(layout="wide", initial_sidebar_state="collapsed")

TEXT, IMAGE = "Text", "Image"

source_col, input_col = st.columns([1, 3], vertical_alignment="bottom")
with source_col:
    source = st.radio(
        ui.tr("Input"), [TEXT, IMAGE], format_func=ui.tr, horizontal=True, key=ui.PRESENT_SOURCE
    )
settings = ui.sidebar("text" if source == TEXT else "image")
if settings is None:
    st.stop()

with input_col:
    examples = ui.examples_of(settings.model_name)
    item = ui.sentence_line(examples) if source == TEXT else ui.picture_choice(settings)
if source == TEXT and not item.strip():
    st.info(ui.tr("Type a sentence above to present it."), icon=":material/edit:")
    st.stop()

with ui.friendly_errors():
    explanation = settings.explain(item)
ui.code_download(settings, explanation, item, in_sidebar=True)

presenting = ui.presenter_window()  # ?presenter=1: the notes, the next slide and a timer
k = ui.slide_controls(len(SLIDES), presenting)  # the browser switches slides (both windows)
photo = st.session_state.get(ui.PRESENT_PHOTO) if source == IMAGE else None
ui.share_view(input=source.lower(), image=photo)
ui.render_deck(
    SLIDES,
    explanation,
    settings.config,
    current=k,
    show_input=lambda: ui.slide_input(settings.model, item, explanation),
    found=ui.input_verdict(settings, item),
    inputs=settings.inputs,
    asked=ui.asked_questions(settings, explanation),
    presenting=presenting,
)
