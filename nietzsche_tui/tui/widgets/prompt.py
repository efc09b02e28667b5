"""The prompt line, and the model's suggestion as you type."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events
from textual.suggester import Suggester
from textual.widgets import Input

from nietzsche_tui.text import PASTED_NEWLINE

if TYPE_CHECKING:
    from nietzsche_tui.engine.generation import Engine

# Typing fast, a suggestion is computed only for the text that stays this long: the keystrokes
# in between start nothing (each would cost the model a few milliseconds to a tenth of a second).
SUGGESTION_PAUSE_SECONDS = 0.06


class ModelSuggester(Suggester):
    """Textual's suggester, asking the model: its answer is computed in a thread, never on the
    UI's, and an answer for a text that has changed meanwhile is dropped (by ``Input``, which
    shows a suggestion only for the value it was made for, and here, before computing)."""

    def __init__(self, engine: Callable[[], Engine | None], mode: str, enabled: Callable[[], bool]) -> None:
        # Textual's own cache would also keep the None of a skipped (stale) text: ours keeps answers.
        super().__init__(use_cache=False, case_sensitive=True)
        self.engine = engine
        self.mode = mode
        self.enabled = enabled
        self.latest = ""  # the text typed most recently (set by the prompt on every change)
        self._answers: OrderedDict[tuple[str, str], str] = OrderedDict()

    async def get_suggestion(self, value: str) -> str | None:
        engine = self.engine()
        if engine is None or not self.enabled() or not value.strip():
            return None
        # By the checkpoint file, not the engine object: a reloaded model that is another epoch is
        # another key, and a new engine never inherits a freed one's answers.
        key = (str(engine.checkpoint.metadata_path) if engine.checkpoint else f"weights {id(engine)}", value)
        if key not in self._answers:
            await asyncio.sleep(SUGGESTION_PAUSE_SECONDS)
            if value != self.latest:
                return None  # typed on: a later keystroke asks for its own
            from nietzsche_tui.engine.suggestions import suggest_continuation  # a model is loaded: cheap

            text = value.replace(PASTED_NEWLINE, "\n")
            self._answers[key] = await asyncio.to_thread(suggest_continuation, engine, text, self.mode)
            while len(self._answers) > 256:
                self._answers.popitem(last=False)
        completion = self._answers[key]
        return value + completion if completion else None


class PromptInput(Input):
    """The one-line prompt. A paste keeps every line: newlines show as ↵ and are sent as newlines
    (Textual's Input keeps only a paste's first line). With a ``ModelSuggester``, the model's
    continuation shows dimmed after the cursor: → takes it all, Ctrl+→ one word."""

    def watch_value(self, value: str) -> None:
        if isinstance(self.suggester, ModelSuggester):
            self.suggester.latest = value

    @property
    def suggestion(self) -> str:
        """The suggested text shown now (the value and its dimmed continuation), or ""."""
        return self._suggestion

    def clear_suggestion(self) -> None:
        self._suggestion = ""

    def action_cursor_right_word(self, select: bool = False) -> None:
        suggestion = self._suggestion
        if select or not self.cursor_at_end or len(suggestion) <= len(self.value):
            super().action_cursor_right_word(select)
            return
        rest = suggestion[len(self.value) :]
        start = len(rest) - len(rest.lstrip())
        end = next((i for i in range(start, len(rest)) if rest[i].isspace()), len(rest))
        self.value += rest[:end]
        self.cursor_position = len(self.value)
        self._suggestion = suggestion  # the rest still follows the longer text

    def _on_paste(self, event: events.Paste) -> None:
        event.prevent_default()  # replaces Input's handler, which would drop all but the first line
        event.stop()
        if not event.text:
            return
        text = event.text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", PASTED_NEWLINE)
        if self.selection.is_empty:
            self.insert_text_at_cursor(text)
        else:
            self.replace(text, *self.selection)

    @property
    def prompt_text(self) -> str:
        """The prompt as typed and pasted, with real newlines."""
        return self.value.replace(PASTED_NEWLINE, "\n")
