"""Peak memory and CPU time of hostile uploads: each case runs in a fresh process.

Run: python bench/bench_hostile.py [--images 10]
Cases:
- image-checkpoint: a checkpoint ZIP describing a 2048x2048 image cut into one patch, uploaded
  and then viewed as the Image page does (explain a demo photo, build its three figures and
  serialise them as Streamlit would);
- zip-bomb: a data ZIP (about 0.4 MB) holding one 450 MB member in a class folder;
- pixel-bomb: a data ZIP of `--images` 7000x7000 (49 MP) PNGs of one colour.
For each: the outcome (accepted, or the message it was refused with), the peak resident memory
(VmHWM, from /proc/self/status) before and after the case, and the CPU seconds it took.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CASES = ("image-checkpoint", "zip-bomb", "pixel-bomb")


def peak_mb() -> float:
    """This process's peak resident set size so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def crafted_image_checkpoint() -> bytes:
    """A checkpoint ZIP whose config asks for 2048x2048 RGB images in one patch (its weights,
    one hidden unit, are 48 MB: under the weights limit). Written by hand, as an attacker would,
    from a small model's weights with the dense layer widened."""
    import torch
    from safetensors.torch import save

    from dense_attention.core.config import ModelConfig
    from dense_attention.inputs.classifier import Classifier, ClassifierConfig
    from dense_attention.inputs.image_encoder import ImageConfig
    from dense_attention.storage import checkpoint

    small = ClassifierConfig(ModelConfig(48, 1, 2), ("a", "b"), image=ImageConfig(4, 3, 4, 0))
    tensors = dict(Classifier(small).state_dict())
    width = 2048 * 2048 * 3
    tensors["core.dense.weight"] = torch.full((1, width), 1e-4)
    config = small.to_dict()
    config["model"]["input_dim"] = width
    config["image"].update(size=2048, patch=2048)
    header = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, "kind": "Classifier",
              "config": config, "metadata": {}}  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(checkpoint.CONFIG_FILE, json.dumps(header))
        archive.writestr(checkpoint.WEIGHTS_FILE, save(tensors))
    return buffer.getvalue()


def view_image_page(raw: bytes) -> str:
    """Upload the checkpoint, then what one view of the Image page computes."""
    from dense_attention.data import images
    from dense_attention.figures import image_plots
    from dense_attention.storage import checkpoint

    model = checkpoint.from_zip(raw).model
    photo = images.demo_images()["astronaut"]
    explanation = model.explain(photo)
    pixels = images.resized_input(model, photo)
    trace, tokens = explanation.trace, list(explanation.tokens)
    boxes = model.encoder.patch_boxes()
    figures = [
        image_plots.image_with_grid(pixels, model.config.image.patch, tokens, "input"),
        image_plots.patch_overlay(pixels, trace.alpha[0], boxes, "alpha", tokens, name="α"),
        image_plots.patch_attention_row(pixels, trace.attn[0], boxes, 0, tokens),
    ]
    size = sum(len(fig.to_json()) for fig in figures)
    return f"accepted; figures {size / 2**20:.0f} MB of JSON"


def zip_bomb() -> bytes:
    """Two classes of two members each; the first member unpacks to 450 MB of zeros (written
    in 1 MB chunks, so building it costs no memory)."""
    buffer, chunk = io.BytesIO(), b"\0" * 2**20
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("cats/a.png", "w") as member:
            for _ in range(450_000_000 // len(chunk)):
                member.write(chunk)
        for name in ("cats/b.png", "dogs/c.png", "dogs/d.png"):
            archive.writestr(name, b"\0" * 10)
    return buffer.getvalue()


def pixel_bomb(count: int) -> bytes:
    from PIL import Image

    png = io.BytesIO()
    Image.new("L", (7000, 7000), 255).save(png, format="PNG", optimize=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for k in range(count):
            archive.writestr(f"{'ab'[k % 2]}/{k}.png", png.getvalue())
    return buffer.getvalue()


def upload_data(raw: bytes) -> str:
    from dense_attention.data.uploads import parse_upload

    ds = parse_upload(raw, "upload.zip")
    return f"accepted; {ds.summary()['total']} images"


def run_case(case: str, images: int) -> None:
    import dense_attention.data.uploads  # noqa: F401
    import dense_attention.figures.image_plots  # noqa: F401
    import dense_attention.storage.checkpoint  # noqa: F401 - imports (torch, PIL) counted in "before"
    from dense_attention import DenseAttentionError

    if case == "image-checkpoint":
        raw = crafted_image_checkpoint()
        action = view_image_page
    else:
        raw = zip_bomb() if case == "zip-bomb" else pixel_bomb(images)
        action = upload_data
    before, start = peak_mb(), cpu_s()
    try:
        outcome = action(raw)
    except DenseAttentionError as err:  # CheckpointError, DataError, ConfigError, EncodingError
        outcome = f"refused: {type(err).__name__}: {str(err)[:150]}"
    after, seconds = peak_mb(), cpu_s() - start
    row = {
        "case": case,
        "upload_kb": len(raw) // 1024,
        "outcome": outcome,
        "peak_before_mb": round(before),
        "peak_after_mb": round(after),
        "cpu_s": round(seconds, 1),
    }
    print(json.dumps(row, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, help="run one case in this process")
    parser.add_argument("--images", type=int, default=10, help="49 MP images in the pixel bomb")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args.images)
        return
    for case in CASES:
        command = [sys.executable, __file__, "--case", case, "--images", str(args.images)]
        subprocess.run(command, check=False)


if __name__ == "__main__":
    main()
