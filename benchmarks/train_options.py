"""Training throughput with each TensorFlow option alone, measured interleaved (issue 21).

    uv run python benchmarks/train_options.py [--batches 200] [--rounds 2]

Every run is this project's trainer (``trainer.train.train``) in a fresh process on the full
corpus, for one epoch of ``--batches`` batches, with per-epoch samples and checkpoint writing as
usual; it reports the median seconds per batch after the first 20 (XLA and graph building are
paid there) and the training loss after the epoch. The options, each alone against the trainer
as it is (``today``), are applied by the child process around the unchanged trainer:

* ``no-determinism``: ``tf.config.experimental.enable_op_determinism`` left out;
* ``xla``: ``model.compile(jit_compile=True)``;
* ``threads-2-1`` / ``threads-1-2``: TensorFlow's intra-op / inter-op thread counts for 2 cores;
* ``prefetch``: the batches made ahead in two threads (Keras's ``PyDataset(workers=2)``, its
  own prefetch queue, in place of one batch at a time in the training loop);
* ``bf16``: ``keras.mixed_precision.set_global_policy("mixed_bfloat16")`` (this CPU has avx512_bf16);
* ``together``: ``threads-1-2`` with ``no-determinism`` and ``prefetch``.

``--options`` picks some (``today`` is always run).

Rounds go option by option, recipe by recipe, so a noisy minute on this shared machine touches
every option alike; the ratios are against ``today`` in the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nietzsche.txt"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OPTIONS = ("today", "no-determinism", "xla", "threads-2-1", "threads-1-2", "prefetch", "bf16", "together")
WARM_BATCHES = 20  # graph building and XLA compilation happen in these


def child(option: str, recipe: str, batches: int) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    if option in ("no-determinism", "together"):
        tf.config.experimental.enable_op_determinism = lambda: None
    if option.startswith("threads-") or option == "together":
        intra, inter = (int(n) for n in ("threads-1-2" if option == "together" else option).split("-")[1:])
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    if option == "xla":
        compile_model = keras.Model.compile

        def compile_with_xla(self, *args, **kwargs):
            return compile_model(self, *args, **{**kwargs, "jit_compile": True})

        keras.Model.compile = compile_with_xla

    if option in ("prefetch", "together"):
        make_dataset = keras.utils.PyDataset.__init__

        def prefetching(self, workers=1, use_multiprocessing=False, max_queue_size=10):
            make_dataset(self, workers=2, use_multiprocessing=False, max_queue_size=max_queue_size)

        keras.utils.PyDataset.__init__ = prefetching
    if option == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    from trainer.config import config_from
    from trainer.train import train

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.started)

    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        config = config_from(
            recipe, {"corpus": str(CORPUS), "out": out, "epochs": 1, "steps_per_epoch": batches, "sample_length": 0}
        )
        logs = train(config, extra_callbacks=(timer,))
    print(
        "RESULT "
        + json.dumps({"step_seconds": float(np.median(timer.times[WARM_BATCHES:])), "loss": float(logs[-1]["loss"])}),
        flush=True,
    )


def run(option: str, recipe: str, batches: int) -> dict:
    command = [sys.executable, __file__, "--child", option, recipe, str(batches)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{option}/{recipe} failed: {done.stderr[-2000:]}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--options", default=",".join(OPTIONS[1:]), help="comma-separated (today always runs)")
    args = parser.parse_args()
    options = ("today", *[o for o in args.options.split(",") if o != "today"])
    unknown = set(options) - set(OPTIONS)
    if unknown:
        parser.error(f"unknown options: {', '.join(sorted(unknown))}")
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):
        for recipe in ("book", "fast"):
            for option in options:
                results.setdefault((recipe, option), []).append(run(option, recipe, args.batches))
                print(recipe, option, results[(recipe, option)][-1], file=sys.stderr, flush=True)
    print("| recipe | option | s/batch (median of rounds) | throughput / today | loss after the epoch |")
    print("|---|---|---|---|---|")
    for recipe in ("book", "fast"):
        today = statistics.median(r["step_seconds"] for r in results[(recipe, "today")])
        for option in options:
            rows = results[(recipe, option)]
            seconds = statistics.median(r["step_seconds"] for r in rows)
            losses = ", ".join(f"{r['loss']:.4f}" for r in rows)
            print(f"| {recipe} | {option} | {seconds:.4f} | {today / seconds:.2f} | {losses} |")


if __name__ == "__main__":
    main()
