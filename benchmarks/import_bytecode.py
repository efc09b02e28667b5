"""What compiled bytecode saves where Python may not write it (`PYTHONDONTWRITEBYTECODE`, as on our
CI machines): the import of Keras (every test worker and trainer process) and of the app.

    uv sync --compile-bytecode && uv run python benchmarks/import_bytecode.py [--runs 3]

Each import runs in a fresh process, alternating: with the installed packages' compiled bytecode,
and from source (an empty `PYTHONPYCACHEPREFIX` makes Python look for bytecode there, find none and,
not allowed to write, compile every module again: what an install without bytecode costs each
start). Prints the median seconds of each and the ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = {"keras": "import keras", "the app": "import nietzsche_tui.tui.app"}


def timed(statement: str, cache_prefix: str | None) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    if cache_prefix is not None:
        env["PYTHONPYCACHEPREFIX"] = cache_prefix
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", statement], env=env, check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    site = Path(__import__("textual").__file__).parent
    if not any(site.glob("__pycache__/*.pyc")):
        sys.exit("no compiled bytecode in the installed packages: run `uv sync --compile-bytecode` first")
    print(f"{'import':<10} {'compiled (s)':>13} {'from source (s)':>16} {'source / compiled':>18}")
    with tempfile.TemporaryDirectory() as empty:
        for name, statement in IMPORTS.items():
            compiled, source = [], []
            for _ in range(args.runs):
                compiled.append(timed(statement, None))
                source.append(timed(statement, empty))
            c, s = statistics.median(compiled), statistics.median(source)
            print(f"{name:<10} {c:>13.2f} {s:>16.2f} {s / c:>17.2f}×")


if __name__ == "__main__":
    main()
