"""Generation speed: the book's loop against this engine, on one checkpoint, in one run.

    uv run python benchmarks/generation.py [--checkpoint PATH]

Each path generates 400 characters at each of the four temperatures from one 60-character seed:

* book: listing 8-7's loop: re-encode 60 one-hot characters and call ``model.predict`` for every
  character, one temperature after another (1,600 calls), with listing 8-6's sampler;
* engine, window mode (the same computation in NumPy, four temperatures as one batch);
* engine, stateful mode;
* epochs side by side (``generate_epochs``): four engines (four copies of the checkpoint: the cost
  does not depend on the weights) at one temperature, in both modes, against the four
  temperatures of one engine.

It also measures the time to the first character and, in a fresh process, importing the engine
plus loading the checkpoint; and scoring every window of the held-out 5% of the corpus
(``nietzsche-tui score``'s computation, NumPy) against Keras's own batched ``model.predict`` over
the same windows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
LENGTH = 400
SEED_TEXT = "the free spirit, the very free spirit, as they call themselve"[:60]


def book_sample(preds, temperature=1.0):
    """Listing 8-6 (with its float64 cast)."""
    import numpy as np

    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)  # noqa: NPY002 - the book's call
    return np.argmax(probas)


def book_loop(checkpoint) -> float:
    import keras
    import numpy as np

    from trainer.model import build_model

    chars, maxlen = checkpoint.vocabulary, checkpoint.maxlen
    saved = keras.models.load_model(checkpoint.weights_path, compile=False, safe_mode=True)
    model = build_model(len(chars), maxlen, checkpoint.architecture)  # book-shaped, whatever the recipe
    model.set_weights(saved.get_weights())
    char_indices = {c: i for i, c in enumerate(chars)}
    model.predict(np.zeros((1, maxlen, len(chars))), verbose=0)  # warm-up, not timed
    started = time.perf_counter()
    for temperature in TEMPERATURES:
        generated_text = SEED_TEXT
        for _ in range(LENGTH):
            sampled = np.zeros((1, maxlen, len(chars)))
            for t, char in enumerate(generated_text):
                sampled[0, t, char_indices[char]] = 1.0
            preds = model.predict(sampled, verbose=0)[0]
            next_char = chars[book_sample(preds, temperature)]
            generated_text = generated_text[1:] + next_char
    return time.perf_counter() - started


def engine_run(engine, mode: str) -> tuple[float, float]:
    from nietzsche_tui.engine.generation import GenerationRequest

    request = GenerationRequest(SEED_TEXT, TEMPERATURES, LENGTH, seed=1, mode=mode)
    started = time.perf_counter()
    steps = iter(engine.generate(request))
    next(steps)
    first = time.perf_counter() - started
    for _ in steps:
        pass
    return time.perf_counter() - started, first


def epochs_run(engine, mode: str) -> tuple[float, float]:
    from nietzsche_tui.engine.epochs import generate_epochs
    from nietzsche_tui.engine.generation import Engine, GenerationRequest
    from nietzsche_tui.engine.weights import load_weights

    engines = [Engine.of(engine.checkpoint, load_weights(engine.checkpoint)) for _ in TEMPERATURES]
    request = GenerationRequest(SEED_TEXT, (0.5,), LENGTH, seed=1, mode=mode)
    started = time.perf_counter()
    steps = iter(generate_epochs(engines, request))
    next(steps)
    first = time.perf_counter() - started
    for _ in steps:
        pass
    return time.perf_counter() - started, first


def scoring_run(engine, corpus_path: Path) -> tuple[float, float, int, float] | None:
    """Seconds to score the held-out text with the engine and with Keras's batched predict."""
    import keras
    import numpy as np

    from nietzsche_tui.engine.analysis import score_text
    from trainer.corpus import load_corpus
    from trainer.data import WindowBatches
    from trainer.model import build_model

    if not corpus_path.exists():
        return None
    corpus = load_corpus(corpus_path, engine.maxlen)
    held_out = corpus.text[corpus.split :]
    started = time.perf_counter()
    scored = score_text(engine, held_out)
    ours = time.perf_counter() - started
    model = build_model(len(engine.vocabulary), engine.maxlen, engine.checkpoint.architecture)
    model.set_weights(keras.models.load_model(engine.checkpoint.weights_path, compile=False).get_weights())
    windows = WindowBatches(corpus.held_out, len(engine.vocabulary), engine.maxlen, 1, 1024, shuffle=False)
    model.predict(windows[0][0][:8], verbose=0)  # warm-up, not timed
    started = time.perf_counter()
    predicted = model.predict(windows, verbose=0)
    theirs = time.perf_counter() - started
    targets = corpus.held_out[engine.maxlen :]
    keras_nats = float(-np.log(predicted[np.arange(len(targets)), targets]).mean())
    assert abs(keras_nats - scored.full_window_nats) < 1e-4, (keras_nats, scored.full_window_nats)
    return ours, theirs, len(targets), keras_nats


def load_in_fresh_process(location: str) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from nietzsche_tui.engine.generation import Engine\n"
        f"Engine.load({location!r})\n"
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout)
        for _ in range(5)
    ]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="checkpoint file or folder (default: the bundled model)")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "nietzsche.txt", help="for the scoring rows"
    )
    args = parser.parse_args()
    from nietzsche_tui.engine.generation import Engine

    engine = Engine.load(args.checkpoint)
    location = args.checkpoint or str(engine.checkpoint.metadata_path)
    print(f"checkpoint: {engine.checkpoint.describe()}")
    chars = LENGTH * len(TEMPERATURES)
    load = load_in_fresh_process(location)
    window, window_first = engine_run(engine, "window")
    stateful, stateful_first = engine_run(engine, "stateful")
    epochs_window, epochs_window_first = epochs_run(engine, "window")
    epochs_stateful, epochs_stateful_first = epochs_run(engine, "stateful")
    book = book_loop(engine.checkpoint)
    rows = [
        ("book loop (predict per char)", book, None),
        ("engine, window", window, window_first),
        ("engine, stateful", stateful, stateful_first),
        ("4 epochs side by side, window", epochs_window, epochs_window_first),
        ("4 epochs side by side, stateful", epochs_stateful, epochs_stateful_first),
    ]
    print(f"\n{chars} characters ({LENGTH} at each of {len(TEMPERATURES)} temperatures)\n")
    print("| path | total (s) | per char (ms) | chars/s | first char (ms) | × book |")
    print("|---|---|---|---|---|---|")
    for name, seconds, first in rows:
        shown_first = f"{first * 1000:.2f}" if first is not None else "—"
        print(
            f"| {name} | {seconds:.3f} | {seconds / chars * 1000:.4f} | {chars / seconds:,.0f} | "
            f"{shown_first} | {book / seconds:,.0f} |"
        )
    print(
        f"\n4 epochs against 4 temperatures: window {epochs_window / window:.2f}×, "
        f"stateful {epochs_stateful / stateful:.2f}× the time"
    )
    scoring = scoring_run(engine, args.corpus)
    if scoring is None:
        print(f"\nscoring: skipped, {args.corpus} is not there")
    else:
        ours, theirs, windows, nats = scoring
        print(
            f"\nscoring the held-out text ({windows:,} full windows, {nats:.4f} nats/char both ways): "
            f"engine {ours:.2f} s, Keras model.predict {theirs:.2f} s ({theirs / ours:.2f}× the engine's time)"
        )
    print(f"\nimport engine + load checkpoint (fresh process, best of 5): {load * 1000:.0f} ms")
    print(
        f"targets: window ≥ 100× ({book / window:,.0f}×), stateful ≥ 1000× ({book / stateful:,.0f}×), "
        f"first char < 20 ms ({window_first * 1000:.2f} ms), load < 500 ms ({load * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
