"""Callbacks that make ``model.fit`` a complete training run.

In list order, at the end of every epoch: ``HeldOutLoss`` scores the held-out text and adds
``val_loss`` / ``val_bpc`` / ``seconds`` / ``learning_rate`` to the logs; ``DivergenceGuard``
stops a run whose loss turns NaN or explodes (the book's own published run diverged at epochs
56-59); ``CheckpointWriter`` saves the epoch unless the guard objected; ``TrainingLog`` rewrites
``log.csv`` from the saved checkpoints (so it holds exactly the saved epochs); ``EpochSamples``
prints 400 characters at each temperature the way the book does; ``TrainingEvents`` appends the
batch progress and each epoch's figures and samples to ``events.jsonl`` (the contract in
``nietzsche_tui/events.py``) for the app to follow. The callbacks share Keras's ``logs`` dict:
each adds what it measured for the ones after it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from nietzsche_tui.contracts.checkpoint import (
    LN2,
    Architecture,
    CheckpointMetadata,
    Metrics,
    checkpoint_names,
    validate_metadata,
)
from nietzsche_tui.contracts.events import EventWriter
from nietzsche_tui.contracts.folder import atomic_write_bytes, complete_checkpoints, write_metadata
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.weights import ModelWeights
from nietzsche_tui.text import visible
from nietzsche_tui.verbatim.index import VerbatimIndex
from trainer.data import WindowBatches
from trainer.model import build_model, saved_as_built


class HeldOutLoss(keras.callbacks.Callback):
    """Held-out cross-entropy of the next character after a full maxlen window, for every recipe.

    The weights are copied into a book-shaped model (the fast recipe trains a sequence model with
    the same weights), so both recipes are scored identically.
    """

    def __init__(
        self, held_out: WindowBatches | None, vocab_size: int, maxlen: int, architecture: Architecture
    ) -> None:
        super().__init__()
        self.held_out = held_out
        self.scorer = build_model(vocab_size, maxlen, architecture) if held_out is not None else None
        if self.scorer is not None:
            self.scorer.compile(loss="sparse_categorical_crossentropy")
        self.started = 0.0
        self.learning_rate: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()
        # The rate this epoch trains at (a schedule's value at the epoch's first step).
        self.learning_rate = float(np.asarray(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["seconds"] = time.perf_counter() - self.started  # training time, before scoring
        logs["learning_rate"] = self.learning_rate
        if self.scorer is None:
            return
        self.scorer.set_weights(self.model.get_weights())
        loss = float(self.scorer.evaluate(self.held_out, verbose=0))
        logs["val_loss"] = loss
        logs["val_bpc"] = loss / LN2


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training when the loss becomes NaN/inf, or exceeds ``factor`` × the best epoch loss, or
    ``factor`` × the loss of the run's first batch (an untrained model's loss is the worst a
    healthy run ever sees, so a first epoch at 1e32 is caught too)."""

    def __init__(self, factor: float = 3.0, best_loss: float | None = None) -> None:
        super().__init__()
        self.factor = factor
        self.best_loss = best_loss
        self.first_batch_loss: float | None = None
        self.reason: str | None = None

    def _stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.model.stop_training = True

    def _too_high(self, loss: float) -> bool:
        return self.first_batch_loss is not None and loss > self.factor * self.first_batch_loss

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self._stop(f"the training loss became {loss} at batch {batch + 1}")
        elif self.first_batch_loss is None:
            self.first_batch_loss = loss
        elif self._too_high(loss):
            self._stop(
                f"the loss rose to {loss:.4g} at batch {batch + 1} (the first batch's was {self.first_batch_loss:.3f})"
            )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        for key in ("loss", "val_loss"):
            value = logs.get(key)
            if value is not None and not math.isfinite(float(value)):
                self._stop(f"{key} became {float(value)} in epoch {epoch + 1}")
        loss = logs.get("loss")
        if self.reason is None and loss is not None:
            if self.best_loss is not None and loss > self.factor * self.best_loss:
                self._stop(f"the loss exploded to {loss:.4g} in epoch {epoch + 1} (best so far {self.best_loss:.3f})")
            elif self._too_high(loss):
                self._stop(
                    f"the loss of epoch {epoch + 1} was {loss:.4g} (the first batch's was {self.first_batch_loss:.3f})"
                )
            else:
                self.best_loss = loss if self.best_loss is None else min(self.best_loss, loss)


class CheckpointWriter(keras.callbacks.Callback):
    """Write ``epoch_NNNN.keras`` then ``epoch_NNNN.json`` atomically at the end of every good epoch."""

    def __init__(
        self, folder: Path, metadata: Callable[[int, dict], CheckpointMetadata], guard: DivergenceGuard
    ) -> None:
        super().__init__()
        self.folder = folder
        self.metadata = metadata
        self.guard = guard
        self.saved: tuple[int, str] | None = None  # the latest (epoch, metadata file name) written

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.guard.reason is not None:
            return  # never let a diverged model overwrite or follow good checkpoints
        number = epoch + 1  # Keras counts epochs from 0; checkpoints are named from 1
        with sigint_deferred():  # Ctrl-C (or the app's stop) waits until the checkpoint is whole
            path = save_checkpoint(self.model, self.folder, self.metadata(number, dict(logs)))
        self.saved = (number, path.name)


@contextlib.contextmanager
def sigint_deferred():
    """Hold SIGINT until the block ends, then raise KeyboardInterrupt as if it arrived just then.

    A graceful stop means the epoch being written is kept rather than thrown away half-written.
    Outside the main thread (where handlers cannot be set) the block runs unprotected.
    """
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


LOG_COLUMNS = ("epoch", "loss", "val_loss", "val_bpc", "learning_rate", "seconds", "total_seconds")


class TrainingLog(keras.callbacks.Callback):
    """``log.csv``: one row per saved checkpoint, numbered like the checkpoints (from 1).

    The log is rewritten from the checkpoints' metadata after every saved epoch, so it can never
    hold an epoch that was not saved (a diverged one, or one interrupted before its checkpoint),
    and a rerun never repeats a row.
    """

    def __init__(self, folder: Path, guard: DivergenceGuard) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.guard = guard

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.guard.reason is None:
            write_log(self.folder)


def write_log(folder: Path) -> Path:
    """Write ``folder/log.csv`` atomically from the folder's complete checkpoints."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LOG_COLUMNS)
    for checkpoint in complete_checkpoints(folder):
        metrics = checkpoint.metadata.metrics
        values = (getattr(metrics, name) for name in Metrics.NAMES)
        writer.writerow([checkpoint.epoch, *("" if v is None else f"{v:.6g}" for v in values)])
    path = Path(folder) / "log.csv"
    atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    return path


def save_checkpoint(model: keras.Model, folder: Path, metadata: CheckpointMetadata) -> Path:
    """Write a model and its metadata as one complete checkpoint: weights first, metadata last.

    The metadata is validated before anything is written, so a refusal leaves no orphan weights.
    """
    metadata_name, weights_name = checkpoint_names(metadata.epoch)
    validate_metadata(metadata.to_dict(), Path(folder) / metadata_name)
    # Keras insists on the .keras suffix, so save to a hidden temporary name that ends with it.
    temporary = Path(folder) / f".{weights_name}.partial.keras"
    try:
        with saved_as_built(model):
            model.save(temporary)
        atomic_write_bytes(Path(folder) / weights_name, temporary.read_bytes())
    finally:
        temporary.unlink(missing_ok=True)
    return write_metadata(folder, metadata)


def weights_of(model: keras.Model, cell: str) -> ModelWeights:
    """The model's arrays in the engine's layout (from ``model.get_weights()``)."""
    return ModelWeights.from_arrays(cell, model.get_weights())


class EpochSamples(keras.callbacks.Callback):
    """Print generated text after each epoch as the book does, one shared seed for every temperature.

    Generation runs on the app's NumPy engine with the one sampler (the book's loop calls
    ``model.predict`` 1,600 times an epoch); the seed is a random held-out passage.
    """

    def __init__(
        self,
        make_engine: Callable[[keras.Model], Engine],
        passages: Callable[[int], str],
        temperatures: tuple[float, ...],
        length: int,
        seed: int,
        guard: DivergenceGuard,
        corpus_index: VerbatimIndex | None = None,
    ) -> None:
        super().__init__()
        self.corpus_index = corpus_index  # the training text's, to measure what the samples copy
        self.make_engine = make_engine
        self.passages = passages
        self.temperatures = temperatures
        self.length = length
        self.seed = seed
        self.guard = guard
        self.last: tuple[int, str, list[dict]] | None = None  # (epoch, seed text, samples) printed last

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.length == 0 or not self.temperatures or self.guard.reason is not None:
            return
        engine = self.make_engine(self.model)
        seed_text = self.passages(epoch)
        request = GenerationRequest(seed_text, self.temperatures, self.length, seed=self.seed + epoch)
        columns = ["".join(column) for column in zip(*(s.chars for s in engine.generate(request)), strict=True)]
        samples = [{"temperature": t, "text": x} for t, x in zip(self.temperatures, columns, strict=True)]
        self.last = (epoch + 1, seed_text, samples)
        if self.corpus_index is not None and logs is not None:
            # Memorisation, seen as copying: the longest span of the samples found word for word
            # in the training text, and the share of their characters inside such spans. Runs
            # before the checkpoint writer and the events, which record both from the logs.
            copied = [self.corpus_index.copying(text) for text in columns]
            logs["copied_longest"] = max(c.longest for c in copied)
            logs["copied_fraction"] = sum(c.covered for c in copied) / max(1, sum(len(t) for t in columns))
        out = sys.stdout
        out.write(f'--- Generating with seed: "{visible(seed_text)}"\n')
        for temperature, text in zip(self.temperatures, columns, strict=True):
            out.write(f"------ temperature: {temperature}\n{visible(seed_text + text)}\n")
        out.flush()


class TrainingEvents(keras.callbacks.Callback):
    """Append progress to ``events.jsonl``: batches a few times a second, every epoch's results.

    Runs after the other callbacks, so the logs already hold the held-out loss, the checkpoint's
    name and the samples.
    """

    BATCH_INTERVAL = 0.25  # seconds between batch events

    def __init__(
        self, events: EventWriter, guard: DivergenceGuard, writer: CheckpointWriter, samples: EpochSamples
    ) -> None:
        super().__init__()
        self.events = events
        self.guard = guard
        self.writer = writer
        self.samples = samples
        self.started = 0.0
        self.last_batch_event = 0.0
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch + 1
        self.started = self.last_batch_event = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        batches = self.params.get("steps") or 0
        if now - self.last_batch_event < self.BATCH_INTERVAL and batch + 1 != batches:
            return
        self.last_batch_event = now
        loss = (logs or {}).get("loss")
        self.events.write(
            "batch",
            epoch=self.epoch,
            batch=batch + 1,
            batches=batches,
            loss=None if loss is None else float(loss),
            seconds=round(now - self.started, 3),
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        number = epoch + 1
        saved = self.writer.saved[1] if self.writer.saved and self.writer.saved[0] == number else None
        sampled = self.samples.last if self.samples.last and self.samples.last[0] == number else None
        self.events.write(
            "epoch_ended",
            epoch=number,
            train_loss=logs.get("loss"),
            val_loss=logs.get("val_loss"),
            val_bpc=logs.get("val_bpc"),
            learning_rate=logs.get("learning_rate"),
            seconds=logs.get("seconds"),
            checkpoint=saved,
            seed_text=sampled[1] if sampled else "",
            samples=sampled[2] if sampled else [],
            copied_longest=logs.get("copied_longest"),
            copied_fraction=logs.get("copied_fraction"),
        )


class RunTensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, as Keras users expect it, plus what this trainer measures:
    the held-out loss (``val_loss``, written by HeldOutLoss before this runs, appears under
    ``validation``), what the samples copied, and each epoch's samples as text summaries (under
    ``samples``). Figures a run did not measure (no held-out text) are left out, not written as
    nothing."""

    def __init__(self, log_dir: str, samples: EpochSamples) -> None:
        super().__init__(log_dir=log_dir)
        self.samples = samples
        self._samples_writer = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        numbers = {k: v for k, v in (logs or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)}
        super().on_epoch_end(epoch, numbers)
        sampled = self.samples.last
        if sampled is None or sampled[0] != epoch + 1:
            return
        import tensorflow as tf

        if self._samples_writer is None:
            self._samples_writer = tf.summary.create_file_writer(str(Path(self.log_dir) / "samples"))
        with self._samples_writer.as_default():
            for sample in sampled[2]:
                text = f"seed: {sampled[1]}\n\n{sample['text']}"
                tf.summary.text(f"sample/T={sample['temperature']:g}", text, step=epoch)
        self._samples_writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        super().on_train_end(logs)
        if self._samples_writer is not None:
            self._samples_writer.close()
