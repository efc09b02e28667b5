"""Epochs side by side: one prompt, one temperature, one column per checkpoint of a training folder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointMetadata
from nietzsche_tui.engine.generation import Engine, Generation, GenerationRequest, Step, column_streams, step_loop
from nietzsche_tui.engine.network import Network
from nietzsche_tui.engine.weights import load_weights


def load_epochs(checkpoints: Sequence[Checkpoint]) -> list[Engine]:
    """Engines for a folder's chosen epochs (``locate.epoch_checkpoints``); raises CheckpointError
    for unreadable weights."""
    return [Engine.of(c, load_weights(c)) for c in checkpoints]


def epoch_label(metadata: CheckpointMetadata) -> str:
    """A column label for one epoch: its number and held-out loss."""
    loss = metadata.metrics.val_loss
    return f"epoch {metadata.epoch}" + (f" · {loss:.3f}" if loss is not None else "")


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
    if any(e.metadata.architecture != first.metadata.architecture for e in engines):
        raise ValueError("these checkpoints have different architectures; compare one folder's epochs")
    prompt = first.prepare_prompt(request.prompt)
    labels = tuple(epoch_label(engine.metadata) for engine in engines)

    # Row e of every batch runs epoch e's weights: one batched step for all the epochs.
    stack = Network.stacked([engine.network for engine in engines])
    temperatures = request.temperatures * len(engines)

    def make_steps(keep: bool) -> Iterator[Step]:
        streams = [column_streams(request.seed, 1)[0] for _ in engines]  # every epoch draws as column 0
        return step_loop(stack, first.vocabulary, first.maxlen, prompt, request, temperatures, streams, keep)

    return Generation(request, prompt, make_steps(False), labels, make_steps)
