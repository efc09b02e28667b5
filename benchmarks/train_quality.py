"""Quality against time: train a recipe for a fixed training-time budget on the full corpus and
record held-out loss at regular points.

    uv run python benchmarks/train_quality.py --recipe book --budget-min 22 --threads 1
    uv run python benchmarks/train_quality.py --recipe fast --budget-min 22 --threads 1

Held-out loss is the project's one measure: cross-entropy of the next character after a full
maxlen window over the last 5% of the text (every window, step 1). The clock counts training
batches only (the sum of batch times), so the evaluations that draw the curve and the per-epoch
checkpoints do not count against either recipe; wall seconds are recorded beside it. Each run
writes a JSON file of its curve; ``--report`` turns those files into tables and a plot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nietzsche.txt"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run(args: argparse.Namespace) -> None:
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from trainer.config import config_from
    from trainer.corpus import load_corpus
    from trainer.data import WindowBatches
    from trainer.model import build_model
    from trainer.train import train

    overrides = {
        k: getattr(args, k)
        for k in ("sequence_length", "batch_size", "learning_rate", "lr_decay", "clipnorm", "dropout")
    }
    config = config_from(
        args.recipe,
        {**overrides, "corpus": str(CORPUS), "out": args.out, "epochs": 10_000, "sample_length": 0, "val_step": 3},
    )
    corpus = load_corpus(CORPUS, config.maxlen, config.val_fraction)
    held_out = WindowBatches(corpus.held_out, len(corpus.vocabulary), config.maxlen, 1, 1024, shuffle=False)
    scorer = build_model(len(corpus.vocabulary), config.maxlen, config.architecture)
    scorer.compile(loss="sparse_categorical_crossentropy")
    curve: list[dict] = []
    budget = args.budget_min * 60

    class QualityProbe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.clock, self.next_point, self.wall0 = 0.0, 0.0, time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            self.batch_started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.clock += time.perf_counter() - self.batch_started
            if self.clock >= self.next_point or self.clock >= budget:
                scorer.set_weights(self.model.get_weights())
                loss = float(scorer.evaluate(held_out, verbose=0))
                point = {
                    "train_seconds": round(self.clock, 1),
                    "wall_seconds": round(time.perf_counter() - self.wall0, 1),
                    "val_loss": loss,
                }
                curve.append(point)
                print(json.dumps(point), flush=True)
                self.next_point += args.interval
                Path(args.json).write_text(
                    json.dumps(
                        {"config": config.to_dict(), "threads": args.threads, "budget_seconds": budget, "curve": curve},
                        indent=1,
                    )
                )
            if self.clock >= budget:
                self.model.stop_training = True

    train(config, extra_callbacks=(QualityProbe(),))


def first_time_below(curve: list[dict], target: float) -> float | None:
    for point in curve:
        if point["val_loss"] <= target:
            return point["train_seconds"]
    return None


def report(paths: list[str], plot: str | None) -> None:
    runs = [json.loads(Path(p).read_text()) for p in paths]
    print("| recipe | settings | reaches 1.50 | reaches 1.40 | loss at end | end (s) |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        c, curve = r["config"], r["curve"]
        settings = (
            f"maxlen {c['maxlen']} step {c['step']} batch {c['batch_size']} lr {c['learning_rate']}"
            if c["recipe"] == "book"
            else f"seq {c['sequence_length']} batch {c['batch_size']} lr {c['learning_rate']} "
            f"decay {c['lr_decay']} clip {c['clipnorm']}"
        )
        cells = [first_time_below(curve, t) for t in (1.5, 1.4)]
        shown = [f"{v:.0f} s" if v is not None else "not reached" for v in cells]
        print(
            f"| {c['recipe']} | {settings} | {shown[0]} | {shown[1]} | {curve[-1]['val_loss']:.4f} | "
            f"{curve[-1]['train_seconds']:.0f} |"
        )
    if len(runs) >= 2:
        book = next((r for r in runs if r["config"]["recipe"] == "book"), None)
        fast = next((r for r in runs if r["config"]["recipe"] == "fast"), None)
        if book and fast:
            target = book["curve"][-1]["val_loss"]
            t_fast = first_time_below(fast["curve"], target)
            t_book = book["curve"][-1]["train_seconds"]
            ratio = f"{t_book / t_fast:.1f}x" if t_fast else "not reached"
            print(
                f"\nBook recipe's end-of-budget loss {target:.4f} after {t_book:.0f} s; the fast recipe "
                f"reaches it after {t_fast} s: {ratio} faster."
            )
    if plot:
        Path(plot).write_text(svg_plot(runs), encoding="utf-8")
        print(f"plot written to {plot}")


def svg_plot(runs: list[dict], width: int = 720, height: int = 420) -> str:
    """A small dependency-free SVG line chart of held-out loss against training minutes."""
    left, right, top, bottom = 60, 20, 40, 50
    x_max = max(p["train_seconds"] for r in runs for p in r["curve"]) / 60
    y_min, y_max = 1.2, 2.2

    def xy(point: dict) -> tuple[float, float]:
        x = left + (point["train_seconds"] / 60) / x_max * (width - left - right)
        y = top + (y_max - min(max(point["val_loss"], y_min), y_max)) / (y_max - y_min) * (height - top - bottom)
        return x, y

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">LSTM(128) on nietzsche.txt: '
        "held-out loss against training time</text>",
    ]
    for tick in range(0, int(x_max) + 1, 2):
        x = left + tick / x_max * (width - left - right)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{tick}</text>'
        )
    for step in range(0, 11):
        value = y_min + step * (y_max - y_min) / 10
        y = top + (y_max - value) / (y_max - y_min) * (height - top - bottom)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.1f}</text>'
        )
    parts.append(
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">training minutes '
        "(one CPU core each, both recipes at once)</text>"
    )
    parts.append(
        f'<text x="16" y="{height / 2}" transform="rotate(-90 16 {height / 2})" '
        'text-anchor="middle">held-out loss (nats/char)</text>'
    )
    colours = {"book": "#c0392b", "fast": "#2471a3"}
    for index, r in enumerate(runs):
        recipe = r["config"]["recipe"]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(xy, r["curve"][1:]))
        colour = colours.get(recipe, "#555")
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<text x="{width - right - 150}" y="{top + 20 + 18 * index}" fill="{colour}">— {recipe} recipe</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=("book", "fast"))
    parser.add_argument("--budget-min", type=float, default=22.0, help="training minutes per recipe")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds of training between points")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for TensorFlow")
    parser.add_argument("--out", default=None, help="checkpoint folder (default runs/quality-RECIPE)")
    parser.add_argument("--json", default=None, help="where to write the curve")
    for flag, kind in (
        ("--sequence-length", int),
        ("--batch-size", int),
        ("--learning-rate", float),
        ("--lr-decay", float),
        ("--clipnorm", float),
        ("--dropout", float),
    ):
        parser.add_argument(flag, type=kind, default=None)
    parser.add_argument("--report", nargs="+", help="curve JSON files to tabulate instead of training")
    parser.add_argument("--plot", default=None, help="with --report: write a plot (PNG or SVG)")
    args = parser.parse_args()
    if args.report:
        report(args.report, args.plot)
        return
    if args.recipe is None:
        parser.error("--recipe is needed to train")
    if not CORPUS.exists():
        sys.exit(f"train_quality: {CORPUS} is missing; this benchmark needs the full corpus.")
    args.out = args.out or str(ROOT / "runs" / f"quality-{args.recipe}")
    args.json = args.json or f"{args.out}.json"
    run(args)


if __name__ == "__main__":
    main()
