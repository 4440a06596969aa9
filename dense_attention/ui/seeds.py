"""The "Does attention matter?" page's seed variance: the loaded model's recipe trained with k
seeds in a job, and for the input on the page whether its attention is stable while its
prediction is (Wiegreffe & Pinter 2019, test 2)."""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..data.builtin import DATASETS
from ..explain import seed_variance
from ..explain.seed_variance import Recipe
from ..figures import seed_plots
from ..server import jobs, work
from ..server.jobs import JobKind
from ..storage import catalog
from . import browser, state
from .cache import checkpoints
from .charts import chart
from .job_panels import job_controls, job_panel
from .sidebar import Settings
from .styles import md

MAX_SEEDS_SHOWN = 5  # the slider's top: each seed is a whole training run


def recipe_of(settings: Settings) -> tuple[Recipe | None, str]:
    """The loaded model's training recipe, or None and why it cannot be trained again."""
    info = checkpoints().get(settings.model_name)
    if info is not None:
        own = catalog.similarity_variants(info).get(settings.trained.similarity, info)
        try:
            return seed_variance.checkpoint_recipe(own.path), ""
        except DenseAttentionError as err:
            return None, str(err)
    run = browser.workspace().results.get(settings.model_name)
    if run is None:
        return None, (tr(
            "This model came as an uploaded checkpoint: how it was trained is not "
            "known here, so it cannot be trained again with other seeds.",
        ))  # fmt: skip
    if run.dataset not in DATASETS:
        return None, (
            tr(
                "This model was trained on your data ({dataset}), which is not kept "
                "after training: it cannot be trained again with other seeds.",
                dataset=run.dataset,
            )
        )
    return Recipe(settings.model.config, run.train_config, "train", run.dataset, run.split_seed,
                  run.limit), ""  # fmt: skip


def seed_variance_panel(settings: Settings, item: Any) -> None:
    """Seeds to train (a slider), Start/Stop, the job's progress and, once done, α per seed for
    this input and the answer in words."""
    st.subheader(tr("Another seed, the same attention?"), divider="gray")
    recipe, why = recipe_of(settings)
    if recipe is None:
        st.info(md(why), icon=":material/info:")
        return
    left, right = st.columns(2)
    k = left.slider(tr("Seeds"), 2, MAX_SEEDS_SHOWN, 3, key=state.SEEDS_COUNT,
                    help=tr("How many times to train this model's recipe, one seed "
                            "each"))  # fmt: skip
    own = recipe.training.epochs
    epochs = right.number_input(tr("Epochs per seed"), 1, 4 * own, own, key=state.SEEDS_EPOCHS,
                                help=tr("The recipe's own by default; fewer give a "
                                        "quicker, rougher answer"))  # fmt: skip
    first = recipe.training.seed + 1  # the loaded model's own seed is left out
    seeds = tuple(range(first, first + k))
    fit = (
        tr("training and validation splits")
        if recipe.fit_on == "train+val"
        else tr("training split")
    )
    fit = tr("the {dataset} {fit}", dataset=recipe.dataset, fit=fit)
    st.caption(md(
        tr(
            "Trains this model's recipe {k} times, {epochs} epochs each on {fit}, "
            "with seeds {join}: the same data, settings and test inputs; other "
            "initial weights and data order. Wiegreffe & Pinter 2019, test 2: is "
            "this input's attention stable while its prediction is?",
            k=k, epochs=epochs, fit=fit, join=', '.join(map(str, seeds)),
        )
    ))  # fmt: skip
    request = work.SeedsRequest(recipe, seeds, settings.model_name, int(epochs))
    job_controls(JobKind.SEEDS, tr("Train the seeds"), lambda: jobs.seeds_job(request))
    job_panel(JobKind.SEEDS, functools.partial(_result, settings, item))


def _result(settings: Settings, item: Any, job: jobs.Job) -> None:
    result: seed_variance.SeedVariance | None = job.result
    if result is None:
        return
    if job.request.model_name != settings.model_name:
        st.info(md(tr(
            "These seeds were trained for {model_name}; start a run for this model.",
            model_name=job.request.model_name,
        )), icon=":material/info:")  # fmt: skip
        return
    try:
        found = seed_variance.input_spread(result.models, item)
        loaded = settings.model.explain(item).trace.alpha[0].float().numpy()
    except DenseAttentionError as err:
        st.info(md(err), icon=":material/info:")
        return
    fig = seed_plots.alpha_per_seed(found, result.seeds, loaded)
    chart(fig, "alpha_per_seed", key="seed_alpha")
    st.markdown(md(seed_variance.answer(found, result.spreads)))
    _numbers(found, result)


def _numbers(found: seed_variance.InputSpread, result: seed_variance.SeedVariance) -> None:
    s, k = found.spread, len(result.seeds)
    cols = st.columns(3)
    cols[0].metric(tr("α spread (JSD)"), f"{float(s.alpha_jsd[0]):.3f}",
                   help=tr("Mean over seeds of JSD(α_seed, mean α); ln 2 = 0.693 at "
                           "most"))  # fmt: skip
    rows_help = tr("The same for each row a_i of the attention, averaged over rows")
    cols[1].metric(tr("Attention rows spread (JSD)"), f"{float(s.row_jsd[0]):.3f}", help=rows_help)
    agree = round(float(s.agreement[0]) * k)
    cols[2].metric(tr("Seeds agreeing"), md(f"{agree} of {k}"))
    d = result.summary()
    accuracy = ", ".join(f"{a:.1%}" for a in result.accuracies)
    st.caption(md(
        tr(
            "Over {d} test inputs: median α spread {d2:.3f}, median attention-row "
            "spread {d3:.3f}; all seeds agree on {d4:.0%} of them. Test accuracy per "
            "seed: {accuracy}. The seeds run with the trained settings (the "
            "sidebar's live settings are not applied); the black diamonds are the "
            "loaded model's α.",
            d=d['examples'],
            d2=d['median_alpha_jsd'],
            d3=d['median_row_jsd'],
            d4=d['unanimous_share'],
            accuracy=accuracy,
        )
    ))  # fmt: skip
