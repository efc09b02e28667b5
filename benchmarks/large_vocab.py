"""Peak memory of training and scoring with a 3,000-character vocabulary (a CJK-sized text).

    uv run python benchmarks/large_vocab.py [--vocabulary 3000] [--characters 400000]

Writes a synthetic text in a temporary folder: ``--vocabulary`` CJK ideographs drawn with a Zipf
distribution (as real Chinese text is), in "sentences" ended by "。" and newlines. Then, each in
its own process so the peaks do not mix, it runs one epoch of ``nietzsche-train`` (the book recipe
and the fast one, ``--steps-per-epoch 50``, with the full held-out scoring that a 1024-window batch
of one-hot floats made 5.7 GB before) and the app's ``score`` command over the held-out text, and
prints each process's peak resident memory (``ru_maxrss``). For scale it prints what the book's
vectorisation (listing 8-3: every window one-hot as bools, up front) would need for this text.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_text(vocabulary: int, characters: int, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    alphabet = np.array([chr(0x4E00 + i) for i in range(vocabulary - 2)])
    ranks = np.minimum(rng.zipf(1.3, size=characters), vocabulary - 2) - 1
    chars = alphabet[ranks]
    ends = rng.random(characters) < 1 / 25
    chars[ends] = "。"
    chars[ends & (rng.random(characters) < 0.2)] = "\n"
    return "".join(chars)


def peak_of(command: list[str]) -> tuple[float, float]:
    """Run ``command`` in a fresh process; return (peak RSS in MB, seconds)."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: exec the command, so its ru_maxrss is its own
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocabulary", type=int, default=3000)
    parser.add_argument("--characters", type=int, default=400_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "cjk.txt"
        text = synthetic_text(args.vocabulary, args.characters)
        corpus.write_text(text, encoding="utf-8")
        distinct = len(set(text))
        print(f"corpus: {len(text):,} characters, {distinct:,} distinct; held out: the last 5%")
        windows = (len(text) * 0.95 - 60) // 3
        print(
            f"the book's vectorisation of it: {windows:,.0f} windows x 60 x {distinct} bools = "
            f"{windows * 60 * distinct / 2**30:.1f} GB before Keras converts it to floats"
        )
        python = sys.executable
        for recipe in ("book", "fast"):
            out = Path(folder) / recipe
            command = [python, "-m", "trainer.cli", "--corpus", str(corpus), "--out", str(out), "--recipe", recipe]
            command += ["--epochs", "1", "--steps-per-epoch", "50", "--sample-length", "100", "--keep-case"]
            peak, seconds = peak_of(command)
            print(
                f"nietzsche-train --recipe {recipe}, one epoch of 50 batches + held-out scoring: "
                f"peak {peak:,.0f} MB ({seconds:.0f} s)"
            )
        held_out = Path(folder) / "held_out.txt"
        held_out.write_text(text[int(len(text) * 0.95) :][:5000], encoding="utf-8")
        command = [python, "-m", "nietzsche_tui", "score", "--checkpoint", str(Path(folder) / "fast")]
        command.append(str(held_out))
        peak, seconds = peak_of(command)
        print(
            f"nietzsche-tui score over 5,000 held-out characters (NumPy engine): peak {peak:,.0f} MB ({seconds:.0f} s)"
        )
    print(f"machine: {os.cpu_count()} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
