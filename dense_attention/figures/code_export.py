"""A trained model as runnable PyTorch code: one readable model.py laid out like the formulas,
written for the model's own config, and model.safetensors with its weights under model.py's names.

`export_code(config, state, classes, example)` takes a `ModelConfig`, the core's state dict
(`DenseAttention.state_dict()`) and one example's x, and returns the two files. The generated
model.py needs only torch and safetensors; it holds only the similarity, activations, pooling,
skip and temperature the model was trained with, so it reads top to bottom like the article.
A model with a sequence encoder (BiLSTM or transformer layer) is refused: model.py holds the
dense-attention core only.
"""

from __future__ import annotations

import io
import textwrap
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save as save_safetensors

from ..core.config import ModelConfig
from ..core.errors import DenseAttentionError
from ..explain.words import Inputs, input_words
from ..inputs.classifier import Classifier

__all__ = [
    "CodeExportError",
    "Example",
    "ExportedCode",
    "WEIGHT_NAMES",
    "export_classifier",
    "export_code",
    "used_weights",
]

SOURCE_FILE = "model.py"
WEIGHTS_FILE = "model.safetensors"
EXAMPLE_X, EXAMPLE_MASK = "example_x", "example_mask"  # the stored example, beside the weights

# The core's state-dict names -> the names of the formulas, as model.py uses them.
WEIGHT_NAMES = {
    "dense.weight": "W",
    "dense.bias": "b",
    "similarity_params.additive_query": "W_q",
    "similarity_params.additive_key": "W_k",
    "similarity_params.additive_vector": "w",
    "similarity_params.bilinear": "W_s",
    "pool_weight": "W_alpha",
    "pool_bias": "b_alpha",
    "pool_vector": "u",
    "out.weight": "W2",
    "out.bias": "b2",
}
_SIMILARITY_WEIGHTS = {"additive": ("W_q", "W_k", "w"), "bilinear": ("W_s",)}
# name -> (what the formula writes, the torch call); identity applies nothing.
_ACTIVATIONS = {
    "identity": ("", ""),
    "relu": ("relu", "torch.relu"),
    "tanh": ("tanh", "torch.tanh"),
    "gelu": ("gelu", "F.gelu"),
    "sigmoid": ("sigmoid", "torch.sigmoid"),
}
# similarity -> (s_ij as a formula, the lines computing s (B, N, N) from h)
_SIMILARITIES = {
    "dot": ("h_i · h_j", ["s = h @ h.transpose(1, 2)"]),
    "scaled_dot": ("h_i · h_j / √d", ["s = h @ h.transpose(1, 2) / math.sqrt(h.shape[-1])"]),
    "cosine": (
        "cos(h_i, h_j) = h_i · h_j / (‖h_i‖ ‖h_j‖)",
        [
            "unit = h / h.norm(dim=-1, keepdim=True).clamp_min(1e-8)  # h_i / ‖h_i‖",
            "s = unit @ unit.transpose(1, 2)",
        ],
    ),  # fmt: skip
    "neg_euclidean": (
        "-‖h_i - h_j‖²",
        ["s = -((h[:, :, None, :] - h[:, None, :, :]) ** 2).sum(dim=-1)"],
    ),
    "additive": (
        "wᵀ tanh(W_q h_i + W_k h_j)",
        [
            "q = h @ self.W_q.T  # (B, N, d): W_q h_i",
            "k = h @ self.W_k.T  # (B, N, d): W_k h_j",
            "s = torch.tanh(q[:, :, None, :] + k[:, None, :, :]) @ self.w",
        ],
    ),  # fmt: skip
    "bilinear": ("h_iᵀ W_s h_j", ["s = h @ self.W_s @ h.transpose(1, 2)"]),
}


class CodeExportError(DenseAttentionError):
    """This model cannot be written out as model.py; the message says why."""


@dataclass(frozen=True)
class Example:
    """One input that `python model.py` classifies."""

    x: torch.Tensor  # (N, D) its features, real tokens only
    about: str  # what it is, e.g. the sentence or "test 1 · 7"


@dataclass(frozen=True)
class ExportedCode:
    """model.py and model.safetensors, as text and bytes."""

    source: str  # model.py
    weights: bytes  # model.safetensors: the weights under model.py's names, and the example

    def write(self, out: str | Path) -> list[Path]:
        """Write both files into the folder `out` (made if missing); their paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / SOURCE_FILE).write_text(self.source, encoding="utf-8")
        (out / WEIGHTS_FILE).write_bytes(self.weights)
        return [out / SOURCE_FILE, out / WEIGHTS_FILE]

    def zip(self) -> bytes:
        """Both files in one ZIP (the app's download)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(SOURCE_FILE, self.source)
            archive.writestr(WEIGHTS_FILE, self.weights)
        return buffer.getvalue()


def used_weights(config: ModelConfig) -> tuple[str, ...]:
    """model.py's names of the weights this config uses, in the order of the formulas."""
    names = ["W", "b", *_SIMILARITY_WEIGHTS.get(config.similarity, ())]
    if config.pooling == "learned":
        names += ["W_alpha", "b_alpha", "u"]
    return (*names, "W2", "b2")


def export_code(
    config: ModelConfig,
    state: Mapping[str, torch.Tensor],
    classes: Sequence[str],
    example: Example,
    *,
    title: str = "a dense-attention classifier",
    inputs: Inputs = None,
) -> ExportedCode:
    """model.py (for `config` alone) and model.safetensors (the weights of `state` that config
    uses, renamed by WEIGHT_NAMES, plus the example's x (1, N, D) and mask (1, N)).

    `title` names the model in model.py's docstring; `inputs` (the encoder's config) says what x
    holds. Raises CodeExportError for a sequence encoder or a state that does not fit."""
    if config.sequence_encoder != "none":
        raise CodeExportError(
            f"this model reads x through a sequence encoder ({config.sequence_encoder}) before "
            "its dense layer; export-code writes the dense-attention core only, so it cannot "
            "be exported as model.py"
        )
    if len(classes) != config.num_classes:
        raise CodeExportError(f"{len(classes)} class names for {config.num_classes} classes")
    x = example.x.detach().to("cpu", torch.float32)
    if x.ndim != 2 or x.shape[1] != config.input_dim or x.shape[0] == 0:
        raise CodeExportError(f"example x must be (N, {config.input_dim}), got {tuple(x.shape)}")
    tensors = _renamed(state, used_weights(config))
    tensors[EXAMPLE_X] = x[None].contiguous()
    tensors[EXAMPLE_MASK] = torch.ones(1, x.shape[0], dtype=torch.bool)
    source = _source(config, classes, example.about, title, inputs)
    return ExportedCode(source=source, weights=save_safetensors(tensors))


def export_classifier(model: Classifier, x: torch.Tensor, about: str, title: str) -> ExportedCode:
    """export_code for a Classifier's core as trained (its own config, not live settings), with
    one input's x (N, D) or (1, N, D) as the example."""
    inputs = model.config.text or model.config.image
    example = Example(x.reshape(-1, x.shape[-1]), about)
    core = model.core
    return export_code(core.config, core.state_dict(), model.classes, example,
                       title=title, inputs=inputs)  # fmt: skip


def _renamed(state: Mapping[str, torch.Tensor], names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    by_name = {new: old for old, new in WEIGHT_NAMES.items()}
    missing = [by_name[n] for n in names if by_name[n] not in state]
    if missing:
        raise CodeExportError(f"the weights lack {', '.join(missing)}")
    return {n: state[by_name[n]].detach().to("cpu", torch.float32).contiguous() for n in names}


def _source(
    config: ModelConfig, classes: Sequence[str], about: str, title: str, inputs: Inputs
) -> str:
    parts = [
        _docstring(config, title, inputs),
        _imports(config),
        _classes_line(classes),
        "# The input whose x is stored beside the weights:\n",
        f"EXAMPLE = {_literal(_short(about))}\n",
    ]
    if config.temperature != 1:
        parts.append(f"TAU = {config.temperature!r}  # the temperature τ: every score s_ij / τ\n")
    if config.heads > 1:
        parts.append(f"HEADS = {config.heads}  # attention heads, each over d/H units of h\n")
    parts += ["\n\n", _module(config), "\n\n", _LOAD, "\n\n", _MAIN]
    return "".join(parts)


def _literal(text: str) -> str:
    """A Python string literal, double-quoted where that needs no escapes (as ruff writes it)."""
    quoted = repr(text)
    if quoted[0] == "'" and '"' not in text and "'" not in text:
        quoted = f'"{quoted[1:-1]}"'
    return quoted


def _classes_line(classes: Sequence[str]) -> str:
    line = f"CLASSES = [{', '.join(_literal(str(c)) for c in classes)}]\n"
    if len(line) <= 100:
        return line
    return "CLASSES = [\n" + "".join(f"    {_literal(str(c))},\n" for c in classes) + "]\n"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _docstring(config: ModelConfig, title: str, inputs: Inputs) -> str:
    c = config
    skip = "the mean of h_i beside c" if c.skip == "mean" else "none (the output sees c alone)"
    pooling = "learned attention pooling" if c.pooling == "learned" else "mean pooling (α_i = 1/N)"
    act = c.activation if c.activation != "identity" else "none"
    pool_act = c.pool_activation if c.pool_activation != "identity" else "none"
    words = input_words(inputs)
    return (
        f'"""{_short(title, 80)}, written out as its formulas (exported by Dense Attention Lab).\n'
        "\n"
        f"Shapes: B examples, N tokens, D = {c.input_dim} features per token, "
        f"d = {c.hidden_dim} hidden units,\nC = {c.num_classes} classes.\n"
        f"Trained with: similarity {c.similarity}, temperature τ = {c.temperature:g}, "
        f"dense activation {act},\n{pooling}, pool activation {pool_act}, skip input {skip}.\n"
        "\n"
        f"{textwrap.fill(f'x is made outside this file: each x_i holds {words}.', 96)}\n"
        "One example's x is stored in model.safetensors beside the weights.\n"
        "\n"
        "Needs only torch and safetensors. `python model.py` classifies the stored example;\n"
        "in Python: `net = load()`, then `logits = net(x, mask)`.\n"
        '"""\n\n'
    )


def _imports(config: ModelConfig) -> str:
    """Only the imports this model's formulas use."""
    uses_math = config.similarity == "scaled_dot"  # also with several heads
    uses_f = "gelu" in (config.activation, config.pool_activation)
    return "".join([
        "import math\n" if uses_math else "",
        "import sys\nfrom pathlib import Path\n\nimport torch\n",
        "import torch.nn.functional as F\n" if uses_f else "",
        "from safetensors.torch import load_file\nfrom torch import nn\n\n",
        'WEIGHTS = Path(__file__).with_name("model.safetensors")\n',
    ])  # fmt: skip


def _module(config: ModelConfig) -> str:
    head = [
        "class DenseAttention(nn.Module):",
        '    """x (B, N, D) and mask (B, N) -> logits z (B, C), one formula per step."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        f"        D, d, C = {config.input_dim}, {config.hidden_dim}, {config.num_classes}",
        *(f"        {line}" for line in _parameters(config)),
        "",
        "    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:",
        '        """Logits (B, C); mask is True at real tokens (None: every token is real)."""',
        "        if mask is None:",
        "            mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)",
        "        mask = mask.bool()",
    ]
    body = [*_dense(config), *_attention(config), *_pooling(config), *_output(config)]
    return "\n".join([*head, *(f"        {line}" if line else "" for line in body)]) + "\n"


def _parameters(config: ModelConfig) -> list[str]:
    shapes = {
        "W": ("d, D", "dense layer"),
        "b": ("d", "dense layer"),
        "W_q": ("d, d", "additive similarity, query side"),
        "W_k": ("d, d", "additive similarity, key side"),
        "w": ("d", "additive similarity"),
        "W_s": ("d, d", "bilinear similarity"),
        "W_alpha": ("d, d", "pooling"),
        "b_alpha": ("d", "pooling"),
        "u": ("d", "pooling"),
        "W2": ("C, 2 * d" if config.skip == "mean" else "C, d", "output layer"),
        "b2": ("C", "output layer"),
    }
    lines = ["# The weights, filled in by load(); the names are the formulas'."]
    for name in used_weights(config):
        shape, role = shapes[name]
        lines.append(f"self.{name} = nn.Parameter(torch.zeros({shape}))  # {role}")
    return lines


def _dense(config: ModelConfig) -> list[str]:
    word, call = _ACTIVATIONS[config.activation]
    formula = f"{word}(W x_i + b)" if word else "W x_i + b (no activation)"
    linear = "x @ self.W.T + self.b"
    return [
        f"# Dense layer: h_i = {formula}",
        f"h = {call}({linear})  # (B, N, d)" if call else f"h = {linear}  # (B, N, d)",
    ]


def _attention(config: ModelConfig) -> list[str]:
    if config.heads > 1:
        return _attention_heads(config)
    formula, lines = _SIMILARITIES[config.similarity]
    tau = config.temperature != 1
    lines = [*lines[:-1], f"{lines[-1]}  # (B, N, N)"]
    return [
        "",
        f"# Similarity: s_ij = {formula}" + (" / τ" if tau else "  (τ = 1: no division)"),
        *lines,
        *(["s = s / TAU"] if tau else []),
        "",
        "# Attention weights: a_ij = exp(s_ij) / Σ_j' exp(s_ij'), over the real tokens j'",
        *_one_head_softmax(config),
        "",
        "# Attention values: v_i = Σ_j a_ij h_j",
        "v = a @ h  # (B, N, d)",
    ]


# similarity -> the lines computing each head's s (B, H, N, N) from h (B, N, d) and its slices
# hk (B, H, N, d/H), for a model with several heads (core.similarity.head_scores)
_HEAD_SIMILARITIES = {
    "dot": ["s = hk @ hk.transpose(-1, -2)"],
    "scaled_dot": ["s = hk @ hk.transpose(-1, -2) / math.sqrt(hk.shape[-1])"],
    "cosine": [
        "unit = hk / hk.norm(dim=-1, keepdim=True).clamp_min(1e-8)  # h^k_i / ‖h^k_i‖",
        "s = unit @ unit.transpose(-1, -2)",
    ],
    "neg_euclidean": ["s = -((hk[..., :, None, :] - hk[..., None, :, :]) ** 2).sum(dim=-1)"],
    "additive": [
        "q = heads(h @ self.W_q.T)  # (B, H, N, d/H): head k's slice of W_q h_i",
        "k = heads(h @ self.W_k.T)  # (B, H, N, d/H): head k's slice of W_k h_j",
        "w = self.w.reshape(HEADS, 1, 1, -1)  # head k's slice of w",
        "s = (torch.tanh(q[..., :, None, :] + k[..., None, :, :]) * w).sum(dim=-1)",
    ],
    "bilinear": ["s = heads(h @ self.W_s) @ hk.transpose(-1, -2)  # (h_i W_s)^k · h^k_j"],
}


def _keep(config: ModelConfig) -> list[str]:
    """The lines of `keep` (B, N, N): which a_ij may be non-zero (core.model.attention_keep)."""
    lines = ["keep = mask[:, :, None] & mask[:, None, :]  # a real query i and a real key j"]
    if config.exclude_self:
        lines += [
            "# Attend to the other tokens: a_ii = 0, unless i is its row's only real key",
            "eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)",
            "others = keep & ~eye",
            "keep = others | (keep & eye & ~others.any(dim=-1, keepdim=True))",
        ]
    return lines


def _one_head_softmax(config: ModelConfig) -> list[str]:
    if not config.exclude_self:
        return [
            's = s.masked_fill(~mask[:, None, :], float("-inf"))  # padding gets no weight',
            "a = torch.softmax(s, dim=-1)  # (B, N, N): row i sums to 1",
        ]
    return [
        *_keep(config),
        's = s.masked_fill(~keep, float("-inf"))',
        "a = torch.softmax(s, dim=-1).masked_fill(~keep, 0.0)  # (B, N, N): row i sums to 1",
    ]


def _attention_heads(config: ModelConfig) -> list[str]:
    """_attention for H > 1 heads: each head on its d/H slice, v their outputs side by side."""
    formula = _SIMILARITIES[config.similarity][0]
    tau = config.temperature != 1
    return [
        "",
        f"# {config.heads} heads: head k compares its slice h^k of d/H = {config.head_dim} units",
        "def heads(t: torch.Tensor) -> torch.Tensor:  # (B, N, d) -> (B, H, N, d/H)",
        "    return t.unflatten(-1, (HEADS, -1)).transpose(1, 2)",
        "",
        "hk = heads(h)",
        f"# Similarity, head by head: s^k_ij = {formula} on head k's slice"
        + (" / τ" if tau else ""),
        *_HEAD_SIMILARITIES[config.similarity][:-1],
        f"{_HEAD_SIMILARITIES[config.similarity][-1]}  # (B, H, N, N)",
        *(["s = s / TAU"] if tau else []),
        "",
        "# Attention weights of each head: a^k_ij = softmax over the real tokens j",
        *_keep(config),
        's = s.masked_fill(~keep[:, None], float("-inf"))',
        "a = torch.softmax(s, dim=-1)  # (B, H, N, N): row i of each head sums to 1",
        "a = a.masked_fill(~keep[:, None], 0.0)  # padding rows get no weight at all",
        "",
        "# Attention values: v_i = [v^1_i; ...; v^H_i], v^k_i = Σ_j a^k_ij h^k_j",
        "v = (a @ hk).transpose(1, 2).flatten(2)  # (B, N, d)",
    ]


def _pooling(config: ModelConfig) -> list[str]:
    if config.pooling == "learned":
        weights = [
            "# Pooling weights: e_i = uᵀ tanh(W_alpha v_i + b_alpha), α_i = softmax_i(e_i)",
            "e = torch.tanh(v @ self.W_alpha.T + self.b_alpha) @ self.u  # (B, N)",
            'alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=-1)  # (B, N)',
        ]
    else:
        weights = [
            "# Pooling weights: α_i = 1/N over the N real tokens (mean pooling)",
            "alpha = mask.float() / mask.float().sum(dim=-1, keepdim=True)  # (B, N)",
        ]
    word, call = _ACTIVATIONS[config.pool_activation]
    total = "(alpha[:, :, None] * v).sum(dim=1)"
    return [
        "",
        *weights,
        "",
        f"# Attention pooling: c = {word}(Σ_i α_i v_i)" if word else
        "# Attention pooling: c = Σ_i α_i v_i (no activation)",
        f"c = {call}({total})  # (B, d)" if call else f"c = {total}  # (B, d)",
    ]  # fmt: skip


def _output(config: ModelConfig) -> list[str]:
    if config.skip == "none":
        return [
            "",
            "# Output: z = W2 c + b2 (this model has no skip input h_o); y = softmax(z)",
            "return c @ self.W2.T + self.b2  # (B, C)",
        ]
    return [
        "",
        "# Skip input: h_o = the mean of h_i over the real tokens",
        "real = mask[:, :, None].float()",
        "h_o = (h * real).sum(dim=1) / real.sum(dim=1)  # (B, d)",
        "",
        "# Output: z = W2 [c; h_o] + b2; y = softmax(z) are the probabilities",
        "return torch.cat([c, h_o], dim=-1) @ self.W2.T + self.b2  # (B, C)",
    ]


_LOAD = '''\
def load(path: str | Path | None = None) -> DenseAttention:
    """The model with its trained weights (model.safetensors beside this file by default)."""
    tensors = load_file(str(path or WEIGHTS))
    model = DenseAttention()
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("example_")})
    return model.eval()


def example(path: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The stored example: x (1, N, D) and mask (1, N)."""
    tensors = load_file(str(path or WEIGHTS))
    return tensors["example_x"], tensors["example_mask"]
'''

_MAIN = """\
if __name__ == "__main__":
    model = load(sys.argv[1] if len(sys.argv) > 1 else None)
    x, mask = example(sys.argv[1] if len(sys.argv) > 1 else None)
    with torch.no_grad():
        y = torch.softmax(model(x, mask), dim=-1)[0]  # the probabilities of the C classes
    print(f"example: {EXAMPLE}")
    for k in y.argsort(descending=True).tolist():
        print(f"  {CLASSES[k]:>20}  {y[k].item():.4f}")
    print(f"prediction: {CLASSES[int(y.argmax())]}")
"""
