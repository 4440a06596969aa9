"""The app's Streamlit layer: the only package that imports streamlit (with app.py and views/).

One job per file; pages read `ui.sidebar(...)`, `ui.render_steps(...)` through these re-exports.

- state: every session-state key, and `bound` for widgets whose value outlives their page
- cache: shared read-only loaders (checkpoints, MiniLM) and the content-keyed figure cache
- errors: library errors as messages; live + sidebar: the model picker and live settings
- share: the URL ⇄ session; browser: this browser's workspace and its cookie
- inputs, styles: sentence boxes, uploads read once, token chips, the prediction line
- charts: a chart with its exports; walkthrough: the steps and the formula-with-numbers panel
- live_page: Text and Image pages split so a live setting reruns only what it changes
- picture, picture_attention: the image page; compare: the compare page
- train_form, job_panels, train_time (estimate, time left), sweep_panels, replay,
  checkpoint_zip: the train page
- matters, adversarial, what_if: the "Does attention matter?" page; verdicts: the one verdict
  (badge, attention page, why attention is diagonal)
- present: the presentation's slides

Isolation between sessions: `st.cache_resource` holds only read-only things shared by every user
(shipped checkpoints in eval mode, MiniLM, figures keyed by a digest of everything they show). A
model trained or uploaded in a browser lives in that browser's workspace (`browser`), found by a
random token kept in the session and in a cookie. See docs/design.md.
"""

from .adversarial import adversarial_attention
from .browser import (
    USER_SUFFIX,
    WORKSPACE_COOKIE,
    remember_browser,
    user_models,
    workspace,
    workspaces,
)
from .cache import (
    cached,
    checkpoints,
    load_checkpoint,
    load_reference_model,
    minilm_attention,
    warm_pages,
    warm_up_later,
)
from .charts import chart, export_buttons, matrix_table, trace_download
from .checkpoint_zip import checkpoint_download, checkpoint_upload, trained_download
from .compare import attention_chart, minilm_beside, setting_b, what_changed
from .errors import friendly_errors
from .inputs import (
    EXAMPLE_SENTENCES,
    caution,
    examples_of,
    prediction_line,
    read_once,
    sentence_input,
    sentence_line,
    show_tokens,
    token_box,
)
from .job_panels import (
    compare_runs,
    job_controls,
    job_panel,
    running,
    start_job,
    train_progress,
)
from .live import SETTING_NAMES, SETTING_WIDGETS, reset_settings
from .live_page import image_walkthrough, text_walkthrough
from .matters import ablations, analysis, deletion, eraser_scores, importance, training_means
from .picture import EXAMPLE, photo_caution, pick_image, what_the_model_sees
from .picture_attention import attention_on_picture, patch_features
from .present import (
    SLIDE_CHART_PX,
    current_slide,
    picture_choice,
    render_deck,
    slide_controls,
    slide_input,
    training_metadata,
)
from .replay import replay
from .share import SHARED_TEXT_MAX, restore_view, share_view
from .sidebar import Picked, Settings, live_settings, sidebar
from .sidebar import pick as pick_model
from .state import (
    CELL,
    EXAMPLE_WIDGET,
    MATTERS_SOURCE,
    MODEL_WIDGET,
    OVERRIDES,
    POOLING_WIDGET,
    PRESENT_PHOTO,
    PRESENT_SOURCE,
    SELECTED_MODEL,
    SENTENCE,
    SENTENCE_WIDGET,
    SIMILARITY_WIDGET,
    SLIDE,
    TEMPERATURE_WIDGET,
    TRAIN_MODE,
    WORKSPACE,
)
from .sweep_panels import sweep_progress, tune_progress
from .train_form import data_choice, training_settings
from .train_time import time_estimate
from .verdicts import badge, diagonal_panel, input_verdict, show_verdict
from .walkthrough import cell_panel, render_steps, selected_cell
from .what_if import dataset_level, what_if

__all__ = [
    "CELL",
    "EXAMPLE",
    "EXAMPLE_SENTENCES",
    "EXAMPLE_WIDGET",
    "MATTERS_SOURCE",
    "MODEL_WIDGET",
    "OVERRIDES",
    "POOLING_WIDGET",
    "PRESENT_PHOTO",
    "PRESENT_SOURCE",
    "Picked",
    "SELECTED_MODEL",
    "SENTENCE",
    "SENTENCE_WIDGET",
    "SETTING_NAMES",
    "SETTING_WIDGETS",
    "SHARED_TEXT_MAX",
    "SIMILARITY_WIDGET",
    "SLIDE",
    "SLIDE_CHART_PX",
    "Settings",
    "TEMPERATURE_WIDGET",
    "TRAIN_MODE",
    "USER_SUFFIX",
    "WORKSPACE",
    "WORKSPACE_COOKIE",
    "ablations",
    "adversarial_attention",
    "analysis",
    "attention_chart",
    "attention_on_picture",
    "badge",
    "cached",
    "caution",
    "cell_panel",
    "chart",
    "checkpoint_download",
    "checkpoint_upload",
    "checkpoints",
    "compare_runs",
    "current_slide",
    "data_choice",
    "dataset_level",
    "deletion",
    "diagonal_panel",
    "eraser_scores",
    "examples_of",
    "export_buttons",
    "friendly_errors",
    "image_walkthrough",
    "importance",
    "input_verdict",
    "job_controls",
    "job_panel",
    "live_settings",
    "load_checkpoint",
    "load_reference_model",
    "matrix_table",
    "minilm_attention",
    "minilm_beside",
    "patch_features",
    "photo_caution",
    "pick_image",
    "pick_model",
    "picture_choice",
    "prediction_line",
    "read_once",
    "remember_browser",
    "render_deck",
    "render_steps",
    "replay",
    "reset_settings",
    "restore_view",
    "running",
    "selected_cell",
    "sentence_input",
    "sentence_line",
    "setting_b",
    "share_view",
    "show_tokens",
    "show_verdict",
    "sidebar",
    "slide_controls",
    "slide_input",
    "start_job",
    "sweep_progress",
    "text_walkthrough",
    "time_estimate",
    "token_box",
    "trace_download",
    "train_progress",
    "trained_download",
    "training_means",
    "training_metadata",
    "training_settings",
    "tune_progress",
    "user_models",
    "warm_pages",
    "warm_up_later",
    "what_changed",
    "what_if",
    "what_the_model_sees",
    "workspace",
    "workspaces",
]
