"""Upload a picture, or pick one, and follow its patches through the model, formula by formula."""

from typing import NamedTuple

import streamlit as st
from PIL import Image

from dense_attention import export, images, plots, ui
from dense_attention.data import DATASETS

EXAMPLE, PHOTO, UPLOAD = "Test-set example", "Demo photo", "Upload"
N_EXAMPLES = 20  # test-set examples offered: two of each class for 10 classes
UPLOADED = "image_uploaded"  # session key: (file_id, image or DataError) of the last upload
QUERY = "image_query"  # the query-patch selectbox; mirrors the formula panel's cell_i


class Picked(NamedTuple):
    image: Image.Image
    source: str  # EXAMPLE | PHOTO | UPLOAD
    label: str | None  # the true class of a test-set example


def read_upload(file) -> Image.Image:
    """The uploaded file as an image, decoded once per file (a 40 MP photo takes ~0.5 s)."""
    return ui.read_once(file, UPLOADED, images.upload_to_image)


def pick_image(meta: dict) -> Picked:
    """The source widgets; returns the chosen picture (or stops the page with a prompt).
    Test-set examples need to know the model's dataset and split (a shipped checkpoint's)."""
    dataset = meta.get("dataset")
    known = dataset in DATASETS
    sources = [EXAMPLE, PHOTO, UPLOAD] if known else [PHOTO, UPLOAD]
    source = st.radio("Picture", sources, horizontal=True, key="image_source")
    if source == EXAMPLE:
        with ui.friendly_errors(), st.spinner(f"Reading the {dataset} test split…"):
            examples = images.test_examples(
                dataset, N_EXAMPLES, seed=meta.get("split_seed", 0), limit=meta.get("limit")
            )
        k = st.selectbox(
            "Test-set example",
            range(len(examples)),
            format_func=lambda k: f"#{k + 1} · {examples[k].label}",
            key="image_example",
        )
        st.caption(f"From the test split of {dataset}: the model never saw these in training.")
        return Picked(examples[k].image, EXAMPLE, examples[k].label)
    if source == PHOTO:
        photos = images.demo_images()
        name = st.selectbox("Demo photo", list(photos), key="image_photo")
        st.caption("Photos bundled with scikit-image and scikit-learn.")
        return Picked(photos[name], PHOTO, None)
    file = st.file_uploader(
        "Upload a picture",
        type=list(images.UPLOAD_TYPES),
        max_upload_size=images.MAX_UPLOAD_BYTES // 2**20,
        key="image_file",
    )
    st.caption(
        f"PNG, JPEG, WebP, BMP or GIF (first frame), up to {images.MAX_UPLOAD_BYTES // 2**20} MB. "
        "Large pictures are shrunk; the model only ever sees a few pixels."
    )
    if file is None:
        st.info("Upload a picture to see it go through the model.", icon=":material/upload:")
        st.stop()
    return Picked(read_upload(file), UPLOAD, None)


def query_to_cell() -> None:
    st.session_state[f"{ui.CELL}_i"] = st.session_state[QUERY]


def query_patch(tokens: list[str]) -> int:
    """The query patch i: shared with the formula panel below (its selectors and its clicks)."""
    i, j = ui.selected_cell(len(tokens))
    # Re-fill the panel's selectors on every run: after a run that did not draw them (the page
    # stopped at the upload prompt) they would show their first option instead of (i, j).
    st.session_state[f"{ui.CELL}_i"], st.session_state[f"{ui.CELL}_j"] = i, j
    st.session_state[QUERY] = i
    return st.selectbox(
        "Query patch i",
        range(len(tokens)),
        format_func=lambda k: f"{k + 1} · {tokens[k]}",
        key=QUERY,
        on_change=query_to_cell,
        help="Also set by the query token i of the formula panel below, or a click on its matrix.",
        width=320,
    )


def weights_csv(weights, tokens: list[str], name: str) -> str:
    return export.matrix_csv(weights, export.token_labels(tokens), [name], "patch")


settings = ui.sidebar("image")
if settings is None:
    st.stop()
model, cfg = settings.model, settings.model.config.image
meta = ui.training_metadata(settings)
shape = f"{cfg.size}×{cfg.size}"

st.title("Your picture, one formula at a time")
st.markdown(
    f"The model shrinks the picture to **{shape}** pixels and cuts it into "
    f"**{cfg.num_patches} patches** of {cfg.patch}×{cfg.patch}: each patch is one token "
    "(its pixels plus its position). Attention then compares every patch with every other."
)
picked = pick_image(meta)
if picked.source != EXAMPLE:
    st.info(
        f"This model was trained on **{meta.get('dataset', 'small images')}**, {shape} "
        f"{'gray' if cfg.channels == 1 else 'colour'} pictures. A photo shrunk to that size looks "
        "nothing like them, so its prediction is for exploring how attention works, not a "
        "meaningful label.",
        icon=":material/science:",
    )

with ui.friendly_errors():
    explanation = settings.explain(picked.image)
    pixels = images.resized_input(model, picked.image)
trace, tokens = explanation.trace, list(explanation.tokens)
boxes = model.encoder.patch_boxes()

st.header("What the model sees", divider="blue")
original, seen = st.columns(2)
with original:
    width, height = picked.image.size
    if max(width, height) > cfg.size:
        st.image(picked.image, caption=f"The picture, {width}×{height}", width=300)
    else:
        st.caption(f"The picture is {width}×{height} pixels.")
    for note in images.input_notes(picked.image, model):
        st.caption(note)
with seen:
    title = f"The {shape} input, cut into {cfg.num_patches} patches"
    grid = ui.cached(plots.image_with_grid, pixels, cfg.patch, tokens, title)
    st.plotly_chart(grid, width="stretch", key="image_grid")
verdict, chart = st.columns([1, 2])
with verdict:
    st.markdown(ui.prediction_line(explanation))
    if picked.label is not None:
        st.markdown(f"True label: **{picked.label}**")
with chart:
    probs = ui.cached(plots.probs_bar, trace.probs[0], list(explanation.classes), trace.logits[0])
    st.plotly_chart(probs, width="stretch", key="image_probs")

st.header("Attention on the picture", divider="blue")
i = query_patch(tokens)
left, right = st.columns(2)
with left:
    alpha = trace.alpha[0]
    title = "Pooling weights α<sub>i</sub> on the picture"
    overlay = ui.cached(plots.patch_overlay, pixels, alpha, boxes, title, tokens, name="α")
    st.plotly_chart(overlay, width="stretch", key="image_alpha_overlay")
    st.caption("How much each patch counts in the pooled vector c: the redder, the more.")
    ui.export_buttons(
        overlay, "alpha_overlay", lambda: weights_csv(alpha, tokens, "alpha"), "image_alpha_export"
    )
with right:
    row = ui.cached(plots.patch_attention_row, pixels, trace.attn[0], boxes, i, tokens)
    st.plotly_chart(row, width="stretch", key="image_row_overlay")
    st.caption(
        f"Row {i + 1} of the attention matrix: how patch {i + 1} (outlined) spreads its attention "
        "over all the patches; the weights sum to 1."
    )
    ui.export_buttons(
        row,
        f"attention_row_{i + 1}",
        lambda: weights_csv(trace.attn[0, i], tokens, f"a_{i + 1}j"),
        "image_row_export",
    )

st.header("Step by step", divider="blue")
ui.trace_download(explanation, name="image_trace", key="image_trace_json")
features = (
    f"Here x_i holds the {cfg.patch_dim} {'gray levels' if cfg.channels == 1 else 'colour values'}"
    f" of patch i ({cfg.patch}×{cfg.patch} pixels) and {cfg.pos_dim} numbers for its position."
)
ui.render_steps(
    explanation,
    settings.config,
    cell=ui.selected_cell(len(tokens)),
    extras={"x": lambda: st.caption(features)},
    key="image_steps",
)
ui.cell_panel(explanation, settings.config)
