"""Generation with OpenBLAS's default thread count against the engine's one BLAS thread, for both
bundled models, on an idle machine and with every core kept busy by another process, in one run.

    uv run python benchmarks/blas_threads.py [--length 200] [--repeats 3]

Each measurement generates ``--length`` characters at the four temperatures (window mode, one
seed) in this process. "default" iterates the engine's raw step stream, so NumPy's BLAS uses
whatever threads the library chose (two on a 2-core machine, unless the environment says
otherwise); "one thread" iterates the ``Generation`` as the app and ``generate`` do, each step
under ``one_blas_thread()``. The two alternate within each repeat, so the machine's noise falls on
both; "busy" starts one spinning process per core first (the UI and other programs, at worst).
Printed: characters per second (per column) and one thread's speed as a ratio of the default's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nietzsche_tui.engine.generation import Engine, GenerationRequest  # noqa: E402
from nietzsche_tui.locate import BUNDLED_MODELS  # noqa: E402

TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
PROMPT = "the free spirit, the very free spirit, as they call themselves"


def spin() -> None:  # pragma: no cover - a load, in its own process
    while True:
        pass


def rate(engine: Engine, length: int, one_thread: bool) -> float:
    """Characters per second per column for one generation."""
    generation = engine.generate(GenerationRequest(PROMPT, TEMPERATURES, length, 7, "window", None, None))
    steps = iter(generation) if one_thread else generation.steps
    started = time.perf_counter()
    count = sum(1 for _ in steps)
    return count / (time.perf_counter() - started)


def measure(engine: Engine, length: int, repeats: int) -> tuple[float, float]:
    default, single = [], []
    for _ in range(repeats):
        default.append(rate(engine, length, one_thread=False))
        single.append(rate(engine, length, one_thread=True))
    return statistics.median(default), statistics.median(single)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i['version']}, {i['num_threads']} threads" for i in threadpool_info()]
    print(f"{platform.node()} · {os.cpu_count()} cores · {', '.join(blas)} · {time.strftime('%Y-%m-%d')}")
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    print(f"{'model':<6} {'machine':<6} {'default':>10} {'one thread':>11} {'ratio':>7}   (characters/s per column)")
    for name in ("book", "large"):
        engine = Engine.load(BUNDLED_MODELS[name])
        rate(engine, 20, True)  # warm up
        for machine in ("idle", "busy"):
            load = []
            if machine == "busy":
                load = [multiprocessing.Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 1)]
                for process in load:
                    process.start()
                time.sleep(0.5)
            try:
                default, single = measure(engine, args.length, args.repeats)
            finally:
                for process in load:
                    process.terminate()
                    process.join()
            print(f"{name:<6} {machine:<6} {default:>10.0f} {single:>11.0f} {single / default:>6.2f}×", flush=True)


if __name__ == "__main__":
    main()
