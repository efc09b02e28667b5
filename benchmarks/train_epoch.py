"""One epoch of the book recipe on the full corpus: this project's trainer against the book's way.

    uv run python benchmarks/train_epoch.py

Each side runs in its own process (so peak memory is its own), one full epoch, maxlen 60, step 3,
batch 128, RMSprop 0.01, no held-out split (the book has none), no per-epoch samples:

* book: listing 8-3's one-hot arrays in NumPy (bool, as printed) and ``model.fit(x, y)`` on them;
* ours: ``nietzsche-train``'s pipeline (uint8 indices, one-hot per batch) and the same ``fit``.

It prints seconds per step, seconds per epoch and peak resident memory (ru_maxrss) of each.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nietzsche.txt"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class StepTimer:
    """Keras callback: wall time of each training batch."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_train_batch_begin(self, batch, logs=None):
                self.started = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter() - self.started)

        return _Timer()


def book_way() -> dict:
    """Listings 8-2 to 8-5 as printed (np.bool → bool, lr → learning_rate), then one epoch."""
    import keras
    import numpy as np

    text = CORPUS.read_text(encoding="utf-8").lower()
    maxlen, step = 60, 3
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    chars = sorted(set(text))
    char_indices = {char: chars.index(char) for char in chars}
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=bool)
    y = np.zeros((len(sentences), len(chars)), dtype=bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    model = keras.models.Sequential(
        [
            keras.Input((maxlen, len(chars))),
            keras.layers.LSTM(128),
            keras.layers.Dense(len(chars), activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=0.01))
    timer = StepTimer()
    started = time.perf_counter()
    history = model.fit(x, y, batch_size=128, epochs=1, callbacks=[timer], verbose=0)
    return {
        "epoch_seconds": time.perf_counter() - started,
        "steps": len(timer.times),
        "step_seconds": float(np.median(timer.times)),
        "loss": history.history["loss"][-1],
    }


def ours() -> dict:
    import numpy as np

    from trainer.config import config_from
    from trainer.train import train

    timer = StepTimer()
    with tempfile.TemporaryDirectory() as out:
        config = config_from(
            "book", {"corpus": str(CORPUS), "out": out, "epochs": 1, "val_fraction": 0.0, "sample_length": 0}
        )
        started = time.perf_counter()
        history = train(config, extra_callbacks=(timer,))
        seconds = time.perf_counter() - started
    return {
        "epoch_seconds": seconds,
        "steps": len(timer.times),
        "step_seconds": float(np.median(timer.times)),
        "loss": history[-1]["loss"],
    }


def child(which: str) -> None:
    result = book_way() if which == "book" else ours()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    if not CORPUS.exists():
        sys.exit(f"train_epoch: {CORPUS} is missing; this benchmark needs the full corpus.")
    results = {}
    for which in ("book", "ours"):
        out = subprocess.run([sys.executable, __file__, "--child", which], capture_output=True, text=True)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"{which} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        results[which] = json.loads(line[7:])
    print("| path | steps | s/step (median) | s/epoch | peak RSS (MB) | loss after 1 epoch |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['steps']} | {r['step_seconds']:.4f} | {r['epoch_seconds']:.1f} | "
            f"{r['peak_rss_mb']:.0f} | {r['loss']:.4f} |"
        )
    b, o = results["book"], results["ours"]
    print(
        f"\nepoch time ours/book: {o['epoch_seconds'] / b['epoch_seconds']:.2f}; "
        f"peak memory ours/book: {o['peak_rss_mb'] / b['peak_rss_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
