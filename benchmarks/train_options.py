"""Training throughput with each TensorFlow option alone, measured interleaved (issue 21).

    uv run python benchmarks/train_options.py [--batches 200] [--rounds 2]

Every run is this project's trainer (``trainer.train.train``) in a fresh process on the full
corpus, for one epoch of ``--batches`` batches, with per-epoch samples and checkpoint writing as
usual; it reports the median seconds per batch after the first 20 (XLA and graph building are
paid there), in the training step and from one batch's end to the next (the step plus the data
and callbacks between steps: the throughput a run sees), and the training loss after the epoch.
The options, each alone against the trainer as it is (``today``), are applied by the child
process around the unchanged trainer:

* ``no-determinism``: ``tf.config.experimental.enable_op_determinism`` left out;
* ``xla``: ``model.compile(jit_compile=True)``;
* ``threads-2-1`` / ``threads-1-2``: TensorFlow's intra-op / inter-op thread counts for 2 cores;
* ``prefetch``: the batches made ahead in two threads (Keras's ``PyDataset(workers=2)``, its
  own prefetch queue, in place of one batch at a time in the training loop);
* ``bf16``: ``keras.mixed_precision.set_global_policy("mixed_bfloat16")`` (this CPU has avx512_bf16);
* ``together``: ``threads-1-2`` with ``no-determinism`` and ``prefetch``;
* ``steps-4``: ``model.compile(steps_per_execution=4)``, four batches per call into TensorFlow;
* ``unroll``: the recurrent layers built with ``unroll=True`` (the time loop written out as one
  graph of 60 or 100 steps, no ``while`` loop); ``unroll-xla``: that, compiled with XLA;
* ``onednn-off``: ``TF_ENABLE_ONEDNN_OPTS=0``, TensorFlow's own Eigen kernels in place of oneDNN's
  (on by default on x86 Linux);
* ``project`` / ``block-lstm``: the trainer's written-out loop with the input projection taken out
  of the step, or TensorFlow's fused ``BlockLSTM`` op in place of the loop (``loop_variants.py``).

``--options`` picks some (``today`` is always run); ``a+b`` applies options together.

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
OPTIONS = (
    "today",
    "no-determinism",
    "xla",
    "threads-2-1",
    "threads-1-2",
    "prefetch",
    "bf16",
    "together",
    "unroll",
    "unroll-xla",
    "steps-4",
    "onednn-off",
    "project",
    "block-lstm",
)
# A recipe's name, and what it sets beyond it: "large" is the bundled large model's recipe.
RECIPES: dict[str, tuple[str, dict]] = {
    "book": ("book", {}),
    "fast": ("fast", {}),
    "large": ("fast", {"layers": 2, "units": 256, "dropout": 0.25, "learning_rate": 0.005}),
}
WARM_BATCHES = 20  # graph building and XLA compilation happen in these


def _unrolled(make_layer):
    def make_unrolled(self, *args, **kwargs):
        make_layer(self, *args, **{**kwargs, "unroll": True})

    return make_unrolled


ALIASES = {"together": "threads-1-2+no-determinism+prefetch", "unroll-xla": "unroll+xla"}


def child(option: str, recipe: str, batches: int) -> None:
    parts = set(ALIASES.get(option, option).split("+"))
    if "onednn-off" in parts:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # read when TensorFlow is imported, just below
    import keras
    import numpy as np
    import tensorflow as tf

    if "no-determinism" in parts:
        tf.config.experimental.enable_op_determinism = lambda: None
    for threads in (p for p in parts if p.startswith("threads-")):
        intra, inter = (int(n) for n in threads.split("-")[1:])
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    if "unroll" in parts:
        for layer in (keras.layers.LSTM, keras.layers.GRU):
            layer.__init__ = _unrolled(layer.__init__)
    if "xla" in parts:
        compile_model = keras.Model.compile

        def compile_with_xla(self, *args, **kwargs):
            return compile_model(self, *args, **{**kwargs, "jit_compile": True})

        keras.Model.compile = compile_with_xla

    if "prefetch" in parts:
        make_dataset = keras.utils.PyDataset.__init__

        def prefetching(self, workers=1, use_multiprocessing=False, max_queue_size=10):
            make_dataset(self, workers=2, use_multiprocessing=False, max_queue_size=max_queue_size)

        keras.utils.PyDataset.__init__ = prefetching
    if "bf16" in parts:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    per_call = 4 if "steps-4" in parts else 1
    if per_call > 1:
        compile_model_once = keras.Model.compile

        def compile_with_steps(self, *args, **kwargs):
            return compile_model_once(self, *args, **{**kwargs, "steps_per_execution": per_call})

        keras.Model.compile = compile_with_steps

    from trainer.config import config_from
    from trainer.train import train

    loops = {"project": "projected_loop", "block-lstm": "block_loop"}
    chosen = sorted(parts & set(loops))
    if chosen:
        import loop_variants  # benchmarks/, beside this file

        import trainer.train

        make_loop = getattr(loop_variants, loops[chosen[-1]])
        unroll = trainer.train.unroll_on_cpu

        def unroll_with_variant(model):
            unroll(model)
            for layer in model.layers:
                if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
                    layer.inner_loop = make_loop(layer)

        trainer.train.unroll_on_cpu = unroll_with_variant

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times: list[float] = []

            self.ends: list[float] = []

        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.started)
            self.ends.append(time.perf_counter())

    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        run = {"corpus": str(CORPUS), "out": out, "epochs": 1, "steps_per_epoch": batches, "sample_length": 0}
        name, extra = RECIPES[recipe]
        config = config_from(name, {**extra, **run})
        logs = train(config, extra_callbacks=(timer,))
    warm = WARM_BATCHES // per_call
    result = {
        # inside the training step (Keras calls the batch callbacks once per execution of per_call steps)
        "step_seconds": float(np.median(timer.times[warm:])) / per_call,
        # from one batch's end to the next: the step and everything between steps (data, callbacks)
        "wall_seconds": float(np.median(np.diff(timer.ends[warm:]))) / per_call,
        "loss": float(logs[-1]["loss"]),
    }
    print("RESULT " + json.dumps(result), flush=True)


def run(option: str, recipe: str, batches: int, tree: Path = ROOT) -> dict:
    """One measurement in a fresh process: ``tree``'s trainer (this one, or an earlier commit's)."""
    command = [sys.executable, __file__, "--child", option, recipe, str(batches), str(tree)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=900)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{option}/{recipe} failed: {done.stderr[-2000:]}")


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        sys.path.insert(0, sys.argv[5])  # the trainer measured: this tree's, or an earlier one's
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--recipes", default="book,fast")
    parser.add_argument("--options", default=",".join(OPTIONS[1:]), help="comma-separated (today always runs)")
    args = parser.parse_args()
    options = ("today", *[o for o in args.options.split(",") if o != "today"])
    unknown = {part for o in options for part in ALIASES.get(o, o).split("+")} - set(OPTIONS)
    if unknown:
        parser.error(f"unknown options: {', '.join(sorted(unknown))}")
    recipes = args.recipes.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):
        for recipe in recipes:
            for option in options:
                results.setdefault((recipe, option), []).append(run(option, recipe, args.batches))
                print(recipe, option, results[(recipe, option)][-1], file=sys.stderr, flush=True)
    print("| recipe | option | s/batch in the step | s/batch end to end | throughput / today (end to end) | loss |")
    print("|---|---|---|---|---|---|")
    for recipe in recipes:
        today = statistics.median(r["wall_seconds"] for r in results[(recipe, "today")])
        for option in options:
            rows = results[(recipe, option)]
            step = statistics.median(r["step_seconds"] for r in rows)
            wall = statistics.median(r["wall_seconds"] for r in rows)
            losses = ", ".join(f"{r['loss']:.4f}" for r in rows)
            print(f"| {recipe} | {option} | {step:.4f} | {wall:.4f} | {today / wall:.2f} | {losses} |")


if __name__ == "__main__":
    main()
