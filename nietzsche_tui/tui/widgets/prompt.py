"""The prompt line."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from nietzsche_tui.text import PASTED_NEWLINE


class PromptInput(Input):
    """The one-line prompt. A paste keeps every line: newlines show as ↵ and are sent as newlines
    (Textual's Input keeps only a paste's first line)."""

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
