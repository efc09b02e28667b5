"""A training run, top to bottom: corpus → data → model (new or resumed) → one ``fit`` call.

Rerunning the same command continues from the latest complete checkpoint in ``--out``: the model
and its optimizer state are loaded from the ``.keras`` file and ``fit`` starts at
``initial_epoch``. A folder trained on another vocabulary or with other settings is refused.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

import nietzsche_tui
from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointError, CheckpointMetadata, Metrics, epoch_of_file
from nietzsche_tui.contracts.events import EventWriter
from nietzsche_tui.contracts.folder import scan_checkpoints
from nietzsche_tui.contracts.training import TrainConfig, resume_keys, shown, typed
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.engine.prompts import describe_characters
from nietzsche_tui.engine.weights import MAX_MEMBER_BYTES, load_weights
from nietzsche_tui.text import control_characters
from nietzsche_tui.verbatim.index import VerbatimIndex
from trainer.callbacks import (
    CheckpointWriter,
    DivergenceGuard,
    EpochSamples,
    HeldOutLoss,
    RunTensorBoard,
    TrainingEvents,
    TrainingLog,
    weights_of,
)
from trainer.corpus import Corpus, CorpusError, load_corpus
from trainer.data import SequenceBatches, WindowBatches, as_dataset
from trainer.devices import place, work_around_keras_multiworker
from trainer.model import build_training_model, unroll_on_cpu


class SilentEvents(EventWriter):
    """The events writer of a multi-worker run's other workers: the chief alone writes the stream."""

    def write(self, event: str, **fields: Any) -> None:
        pass


class TrainingError(Exception):
    """A run that cannot start or continue; the message says why and what to do."""


class NotATrainingFolder(TrainingError):
    """``--out`` is a folder the trainer must not write into at all (a bundled model's): no event is
    written there either."""


class TrainingStopped(TrainingError):
    """The divergence guard stopped the run; the checkpoints before it are kept."""


def check_undamaged(out: Path, checkpoints: list[Checkpoint], damaged: list[tuple[Path, str]]) -> None:
    """Refuse to resume past damage: a damaged checkpoint would be overwritten by the epoch it
    stands for (and resuming from an older one loses the epochs after it), so the user moves it.
    Weights without metadata after the newest checkpoint (an interrupted write) are replaced,
    and said so."""
    if not damaged and checkpoints:
        try:
            load_weights(checkpoints[-1])  # our reader names a truncated archive (Keras says "File not found")
        except CheckpointError as error:
            damaged = [(checkpoints[-1].weights_path, str(error))]
    if damaged:
        path, reason = damaged[-1]
        epoch = epoch_of_file(path.name)
        older = [c.epoch for c in checkpoints if epoch is None or c.epoch < epoch]
        then = f"to resume from epoch {older[-1]}" if older else "to start afresh"
        stem = path.name.rsplit(".", 1)[0]
        raise TrainingError(
            f"cannot resume from {out}: {path} is damaged or not a checkpoint of ours "
            f"({reason.removeprefix(str(path) + ': ')}); move {stem}.json and {stem}.keras out of the folder "
            f"{then}, or choose another --out folder."
        )
    newest = checkpoints[-1].epoch if checkpoints else 0
    for leftover in sorted(out.glob("epoch_*.keras")) if out.is_dir() else []:
        if (epoch_of_file(leftover.name) or 0) > newest:
            print(
                f"Warning: {leftover} has no metadata (an interrupted write); epoch "
                f"{epoch_of_file(leftover.name)} will replace it.",
                file=sys.stderr,
                flush=True,
            )


def check_resumable(config: TrainConfig, corpus: Corpus, checkpoints: list[Checkpoint]) -> None:
    """Refuse to resume from checkpoints made on another text or with settings the saved state fixes."""
    if not checkpoints:
        return
    latest = checkpoints[-1]
    where = latest.metadata_path.parent
    if "bundle" in latest.metadata.extra:
        raise NotATrainingFolder(
            f"{where} holds a bundled model (made by trainer.bundle, without the optimizer's state): it cannot "
            "be resumed; train into another --out folder."
        )
    saved = latest.metadata.training
    for key in resume_keys(config.recipe):  # not what the recipe never uses (the book's has no --sequence-length)
        if key in saved and saved[key] != getattr(config, key):
            raise TrainingError(
                f"{where} was trained with {shown(key, saved[key])} but this run asks for "
                f"{shown(key, getattr(config, key))}; resume with {typed(key, saved[key])}, or choose another "
                "--out folder."
            )
    if latest.vocabulary != corpus.vocabulary:
        raise TrainingError(
            f"{where} holds checkpoints trained on another vocabulary ({len(latest.vocabulary)} "
            f"characters, this corpus has {len(corpus.vocabulary)}); choose another --out folder."
        )

    saved_corpus = latest.metadata.corpus.get("sha256")
    if saved_corpus is not None and saved_corpus != corpus.sha256:
        raise TrainingError(
            f"{where} was trained on another text (sha256 {saved_corpus[:12]}…, this --corpus is "
            f"{corpus.sha256[:12]}…); pass the same --corpus to resume, or choose another --out folder."
        )


HELD_OUT_BATCH_BYTES = 64 * 1024 * 1024  # one-hot floats per held-out batch


def held_out_batch_size(maxlen: int, vocab_size: int) -> int:
    """Windows per held-out batch: 1024 for the book's 57 characters, fewer for large vocabularies,
    so a batch's one-hot input stays within 64 MB (3,000 CJK characters at 1024 windows would be
    700 MB)."""
    return max(1, min(1024, HELD_OUT_BATCH_BYTES // (maxlen * vocab_size * 4)))


def check_trainable(config: TrainConfig, corpus: Corpus) -> None:
    """Refuse, before the first batch, what would only fail after an epoch (or in the app)."""
    if len(corpus.vocabulary) < 2:
        raise CorpusError(
            f"corpus {corpus.source} has only {len(corpus.vocabulary)} distinct character(s); "
            "a model that predicts the next character needs at least 2. Use a real text."
        )
    # The weights file holds every weight twice (the weights and RMSprop's running averages).
    size = config.architecture.parameters(len(corpus.vocabulary)) * 4 * 2
    if size > MAX_MEMBER_BYTES:
        raise TrainingError(
            f"{len(corpus.vocabulary)} distinct characters with --layers {config.layers} --units {config.units} make a "
            f"{size / 2**20:.0f} MB weights file, more than the app loads ({MAX_MEMBER_BYTES // 2**20} MB); "
            "use fewer --layers or --units, or a text with fewer distinct characters."
        )
    controls = control_characters(corpus.vocabulary)
    if controls:
        print(
            f"Warning: the corpus holds control characters {describe_characters(controls)}; the model will "
            "learn and generate them (the app and `generate` show them as visible symbols).",
            file=sys.stderr,
            flush=True,
        )


def prepare_output(folder: Path) -> None:
    """Create the output folder and prove it is writable before spending time on training."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"cannot write checkpoints to {folder}: {error.strerror or error}.") from None


def _versions() -> dict[str, str]:
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "nietzsche_tui": nietzsche_tui.__version__,
        "python": sys.version.split()[0],
    }


def train(
    config: TrainConfig,
    extra_callbacks: tuple[keras.callbacks.Callback, ...] = (),
    events: EventWriter | None = None,
) -> list[dict[str, Any]]:
    """Train (or resume) per ``config``; return the per-epoch logs of this invocation.

    ``extra_callbacks`` run after the built-in ones (benchmarks use them to probe quality).
    Progress goes to ``events`` (by default ``events.jsonl`` in the output folder).
    """
    config.validate()
    out = Path(config.out)
    corpus = load_corpus(config.corpus, config.maxlen, config.val_fraction, config.keep_case)
    if config.recipe == "fast" and corpus.split < 2 * config.sequence_length + 2:
        raise CorpusError(
            f"the training text ({corpus.split} characters) is too short for "
            f"--sequence-length {config.sequence_length}; use a smaller one."
        )
    check_trainable(config, corpus)
    checkpoints, damaged = scan_checkpoints(out) if out.is_dir() else ([], [])
    check_undamaged(out, checkpoints, damaged)
    check_resumable(config, corpus, checkpoints)
    prepare_output(out)
    placement = place(config.distribute, config.cpu_devices, config.worker_timeout)  # before any TensorFlow op
    if not placement.is_chief:
        events = SilentEvents(out)  # only the chief writes the run's files
    # Same seed, same machine, same losses: Keras seeds Python, NumPy and TensorFlow (weight
    # initialisation, dropout), and op determinism rules out TensorFlow's racy reductions.
    keras.utils.set_random_seed(config.seed)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()

    vocab_size = len(corpus.vocabulary)
    if config.recipe == "fast":
        batches = SequenceBatches(
            corpus.train,
            vocab_size,
            config.sequence_length,
            config.batch_size,
            seed=config.seed,
            max_batches=config.steps_per_epoch,
        )
        sequences = batches.count
    else:
        batches = WindowBatches(
            corpus.train,
            vocab_size,
            config.maxlen,
            config.step,
            config.batch_size,
            seed=config.seed,
            max_batches=config.steps_per_epoch,
        )
        sequences = batches.windows
    held_out = None
    if len(corpus.held_out) > config.maxlen:
        held_out = WindowBatches(
            corpus.held_out,
            vocab_size,
            config.maxlen,
            config.val_step,
            batch_size=held_out_batch_size(config.maxlen, vocab_size),
            shuffle=False,
        )
    print(f"Corpus length: {len(corpus.text)}")
    print(f"Number of sequences: {sequences}")
    print(f"Unique characters: {vocab_size}")
    print(f"Held-out characters: {len(corpus.held_out)} (last {config.val_fraction:.0%})")
    print(f"Training on {placement.description}", flush=True)

    initial_epoch = 0
    if checkpoints:
        latest = checkpoints[-1]
        try:
            # safe_mode refuses Lambda layers and other deserialised code.
            with placement.strategy.scope():
                model = keras.models.load_model(latest.weights_path, safe_mode=True)
        except Exception as error:  # Keras raises several types for foreign or damaged files
            raise TrainingError(
                f"cannot resume from {latest.weights_path} ({type(error).__name__}: {str(error)[:200]}); "
                "move it away or choose another --out folder."
            ) from None
        initial_epoch = latest.epoch
        print(f"Resuming from {latest.describe()}", flush=True)
    else:
        with placement.strategy.scope():
            model = build_training_model(config, vocab_size, steps_per_epoch=len(batches))
    if not placement.on_gpu:
        unroll_on_cpu(model)
    if initial_epoch >= config.epochs:
        print(f"Nothing to do: {out} already holds epoch {initial_epoch} of {config.epochs}.")
        return []
    batches.set_epoch(initial_epoch)

    passages = corpus.seed_passages(config.maxlen, config.seed)
    started_at = (checkpoints[-1].metadata.metrics.total_seconds or 0.0) if checkpoints else 0.0
    history: list[dict[str, Any]] = []
    versions = _versions()

    def metadata(epoch: int, logs: dict) -> CheckpointMetadata:
        record = {
            "epoch": epoch,
            "loss": float(logs.get("loss", float("nan"))),
            "val_loss": logs.get("val_loss"),
            "seconds": float(logs.get("seconds", 0.0)),
        }
        history.append(record)
        total = started_at + sum(r["seconds"] for r in history)
        return CheckpointMetadata(
            epoch=epoch,
            vocabulary=corpus.vocabulary,
            maxlen=config.maxlen,
            architecture=config.architecture,
            training=config.to_dict(),
            metrics=Metrics(
                train_loss=record["loss"],
                val_loss=record["val_loss"],
                val_bpc=logs.get("val_bpc"),
                learning_rate=logs.get("learning_rate"),
                epoch_seconds=record["seconds"],
                total_seconds=total,
                copied_longest=logs.get("copied_longest"),
                copied_fraction=logs.get("copied_fraction"),
            ),
            corpus={
                "source": corpus.name,
                "paths": list(corpus.paths),
                "sha256": corpus.sha256,
                "length": len(corpus.text),
                "held_out_from": corpus.split,
                "lowercased": not config.keep_case,
            },
            seed_passages=passages,
            versions=versions,
        )

    held_text = corpus.text[corpus.split :] if held_out is not None else corpus.text[: corpus.split]

    def sample_seed(epoch: int) -> str:
        start = int(np.random.default_rng([config.seed, epoch]).integers(len(held_text) - config.maxlen))
        return held_text[start : start + config.maxlen]

    # The contract lets a checkpoint leave train_loss out (a bundle, an older writer): skip those.
    recorded = (c.metadata.metrics.train_loss for c in checkpoints)
    best = min((loss for loss in recorded if loss is not None), default=None)
    guard = DivergenceGuard(config.explode_factor, best_loss=best)
    events = events or EventWriter(out)
    writer = CheckpointWriter(out, metadata, guard)
    # What the samples' engine needs to know of the model being trained (epoch 0: no file yet).
    in_training = CheckpointMetadata(
        0, corpus.vocabulary, config.maxlen, config.architecture, corpus={"lowercased": not config.keep_case}
    )
    samples = EpochSamples(
        lambda model: Engine(in_training, weights_of(model, config.cell)),
        sample_seed,
        config.temperatures,
        config.sample_length,
        config.seed,
        guard,
        VerbatimIndex.build(corpus.text) if config.sample_length and config.temperatures else None,
    )
    callbacks: list[keras.callbacks.Callback] = [
        HeldOutLoss(held_out, vocab_size, config.maxlen, config.architecture),
        guard,
    ]
    if placement.is_chief:
        # The samples first: they add what they copied to the logs the checkpoint and events record.
        callbacks += [samples, writer, TrainingLog(out, guard), TrainingEvents(events, guard, writer, samples)]
        if config.tensorboard:
            callbacks.append(RunTensorBoard(config.tensorboard, samples))
    callbacks += extra_callbacks
    # A progress bar on a terminal, one line per epoch in logs and CI.
    verbose = 1 if sys.stdout.isatty() and not os.environ.get("CI") else 2
    started = time.perf_counter()
    events.write(
        "run_started",
        pid=os.getpid(),
        initial_epoch=initial_epoch,
        epochs=config.epochs,
        steps_per_epoch=len(batches),
        settings=config.to_dict(),
    )
    inputs = batches
    if config.distribute == "multiworker":
        # A multi-worker run shards a tf.data pipeline of the same batches among the workers.
        inputs = as_dataset(batches)
        work_around_keras_multiworker(model, placement, batches[0])
    model.fit(
        inputs, epochs=config.epochs, initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose, shuffle=False
    )
    if guard.reason is not None:
        kept = history[-1]["epoch"] if history else initial_epoch
        stopped = TrainingStopped(
            f"training stopped: {guard.reason}; "
            + (f"the last good checkpoint is epoch {kept} in {out}. " if kept else "no epoch was saved. ")
            + "Try a lower --learning-rate, or --clipnorm 1."
        )
        events.write("run_stopped", reason="diverged", message=str(stopped))
        raise stopped
    events.write("run_finished", epoch=config.epochs)
    print(f"Done in {time.perf_counter() - started:.0f} s; checkpoints in {out}.", flush=True)
    return history
