"""Small shared state the app hands to its screens: which model is in use, and what the app was
asked to do on the command line. No widgets here, so any screen can take them."""

from __future__ import annotations

from dataclasses import dataclass, field

from nietzsche_tui.contracts.training import TrainingBounds
from nietzsche_tui.engine.generation import DEFAULT_LENGTH, DEFAULT_TEMPERATURES, Engine
from nietzsche_tui.history.store import DEFAULT_MAX_EXCHANGES


@dataclass(frozen=True)
class Settings:
    """What the command line controls."""

    checkpoint: str | None = None
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = DEFAULT_LENGTH
    seed: int | None = None  # None: a fresh seed for every prompt
    mode: str = "window"
    show_speed: bool = True  # snapshot tests turn the live figure off
    corpus: str | None = None  # pre-fills the training form
    follow: bool = True  # load each new checkpoint of a live run as it completes
    history: str | None = None  # the history database; None: the default location
    keep_history: bool = True  # --no-history keeps nothing
    resume: bool = False  # reopen the last session's exchanges in the chat
    max_history: int = DEFAULT_MAX_EXCHANGES  # exchanges kept; the oldest go first
    served: bool = False  # running in a browser tab for `nietzsche-tui serve`: the user is not the owner
    allow_training: bool = True  # served: only when the operator passed --allow-training
    training_bounds: TrainingBounds = field(default_factory=TrainingBounds)  # served: the operator's bounds


@dataclass
class ModelState:
    """The one truth about the model in use: every place that shows it reads it from here."""

    engine: Engine | None = None
    problem: str | None = None  # why the last load failed (the engine, if any, is the older one)

    def summary(self) -> tuple[str, str]:
        """Which model is in use, long form and short form."""
        if self.engine is None:
            text = "no model loaded" if self.problem else "loading…"
            return text, text
        checkpoint = self.engine.checkpoint
        failed = " (reload failed)" if self.problem else ""
        return checkpoint.describe() + failed, checkpoint.describe_short() + failed
