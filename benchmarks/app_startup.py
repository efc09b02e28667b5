"""App start-up and streaming speed, each run in a fresh process on the bundled model.

    uv run python benchmarks/app_startup.py [--runs 5] [--mode window|stateful]

Each run is done twice, alternating: with confidence colouring off and on (the chat's `p`), so
the two speeds are measured in the same conditions.

Measures, from the first line of the process (interpreter start excluded): importing the app,
the first frame on screen (headless), the model loaded (it loads in a worker after the first
frame), and then streams one 2,000-character prompt at the four default temperatures and reports
the characters per second each column received on screen, and finally the CPU the idle app uses
over 5 seconds after the stream ended (nothing on screen changes; no timer should run).
TensorFlow must never be imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(mode: str, colour: bool) -> None:
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from nietzsche_tui.tui.app import make_app
    from nietzsche_tui.tui.widgets.columns import Exchange

    imported = time.perf_counter()
    result: dict = {"import_ms": (imported - started) * 1000}

    async def pilot_script(pilot) -> None:
        app = pilot.app
        result["first_frame_ms"] = (time.perf_counter() - started) * 1000
        while app.engine is None:
            await pilot.pause(0.005)
        result["model_ready_ms"] = (time.perf_counter() - started) * 1000
        app.chat.colour = colour
        app.send("what is truth? is it not the most")
        exchange = app.query_one(Exchange)
        while any(w.is_running for w in app.workers):
            await pilot.pause(0.01)
        await pilot.pause()
        shown = len(exchange.texts()[0])
        result["chars_per_column"] = shown
        result["chars_per_second_per_column"] = exchange.chars_per_second()
        result["tensorflow_imported"] = "tensorflow" in sys.modules
        await pilot.pause(0.5)
        cpu, wall = time.process_time(), time.perf_counter()
        await pilot.pause(5.0)
        result["idle_cpu_percent"] = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)
        app.exit()

    make_app(length=2000, seed=1, mode=mode).run(headless=True, auto_pilot=pilot_script, size=(160, 40))
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mode", default="window")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--colour", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.mode, args.colour)
        return
    runs, coloured = [], []
    for _ in range(args.runs):
        for colour, results in ((False, runs), (True, coloured)):
            command = [sys.executable, __file__, "--child", "--mode", args.mode] + (["--colour"] if colour else [])
            out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                sys.exit(f"run failed:\n{out.stderr[-2000:]}")
            results.append(json.loads(line[7:]))
    print(f"{args.runs} fresh processes, mode {args.mode}, bundled model, 160x40 headless terminal\n")
    print("| figure | median | best | worst |")
    print("|---|---|---|---|")
    for key, label in (
        ("import_ms", "import the app (ms)"),
        ("first_frame_ms", "first frame (ms)"),
        ("model_ready_ms", "model loaded (ms)"),
        ("chars_per_second_per_column", "streamed chars/s per column"),
        ("idle_cpu_percent", "idle CPU, % of one core"),
    ):
        values = [r[key] for r in runs]
        digits = 2 if key == "idle_cpu_percent" else 0
        cells = [f"{v:,.{digits}f}" for v in (statistics.median(values), min(values), max(values))]
        print(f"| {label} | {' | '.join(cells)} |")
    plain = statistics.median(r["chars_per_second_per_column"] for r in runs)
    painted = statistics.median(r["chars_per_second_per_column"] for r in coloured)
    print(
        f"\nconfidence colouring on: {painted:,.0f} chars/s per column (median), "
        f"{painted / plain:.0%} of the speed with it off (target ≥ 80%)"
    )
    print(
        f"\nTensorFlow imported in any run: {any(r['tensorflow_imported'] for r in runs + coloured)}; "
        f"characters shown per column: {sorted({r['chars_per_column'] for r in runs})}"
    )


if __name__ == "__main__":
    main()
