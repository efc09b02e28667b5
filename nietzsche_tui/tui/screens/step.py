"""Step mode (F8): write with the model one character at a time.

textgenrnn's interactive mode lets one pick each next token among the model's top choices; here
every step lists the nine likeliest characters with their probabilities before and after the
temperature, and the one the sampler drew: a digit takes a listed one, Enter the drawn one, any
other character typed goes in as your own, Backspace takes one back, and Esc ends the exchange,
which the chat shows and the history keeps like any other. Each step's distribution is computed
in a thread (``StepSession.choices``): a key never waits for the model.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from nietzsche_tui.engine.prompts import PromptError
from nietzsche_tui.engine.stepping import StepChoices, StepSession
from nietzsche_tui.text import visible
from nietzsche_tui.tui.screens.inspect import choices_table, shown_char


class StepScreen(Screen[StepSession | None]):
    """One exchange written a character at a time; ends with the session (Esc)."""

    BINDINGS = [
        Binding("escape", "finish", "End (keep it)", priority=True, id="step-finish"),
        Binding("enter", "take_sampled", "Take the drawn one", priority=True, id="step-take"),
        Binding("backspace", "undo", "Take one back", priority=True, id="step-undo"),
        *(Binding(str(n), f"take_listed({n})", f"Take row {n}", show=False, id=f"step-row-{n}") for n in range(1, 10)),
    ]

    def __init__(self, session: StepSession, label: str) -> None:
        super().__init__()
        self.session = session
        self.label = label
        self.current: StepChoices | None = None  # None while the next step is computed

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-body"):
            with VerticalScroll(id="inspect-text-box"):
                yield Static(id="step-text", markup=False)
            yield Static(id="inspect-panel", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.advance()

    @work(thread=True, exclusive=True, group="step", exit_on_error=False)
    def advance(self) -> None:
        """Compute the next step's choices for the text as it is now."""
        text = self.session.text
        choices = self.session.choices(text)
        self.app.call_from_thread(self._show, text, choices)

    def _show(self, text: str, choices: StepChoices | None) -> None:
        if text != self.session.text:
            return  # a key changed the text meanwhile: its own step is on the way
        self.current = choices
        body = Text(f"step mode · {self.label} · seed {self.session.seed}\n\n", style="bold")
        body.append(Text(visible(self.session.prompt.text[-300:]), style="dim"))
        body.append(Text(visible(self.session.text)))
        body.append("▏", style="reverse")
        self.query_one("#step-text", Static).update(body)
        self.query_one("#inspect-panel", Static).update(self.panel())

    def panel(self) -> Table | Text:
        if self.current is None:
            return Text("…")
        sampled = self.current.sampled
        rows = [
            (f"{row} ", char, " ◀" if char == sampled else "", before, after)
            for row, (char, before, after) in enumerate(self.current.top, 1)
        ]
        return choices_table(
            f"character {len(self.session.text) + 1}: drawn “{shown_char(sampled)}” (Enter)",
            "a digit takes its row · type your own character · Backspace takes one back · Esc ends",
            self.session.temperature,
            rows,
        )

    def _take(self, char: str) -> None:
        try:
            self.session.take(char)
        except PromptError as error:
            self.notify(f"Not taken: {error}.", severity="warning", markup=False, timeout=3)
            return
        self.current = None
        self._show(self.session.text, None)
        self.advance()

    def action_take_sampled(self) -> None:
        if self.current is not None:
            self._take(self.current.sampled)

    def action_take_listed(self, row: int) -> None:
        if self.current is not None and 0 < row <= len(self.current.top):
            self._take(self.current.top[row - 1][0])

    def action_undo(self) -> None:
        if self.session.text:
            self.session.undo()
            self.current = None
            self._show(self.session.text, None)
            self.advance()

    def on_key(self, event: events.Key) -> None:
        """A character typed that no binding takes goes into the text as the user's own."""
        if event.is_printable and event.character and not event.character.isdigit():
            event.stop()
            event.prevent_default()
            char = event.character.lower() if self.session.engine.lowercase else event.character
            self._take(char)

    def action_finish(self) -> None:
        self.dismiss(self.session if self.session.text else None)
