"""Build the stored MiniLM encodings of the shipped example sentences (assets/minilm/, read by
inputs.encoding_cache): `python -m dense_attention.storage.build_encodings` after changing the
examples (catalog.example_sentences). A build tool, kept out of the runtime lookup module so that
the inputs layer never imports the catalog.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..inputs import encoding_cache
from ..inputs.text_encoder import CLS_ID, SEP_ID, load_minilm, load_tokenizer
from .catalog import example_sentences


@torch.no_grad()
def build(texts: list[str], folder: Path = encoding_cache.FOLDER) -> None:
    """Tokenize and run MiniLM (one thread, as the app runs it) on each text; write the files."""
    torch.set_num_threads(1)
    tokenizer, minilm = load_tokenizer(), load_minilm()
    entries, hidden = [], {}
    for i, text in enumerate(texts):
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        full = [CLS_ID, *enc["input_ids"], SEP_ID]
        ids = torch.tensor([full])
        state = minilm(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        hidden[str(i)] = state[0].contiguous()
        offsets = [list(o) for o in enc["offset_mapping"]]
        pieces = tokenizer.convert_ids_to_tokens(enc["input_ids"])
        entries.append(
            {"text": text, "ids": enc["input_ids"], "offsets": offsets, "pieces": pieces,
             "full_ids": full}
        )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    hidden_file = folder / encoding_cache.HIDDEN_FILE
    save_file(hidden, str(hidden_file))
    hidden_file.chmod(0o644)  # safetensors writes it private; it ships with the app
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries)  # one entry a line
    head = json.dumps(encoding_cache.minilm_version())
    text = f'{{"minilm": {head}, "entries": [\n{lines}\n]}}\n'
    (folder / encoding_cache.TEXTS_FILE).write_text(text)
    encoding_cache.clear()


if __name__ == "__main__":
    found = example_sentences()
    build(found)
    print(f"stored {len(found)} sentences in {encoding_cache.FOLDER}")
