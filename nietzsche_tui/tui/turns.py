"""A turn of the conversation, as a record: made before any widget shows it, shown by an
``Exchange``, stored in the history from the record (with the text the columns received).

It holds no widget and imports no Textual, so a thread can build one (loading the engines of a
replay, hashing the weights) and hand it to the UI finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from nietzsche_tui.contracts.checkpoint import WEIGHTS_SUFFIX
from nietzsche_tui.engine.request import Columns, GenerationRequest
from nietzsche_tui.history.records import Branch, Column, StoredExchange, weights_sha256
from nietzsche_tui.locate import model_name

if TYPE_CHECKING:  # the model maths: imported where a replay loads it, not at the app's start-up
    from nietzsche_tui.engine.generation import Engine, Generation
    from nietzsche_tui.engine.stepping import StepSession

MAX_PROMPT_CHARS = 10_000  # longer pastes keep their end: the part the model reads last
SHOWN_PROMPT_CHARS = 300  # of a long prompt, the end is shown above its columns


def temperature_label(temperature: float) -> str:
    """A column's header for one temperature."""
    return "greedy (T=0)" if temperature == 0 else f"T={temperature:g}"


@dataclass(frozen=True)
class Replay:
    """What a replayed turn replays, and whether its checkpoint file is still the stored one."""

    stored: StoredExchange
    same_weights: bool


@dataclass(frozen=True)
class Turn:
    """One prompt and how it is answered: the prompt as typed and as shown, the generation (its
    request and the prompt as the model reads it), each column's engine, a notice for the
    details line, and what it replays."""

    prompt_typed: str
    prompt_shown: str
    generation: Generation
    engines: tuple[Engine, ...]
    notice: str = ""
    replay: Replay | None = None
    branch: Branch | None = None
    models: tuple[str, ...] = ()  # models side by side: each column's entry (book, a folder, DIR@N…)
    # Filled once by the history's thread when the turn is stored: {"id": its row}, so a branch
    # of it can name it.
    saved: dict[str, int] = field(default_factory=dict, compare=False)

    @property
    def request(self) -> GenerationRequest:
        return self.generation.request

    @property
    def compares_epochs(self) -> bool:
        """Whether the columns share one temperature (epochs or models side by side)."""
        return bool(self.generation.labels)

    @property
    def kind(self) -> str:
        """What the history calls it: temperatures, epochs or models side by side."""
        return "models" if self.models else "epochs" if self.compares_epochs else "temperatures"

    @property
    def columns(self) -> Columns:
        """What the columns are, as the engine's ``generate_columns`` takes it."""
        return Columns(self.kind, tuple(model_name(m) for m in self.models))

    def prompt_of(self, column: int) -> str:
        """The prompt as column ``column``'s model read it (models side by side read it each
        with their own vocabulary)."""
        prompts = self.generation.prompts
        return (prompts[column] if prompts else self.generation.prompt).text

    @property
    def labels(self) -> tuple[str, ...]:
        """Each column's header: its epoch when epochs are compared, else its temperature."""
        return self.generation.labels or tuple(temperature_label(t) for t in self.request.temperatures)

    def temperature(self, column: int) -> float:
        """The temperature column ``column`` samples at (epochs side by side share one)."""
        temperatures = self.request.temperatures
        return temperatures[0] if self.compares_epochs else temperatures[column]

    def stored(self, texts: Sequence[str], state: str) -> StoredExchange:
        """What the history keeps of this turn once it ended (done, stopped or failed), with the
        text each column received. Hashes the weights: call it in a thread."""
        request, prompt = self.request, self.generation.prompt
        checkpoint = self.engines[-1].checkpoint
        assert checkpoint is not None, "a turn's engines come from checkpoint files"
        columns = [
            Column(
                label=label,
                text=text,
                state=state,
                temperature=self.temperature(i),
                epoch=(self.engines[i].checkpoint or checkpoint).epoch,
                model=self.models[i] if self.models else None,
                checkpoint=str((self.engines[i].checkpoint or checkpoint).metadata_path.resolve())
                if self.models
                else None,
            )
            for i, (label, text) in enumerate(zip(self.labels, texts, strict=True))
        ]
        return StoredExchange(
            kind=self.kind,
            prompt=self.prompt_typed,
            prompt_read=prompt.text,
            dropped=list(prompt.dropped),
            checkpoint_path=str(checkpoint.metadata_path.resolve()),
            epoch=checkpoint.epoch,
            weights_sha256=weights_sha256(checkpoint.weights_path),
            mode=request.mode,
            temperatures=list(request.temperatures),
            length=request.length,
            seed=request.seed,
            top_k=request.top_k,
            top_p=request.top_p,
            columns=columns,
            branch_of=None if self.branch is None else self.branch.to_dict(),
        )


def branch_turn(turn: Turn, column: int, text: str, position: int, chosen: str, shown_chars: int) -> Turn:
    """A new turn continuing ``turn``'s column ``column`` (whose text is ``text``) from
    ``position``, with ``chosen`` there instead of the character written: the text up to it is
    the new prompt; the temperature, seed, length, mode and truncation are the column's.
    Raises PromptError or ValueError."""
    request = turn.request
    prompt = turn.prompt_of(column) + text[:position] + chosen
    branched = GenerationRequest(
        prompt[-MAX_PROMPT_CHARS:],
        (turn.temperature(column),),
        request.length,
        request.seed,
        request.mode,
        request.top_k,
        request.top_p,
    )
    engine = turn.engines[column]
    branch = Branch(turn.prompt_of(column), turn.labels[column], position, chosen, text[position], turn.saved.get("id"))
    shown = prompt if len(prompt) <= shown_chars else "…" + prompt[-shown_chars:]
    return Turn(prompt, shown, engine.generate(branched), (engine,), branch.describe(), branch=branch)


def replay_turn(stored: StoredExchange, shown_chars: int) -> Turn:
    """A stored exchange as a new turn with its stored settings (the engines loaded, the weights
    hashed: call it in a thread). Raises CheckpointError, PromptError or ValueError."""
    from nietzsche_tui.engine.generation import Engine
    from nietzsche_tui.engine.models import generate_columns

    if stored.kind == "epochs":
        folder = Path(stored.checkpoint_path).parent
        engines = [Engine.load(folder / f"epoch_{c.epoch:04d}.json") for c in stored.columns]
    elif stored.kind == "models":
        engines = [Engine.load(c.checkpoint or stored.checkpoint_path) for c in stored.columns]
    else:
        engines = [Engine.load(stored.checkpoint_path)] * len(stored.columns)
    request = GenerationRequest(
        stored.prompt,
        tuple(stored.temperatures),
        stored.length,
        stored.seed or 0,
        stored.mode,
        stored.top_k,
        stored.top_p,
    )
    models = tuple(c.model or c.label for c in stored.columns) if stored.kind == "models" else ()
    kind = stored.kind if stored.kind in ("epochs", "models") else "temperatures"
    generation = generate_columns(engines, request, Columns(kind, tuple(model_name(m) for m in models)))
    checkpoint = engines[-1].checkpoint
    same = checkpoint is not None and weights_sha256(checkpoint.weights_path) == stored.weights_sha256
    note = "replay: same checkpoint file" if same else "replay: the checkpoint file has changed since"
    branch = Branch.from_dict(stored.branch_of)
    if branch is not None:
        note += f" · {branch.describe()}"
    shown = stored.prompt[-shown_chars:]
    return Turn(stored.prompt, shown, generation, tuple(engines), note, Replay(stored, same), branch, models)


def replay_verdict(replay: Replay, texts: Sequence[str]) -> tuple[str, str]:
    """What a finished replay says, and how loudly: identical text, or why it differs."""
    if list(texts) == [column.text for column in replay.stored.columns]:
        return "Replayed: the text is identical to the stored one.", "information"
    if replay.same_weights:
        return "Replayed: the text differs although the checkpoint is the same.", "error"
    return "Replayed: the text differs; the checkpoint file changed since it was stored.", "warning"


def stored_steps(session: StepSession, prompt_typed: str, label: str) -> StoredExchange:
    """What the history keeps of a step-mode exchange: the characters chosen, as one column. The
    weights' hash is left for the thread that stores it (``with_weights_hash``)."""
    checkpoint = session.engine.checkpoint
    assert checkpoint is not None, "step mode runs on a loaded checkpoint"
    return StoredExchange(
        kind="steps",
        prompt=prompt_typed,
        prompt_read=session.prompt.text,
        dropped=list(session.prompt.dropped),
        checkpoint_path=str(checkpoint.metadata_path.resolve()),
        epoch=checkpoint.epoch,
        weights_sha256=None,
        mode="window",
        temperatures=[session.temperature],
        length=len(session.text),
        seed=session.seed,
        top_k=None,
        top_p=None,
        columns=[Column(label=f"steps {label}", text=session.text, temperature=session.temperature)],
    )


def with_weights_hash(stored: StoredExchange) -> StoredExchange:
    """``stored`` with its checkpoint's weights hashed (reads the file: call it in a thread)."""
    weights = Path(stored.checkpoint_path).with_suffix(WEIGHTS_SUFFIX)
    return replace(stored, weights_sha256=weights_sha256(weights))


def stored_score(text: str, summary: str, engine: Engine) -> StoredExchange:
    """What the history keeps of a /score: the scored text as its one column."""
    checkpoint = engine.checkpoint
    return StoredExchange(
        kind="score",
        prompt=f"/score {text}",
        prompt_read=text,
        dropped=[],
        checkpoint_path=str(checkpoint.metadata_path.resolve()),
        epoch=checkpoint.epoch,
        weights_sha256=weights_sha256(checkpoint.weights_path),
        mode="window",
        temperatures=[],
        length=len(text),
        seed=None,
        top_k=None,
        top_p=None,
        columns=[Column(label=summary, text=text)],
    )
