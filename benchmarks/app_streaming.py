"""The app's streaming rate per column against the engine's own rate, for both bundled models,
this tree and an earlier one, in one run.

    uv run python benchmarks/app_streaming.py [--before 1a82fd4] [--repeats 3]

Each measurement is a fresh process: "engine" iterates ``Engine.generate`` as the app's worker
does (one BLAS thread per step), "app" runs the app headless (160×40) as the command line starts
it (with the generation child, where the tree has one), sends the prompt and waits
for every column to finish, and reports the characters per second each column received on
screen. Same prompt, seed, length (400 per column), four default temperatures. The earlier tree is
checked out with ``git worktree`` into a temporary folder; the processes of the two trees
alternate within each repeat, so the machine's noise falls on all of them.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from earlier_tree import earlier_tree  # benchmarks/, first on the path when run as a script

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "what is truth? is it not the most"
LENGTH = 400
CASES = (("book", "window"), ("book", "stateful"), ("large", "window"), ("large", "stateful"))


def engine_rate(model: str, mode: str) -> float:
    """Characters per second per column, the engine alone."""
    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from nietzsche_tui.locate import BUNDLED_MODELS

    engine = Engine.load(BUNDLED_MODELS[model])
    started = time.perf_counter()
    steps = list(engine.generate(GenerationRequest(PROMPT, length=LENGTH, seed=1, mode=mode)))
    return len(steps) / (time.perf_counter() - started)


def app_rate(model: str, mode: str) -> float:
    """Characters per second per column as the app's columns received them on screen."""
    from nietzsche_tui.locate import BUNDLED_MODELS
    from nietzsche_tui.tui.app import make_app
    from nietzsche_tui.tui.widgets.columns import Exchange

    result: dict = {}

    async def pilot_script(pilot) -> None:
        app = pilot.app
        while app.engine is None:
            await pilot.pause(0.005)
        await pilot.pause(0.2)
        app.send(PROMPT)
        exchange = app.query_one(Exchange)
        while any(w.is_running for w in app.workers):
            await pilot.pause(0.01)
        await pilot.pause()
        assert len(exchange.texts()[0]) == LENGTH
        result["rate"] = exchange.chars_per_second()
        app.exit()

    from dataclasses import fields

    from nietzsche_tui.settings import Settings

    # As the command line runs it: with the generation child where the tree has one.
    child = {"generation_process": True} if "generation_process" in {f.name for f in fields(Settings)} else {}
    app = make_app(str(BUNDLED_MODELS[model]), length=LENGTH, seed=1, mode=mode, **child)
    app.run(headless=True, auto_pilot=pilot_script, size=(160, 40))
    return result["rate"]


def measure(root: Path, where: str, model: str, mode: str) -> float:
    command = [sys.executable, __file__, "--child", where, model, mode, str(root)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=root)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        sys.exit(f"{where} {model} {mode} in {root} failed:\n{done.stderr[-2000:]}")
    return float(lines[-1].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="1a82fd4", help="the earlier commit (default: before issue 21)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        where, model, mode, root = args.child
        sys.path.insert(0, root)
        rate = engine_rate(model, mode) if where == "engine" else app_rate(model, mode)
        print(f"RESULT {rate}")
        return
    figures: dict[tuple, list[float]] = {}
    with earlier_tree(ROOT, args.before) as before:
        for _ in range(args.repeats):
            for model, mode in CASES:
                for tree, root in (("before", before), ("after", ROOT)):
                    for where in ("engine", "app"):
                        rate = measure(root, where, model, mode)
                        figures.setdefault((tree, where, model, mode), []).append(rate)
    print(
        f"machine: {platform.machine()}, {platform.system()}; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{args.repeats} interleaved runs, medians; {LENGTH} characters per column × 4 temperatures\n"
    )
    print("| model, mode | tree | engine chars/s per column | app chars/s per column | app / engine |")
    print("|---|---|---|---|---|")
    median = {key: statistics.median(values) for key, values in figures.items()}
    for model, mode in CASES:
        for tree in ("before", "after"):
            engine, app = median[(tree, "engine", model, mode)], median[(tree, "app", model, mode)]
            print(f"| {model}, {mode} | {tree} | {engine:,.0f} | {app:,.0f} | {app / engine:.2f} |")
    for model, mode in CASES:
        gain = median[("after", "app", model, mode)] / median[("before", "app", model, mode)]
        print(f"\nin the app, {model} {mode}: after / before = {gain:.2f}×", end="")
    print()


if __name__ == "__main__":
    main()
