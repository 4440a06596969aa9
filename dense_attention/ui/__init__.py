"""The app's Streamlit layer: the only package that imports streamlit (with app.py and views/).

One job per file. The re-exports below are what the pages (views/*.py, app.py) call as
`ui.<name>`, nothing more (tests/test_ui.py checks it); everything else is imported from its
module, e.g. `from dense_attention.ui import state`.

- state: every session-state key, and `bound` for widgets whose value outlives their page
- cache: shared read-only loaders (checkpoints, MiniLM) and the content-keyed figure cache
- errors: the library's errors (DenseAttentionError) as messages, any other as a logged bug
- live + sidebar: the model picker and live settings
- share: the URL ⇄ session; browser: this browser's workspace and its cookie
- inputs, styles: sentence boxes, uploads read once, token chips, the prediction line
- charts: a chart with its exports; walkthrough: the steps and the formula-with-numbers panel
- code_download: the model as PyTorch code; lesson: lesson links (hide=, lock=) and their panel
- live_page: Text and Image pages split so a live setting reruns only what it changes
- picture, picture_attention: the image page; compare: the compare page
- train_form, job_panels, train_time (estimate, time left), sweep_panels, replay,
  checkpoint_zip: the train page
- matters, adversarial, seeds, what_if: the "Does attention matter?" page; verdicts: the one
  verdict (badge, attention page, why attention is diagonal)
- present: the presentation's slides; presenter: its presenter view (notes, next slide)
- questions: predict, then reveal (a lesson link's questions=on)
- dataset_view, dataset_table: the dataset page (a model over a test split, its slices, a row
  opened in the walk-through)

Isolation between sessions: `st.cache_resource` holds only read-only things shared by every user
(shipped checkpoints in eval mode, MiniLM, figures keyed by a digest of everything they show). A
model trained or uploaded in a browser lives in that browser's workspace (`browser`), found by a
random token kept in the session and in a cookie. See docs/design.md.
"""

from .adversarial import adversarial_attention
from .browser import remember_browser, workspace
from .cache import warm_pages, warm_up_later
from .checkpoint_zip import checkpoint_upload, trained_download
from .code_download import code_download
from .compare import attention_chart, minilm_beside, setting_b, what_changed
from .dataset_table import dataset_filters, dataset_slices, dataset_table
from .dataset_view import dataset_result, dataset_sample, dataset_source
from .errors import friendly_errors
from .inputs import examples_of, prediction_line, sentence_input, sentence_line
from .job_panels import compare_runs, job_controls, job_panel, running, start_job, train_progress
from .live_page import image_walkthrough, text_walkthrough
from .matters import (
    ablations,
    analysis,
    deletion,
    eraser_scores,
    head_ablations,
    importance,
    training_means,
)
from .picture import photo_caution, pick_image
from .present import (
    picture_choice,
    presenter_window,
    render_deck,
    slide_controls,
    slide_input,
    training_metadata,
)
from .questions import asked as asked_questions
from .replay import replay
from .seeds import seed_variance_panel
from .share import restore_view, share_view
from .sidebar import live_settings, sidebar
from .sidebar import pick as pick_model
from .state import (
    MATTERS_SOURCE,
    PRESENT_PHOTO,
    PRESENT_SOURCE,
    SWEEP_SIMILARITIES,
    TOY_SIMILARITY,
    TOY_TEMPERATURE,
    TRAIN_CHECKPOINT_UPLOAD,
    TRAIN_MODE,
    TRAIN_ZIP,
    TUNE_BEST,
    TUNE_MINUTES,
    TUNE_TRIALS,
)
from .styles import md
from .sweep_panels import sweep_progress, tune_progress
from .train_form import data_choice, training_settings
from .train_time import time_estimate
from .verdicts import input_verdict, show_verdict
from .walkthrough import cell_panel, render_steps, selected_cell
from .what_if import dataset_level, what_if

__all__ = [
    "MATTERS_SOURCE",
    "PRESENT_PHOTO",
    "PRESENT_SOURCE",
    "SWEEP_SIMILARITIES",
    "TOY_SIMILARITY",
    "TOY_TEMPERATURE",
    "TRAIN_CHECKPOINT_UPLOAD",
    "TRAIN_MODE",
    "TRAIN_ZIP",
    "TUNE_BEST",
    "TUNE_MINUTES",
    "TUNE_TRIALS",
    "ablations",
    "adversarial_attention",
    "analysis",
    "asked_questions",
    "attention_chart",
    "cell_panel",
    "checkpoint_upload",
    "code_download",
    "compare_runs",
    "data_choice",
    "dataset_filters",
    "dataset_result",
    "dataset_sample",
    "dataset_slices",
    "dataset_source",
    "dataset_table",
    "dataset_level",
    "deletion",
    "eraser_scores",
    "examples_of",
    "friendly_errors",
    "head_ablations",
    "image_walkthrough",
    "importance",
    "input_verdict",
    "job_controls",
    "job_panel",
    "live_settings",
    "md",
    "minilm_beside",
    "photo_caution",
    "pick_image",
    "pick_model",
    "picture_choice",
    "prediction_line",
    "presenter_window",
    "remember_browser",
    "render_deck",
    "render_steps",
    "replay",
    "restore_view",
    "running",
    "seed_variance_panel",
    "selected_cell",
    "sentence_input",
    "sentence_line",
    "setting_b",
    "share_view",
    "show_verdict",
    "sidebar",
    "slide_controls",
    "slide_input",
    "start_job",
    "sweep_progress",
    "text_walkthrough",
    "time_estimate",
    "train_progress",
    "trained_download",
    "training_means",
    "training_metadata",
    "training_settings",
    "tune_progress",
    "warm_pages",
    "warm_up_later",
    "what_changed",
    "what_if",
    "workspace",
]
