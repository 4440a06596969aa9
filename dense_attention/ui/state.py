"""Every session-state key of the app, declared once with what it holds, and the one helper for
a widget whose value outlives the page that draws it.

Streamlit forgets a widget's state on a page that does not draw it, so a value that must follow
the user across pages lives under a persistent key; its widget is filled from that key before it
is drawn and copies its value back on change (`bound`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

# Persistent values, kept across pages
SELECTED_MODEL = "selected_model"  # dict page kind ("text", "image", "any") -> model label
OVERRIDES = "model_overrides"  # dict model label -> {"similarity"|"temperature"|"pooling": value}
SENTENCE = "sentence"  # the text of the text, compare and present pages
SENTENCE_DEFAULT = "sentence_default"  # the model example SENTENCE started on (follows the model)
SLIDE = "slide"  # the presentation page's current slide, 0-based (also in the shared URL)
VIEW_RESTORED = "view_restored"  # True once the shared URL was read into the session
# A link said its sender's text was too long to carry: True, then the text the page opened with
TEXT_NOT_SHARED = "text_not_shared"
WORKSPACE = "workspace_token"  # the 32-hex-digit token of this browser's workspace
COOKIE_WRITTEN = "workspace_cookie_written"  # True once the token went into the cookie
LESSON = "lesson"  # lesson.Lesson: the controls a lesson link hid or locked (from hide=, lock=)
LANGUAGE = "language"  # the interface's language code (core.i18n.LANGUAGES), one per session
REMOVE_UNREADABLE = "remove_unreadable_"  # prefix of the buttons removing a damaged stored model

# Widgets of the sidebar and the text pages (filled from the persistent values above)
MODEL_WIDGET = "sidebar_model"  # the model picker
LANGUAGE_WIDGET = "sidebar_language"  # the language switch
SIMILARITY_WIDGET = "sidebar_similarity"  # live similarity
TEMPERATURE_WIDGET = "sidebar_temperature"  # live temperature τ
POOLING_WIDGET = "sidebar_pooling"  # live pooling
SENTENCE_WIDGET = "sentence_text"  # the sentence box of the text and compare pages
EXAMPLE_WIDGET = "sentence_example"  # the example-sentence pills (reset after each click)
PRESENT_SENTENCE = "present_sentence"  # the present page's one-line sentence box
LESSON_HIDE = "lesson_hide"  # "Make a lesson link": the controls to hide
LESSON_LOCK = "lesson_lock"  # "Make a lesson link": the controls to lock
LESSON_QUESTIONS = "lesson_questions"  # "Make a lesson link": ask questions (questions=on)
# "Download the model as PyTorch code": on the Text page, the Image page, and in the sidebar
CODE_ZIP, CODE_ZIP_IMAGE, CODE_ZIP_SIDEBAR = "code_zip", "image_code_zip", "sidebar_code_zip"

# The formula panel: the selected attention cell (0-based) and its clickable matrix
CELL = "cell"  # prefix of the panel's keys
CELL_I, CELL_J, CELL_CLICK = "cell_i", "cell_j", "cell_click"  # query i, key j, the click event
QUERY_KEY_MAP = "query_key_map"  # the Text page's toggle that draws the query–key map

# One token followed through every step (ui/linked.py): the overview elements and the pin
OVERVIEW_TEXT, OVERVIEW_IMAGE = "overview_text", "overview_image"  # the overview elements
LINKED_TOKEN = "linked_token"  # (the input's tokens, k): the token clicked to pin it, 0-based

# The image page
IMAGE_SOURCE = "image_source"  # test-set example | demo photo | upload
IMAGE_EXAMPLE = "image_example"  # index of the chosen test-set example
IMAGE_PHOTO = "image_photo"  # name of the chosen demo photo
IMAGE_FILE = "image_file"  # the picture uploader
IMAGE_UPLOADED = "image_uploaded"  # (file_id, image or error) of the last uploaded picture
IMAGE_QUERY = "image_query"  # the query-patch selectbox; mirrors CELL_I

# The present page
PRESENT_SOURCE = "present_source"  # "Text" | "Image"
PRESENT_PHOTO = "present_photo"  # the chosen picture's name
SLIDE_VIEW = "slide_view"  # the slide's container: its CSS class scopes the large type
SLIDE_CONTROLS = "slide_controls"  # the Previous / Next row's container
JOBS_NEAR_END = "jobs_near_end"  # ids of the jobs whose panel polls fast (ui.job_panels)
LIVE_VIEW_SENT = "live_view_sent"  # the live view's weights keys this browser already holds
LIVE_VIEW_PAINTED = "live_view_painted"  # this browser has drawn its first live view
TEXT_VIEWPORT = "text_viewport"  # the Text page's viewport element: its charts near the screen
IMAGE_VIEWPORT = "image_viewport"  # the same on the Image page (ui.lazy)
EVERY_CHART = "every_chart"  # a link's charts=all: every chart drawn at once, none lazily
VIEWPORT_SEEN = "viewport_seen"  # this browser has reported a viewport: pages open lazily
SLIDE_TABS = "slide_tabs"  # the slides' tabs (one slide each; slide_deck.js switches them)

# The "Does attention matter?" page
MATTERS_SOURCE = "matters_source"  # "Text" | "Image"
WHATIF_KNOCKED = "whatif_knocked"  # indices of the tokens knocked out in the what-if
WHATIF_TOKEN = "whatif_token"  # the token whose α is dragged (None: α as computed)
WHATIF_ALPHA = "whatif_alpha"  # the dragged α value
# (token, α row) the α slider was last set from: the slider starts at that token's own α, and
# another token, knock-out, input or setting starts it again from the new own α
WHATIF_FROM = "whatif_from"
WHATIF_ALPHA_OFF = "whatif_alpha_off"  # the α slider, disabled, while no token is picked
WHATIF_WEIGHTS = "whatif_weights"  # the table of every token's α before and after the drag
SEEDS_COUNT = "seeds_count"  # how many seeds the seed-variance job trains (ui.seeds)
SEEDS_EPOCHS = "seeds_epochs"  # the epochs of each seed's run (default: the recipe's own)
STUDIES = "faithfulness_studies"  # dict model label -> dataset-level study of a session model

# The dataset page (views/dataset.py)
DATASET_SOURCE = "dataset_source"  # the model's own test split | an uploaded file
DATASET_UPLOAD = "dataset_upload"  # the uploader of test data (CSV or ZIP)
DATASET_UPLOADED = "dataset_uploaded"  # (file_id, Dataset or the error to show) of that upload
DATASET_SAMPLE = "dataset_sample"  # a seeded random sample | the whole test split
DATASET_SEED = "dataset_seed"  # the sample's seed
DATASET_CLASSES = "dataset_classes"  # the true classes the table keeps (none: every class)
DATASET_OUTCOME = "dataset_outcome"  # "all" | "correct" | "wrong" predictions
DATASET_DISAGREES = "dataset_disagrees"  # keep inputs whose α disagrees with the gradients
DATASET_FLIPS = "dataset_flips"  # keep inputs whose prediction uniform attention flips
DATASET_TABLE = "dataset_table"  # the table of inputs (its selected row opens the input)
# (name, PIL image, true class) of a picture opened from the dataset page: the Image page and
# the attention page offer it as a source
DATASET_PICTURE = "dataset_picture"

# The model page (views/model.py): its toy example's own settings, apart from the sidebar's
TOY_SIMILARITY = "toy_similarity"  # the similarity s(h_i, h_j) the toy example runs with
TOY_TEMPERATURE = "toy_temperature"  # the temperature τ the toy example runs with

# The train page
TRAIN_MODE = "train_mode"  # train one model | compare the six similarities | tune
TRAIN_ESTIMATE = "train_estimate"  # (fingerprint of the settings, estimate.TrainingEstimate)
UPLOADED_DATA = "train_uploaded"  # (file_id, Dataset or the error to show) of the uploaded data
SWEEP_SIMILARITIES = "sweep_similarities"  # the similarities the sweep trains, one run each
TUNE_TRIALS = "tune_trials"  # the tuning's number of trials at most
TUNE_MINUTES = "tune_minutes"  # the tuning's time limit in minutes
TUNE_BEST = "tune_best"  # the button that trains the best trial's configuration in full
TRAIN_ZIP = "train_zip"  # the finished run's checkpoint ZIP download
TRAIN_CHECKPOINT_UPLOAD = "train_checkpoint_upload"  # the uploader of a checkpoint ZIP
RUN_PICKED = "train_run_picked"  # id of the training job whose model this session picked
FINISHED_SEEN = "_finished_seen"  # suffix: f"{slot}{FINISHED_SEEN}" holds the last job id shown
UPLOAD_DONE = "_done"  # suffix of a checkpoint uploader's key: (file_id, ok, message)

# The train page's form (ui.train_form): one widget per setting, keys kept from page to page
TRAIN_DATASET = "train_dataset"  # the data: a built-in dataset's name, or the upload choice
TRAIN_UPLOAD = "train_upload"  # the file uploader of the user's own data (CSV or ZIP)
TRAIN_EMBEDDING = "train_embedding"  # text: the token embeddings (learned, MiniLM static...)
TRAIN_MAX_LEN = "train_maxlen"  # text: the tokens kept per example
TRAIN_SIMILARITY = "train_similarity"  # the similarity trained with
TRAIN_ACTIVATION = "train_activation"  # the dense layer's activation
TRAIN_POOLING = "train_pooling"  # learned or mean pooling
TRAIN_SEQUENCE = "train_seq"  # the sequence encoder before the dense layer (none, lstm, ...)
TRAIN_EPOCHS = "train_epochs"  # the epochs to train at most
TRAIN_BATCH = "train_batch"  # the batch size
TRAIN_DEVICE = "train_device"  # auto, cpu, cuda or mps
TRAIN_SEED = "train_seed"  # the seed of the weights, the data order and the dropout
TRAIN_DROPOUT_H = "train_drop_h"  # dropout on h
TRAIN_DROPOUT_ATTN = "train_drop_a"  # dropout on the attention weights a_ij
TRAIN_L1 = "train_l1"  # the L1 penalty
TRAIN_L2 = "train_l2"  # the L2 penalty
TRAIN_SMOOTHING = "train_smooth"  # label smoothing
TRAIN_SLICE = "train_slice"  # train on a small slice (100 examples) to provoke overfitting
TRAIN_REFIT = "train_refit"  # fit on train + validation and keep the last epoch (CLI --refit)


def train_limit(dataset: str) -> str:
    """The key of a built-in dataset's "Examples to use" (one per dataset: their sizes differ)."""
    return f"train_limit_{dataset}"


def train_patch(size: int) -> str:
    """The key of the patch side for pictures of `size` pixels (one per size: choices differ)."""
    return f"train_patch_{size}"


def train_hidden(kind: str) -> str:
    """The key of the hidden size d for "text" or "image" data (their defaults differ)."""
    return f"train_hidden_{kind}"


def train_lr(kind: str) -> str:
    """The key of the learning rate for "text" or "image" data (their defaults differ)."""
    return f"train_lr_{kind}"


def train_recipe_key(key: str, recipe: str) -> str:
    """A train-form widget's key when the form starts from `recipe` (a built-in dataset's shipped
    recipe): one per dataset, so each starts from its own; `key` itself for none ("")."""
    return f"{key}_{recipe}" if recipe else key


def cell_keys(prefix: str = CELL) -> tuple[str, str, str]:
    """The keys (query i, key j, click event) of a formula panel drawn under `prefix`."""
    return f"{prefix}_i", f"{prefix}_j", f"{prefix}_click"


def lazy_height(box: str) -> str:
    """The height a lazily drawn chart's box was last drawn at (ui.lazy), for its empty box."""
    return f"{box}_height"


def cell_kept(prefix: str = CELL) -> str:
    """A formula panel's cell (i, j) outside its widgets (ui.walkthrough.selected_cell)."""
    return f"{prefix}_kept"


def head_keys(prefix: str = CELL) -> tuple[str, str]:
    """The keys (head selectbox, the cell it was picked for) of a formula panel's score
    breakdown under `prefix`, for a model with several heads."""
    return f"{prefix}_head", f"{prefix}_head_cell"


def copy_state(source: str, target: str) -> None:
    """on_change of a bound widget: its value into the persistent key."""
    st.session_state[target] = st.session_state[source]


def bound(widget: str, value: Any, save: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Fill `widget` with its persistent `value`; returns the widget's key/on_change/args.

    `save(*args)` runs when the user changes the widget, e.g. `copy_state(widget, SENTENCE)`.
    """
    st.session_state[widget] = value
    return {"key": widget, "on_change": save, "args": args}


def bound_to(widget: str, store: str) -> dict[str, Any]:
    """`bound` for a widget mirroring one persistent key `store` (which must be set)."""
    return bound(widget, st.session_state[store], copy_state, widget, store)
