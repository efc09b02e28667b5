"""The generation engine against itself at an earlier commit, interleaved, in one run.

    uv run python benchmarks/generation_ab.py [--before 1a82fd4] [--repeats 3]

The earlier tree is checked out with ``git worktree`` into a temporary folder (removed after).
Each repeat runs one fresh process per tree, alternately, so the machine's noise falls on both;
each process generates with both bundled models, four temperatures, one prompt and seed, in
window and stateful mode, plus epochs side by side (four copies of the book model at one
temperature), and reports characters per second (all columns), the time to the first character,
and a digest of the text. Printed: the median of each figure, the after/before ratio, and
whether both trees wrote the same text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from earlier_tree import earlier_tree  # benchmarks/, first on the path when run as a script

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "the free spirit, the very free spirit, as they call themselve"
LENGTH = 400
CASES = ("book window", "book stateful", "large window", "large stateful", "book epochs window")


def measure(generation) -> dict:
    """Characters per second (all columns), milliseconds to the first step, and the text's digest."""
    started = time.perf_counter()
    steps = iter(generation)
    first = next(steps)
    first_ms = (time.perf_counter() - started) * 1000
    rest = list(steps)
    seconds = time.perf_counter() - started
    text = "".join("".join(step.chars) for step in [first, *rest])
    columns = len(first.chars)
    return {
        "chars_per_s": (1 + len(rest)) * columns / seconds,
        "first_ms": first_ms,
        "digest": hashlib.sha256(text.encode()).hexdigest()[:12],
    }


def child(root: str) -> None:
    """One tree's figures, as one line of JSON (run in a fresh process with ``root`` first on the path)."""
    sys.path.insert(0, root)
    from nietzsche_tui.engine.epochs import generate_epochs
    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from nietzsche_tui.engine.weights import load_weights
    from nietzsche_tui.locate import BUNDLED_MODELS

    figures = {}
    for name in ("book", "large"):
        engine = Engine.load(BUNDLED_MODELS[name])
        for mode in ("window", "stateful"):
            request = GenerationRequest(PROMPT, length=LENGTH, seed=1, mode=mode)
            figures[f"{name} {mode}"] = measure(engine.generate(request))
        if name == "book":
            copies = [Engine.of(engine.checkpoint, load_weights(engine.checkpoint)) for _ in range(4)]
            request = GenerationRequest(PROMPT, (0.5,), length=LENGTH, seed=1)
            figures["book epochs window"] = measure(generate_epochs(copies, request))
    print(json.dumps(figures))


def run_tree(root: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", str(root)], capture_output=True, text=True, check=True, cwd=root
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="1a82fd4", help="the earlier commit (default: before issue 21)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with earlier_tree(ROOT, args.before) as before:
        for _ in range(args.repeats):
            runs["before"].append(run_tree(before))
            runs["after"].append(run_tree(ROOT))
    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}; {args.repeats} interleaved runs; medians"
    )
    print(f"{LENGTH} characters per column, four temperatures (epochs: four models at one)\n")
    print(
        "| case | before chars/s | after chars/s | after / before | first char before (ms) | "
        "first char after (ms) | same text |"
    )
    print("|---|---|---|---|---|---|---|")
    for case in CASES:
        rate = {k: statistics.median(r[case]["chars_per_s"] for r in v) for k, v in runs.items()}
        first = {k: statistics.median(r[case]["first_ms"] for r in v) for k, v in runs.items()}
        same = runs["before"][0][case]["digest"] == runs["after"][0][case]["digest"]
        print(
            f"| {case} | {rate['before']:,.0f} | {rate['after']:,.0f} | {rate['after'] / rate['before']:.2f}× | "
            f"{first['before']:.1f} | {first['after']:.1f} | {'yes' if same else 'no'} |"
        )


if __name__ == "__main__":
    main()
