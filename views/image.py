"""Upload a picture, or pick one, and follow its patches through the model, formula by formula."""

import streamlit as st

from dense_attention import images, ui

settings = ui.sidebar("image")
if settings is None:
    st.stop()
model, cfg = settings.model, settings.model.config.image
meta = ui.training_metadata(settings)

st.title("Your picture, one formula at a time")
st.markdown(
    f"The model shrinks the picture to **{cfg.size}×{cfg.size}** pixels and cuts it into "
    f"**{cfg.num_patches} patches** of {cfg.patch}×{cfg.patch}: each patch is one token "
    "(its pixels plus its position). Attention then compares every patch with every other."
)
picked = ui.pick_image(meta)
ui.photo_caution(picked, model, meta)

with ui.friendly_errors():
    explanation = settings.explain(picked.image)
    pixels = images.resized_input(model, picked.image)

ui.what_the_model_sees(picked, settings, explanation, pixels)
ui.attention_on_picture(model, explanation, pixels)

st.header("Step by step", divider="blue")
about = settings.provenance(
    picked.source if picked.label is None else f"{picked.source}: {picked.label}"
)
ui.trace_download(explanation, name="image_trace", key="image_trace_json", about=about)
ui.render_steps(
    explanation,
    settings.config,
    cell=ui.selected_cell(len(explanation.tokens)),
    extras={"x": lambda: st.caption(ui.patch_features(model))},
    key="image_steps",
    about=about,
)
ui.cell_panel(explanation, settings.config)
