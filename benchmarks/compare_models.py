"""The cost of comparing models side by side: book + large in one ``generate_models`` against each
generating alone, and two same-shaped models (stacked into one network) against one alone.

    uv run python benchmarks/compare_models.py [--repeats 5] [--length 400]

Every figure is the seconds to generate ``--length`` characters per column (window mode, one BLAS
thread per step, as the app's child computes), the median of the repeats, the cases interleaved
within each repeat so the machine's noise falls on all of them. "side by side / alone" below 1
means comparing costs less than running the models one after the other.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

PROMPT = "what is truth? is it not the most"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=int, default=400)
    args = parser.parse_args()

    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from nietzsche_tui.engine.models import generate_models
    from nietzsche_tui.locate import BUNDLED_MODELS

    book, large = Engine.load(BUNDLED_MODELS["book"]), Engine.load(BUNDLED_MODELS["large"])
    book_again = Engine.load(BUNDLED_MODELS["book"])  # another engine of the same shape: stacked
    request = GenerationRequest(PROMPT, (0.5,), args.length, seed=1)

    def timed(make) -> float:
        started = time.perf_counter()
        for _ in make():
            pass
        return time.perf_counter() - started

    cases = {
        "book alone": lambda: book.generate(request),
        "large alone": lambda: large.generate(request),
        "book + large side by side": lambda: generate_models([book, large], ["book", "large"], request),
        "book + book (stacked)": lambda: generate_models([book, book_again], ["book", "book"], request),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for make in cases.values():  # warm-up: first calls allocate the pipeline's buffers
        timed(make)
    for _ in range(args.repeats):
        for name, make in cases.items():
            times[name].append(timed(make))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{platform.node()} · {platform.processor() or platform.machine()} · {time.strftime('%Y-%m-%d')}")
    for name, seconds in median.items():
        print(f"{name:>26}: {seconds:6.2f} s for {args.length} characters per column")
    both = median["book alone"] + median["large alone"]
    print(f"book + large side by side / (book alone + large alone): {median['book + large side by side'] / both:.2f}")
    print(f"book + book stacked / (2 × book alone): {median['book + book (stacked)'] / (2 * median['book alone']):.2f}")


if __name__ == "__main__":
    main()
