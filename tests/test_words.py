"""words: no caption, title or formula claims a path the model does not have, for every
combination of the config's choices (taken from config.py's tuples, so new choices are covered)."""

import re

import pytest
import torch
from tiny import CHOICES

from dense_attention.core import config as choices
from dense_attention.core.config import ModelConfig
from dense_attention.core.similarity import SIMILARITIES
from dense_attention.core.toy import toy_example
from dense_attention.explain import formulas, words
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import TextConfig

TEMPERATURES = (0.07, 1.0, 5.0)
HEADS = (1, 2, 3)  # each divides config_of's hidden_dim 6; 5 and 3 walk every pairing
COMBINATIONS = CHOICES

# Claims, as patterns, that a text makes about the model.
USES_SKIP = [
    r"beside c",
    r"c and h_o",
    r"\[c; ?h_o\]",
    r"bmatrix\} c \\\\ h_o",
    r"around attention",
]
SKIP_UNUSED = [r"h_o is not used", r"not used \(skip = none\)"]
LEARNED_ALPHA = [r"learned attention", r"\be_i\b", r"exp\(e_", r"u\^\\top", r"α-weighted"]
GENERIC_SIGMA = [r"σ", r"\\sigma"]
# How each activation is written in words, LaTeX and plotly titles (identity: not at all).
SYMBOLS = {"relu": r"ReLU", "tanh": r"tanh", "gelu": r"GELU", "sigmoid": r"sigmoid"}


def found(patterns: list[str], text: str) -> list[str]:
    return [p for p in patterns if re.search(p, text)]


def texts(config: ModelConfig) -> dict[str, list[str]]:
    """Every text the app shows about each step of `config`'s model, by step key."""
    titles = words.chart_titles(config)
    out = {}
    for key in formulas.STEP_KEYS:
        out[key] = [
            words.step_title(key, config),
            words.caption(key, config),
            formulas.step_latex(key, config.similarity, config),
        ]
        if key in titles:
            out[key].append(titles[key])
    return out


def check(config: ModelConfig) -> list[str]:
    """What is wrong with the texts of `config`'s model (empty: nothing)."""
    by_step, wrong = texts(config), []
    everything = " ".join(t for step in by_step.values() for t in step)
    if found(GENERIC_SIGMA, everything):
        wrong.append("σ named instead of the actual activation")
    if config.skip == "none" and found(USES_SKIP, everything):
        wrong.append(f"h_o used under skip none: {found(USES_SKIP, everything)}")
    if config.skip == "mean" and found(SKIP_UNUSED, everything):
        wrong.append("h_o said unused under skip mean")
    skip_texts = " ".join(by_step["h_o"] + by_step["probs"])
    wanted = USES_SKIP if config.skip == "mean" else SKIP_UNUSED
    if not found(wanted, skip_texts):
        wrong.append("the skip step does not say what h_o does")
    if config.pooling == "mean" and found(LEARNED_ALPHA, everything):
        wrong.append(f"learned α under mean pooling: {found(LEARNED_ALPHA, everything)}")
    if config.pooling == "learned" and "learned" not in " ".join(by_step["alpha"]):
        wrong.append("learned pooling not said to be learned")
    wrong += check_activation(" ".join(by_step["c"]), config.pool_activation, "c")
    wrong += check_activation(" ".join(by_step["h"][1:]), config.activation, "h")
    wrong += check_settings(config, by_step)
    wrong += check_heads(config, by_step)
    return wrong


MATRICES = ("similarity", "scores", "attn")  # the step matrices a model with heads averages


def check_heads(config: ModelConfig, by_step: dict[str, list[str]]) -> list[str]:
    """With several heads each matrix's chart title and the words beside it say they are the
    heads' mean (and how many); with one head nothing speaks of heads."""
    titles, mean = words.chart_titles(config), f"mean of the {config.heads} heads"
    everything = " ".join(t for step in by_step.values() for t in step)
    overview = words.overview_titles(config)
    if config.heads == 1:
        said = [t for t in [everything, *overview.values()] if re.search(r"\bheads?\b", t)]
        return [f"one head, but heads are named: {said[:1]}"] if said else []
    wrong = [f"the {key} title hides the mean: {titles[key]}"
             for key in MATRICES if mean not in titles[key]]  # fmt: skip
    wrong += [f"the {key} caption hides the mean" for key in MATRICES
              if "mean" not in words.caption(key, config)]  # fmt: skip
    if mean not in overview["scores"] or "mean" not in overview["attn"]:
        wrong.append(f"the overview hides the mean: {overview['scores']}, {overview['attn']}")
    if f"k = 1..{config.heads}" not in overview["values"]:
        wrong.append(f"the overview's v_i is one head's: {overview['values']}")
    return wrong


def check_activation(text: str, actual: str, where: str) -> list[str]:
    others = [s for name, s in SYMBOLS.items() if name != actual and re.search(s, text)]
    wrong = [f"{where} names {others} but uses {actual}"] if others else []
    if actual != "identity" and not re.search(SYMBOLS[actual], text):
        wrong.append(f"{where} does not name its activation {actual}")
    return wrong


def check_settings(config: ModelConfig, by_step: dict[str, list[str]]) -> list[str]:
    wrong = []
    description = SIMILARITIES[config.similarity].description
    similarity = " ".join(by_step["similarity"])
    if description not in similarity:
        wrong.append(f"the similarity texts do not describe {config.similarity}")
    similarity = similarity.replace(description, "")  # bilinear's "starts equal to ... dot"
    others = [
        s for s in SIMILARITIES if s != config.similarity and re.search(rf"\b{s}\b", similarity)
    ]
    if others or not re.search(rf"\b{config.similarity}\b", similarity):
        wrong.append(f"similarity texts name {others}, not {config.similarity}")
    scores, tau = " ".join(by_step["scores"]), config.temperature
    if f"τ = {tau:g}" not in scores or ("sharpens" in scores) != (tau < 1):
        wrong.append(f"temperature {tau:g} misdescribed: {scores}")
    if ("flattens" in scores) != (tau > 1):
        wrong.append(f"temperature {tau:g} misdescribed: {scores}")
    h = " ".join(by_step["h"])
    if bool(re.search(r"LSTM|transformer", h)) != (config.sequence_encoder != "none"):
        wrong.append(f"h misnames the sequence encoder {config.sequence_encoder}")
    if f"{config.num_classes} classes" not in " ".join(by_step["probs"]):
        wrong.append("the output does not say how many classes")
    return wrong


def config_of(k: int, combination: tuple[str, ...]) -> ModelConfig:
    similarity, activation, pooling, pool_activation, skip, encoder = combination
    return ModelConfig(
        input_dim=12, hidden_dim=6, num_classes=3 + k % 4, similarity=similarity,
        temperature=TEMPERATURES[k % len(TEMPERATURES)], activation=activation,
        pooling=pooling, pool_activation=pool_activation, skip=skip, sequence_encoder=encoder,
        heads=HEADS[k % len(HEADS)],
    )  # fmt: skip


def test_no_text_claims_a_path_the_model_does_not_have():
    assert len(COMBINATIONS) >= 6 * 4 * 2 * 4 * 2
    walked = {config_of(k, c).heads for k, c in enumerate(COMBINATIONS)}
    assert walked == set(HEADS)
    problems = {}
    for k, combination in enumerate(COMBINATIONS):
        wrong = check(config_of(k, combination))
        if wrong:
            problems[combination] = wrong
    assert not problems, list(problems.items())[:5]


def test_the_checker_catches_a_mean_matrix_titled_as_one_heads(monkeypatch):
    config = config_of(1, COMBINATIONS[0])
    assert config.heads == 2 and not check(config)
    monkeypatch.setattr(words, "heads_mean", lambda heads: "")  # the titles before heads
    assert any("title hides the mean" in w for w in check(config))


def test_the_checker_catches_todays_old_captions():
    """The checker itself: the fixed captions this module replaced fail it."""
    config = ModelConfig(8, 6, 2, pooling="mean", pool_activation="tanh", skip="none")
    old = {
        "h_o": "The plain mean of the hidden vectors goes to the output layer beside c.",
        "alpha": "A second, learned attention decides how much each token counts.",
        "c": "Pooled vector c = σ(Σ α<sub>i</sub> v<sub>i</sub>)",
    }
    assert found(USES_SKIP, old["h_o"]) and found(LEARNED_ALPHA, old["alpha"])
    assert found(GENERIC_SIGMA, old["c"]) and check_activation(old["c"], "tanh", "c")
    assert not check(config)


@pytest.mark.parametrize("skip", choices.SKIPS)
def test_the_skip_caption_says_what_the_model_does(skip):
    config = ModelConfig(8, 6, 5, skip=skip)
    text = words.caption("h_o", config)
    if skip == "none":
        assert text.startswith("h_o is not used") and "c alone" in words.caption("probs", config)
        assert words.step_title("h_o", config) == "Skip input (not used)"
    else:
        assert "beside c" in text and "c and h_o" in words.caption("probs", config)


@pytest.mark.parametrize("pool_activation", choices.POOL_ACTIVATIONS)
def test_the_c_chart_title_uses_the_symbol_of_its_formula(pool_activation):
    config = ModelConfig(8, 6, 2, pool_activation=pool_activation)
    title = words.chart_titles(config)["c"]
    latex = formulas.step_latex("c", "dot", config)
    expected = {
        "identity": "c = Σ",
        "tanh": "c = tanh(",
        "sigmoid": "c = sigmoid(",
        "relu": "c = ReLU(",
    }
    assert expected[pool_activation] in title
    if pool_activation == "identity":
        assert "operatorname" not in latex and r"\tanh" not in latex
    else:
        assert SYMBOLS[pool_activation] in latex


TEXTS = [
    TextConfig(mode=m, pos_dim=p)
    for m in ("learned", "minilm_static", "minilm_contextual")
    for p in (0, 16)
]  # noqa: E501
IMAGES = [ImageConfig(size=8, channels=c, patch=4, pos_dim=p) for c in (1, 3) for p in (0, 32)]


@pytest.mark.parametrize("inputs", TEXTS + IMAGES, ids=repr)
def test_the_input_caption_says_what_x_is_made_of(inputs):
    config = ModelConfig(inputs.input_dim, 6, 2)
    text = words.caption("x", config, inputs)
    assert f"D = {inputs.input_dim} numbers" in text
    assert ("embedding of its position" in text) == (inputs.pos_dim > 0)
    assert (f"({inputs.pos_dim} numbers)" in text) == (inputs.pos_dim > 0)
    is_text = isinstance(inputs, TextConfig)
    assert ("MiniLM" in text) == (is_text and inputs.mode != "learned")
    assert ("contextual" in text) == (is_text and inputs.mode == "minilm_contextual")
    assert ("patch" in text) == (not is_text)
    if not is_text:
        assert f"({4 * 4 * inputs.channels} numbers)" in text
    assert "word piece or image patch" in words.caption("x", config)  # no encoder: generic


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step"):
        words.caption("skip", ModelConfig(8, 6, 2))
    with pytest.raises(ValueError, match="unknown step"):
        words.step_title("nope", ModelConfig(8, 6, 2))


@pytest.mark.parametrize("pooling", choices.POOLINGS)
@pytest.mark.parametrize("pool_activation", choices.POOL_ACTIVATIONS)
def test_the_cell_formulas_follow_pooling_and_the_pool_activation(pooling, pool_activation):
    toy = toy_example()
    config = ModelConfig(8, 6, 2, pooling=pooling, pool_activation=pool_activation)
    with torch.no_grad():
        trace = toy.model.trace(toy.x, pooling=pooling)
    pairs = formulas.cell_latex(trace, 1, 2, toy.tokens, toy.class_names, config)
    text = " ".join(latex for _, latex in pairs)
    assert not found(GENERIC_SIGMA, text)
    assert bool(found(LEARNED_ALPHA, text)) == (pooling == "learned")
    others = [s for name, s in SYMBOLS.items() if name != pool_activation and s in text]
    assert not others
    if pooling == "mean":
        n = len(toy.tokens)
        assert rf"\frac{{1}}{{{n}}} = {formulas.fmt_number(1 / n)}" in text


@pytest.mark.parametrize("similarity", choices.SIMILARITY_NAMES)
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_the_attention_captions_count_the_heads(heads, similarity):
    config = ModelConfig(input_dim=4, hidden_dim=16, num_classes=2, similarity=similarity,
                         heads=heads)  # fmt: skip
    said = " ".join(words.caption(key, config) for key in ("similarity", "attn", "values"))
    if heads == 1:
        assert "head" not in said
    else:
        assert f"each of the {heads} heads" in said.lower()
        assert f"{16 // heads} of the 16" in said and "mean" in words.caption("attn", config)
    shown = ModelConfig(input_dim=4, hidden_dim=16, num_classes=2, exclude_self=True)
    assert "itself left out" in words.caption("attn", shown)
    assert "itself included" in words.caption("attn", config)


@pytest.mark.parametrize("combination", COMBINATIONS)
def test_the_overview_titles_claim_only_what_the_model_has(combination):
    similarity, activation, pooling, pool_activation, skip, encoder = combination
    config = ModelConfig(
        input_dim=4, hidden_dim=8, num_classes=3, similarity=similarity, activation=activation,
        pooling=pooling, pool_activation=pool_activation, skip=skip, sequence_encoder=encoder,
    )  # fmt: skip
    titles = words.overview_titles(config)
    assert ("h<sub>o</sub>" in titles["probs"]) == (skip == "mean")
    assert ("1/N" in titles["alpha"]) == (pooling == "mean")
    assert titles["c"] == words.c_formula(config, html=True)
    assert similarity in titles["scores"]
    name = SYMBOLS.get(activation)
    read = "x<sub>i</sub>" if encoder == "none" else "x'<sub>i</sub>"  # a sequence encoder's x'
    assert f"W {read} + b" in titles["h"]
    assert (name in titles["h"]) if name else titles["h"] == f"h<sub>i</sub> = W {read} + b"
    assert not found(GENERIC_SIGMA, " ".join(titles.values()))
