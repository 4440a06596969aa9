"""The "Does attention matter?" page's adversarial attention: another α, the same answer."""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from ..core.i18n import tr
from ..explain import adversarial
from ..explain.faithfulness import Faithfulness
from ..figures import faithfulness_plots
from .cache import shared_result
from .charts import chart
from .sidebar import Settings


def adversarial_attention(settings: Settings, item: Any, result: Faithfulness) -> None:
    """Search the α' farthest from the model's α (JSD) whose p stays within ε (TV), and draw
    both (shared by every session for a shipped model)."""
    st.subheader(tr("Another attention, the same answer?"), divider="gray")
    if len(result.tokens) < 2:
        st.info(tr("One token has one possible attention (α = 1): there is nothing to search."))
        return
    build = functools.partial(adversarial.search_item, settings.model, item, settings.overrides)
    with st.spinner(tr("Searching for an adversarial attention…")):
        found = shared_result("adversarial", settings.cache_key, build, item, settings.overrides)
    chart(faithfulness_plots.adversarial_bars(result.tokens, found), "adversarial_alpha",
          key="adversarial")  # fmt: skip
    share = found.share_of_max
    st.markdown(
        tr(
            "Pooling weights α' at Jensen–Shannon divergence **{jsd:.3f}** from the "
            "model's α ({share:.0%} of the largest possible, ln 2 = {LN2:.3f}) give "
            "class probabilities within total variation **{tv:.4f}** (ε = "
            "{epsilon:g}) of the model's{value}. ",
            jsd=found.jsd,
            share=share,
            LN2=adversarial.LN2,
            tv=found.tv,
            epsilon=found.epsilon,
            value='' if found.same_prediction else ', yet another class wins',
        )
        + (tr("So this α is far from the only one that explains this answer.")
           if share >= 0.5 else tr("So the answer pins this α down fairly tightly."))
    )  # fmt: skip
    st.caption(
        tr(
            "Jain & Wallace 2019: gradient ascent on α's logits (8 seeded starts, "
            "150 steps), maximising JSD(α, α') with a penalty once TV(p, p') exceeds "
            "ε; the token-to-token attention, v and h_o stay as the model computed "
            "them.",
        )
    )
