"""The generation engine: the book's LSTM (and deeper LSTM/GRU stacks) in NumPy, exact, batched
over temperatures, streaming.

Two modes compute what Keras computes:

* ``window`` (default), the book's way: for every next character, run the network from a zero
  state over the last ``maxlen`` characters, exactly as the model was trained.
* ``stateful``: run the prompt through the network once and carry its state, one step a character.
  The first step equals window mode's; later ones differ because the state keeps remembering
  characters that have left the window.

All temperatures advance together as one batch, so four columns cost one pass. One integer seed
gives every column its own random stream, so the same checkpoint, prompt, temperatures, mode and
seed always produce the same text.

Short prompts: the LSTM reads just the prompt's characters from a zero state (no padding), and in
window mode the window grows with each generated character until it holds ``maxlen`` of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointError, CheckpointMetadata, epoch_of_file
from nietzsche_tui.contracts.folder import resolve_checkpoint, scan_checkpoints
from nietzsche_tui.engine.network import Network, State, one_blas_thread, window_batches
from nietzsche_tui.engine.prompts import Prompt, PromptError, encode_prompt, read_prompt
from nietzsche_tui.engine.request import GenerationRequest, Step
from nietzsche_tui.engine.sampling import sample_rows
from nietzsche_tui.engine.weights import ModelWeights, load_weights
from nietzsche_tui.engine.windows import WindowPipeline


@dataclass
class Generation:
    """A prepared generation: the encoded prompt plus a lazy stream of steps.

    ``labels`` names the columns when they are not the request's temperatures (epochs or models
    side by side); ``prompts`` holds each column's reading of the prompt when the columns' models
    read it differently (models side by side: their own vocabularies and case rules).
    """

    request: GenerationRequest
    prompt: Prompt
    steps: Iterator[Step] = field(repr=False)
    labels: tuple[str, ...] = ()
    make_steps: Callable[[bool], Iterator[Step]] | None = field(default=None, repr=False)
    prompts: tuple[Prompt, ...] = ()

    def __iter__(self) -> Iterator[Step]:
        """The steps, each computed with one BLAS thread (``one_blas_thread``); between steps the
        library's own setting is back, for whoever else multiplies matrices."""
        while True:
            with one_blas_thread():
                step = next(self.steps, None)
            if step is None:
                return
            yield step

    def with_distributions(self) -> Generation:
        """The same generation (call before iterating) with every step's distributions kept."""
        if self.make_steps is None:
            raise ValueError("this generation cannot keep its distributions")
        return Generation(self.request, self.prompt, self.make_steps(True), self.labels, self.make_steps)


class Engine:
    """NumPy inference for one checkpoint: one-hot → LSTM or GRU layers → softmax."""

    def __init__(
        self, metadata: CheckpointMetadata, weights: ModelWeights, checkpoint: Checkpoint | None = None
    ) -> None:
        """An engine over ``weights`` described by ``metadata``; ``checkpoint`` is the file they came
        from (None for weights in memory: the trainer's per-epoch samples)."""
        self.metadata = metadata
        self.checkpoint = checkpoint
        self.vocabulary = metadata.vocabulary
        self.maxlen = metadata.maxlen
        self.lowercase = metadata.lowercases  # prompts are read the way the training text was
        self.units = weights.units
        self.cell = weights.cell
        self.weights = weights
        self.network = Network.of(weights)
        self.passed_over: str | None = None  # damaged newer checkpoints of its folder, in one line

    @classmethod
    def of(cls, checkpoint: Checkpoint, weights: ModelWeights) -> Engine:
        """An engine over a checkpoint read from disk and its weights."""
        return cls(checkpoint.metadata, weights, checkpoint)

    @classmethod
    def load(cls, location: str | Path) -> Engine:
        """Load a checkpoint file, or a folder's newest checkpoint that loads (``locate`` says which
        location a setting means). Damaged newer files of a folder are passed over and named in
        ``passed_over`` (one line, for a warning); a file named outright must load."""
        target = Path(location).expanduser()
        if not target.is_dir():
            checkpoint = resolve_checkpoint(target)
            return cls.of(checkpoint, load_weights(checkpoint))
        checkpoints, damaged_files = scan_checkpoints(target)
        damaged = [path.name for path, _ in damaged_files]
        failure: CheckpointError | None = None
        for checkpoint in reversed(checkpoints):
            try:
                weights = load_weights(checkpoint)
            except CheckpointError as error:
                failure = failure or error
                damaged.append(checkpoint.weights_path.name)
                continue
            engine = cls.of(checkpoint, weights)
            newer = sorted(name for name in damaged if (epoch_of_file(name) or 0) > checkpoint.epoch)
            if newer:
                engine.passed_over = (
                    f"{target.name}: {', '.join(newer)} {'is' if len(newer) == 1 else 'are'} damaged; "
                    f"using epoch {checkpoint.epoch}, the newest that loads"
                )
            return engine
        if failure is not None:
            raise failure
        checkpoint = resolve_checkpoint(target)  # an empty folder: MissingCheckpoint, saying how to train
        return cls.of(checkpoint, load_weights(checkpoint))

    # -- the network ------------------------------------------------------------------------

    def run(self, indices: np.ndarray, state: State | None = None) -> State:
        """Run a (batch, time) index array from ``state`` (zeros by default); return every layer's state."""
        return self.network.run(indices, state)

    @staticmethod
    def memory(state: State) -> np.ndarray:
        """The top layer's memory: an LSTM's cell state c, a GRU's h (its only state)."""
        return state[-1][-1]

    def probabilities(self, state: State) -> np.ndarray:
        """The softmax output (float64) for a state from ``run``."""
        return self.network.probabilities(state)

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        """Next-character distributions for a (batch, time) array of windows, each from zero state."""
        return self.probabilities(self.run(np.atleast_2d(windows)))

    def surprisal_bits(self, indices: np.ndarray, targets: np.ndarray, batch: int = 2048) -> np.ndarray:
        """-log2 p(indices[t] | the up to maxlen indices before t) for every t in ``targets`` (each
        ≥ 1), every window from a zero state: how the model was trained and is scored."""
        bits = np.empty(len(targets))
        for rows, windows in window_batches(indices, targets, self.maxlen, batch):
            probabilities = self.window_probabilities(windows)
            chosen = probabilities[np.arange(len(rows)), indices[targets[rows]]]
            bits[rows] = -np.log2(np.maximum(chosen, 1e-300))
        return bits

    def held_out_loss(self, text: str, batch: int = 2048) -> float:
        """Mean cross-entropy (nats/char) of every next character after a full maxlen window of
        ``text``: the project's held-out measure, computed here without Keras."""
        indices = encode_prompt(text, self.vocabulary, self.lowercase).indices
        if len(indices) != len(text):
            raise ValueError("the text has characters outside this checkpoint's vocabulary")
        targets = np.arange(self.maxlen, len(indices))
        return float(self.surprisal_bits(indices, targets, batch).mean() * np.log(2))

    # -- generation -------------------------------------------------------------------------

    def prepare_prompt(self, text: str) -> Prompt:
        """Encode a prompt, raising PromptError when nothing usable is left."""
        return read_prompt(text, self.vocabulary, self.lowercase)

    def surprise_prompt(self, rng: np.random.Generator) -> str:
        """One of the held-out seed passages stored in the checkpoint ("surprise me")."""
        passages = self.metadata.seed_passages
        if not passages:
            raise PromptError("this checkpoint stores no seed passages; type a prompt instead.")
        return passages[int(rng.integers(len(passages)))]

    def generate(self, request: GenerationRequest) -> Generation:
        """Validate and encode the request's prompt and return its lazy stream of steps.

        The prompt is checked here, before any step runs, so callers can report a bad prompt at
        once. Iterating the returned Generation computes one step at a time; stopping the iteration
        between any two steps cancels the rest.
        """
        prompt = self.prepare_prompt(request.prompt)

        def make_steps(keep: bool) -> Iterator[Step]:
            return self._steps(request, prompt, keep)

        return Generation(request, prompt, make_steps(False), make_steps=make_steps)

    def _steps(self, request: GenerationRequest, prompt: Prompt, keep: bool = False) -> Iterator[Step]:
        streams = column_streams(request.seed, len(request.temperatures))
        return step_loop(
            self.network, self.vocabulary, self.maxlen, prompt, request, request.temperatures, streams, keep
        )


def step_loop(
    network: Network,
    vocabulary: Sequence[str],
    maxlen: int,
    prompt: Prompt,
    request: GenerationRequest,
    temperatures: Sequence[float],
    streams: Sequence[np.random.Generator],
    keep: bool = False,
) -> Iterator[Step]:
    """The one generation loop: row r of every batch samples at ``temperatures[r]`` from
    ``streams[r]``; ``network`` is one model (rows are temperatures) or several stacked (rows are
    epochs). Window mode reads each character from a run over the last ``maxlen`` characters from
    a zero state (all the coming windows in flight at once: ``windows.WindowPipeline``), stateful
    mode carries the state."""
    rows = np.arange(len(temperatures))
    if request.mode == "window":
        pipeline = WindowPipeline(network, prompt.indices, len(rows), maxlen)
        probabilities = pipeline.probabilities()
    else:
        if network.is_stacked:
            state = network.run(np.tile(prompt.indices, (len(rows), 1)))
        else:  # one model: read the prompt once, then give every row its state
            state = [
                tuple(np.repeat(a, len(rows), axis=0) for a in layer) for layer in network.run(prompt.indices[None, :])
            ]
        probabilities = network.probabilities(state)
    for number in range(request.length):
        chosen = sample_rows(probabilities, temperatures, streams, request.top_k, request.top_p)
        yield Step(
            number,
            tuple(vocabulary[i] for i in chosen),
            tuple(float(p) for p in probabilities[rows, chosen]),
            probabilities.copy() if keep else None,
        )
        if number + 1 == request.length:
            return  # the next distribution would never be used
        if request.mode == "window":
            pipeline.advance(chosen)
            probabilities = pipeline.probabilities()
        else:
            state = network.step(chosen, state)
            probabilities = network.probabilities(state)


def column_streams(seed: int, columns: int) -> list[np.random.Generator]:
    """Each column's own random stream for a seed: column c draws the same numbers whatever the
    other columns do (and step mode's single column draws column 0's)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(columns)]
