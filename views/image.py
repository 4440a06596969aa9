"""Upload a picture, or pick one, and follow its patches through the model, formula by formula."""

import streamlit as st

from dense_attention import ui

picked = ui.pick_model("image")
if picked is None:
    st.stop()
model, cfg = picked.model, picked.model.config.image
meta = ui.training_metadata(ui.live_settings(picked, draw=False))

st.title(ui.tr("Your picture, one formula at a time"))
st.markdown(
    ui.tr(
        "The model shrinks the picture to **{size}×{size}** pixels and cuts it into "
        "**{num_patches} patches** of {patch}×{patch}: each patch is one token (its "
        "pixels plus its position). Attention then compares every patch with every other.",
        size=cfg.size,
        num_patches=cfg.num_patches,
        patch=cfg.patch,
    )
)
picture = ui.pick_image(meta)
ui.photo_caution(picture, model, meta)

# The input x and h once per picture; a live setting reruns only what it changes.
ui.image_walkthrough(picked, picture)
