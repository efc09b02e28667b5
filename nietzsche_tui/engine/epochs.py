"""Epochs side by side: one prompt, one temperature, one column per checkpoint of a training folder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from nietzsche_tui.contracts.checkpoint import (
    Checkpoint,
    CheckpointError,
    MissingCheckpoint,
)
from nietzsche_tui.contracts.folder import complete_checkpoints
from nietzsche_tui.engine.generation import Engine, Generation, GenerationRequest, Step
from nietzsche_tui.engine.network import _Network
from nietzsche_tui.engine.prompts import Prompt
from nietzsche_tui.engine.sampling import sample_index
from nietzsche_tui.engine.weights import load_weights
from nietzsche_tui.locate import LOCAL_CHECKPOINT_DIR

EPOCHS_TEMPERATURE = 0.5  # epochs side by side compare at one temperature unless one is given


def pick_epochs(available: Sequence[int], spec: str | None = None) -> list[int]:
    """Which epochs to compare: ``spec`` like "1,5,last" (or "all"), else first, ~¼, ½ and last.

    Raises ValueError naming an epoch that is not in ``available``.
    """
    epochs = sorted(set(available))
    if not epochs:
        raise ValueError("no complete checkpoints to compare")
    if spec is None or not spec.strip():
        picks = [epochs[0], epochs[len(epochs) // 4], epochs[len(epochs) // 2], epochs[-1]]
        return sorted(set(picks))
    if spec.strip().lower() == "all":
        return epochs
    chosen: list[int] = []
    for part in spec.split(","):
        part = part.strip().lower()
        try:
            epoch = epochs[-1] if part in ("last", "latest") else int(part)
        except ValueError:
            raise ValueError(f"epochs are numbers or 'last', like 1,5,last; got {part!r}") from None
        if epoch not in epochs:
            raise ValueError(f"there is no complete checkpoint for epoch {epoch} (have {epochs[0]}-{epochs[-1]})")
        if epoch not in chosen:
            chosen.append(epoch)
    return chosen


def epoch_checkpoints(folder: str | Path | None, spec: str | None = None) -> list[Checkpoint]:
    """The chosen epochs' checkpoints of a training folder (default ./checkpoints); see ``pick_epochs``.

    Raises CheckpointError for a missing folder, ValueError for a bad ``spec``.
    """
    target = Path(folder).expanduser() if folder is not None else LOCAL_CHECKPOINT_DIR
    if not target.exists():
        raise MissingCheckpoint(
            f"{target}: no training folder here yet; train one (F5, then s, in the app) "
            "or name one with --checkpoint DIR."
        )
    if not target.is_dir():
        raise CheckpointError(f"{target}: epochs side by side need a training folder, not a file.")
    checkpoints = {c.epoch: c for c in complete_checkpoints(target)}
    if not checkpoints:
        raise CheckpointError(f"{target}: no complete checkpoint in this folder to compare.")
    return [checkpoints[e] for e in pick_epochs(list(checkpoints), spec)]


def load_epochs(folder: str | Path | None, spec: str | None = None) -> list[Engine]:
    """Engines for ``epoch_checkpoints(folder, spec)`` (raises as it does, and for unreadable weights)."""
    return [Engine(c, load_weights(c)) for c in epoch_checkpoints(folder, spec)]


def epoch_label(checkpoint: Checkpoint) -> str:
    """A column label for one epoch: its number and held-out loss."""
    loss = checkpoint.val_loss
    return f"epoch {checkpoint.epoch}" + (f" · {loss:.3f}" if loss is not None else "")


def generate_epochs(engines: Sequence[Engine], request: GenerationRequest) -> Generation:
    """One prompt, one temperature, one column per engine (a training folder's epochs).

    Every column uses the random stream a one-temperature ``generate`` with the same seed uses,
    so each column's text equals that epoch's checkpoint generating alone. The engines advance
    together in one step loop.
    """
    if not engines:
        raise ValueError("no epochs to compare")
    if len(request.temperatures) != 1:
        raise ValueError("epochs side by side use one temperature")
    first = engines[0]
    if any(e.vocabulary != first.vocabulary or e.maxlen != first.maxlen for e in engines):
        raise ValueError("these checkpoints have different vocabularies or window lengths; compare one folder's epochs")
    if any(e.checkpoint.architecture != first.checkpoint.architecture for e in engines):
        raise ValueError("these checkpoints have different architectures; compare one folder's epochs")
    prompt = first.prepare_prompt(request.prompt)
    labels = tuple(epoch_label(engine.checkpoint) for engine in engines)

    def make_steps(keep: bool) -> Iterator[Step]:
        return _epoch_steps(engines, request, prompt, keep)

    return Generation(request, prompt, make_steps(False), labels, make_steps)


def _epoch_steps(
    engines: Sequence[Engine], request: GenerationRequest, prompt: Prompt, keep: bool = False
) -> Iterator[Step]:
    temperature = request.temperatures[0]
    streams = [np.random.default_rng(np.random.SeedSequence(request.seed).spawn(1)[0]) for _ in engines]
    maxlen, vocabulary = engines[0].maxlen, engines[0].vocabulary
    # Row e of every batch runs epoch e's weights: one batched step for all the epochs.
    stack = _Network.stacked([engine.network for engine in engines])
    rows = np.arange(len(engines))
    if request.mode == "window":
        # Every epoch reads a window of the same length at every step: they batch exactly.
        windows = np.tile(prompt.indices[-maxlen:], (len(engines), 1))
        probabilities = stack.probabilities(stack.run(windows))
    else:
        state = stack.run(np.tile(prompt.indices, (len(engines), 1)))
        probabilities = stack.probabilities(state)
    for number in range(request.length):
        chosen = np.array(
            [
                sample_index(probabilities[row], temperature, stream, request.top_k, request.top_p)
                for row, stream in zip(rows, streams, strict=True)
            ]
        )
        yield Step(
            number,
            tuple(vocabulary[i] for i in chosen),
            tuple(float(p) for p in probabilities[rows, chosen]),
            probabilities.copy() if keep else None,
        )
        if number + 1 == request.length:
            return
        if request.mode == "window":
            windows = np.concatenate([windows, chosen[:, None]], axis=1)[:, -maxlen:]
            probabilities = stack.probabilities(stack.run(windows))
        else:
            state = stack.step(chosen, state)
            probabilities = stack.probabilities(state)
