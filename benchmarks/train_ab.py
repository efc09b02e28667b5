"""The trainer against the trainer of an earlier commit, interleaved (issue 21's 1.25×).

    uv run python benchmarks/train_ab.py [--before bcefb89] [--batches 150] [--rounds 3]
                                         [--recipes book,fast,large]

The earlier commit is checked out with ``git worktree`` beside this tree; each round runs every
recipe once with each tree, alternately, each run a fresh process (``train_options.py``'s child:
one epoch of ``--batches`` batches on the full corpus, the median seconds per batch after the
first 20 from one batch's end to the next, the training loss after the epoch). ``large`` is the
bundled large model's recipe (2 × LSTM(256), dropout 0.25). The ratio is the earlier tree's
seconds per batch over this one's, medians over the rounds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from earlier_tree import earlier_tree  # benchmarks/, first on the path when run as a script
from train_options import run

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="bcefb89", help="the earlier commit (default: before the speed-ups)")
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recipes", default="book,fast,large")
    args = parser.parse_args()
    recipes = args.recipes.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    with earlier_tree(ROOT, args.before) as before:
        for _ in range(args.rounds):
            for recipe in recipes:
                for tree, root in (("before", before), ("after", ROOT)):
                    results.setdefault((recipe, tree), []).append(run("today", recipe, args.batches, root))
                    print(recipe, tree, results[(recipe, tree)][-1], file=sys.stderr, flush=True)
    print(
        f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"{args.rounds} interleaved rounds of {args.batches} batches, medians\n"
    )
    print("| recipe | before s/batch | after s/batch | after / before throughput | losses before | losses after |")
    print("|---|---|---|---|---|---|")
    trees = ("before", "after")
    for recipe in recipes:
        # End to end: the step and what runs between steps (data, callbacks), what a run sees.
        seconds = {tree: statistics.median(r["wall_seconds"] for r in results[(recipe, tree)]) for tree in trees}
        losses = {tree: ", ".join(f"{r['loss']:.4f}" for r in results[(recipe, tree)]) for tree in trees}
        print(
            f"| {recipe} | {seconds['before']:.4f} | {seconds['after']:.4f} | "
            f"{seconds['before'] / seconds['after']:.2f}× | {losses['before']} | {losses['after']} |"
        )


if __name__ == "__main__":
    main()
