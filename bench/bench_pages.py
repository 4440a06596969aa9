"""Time every page's script run under streamlit.testing's AppTest: first run, then reruns.

Run: python bench/bench_pages.py [--reruns 5]
For each page: the first run (loads checkpoints, MiniLM, builds figures), the median of N plain
reruns (what a click elsewhere on the page costs), and the median of N reruns after changing a
setting to values not seen before (a new similarity or temperature: nothing cached to reuse).
The target: every rerun under 300 ms on the CPU. AppTest's own overhead is included, so the
numbers are an upper bound on the script's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from streamlit.logger import set_log_level  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dense_attention.storage import catalog  # noqa: E402
from dense_attention.ui import state  # noqa: E402

TARGET_MS = 300
SIMILARITIES = ["cosine", "dot", "bilinear", "additive", "neg_euclidean", "scaled_dot"]
# page -> (widget kind, key, values for the "after a change" reruns, each new to the page)
CHANGES = {
    "views/text.py": ("selectbox", state.SIMILARITY_WIDGET, SIMILARITIES),
    "views/model.py": ("select_slider", state.TOY_TEMPERATURE, [0.1, 0.2, 2.0, 10.0, 100.0, 0.01]),
    "views/compare.py": ("select_slider", "compare_temperature", [0.1, 0.2, 0.5, 2.0, 5.0, 10.0]),
    "views/image.py": ("selectbox", state.SIMILARITY_WIDGET, SIMILARITIES),
}  # fmt: skip


def timed(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    elapsed = (time.perf_counter() - start) * 1000
    if at.exception:
        raise SystemExit(f"the page raised: {[e.message for e in at.exception]}")
    return elapsed


def bench(page: str, reruns: int) -> tuple[float, float, float | None]:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if page != "views/text.py":  # the text page is home: the app's first run is its first run
        at.run()
        at.switch_page(page)
    first = timed(at)
    plain = statistics.median(timed(at) for _ in range(reruns))
    change = CHANGES.get(page)
    if change is None:
        return first, plain, None
    kind, key, values = change
    times = []
    for value in values[:reruns]:
        getattr(at, kind)(key=key).set_value(value)
        times.append(timed(at))
    return first, plain, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    set_log_level("error")  # no "missing ScriptRunContext" warnings between the rows
    pages = [p for p in ("text", "image", "model", "compare", "about")
             if (ROOT / "views" / f"{p}.py").is_file()]  # fmt: skip
    print(f"checkpoints: {catalog.checkpoint_root()}")
    print(f"{'page':<10} {'first run':>10} {'rerun':>8} {'changed':>8}  under {TARGET_MS} ms")
    for name in pages:
        first, plain, changed = bench(f"views/{name}.py", args.reruns)
        worst = max(plain, changed or 0.0)
        shown = f"{changed:>8.0f}" if changed is not None else f"{'-':>8}"
        verdict = "yes" if worst < TARGET_MS else "NO"
        print(f"{name:<10} {first:>10.0f} {plain:>8.0f} {shown}  {verdict}")
    print("milliseconds; rerun = median of plain reruns, changed = median after a new setting")


if __name__ == "__main__":
    main()
