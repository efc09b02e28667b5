"""An honest peer: a small nanoGPT-style character transformer in Keras against the LSTM recipes,
at equal minutes of training on one core each, scored the same way (issue 21).

    uv run python benchmarks/peer_transformer.py --budgets 2,8 [--racers transformer,fast,large]

Every racer is a fresh process pinned to one core of its own (``os.sched_setaffinity``, so
TensorFlow sizes its thread pools for one core) and runs at the same time as the others, so the
two share the machine's memory bandwidth and noise alike; with more racers than cores they run
in rounds of as many as there are cores. All read the same corpus, lowercased, with the trainer's
own split (the last 5% held out) and are scored the same way: the mean cross-entropy (nats/char)
of every next character after a full 60-character window of the held-out text (step 1).

* ``transformer``: 3 pre-norm blocks, d=96, 4 heads, MLP 4×d, causal attention over 60
  characters, learned positions (about 0.36 M parameters), AdamW 2e-3 with 100 warm-up steps,
  batches of 64 random 60-character sequences, a loss at every position. At each budget the
  clock stops, the held-out text is scored, and training goes on.
* ``fast``: ``nietzsche-train --recipe fast`` (the book's architecture), ``--sample-length 0 --val-step 50``.
* ``wide``: ``--recipe fast --units 256 --dropout 0.2`` (a recipe tried for the longer budgets).
* ``large``: the bundled large model's recipe (2 × LSTM(256), dropout 0.25, lr 0.005 × 0.98 per
  epoch), ``--sample-length 0 --val-step 50``.

An LSTM run's figure at a budget is its last checkpoint whose recorded training time
(``total_seconds``, held-out evaluation included: conservative for the LSTM) fits in the budget,
scored by the NumPy engine over the same windows. Prints one table row per racer and budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nietzsche.txt"
MAXLEN = 60
LSTM_FLAGS = {
    "fast": ["--recipe", "fast"],
    # A recipe meant to hold on past where "fast" over-fits: twice the units, dropout between the
    # LSTM and the softmax.
    "wide": ["--recipe", "fast", "--units", "256", "--dropout", "0.2"],
    "large": [
        "--recipe",
        "fast",
        "--layers",
        "2",
        "--units",
        "256",
        "--dropout",
        "0.25",
        "--learning-rate",
        "0.005",
        "--lr-decay",
        "0.98",
        "--sequence-length",
        "100",
    ],
}


def held_out_text() -> tuple[str, list[str], str]:
    """The corpus's training text, vocabulary and held-out text, as the trainer splits them."""
    sys.path.insert(0, str(ROOT))
    from trainer.corpus import load_corpus

    corpus = load_corpus(CORPUS, MAXLEN)
    return corpus.text[: corpus.split], corpus.vocabulary, corpus.text[corpus.split :]


def transformer(budgets: list[float]) -> list[dict]:
    """Train the transformer, scoring the held-out text each time a budget (minutes) is reached."""
    import keras
    import numpy as np

    train_text, vocabulary, held_out = held_out_text()
    index = {c: i for i, c in enumerate(vocabulary)}
    train = np.array([index[c] for c in train_text], dtype=np.int32)
    held = np.array([index[c] for c in held_out], dtype=np.int32)
    keras.utils.set_random_seed(1337)
    model = build_transformer(len(vocabulary))
    steps = 1_000_000  # the budgets end the run
    optimizer = keras.optimizers.AdamW(learning_rate=warmup(2e-3, 100), weight_decay=0.01, clipnorm=1.0)
    model.compile(
        optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False
    )
    rng = np.random.default_rng(1337)
    figures, trained, step = [], 0.0, 0
    for budget in budgets:
        while trained < budget * 60 and step < steps:
            starts = rng.integers(0, len(train) - MAXLEN - 1, 64)
            window = train[starts[:, None] + np.arange(MAXLEN + 1)]
            started = time.perf_counter()
            model.train_on_batch(window[:, :-1], window[:, 1:])
            trained += time.perf_counter() - started
            step += 1
        loss = score_transformer(model, held)
        figures.append({"budget": budget, "held_out": loss, "steps": step, "params": model.count_params()})
        print("RESULT " + json.dumps(figures[-1]), flush=True)
    return figures


def warmup(peak: float, steps: int):
    import keras

    class Warmup(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return peak * keras.ops.minimum(1.0, (keras.ops.cast(step, "float32") + 1) / steps)

        def get_config(self):
            return {}

    return Warmup()


def build_transformer(vocab_size: int, width: int = 96, blocks: int = 3, heads: int = 4):
    import keras

    class Positions(keras.layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(MAXLEN, width), initializer="random_normal", name="positions")

        def call(self, x):
            return x + self.table[None, : keras.ops.shape(x)[1]]

    tokens = keras.Input((MAXLEN,), dtype="int32")
    x = Positions()(keras.layers.Embedding(vocab_size, width)(tokens))
    for _ in range(blocks):
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.MultiHeadAttention(heads, width // heads)(h, h, use_causal_mask=True)
        x = x + h
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.Dense(4 * width, activation="gelu")(h)
        x = x + keras.layers.Dense(width)(h)
    logits = keras.layers.Dense(vocab_size)(keras.layers.LayerNormalization()(x))
    return keras.Model(tokens, logits)


def score_transformer(model, held) -> float:
    """Mean nats/char of every next character after a full 60-character window (step 1)."""
    import numpy as np

    targets = np.arange(MAXLEN, len(held))
    total = 0.0
    for start in range(0, len(targets), 1024):
        chunk = targets[start : start + 1024]
        windows = held[chunk[:, None] - MAXLEN + np.arange(MAXLEN)]
        logits = np.asarray(model.predict_on_batch(windows))[:, -1, :].astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        total += float(-log_p[np.arange(len(chunk)), held[chunk]].sum())
    return total / len(targets)


def lstm(recipe: str, budgets: list[float]) -> list[dict]:
    """Run the trainer until the largest budget, then score its checkpoints at each budget."""
    sys.path.insert(0, str(ROOT))
    from nietzsche_tui.contracts.folder import scan_checkpoints
    from nietzsche_tui.engine.generation import Engine

    _, _, held_out = held_out_text()
    with tempfile.TemporaryDirectory(prefix=f"peer-{recipe}-") as out:
        command = [sys.executable, "-m", "trainer.cli", "--corpus", str(CORPUS), "--out", out, "--epochs", "10000"]
        # Per-epoch samples off, and the held-out loss during training on every 50th window only:
        # the trainer counts both in its time, and the race scores the checkpoints afterwards.
        command += LSTM_FLAGS[recipe] + ["--sample-length", "0", "--val-step", "50"]
        trainer = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        limit = max(budgets) * 60
        while trainer.poll() is None:
            checkpoints, _ = scan_checkpoints(Path(out))
            if checkpoints and (checkpoints[-1].metadata.metrics.total_seconds or 0) >= limit:
                break
            time.sleep(2)
        trainer.terminate()
        trainer.wait()
        checkpoints, _ = scan_checkpoints(Path(out))
        figures = []
        for budget in budgets:
            fitting = [c for c in checkpoints if (c.metadata.metrics.total_seconds or 0) <= budget * 60]
            if not fitting:
                figures.append({"budget": budget, "held_out": None, "epochs": 0})
                continue
            engine = Engine.load(fitting[-1].metadata_path)
            figures.append(
                {
                    "budget": budget,
                    "held_out": engine.held_out_loss(held_out),
                    "epochs": fitting[-1].epoch,
                    "seconds": fitting[-1].metadata.metrics.total_seconds,
                }
            )
            print("RESULT " + json.dumps(figures[-1]), flush=True)
        return figures


def child(racer: str, budgets: list[float], core: int) -> None:
    os.sched_setaffinity(0, {core})  # before TensorFlow starts: its pools size themselves for one core
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if racer == "transformer":
        transformer(budgets)
    else:
        lstm(racer, budgets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", default="2,8", help="minutes of training, comma-separated")
    parser.add_argument("--racers", default="transformer,fast,large")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        racer, budgets, core = args.child
        child(racer, [float(b) for b in budgets.split(",")], int(core))
        return
    racers = args.racers.split(",")
    cores = sorted(os.sched_getaffinity(0))
    results: dict[str, list[dict]] = {}
    for first in range(0, len(racers), len(cores)):
        running = {
            racer: subprocess.Popen(
                [sys.executable, __file__, "--child", racer, args.budgets, str(core)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for racer, core in zip(racers[first : first + len(cores)], cores, strict=False)
        }
        for racer, process in running.items():
            out, err = process.communicate()
            results[racer] = [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
            if process.returncode:
                print(f"{racer} failed: {err[-1500:]}", file=sys.stderr)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}; one core each; held-out nats/char (every full 60-char window)\n")
    print("| racer | " + " | ".join(f"{b} min" for b in args.budgets.split(",")) + " |")
    print("|---|" + "---|" * len(args.budgets.split(",")))
    for racer, figures in results.items():
        cells = []
        for figure in figures:
            loss = figure["held_out"]
            detail = f"{figure['steps']} steps" if "steps" in figure else f"epoch {figure['epochs']}"
            cells.append("—" if loss is None else f"{loss:.3f} ({detail})")
        print(f"| {racer} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
