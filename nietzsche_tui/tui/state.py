"""Small shared state the app hands to its screens: which model is in use. No widgets here, so
any screen can take it (what the app was asked to do is ``nietzsche_tui.settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nietzsche_tui.engine.generation import Engine
    from nietzsche_tui.engine.process import GenerationProcess


@dataclass
class ModelState:
    """The one truth about the model in use: every place that shows it reads it from here."""

    engine: Engine | None = None
    problem: str | None = None  # why the last load failed (the engine, if any, is the older one)
    process: GenerationProcess | None = None  # where generations compute; None: the app's own process

    def summary(self) -> tuple[str, str]:
        """Which model is in use, long form and short form."""
        if self.engine is None:
            text = "no model loaded" if self.problem else "loading…"
            return text, text
        checkpoint = self.engine.checkpoint
        failed = " (reload failed)" if self.problem else ""
        return checkpoint.describe() + failed, checkpoint.describe_short() + failed
