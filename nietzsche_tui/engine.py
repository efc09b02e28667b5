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

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nietzsche_tui.checkpoint import (
    Architecture,
    Checkpoint,
    CheckpointError,
    CheckpointMetadata,
    MissingCheckpoint,
    complete_checkpoints,
    epoch_of_file,
    latest_checkpoint,
    resolve_checkpoint,
    scan_checkpoints,
)
from nietzsche_tui.sampling import check_temperature, sample_index
from nietzsche_tui.weights import ModelWeights, RecurrentWeights, load_weights

MODES = ("window", "stateful")
DEFAULT_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
BUNDLED_MODEL_DIR = Path(__file__).parent / "model"
# The models shipped with the package (MODEL.md): the book's LSTM(128), and a 2 × LSTM(256).
BUNDLED_MODELS = {"book": BUNDLED_MODEL_DIR, "large": Path(__file__).parent / "model_large"}
LOCAL_CHECKPOINT_DIR = Path("checkpoints")


class PromptError(ValueError):
    """A prompt the model cannot start from (empty, or nothing left after dropping characters)."""


# ---------------------------------------------------------------------------------------------
# Prompts


@dataclass(frozen=True)
class Prompt:
    """A prompt as the model reads it: lowercased, with unknown characters dropped."""

    text: str
    indices: np.ndarray
    dropped: tuple[str, ...]  # distinct dropped characters, in order of first appearance


def as_read(text: str, lowercase: bool) -> list[str]:
    """The characters the model reads, one per character of ``text`` (prompts and scored text alike).

    Lowercased as the trainer lowercased its corpus (``str.lower`` of the whole text) when that
    keeps every position; where lowering changes a length (U+0130 "İ" becomes "i" and a combining
    dot), each character is lowered on its own and keeps the first character of its lower case:
    the leftover mark is not a character of the text, never a "dropped" one.
    """
    if not lowercase:
        return list(text)
    lowered = text.lower()
    if len(lowered) == len(text):
        return list(lowered)
    return [char.lower()[0] if char.lower() else char for char in text]


def encode_prompt(text: str, vocabulary: Sequence[str], lowercase: bool = True) -> Prompt:
    """Map ``text`` (lowercased, for a model trained on lowercased text) to vocabulary indices,
    dropping (and reporting) unknown characters."""
    index_of = {char: i for i, char in enumerate(vocabulary)}
    kept: list[str] = []
    dropped: dict[str, None] = {}
    for char in as_read(text, lowercase):
        if char in index_of:
            kept.append(char)
        else:
            dropped[char] = None
    kept_text = "".join(kept)
    indices = np.fromiter((index_of[c] for c in kept_text), dtype=np.int64, count=len(kept_text))
    return Prompt(kept_text, indices, tuple(dropped))


def describe_characters(characters: Sequence[str], limit: int = 20) -> str:
    """Name characters for a message, escaping the invisible or unprintable ones (safe to print)."""

    def name(char: str) -> str:
        if char.isprintable() and not unicodedata.category(char).startswith(("C", "Z")):
            return repr(char)
        return ascii(char)

    shown = ", ".join(name(c) for c in characters[:limit])
    more = len(characters) - limit
    return shown + (f" and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------------------------
# Requests and steps


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a generation; equal requests give equal text."""

    prompt: str
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = 400
    seed: int = 0
    mode: str = "window"
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(check_temperature(t) for t in self.temperatures))
        if not self.temperatures:
            raise ValueError("at least one temperature is needed")
        if self.length < 0:
            raise ValueError(f"length must be >= 0, got {self.length}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class Step:
    """One generation step: the new character of every column and the probability the model gave it.

    ``distributions`` (one untempered distribution per column) is filled only when asked for
    (``Generation.with_distributions``), so ordinary generation copies nothing.
    """

    number: int
    chars: tuple[str, ...]
    probabilities: tuple[float, ...]
    distributions: np.ndarray | None = None


_BLAS = None  # threadpoolctl's controller, made on first use (it inspects the loaded libraries once)


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread: a generation step multiplies a few rows
    by a small matrix, where more threads only fight the UI and the generation thread for the
    cores (the large model ran 3-5× slower with OpenBLAS's default on a busy 2-core machine). Set
    here, per call site, never through an environment variable a user may have set for other work."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


@dataclass
class Generation:
    """A prepared generation: the encoded prompt plus a lazy stream of steps.

    ``labels`` names the columns when they are not the request's temperatures (epochs side by side).
    """

    request: GenerationRequest
    prompt: Prompt
    steps: Iterator[Step] = field(repr=False)
    labels: tuple[str, ...] = ()
    make_steps: Callable[[bool], Iterator[Step]] | None = field(default=None, repr=False)

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


# ---------------------------------------------------------------------------------------------
# The engine


def window_batches(indices: np.ndarray, ends: np.ndarray, maxlen: int, batch: int = 2048):
    """Yield (rows, windows): for each ``ends[row]`` (≥ 1), the window ``indices[end - maxlen:end]``
    (shorter at the start of the text). Full windows come in batches; shorter ones one by one, as
    each has its own length."""
    full = np.flatnonzero(ends >= maxlen)
    for start in range(0, len(full), batch):
        rows = full[start : start + batch]
        yield rows, indices[ends[rows, None] - maxlen + np.arange(maxlen)]
    for row in np.flatnonzero(ends < maxlen):
        yield np.array([row]), indices[None, : ends[row]]


def _gates(z: np.ndarray, c: np.ndarray, units: int) -> tuple[np.ndarray, np.ndarray]:
    """The LSTM's gates from pre-scaled pre-activations ``z`` (i, f, c, o): the new (h, c)."""
    np.tanh(z, out=z)
    z[:, : 2 * units] += 1  # i and f: sigmoid = (1 + tanh) / 2, the halving folded in below
    z[:, 3 * units :] += 1  # o
    c = (z[:, units : 2 * units] * c + z[:, :units] * z[:, 2 * units : 3 * units]) * 0.5
    h = np.tanh(c)
    h *= z[:, 3 * units :]
    h *= 0.5
    return h, c


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    weights = np.exp(shifted)
    return weights / weights.sum(axis=1, keepdims=True)


def _project(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """x @ matrix, or row by row when ``matrix`` has one matrix per row (epochs side by side)."""
    if matrix.ndim == 2:
        return x @ matrix
    return np.matmul(x[:, None, :], matrix)[:, 0, :]


def _lookup(table: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Rows of an input table (one-hot × kernel), or of each row's own table when stacked."""
    if table.ndim == 2:
        return table[indices]
    return table[np.arange(len(indices)), indices]


# A layer's state is (h, c) for an LSTM and (h,) for a GRU; a model's state is one per layer.
State = list[tuple[np.ndarray, ...]]


class _Recurrent:
    """One recurrent layer prepared for stepping, from its Keras arrays.

    The first layer reads one-hot characters: a one-hot row times the kernel is a row of the
    kernel, so its input projection (bias included) is a table lookup. Higher layers read the
    layer below's h through their kernel. LSTM: sigmoid(x) = (1 + tanh(x / 2)) / 2, so with the
    i, f, o columns pre-scaled by 1/2 a single tanh serves all four gates. GRU (Keras's
    ``reset_after=True``): z, r = sigmoid(x W + b_in + h U + b_rec); candidate
    tanh(x W_h + b_in,h + r * (h U_h + b_rec,h)); h' = z h + (1 - z) candidate.
    """

    def __init__(self, layer: RecurrentWeights, first: bool) -> None:
        self.cell, self.units, self.first = layer.cell, layer.units, first
        if layer.cell == "lstm":
            scale = np.full(4 * self.units, 0.5, dtype=np.float32)
            scale[2 * self.units : 3 * self.units] = 1.0
            kernel, bias = layer.kernel * scale, layer.bias * scale
            self.recurrent = np.ascontiguousarray(layer.recurrent_kernel * scale, dtype=np.float32)
            self.recurrent_bias = np.zeros(4 * self.units, dtype=np.float32)
        else:
            kernel, bias = layer.kernel, layer.bias[0]
            self.recurrent = np.ascontiguousarray(layer.recurrent_kernel, dtype=np.float32)
            self.recurrent_bias = layer.bias[1].astype(np.float32)
        self.kernel = (kernel + bias if first else kernel).astype(np.float32)
        self.bias = np.zeros_like(bias) if first else bias.astype(np.float32)

    @classmethod
    def stacked(cls, layers: Sequence[_Recurrent]) -> _Recurrent:
        """Several models' versions of one layer as one: row e of a batch uses model e's arrays."""
        stack = cls.__new__(cls)
        stack.cell, stack.units, stack.first = layers[0].cell, layers[0].units, layers[0].first
        for name in ("kernel", "bias", "recurrent", "recurrent_bias"):
            setattr(stack, name, np.stack([getattr(layer, name) for layer in layers]))
        return stack

    def zeros(self, batch: int) -> tuple[np.ndarray, ...]:
        h = np.zeros((batch, self.units), dtype=np.float32)
        return (h, np.zeros_like(h)) if self.cell == "lstm" else (h,)

    def step(self, inputs: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """One time step: ``inputs`` are character indices (first layer) or the layer below's h."""
        x = _lookup(self.kernel, inputs) if self.first else _project(inputs, self.kernel) + self.bias
        h = state[0]
        if self.cell == "lstm":
            z = _project(h, self.recurrent)
            z += x
            return _gates(z, state[1], self.units)
        u = self.units
        r = _project(h, self.recurrent) + self.recurrent_bias
        # sigmoid as (1 + tanh(x / 2)) / 2, as the LSTM: 1 / (1 + exp(-x)) overflows float32 for x < -88
        gates = 0.5 * (1.0 + np.tanh(0.5 * (x[:, : 2 * u] + r[:, : 2 * u])))
        update, reset = gates[:, :u], gates[:, u:]
        candidate = np.tanh(x[:, 2 * u :] + reset * r[:, 2 * u :])
        return ((update * h + (1.0 - update) * candidate).astype(np.float32),)


class _Network:
    """The recurrent stack and the softmax; ``stacked`` runs several checkpoints as one batch."""

    def __init__(self, layers: Sequence[_Recurrent], dense_kernel: np.ndarray, dense_bias: np.ndarray) -> None:
        self.layers = list(layers)
        self.dense_kernel, self.dense_bias = dense_kernel, dense_bias

    @classmethod
    def of(cls, weights: ModelWeights) -> _Network:
        layers = [_Recurrent(layer, first=i == 0) for i, layer in enumerate(weights.layers)]
        return cls(layers, weights.dense_kernel, weights.dense_bias)

    @classmethod
    def stacked(cls, networks: Sequence[_Network]) -> _Network:
        layers = [_Recurrent.stacked(group) for group in zip(*(n.layers for n in networks), strict=True)]
        return cls(
            layers,
            np.stack([n.dense_kernel for n in networks]),
            np.stack([n.dense_bias for n in networks]),
        )

    def step(self, inputs: np.ndarray, state: State) -> State:
        new: State = []
        for layer, layer_state in zip(self.layers, state, strict=True):
            layer_state = layer.step(inputs, layer_state)
            new.append(layer_state)
            inputs = layer_state[0]
        return new

    def run(self, indices: np.ndarray, state: State | None = None) -> State:
        """Run a (batch, time) index array from ``state`` (zeros by default)."""
        if state is None:
            state = [layer.zeros(indices.shape[0]) for layer in self.layers]
        first = self.layers[0]
        if len(self.layers) == 1 and first.cell == "lstm" and first.kernel.ndim == 2:
            # The book's model, the app's every step: the same maths as ``step``, without its
            # per-layer bookkeeping (window mode runs 60 steps per character).
            (h, c), units = state[0], first.units
            for t in range(indices.shape[1]):
                z = h @ first.recurrent
                z += first.kernel[indices[:, t]]
                h, c = _gates(z, c, units)
            return [(h, c)]
        for t in range(indices.shape[1]):
            state = self.step(indices[:, t], state)
        return state

    def probabilities(self, state: State) -> np.ndarray:
        """The softmax output (float64) read from the top layer's h."""
        return _softmax_rows(_project(state[-1][0], self.dense_kernel) + self.dense_bias)


class Engine:
    """NumPy inference for one checkpoint: one-hot → LSTM or GRU layers → softmax."""

    def __init__(self, checkpoint: Checkpoint, weights: ModelWeights) -> None:
        self.checkpoint = checkpoint
        self.vocabulary = checkpoint.vocabulary
        self.maxlen = checkpoint.maxlen
        self.lowercase = checkpoint.lowercases  # prompts are read the way the training text was
        self.units = weights.units
        self.cell = weights.cell
        self.weights = weights
        self.network = _Network.of(weights)
        self.passed_over: str | None = None  # damaged newer checkpoints of its folder, in one line

    @classmethod
    def from_weights(
        cls, weights: ModelWeights, vocabulary: Sequence[str], maxlen: int, lowercase: bool = True
    ) -> Engine:
        """An engine over in-memory weights (the trainer's per-epoch samples use this)."""
        architecture = Architecture(weights.cell, len(weights.layers), weights.units)
        metadata = CheckpointMetadata(1, list(vocabulary), maxlen, architecture, corpus={"lowercased": lowercase})
        return cls(Checkpoint(Path("<memory>.json"), Path("<memory>.keras"), metadata.to_dict()), weights)

    @classmethod
    def load(cls, location: str | Path | None = None) -> Engine:
        """Load a checkpoint file, or a folder's newest checkpoint that loads; None means the
        default location. Damaged newer files of a folder are passed over and named in
        ``passed_over`` (one line, for a warning); a file named outright must load."""
        target = Path(location).expanduser() if location is not None else default_checkpoint().metadata_path.parent
        if not target.is_dir():
            checkpoint = resolve_checkpoint(target)
            return cls(checkpoint, load_weights(checkpoint))
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
            engine = cls(checkpoint, weights)
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
        return cls(checkpoint, load_weights(checkpoint))

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
        prompt = encode_prompt(text, self.vocabulary, self.lowercase)
        if not prompt.text.strip():  # one rule for the app and `generate`: blank is empty
            if prompt.dropped:
                raise PromptError(
                    f"the prompt has no character the model knows (dropped "
                    f"{describe_characters(prompt.dropped)}); type some English text."
                )
            raise PromptError("the prompt is empty or blank; type a few words, or ask for a surprise seed.")
        return prompt

    def surprise_prompt(self, rng: np.random.Generator) -> str:
        """One of the held-out seed passages stored in the checkpoint ("surprise me")."""
        passages = self.checkpoint.seed_passages
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
        columns = len(request.temperatures)
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(request.seed).spawn(columns)]
        rows = np.arange(columns)
        if request.mode == "window":
            windows = np.tile(prompt.indices[-self.maxlen :], (columns, 1))
            probabilities = self.window_probabilities(windows)
        else:
            state = [tuple(np.repeat(a, columns, axis=0) for a in layer) for layer in self.run(prompt.indices[None, :])]
            probabilities = self.probabilities(state)
        for number in range(request.length):
            chosen = np.array(
                [
                    sample_index(probabilities[row], temperature, stream, request.top_k, request.top_p)
                    for row, (temperature, stream) in enumerate(zip(request.temperatures, streams, strict=True))
                ]
            )
            yield Step(
                number,
                tuple(self.vocabulary[i] for i in chosen),
                tuple(float(p) for p in probabilities[rows, chosen]),
                probabilities.copy() if keep else None,
            )
            if number + 1 == request.length:
                return  # the next distribution would never be used
            if request.mode == "window":
                windows = np.concatenate([windows, chosen[:, None]], axis=1)[:, -self.maxlen :]
                probabilities = self.window_probabilities(windows)
            else:
                state = self.network.step(chosen, state)
                probabilities = self.probabilities(state)


# ---------------------------------------------------------------------------------------------
# Epochs side by side


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


def default_checkpoint() -> Checkpoint:
    """``./checkpoints`` when it holds a complete checkpoint, else the model bundled with the package."""
    local = latest_checkpoint(LOCAL_CHECKPOINT_DIR)
    if local is not None:
        return local
    bundled = latest_checkpoint(BUNDLED_MODEL_DIR)
    if bundled is not None:
        return bundled
    raise MissingCheckpoint(
        "no checkpoint found: ./checkpoints is empty and no model is bundled with this install; "
        "train one with `uv run nietzsche-train --out checkpoints` or name one with --checkpoint."
    )
