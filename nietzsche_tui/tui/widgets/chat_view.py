"""The chat pane: exchanges of a prompt and its temperature columns, streamed live.

Generation runs in an exclusive thread worker owned by ``ChatView``. The thread only appends
characters to an exchange's pending buffers under a lock; a timer on the UI side drains them at
frame rate and updates every column in one batch, and a final drain runs when the stream ends,
stops or fails, so no character is lost or shown twice. Model text is always rendered as plain
``Text``: brackets and asterisks are characters, never markup.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

from rich.text import Text
from textual import events, work
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.contracts.folder import resolve_checkpoint
from nietzsche_tui.engine.request import Step
from nietzsche_tui.tui.state import ModelState
from nietzsche_tui.tui.turns import Turn, temperature_label
from nietzsche_tui.tui.widgets.columns import Exchange, MarksCopied, TemperatureColumn
from nietzsche_tui.tui.widgets.prompt import PromptInput
from nietzsche_tui.verbatim.source import TrainingIndexes, TrainingTextError

FRAME_SECONDS = 1 / 30
# Painted text costs Textual several times more per frame (a segment per colour run), and frames
# share the interpreter with the generation thread: at 30 frames a second colouring halved the
# stream. At 12 it keeps ~90% of the plain speed (benchmarks/app_startup.py) and still reads live.
PAINTED_FRAME_SECONDS = 1 / 12
MAX_EXCHANGES = 20  # older exchanges are removed: each re-layout costs time per widget
MIN_COLUMN_WIDTH = 26  # below this many cells per column the chat shows one column at a time


class ChatView(VerticalScroll, can_focus=True):
    """The scrolling chat: exchanges above, the newest at the bottom, one generation at a time.

    Column keys live here, so they work when the chat has focus and never while typing.
    """

    BINDINGS = [
        *(Binding(str(n), f"solo({n - 1})", f"Solo {n}", show=False, id=f"solo-{n}") for n in range(1, 10)),
        Binding("0", "show_all", "All columns", show=False, id="show-all"),
        Binding("left", "step_column(-1)", "Previous column", show=False, id="column-left"),
        Binding("right", "step_column(1)", "Next column", show=False, id="column-right"),
        Binding("p", "toggle_colour", "Confidence colours", show=False, id="confidence-colours"),
        Binding("v", "toggle_copied", "Copied spans", show=False, id="copied-spans"),
        Binding("i", "screen.inspect", "Inspect", show=False, id="inspect"),
        Binding("n", "screen.cells", "Cells", show=False, id="cells"),
    ]
    BOUND_KEYS = frozenset(key for binding in BINDINGS for key in binding.key.split(","))  # the chat's own

    solo: reactive[int | None] = reactive(None)  # a column shown alone, or None for side by side
    current = reactive(0)  # the highlighted column (and the one shown when narrow)
    narrow = reactive(False)
    colour = reactive(False)  # paint characters by the model's confidence
    copied = reactive(False)  # underline the spans found word for word in the training text

    class Finished(Message):
        """A generation ended: ``state`` is done, stopped or failed."""

        def __init__(self, exchange: Exchange, state: str, error: str | None = None) -> None:
            super().__init__()
            self.exchange = exchange
            self.state = state
            self.error = error

    def __init__(
        self, temperatures: Sequence[float], models: ModelState, indexes: TrainingIndexes | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.temperatures = tuple(temperatures)
        self.models = models  # its process computes the generations (when there is one)
        self.indexes = indexes or TrainingIndexes()  # the training texts' indexes, for copied spans
        self._told_process_failure = False
        self.active: Exchange | None = None
        self._draining: set[Exchange] = set()
        self._told_trim = False

    def on_key(self, event: events.Key) -> None:
        """A key the chat has no binding for goes back to the prompt: a printable one is typed
        there (after Tab, or Esc out of inspect, "What IS Truth?" lost every other letter to the
        chat's one-letter keys), and Esc returns focus to it (the app's Esc still stops)."""
        if event.key == "escape":
            self._to_prompt()
            return
        if event.key in self.BOUND_KEYS or not event.is_printable or not event.character:
            return
        prompt = self._to_prompt()
        if prompt is not None:
            prompt.cursor_position = len(prompt.value)
            prompt.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def _to_prompt(self) -> PromptInput | None:
        prompts = self.screen.query(PromptInput)
        if not prompts:
            return None
        prompts.first().focus()
        return prompts.first()

    def on_mount(self) -> None:
        self.anchor()
        # Runs only while something streams: an idle app wakes for nothing.
        self._flush_timer: Timer = self.set_interval(FRAME_SECONDS, self.flush, pause=True)

    # -- streaming --------------------------------------------------------------------------

    def show_welcome(self, text: str) -> None:
        """Update the line shown before the first exchange; a no-op once exchanges replaced it."""
        for welcome in self.query("#welcome").results(Static):
            welcome.update(Text(text))

    def start(self, turn: Turn) -> Exchange:
        """Add an exchange showing ``turn`` and stream its generation, cancelling any running one."""
        self.query("#welcome").remove()
        exchange = Exchange(turn)
        for column in exchange.columns:
            column.colour = self.colour
            column.show_copied = self.copied
        self.active = exchange
        self.current = min(self.current, self.column_count - 1)
        if self.solo is not None and self.solo >= self.column_count:
            self.solo = None
        self.on_resize()
        self._draining.add(exchange)
        self.mount(exchange)
        self._trim()
        self.call_after_refresh(self._apply_view, [exchange])
        self.anchor()
        self._flush_timer.resume()
        self._stream(exchange)
        return exchange

    def add_score(self, view: Vertical) -> None:
        """Add a finished view below the exchanges: a scored text (/score), or a stored exchange."""
        self.query("#welcome").remove()
        self.mount(view)
        self._trim()
        self.anchor()
        if self.copied and hasattr(view, "copied_sources"):
            self.mark_copied([], [view])

    def _trim(self) -> None:
        older = list(self.query(".exchange"))[:-MAX_EXCHANGES]
        for old in older:
            self._draining.discard(old)
            old.remove()
        if older and not self._told_trim:
            self._told_trim = True  # once: the chat keeps the newest, the history keeps them all
            self.notify(f"The chat shows the last {MAX_EXCHANGES} exchanges; older ones are in the history (F6).")

    @work(thread=True, exclusive=True, group="generation", exit_on_error=False)
    def _stream(self, exchange: Exchange) -> None:
        # Runs in a thread: touches only the exchange's locked buffers, then posts one message.
        worker = get_current_worker()
        state, error = "done", None
        process = self.models.process
        try:
            with contextlib.closing(self._steps(exchange.turn)) as steps:
                for step in steps:
                    if worker.is_cancelled:
                        state = "stopped"
                        break
                    exchange.feed(step.chars, step.probabilities)
                    if process is None:
                        time.sleep(0)  # hand the GIL to the UI thread between steps: typing stays responsive
        except Exception as failure:  # report in the UI; never let the app exit
            state, error = "failed", f"{type(failure).__name__}: {failure}"
        if process is not None and process.failure and not self._told_process_failure:
            self._told_process_failure = True
            self.app.call_from_thread(self.notify, process.failure, severity="warning", markup=False)
        self.post_message(self.Finished(exchange, state, error))

    def _steps(self, turn: Turn) -> Iterator[Step]:
        """The turn's steps: from the generation child when the app has one, else computed here."""
        process = self.models.process
        if process is None:
            return iter(turn.generation)
        engines = turn.engines if turn.compares_epochs else turn.engines[:1]
        return process.stream(engines, turn.request, turn.columns)

    @property
    def labels(self) -> tuple[str, ...]:
        """The newest exchange's column labels (the configured temperatures before any exchange)."""
        if self.active is not None:
            return self.active.labels
        return tuple(temperature_label(t) for t in self.temperatures)

    @property
    def column_count(self) -> int:
        return len(self.labels)

    def column_indicator(self) -> str | None:
        """A label like "2/4 · T=0.5" when one column shows alone (solo or narrow), else None."""
        if not self.shows_one:
            return None
        index = self.visible_columns()[0]
        return f"{index + 1}/{self.column_count} · {self.labels[index]}"

    def stop(self) -> bool:
        """Cancel the running generation; True when there was one."""
        running = self.is_generating
        self.workers.cancel_group(self, "generation")
        return running

    @property
    def is_generating(self) -> bool:
        """True until the newest exchange's final characters are on screen."""
        return self.active is not None and self.active in self._draining

    def flush(self) -> None:
        for exchange in list(self._draining):
            if exchange.is_attached:
                exchange.drain()

    def on_chat_view_finished(self, message: Finished) -> None:
        exchange = message.exchange
        self._draining.discard(exchange)
        if not self._draining:
            self._flush_timer.pause()
        if exchange.is_attached:
            exchange.finish(message.state)
            if self.copied:
                self.mark_copied([exchange])

    # -- which columns show ------------------------------------------------------------------

    def on_resize(self) -> None:
        self.narrow = self.size.width < self.column_count * MIN_COLUMN_WIDTH

    class ViewChanged(Message):
        """Which columns show changed (the status line names the one shown alone)."""

    def watch_solo(self) -> None:
        self._apply_view()
        self.post_message(self.ViewChanged())

    def watch_current(self) -> None:
        self._apply_view()
        self.post_message(self.ViewChanged())

    def action_toggle_colour(self) -> None:
        self.colour = not self.colour

    def watch_colour(self, colour: bool) -> None:
        if hasattr(self, "_flush_timer"):
            running = bool(self._draining)
            self._flush_timer.stop()
            interval = PAINTED_FRAME_SECONDS if colour else FRAME_SECONDS
            self._flush_timer = self.set_interval(interval, self.flush, pause=not running)
        with self.app.batch_update():
            for column in self.query(TemperatureColumn):
                column.colour = colour
                column.redraw()
        self.post_message(self.ViewChanged())

    def action_toggle_copied(self) -> None:
        self.copied = not self.copied

    def _views_marking_copied(self) -> list[MarksCopied]:
        """The chat's /score answers and stored exchanges (the other texts v marks)."""
        return [child for child in self.children if hasattr(child, "copied_sources")]  # type: ignore[misc]

    def watch_copied(self, copied: bool) -> None:
        with self.app.batch_update():
            for column in self.query(TemperatureColumn):
                column.show_copied = copied
                column.redraw()
            if not copied:
                for view in self._views_marking_copied():
                    for part, text, _ in view.copied_sources():
                        view.show_copying(part, text, None)
        if copied:
            self.mark_copied(list(self.query(Exchange)), self._views_marking_copied())
        self.post_message(self.ViewChanged())

    @work(thread=True, group="copied", exit_on_error=False)
    def mark_copied(self, exchanges: list[Exchange], views: Sequence[MarksCopied] = ()) -> None:
        """Find the copied spans of each finished column, and of the /score answers and stored
        exchanges shown (the index is opened, and built the first time, here: it reads and hashes
        the training text; a stored exchange's checkpoint is read here too)."""
        try:
            for exchange in exchanges:
                for column, engine in zip(exchange.columns, exchange.engines, strict=True):
                    if column.copying is not None or column.state == "streaming":
                        continue
                    text = column.text
                    index, found = self.indexes.open(engine.metadata)
                    self.app.call_from_thread(column.set_copying, text, index.copying(found.as_seen(text)))
            for view in views:
                for part, text, checkpoint in view.copied_sources():
                    index, found = self.indexes.open(resolve_checkpoint(checkpoint).metadata)
                    self.app.call_from_thread(view.show_copying, part, text, index.copying(found.as_seen(text)))
        except (TrainingTextError, CheckpointError) as error:
            self.app.call_from_thread(self._no_copied_spans, str(error))

    def _no_copied_spans(self, reason: str) -> None:
        if self.copied:
            self.copied = False
            self.notify(f"No copied spans: {reason}", severity="warning", markup=False, timeout=8)

    def watch_narrow(self) -> None:
        self._apply_view()
        self.post_message(self.ViewChanged())

    @property
    def shows_one(self) -> bool:
        return self.solo is not None or self.narrow

    def visible_columns(self) -> list[int]:
        """Indices of the columns on screen now."""
        if self.solo is not None:
            return [self.solo]
        return [self.current] if self.narrow else list(range(self.column_count))

    def _apply_view(self, exchanges: list[Exchange] | None = None) -> None:
        visible = set(self.visible_columns())
        targets = self.query(TemperatureColumn) if exchanges is None else [c for e in exchanges for c in e.columns]
        for column in targets:
            column.display = column.index in visible
            column.set_class(column.index == self.current and not self.shows_one, "-current")

    def action_solo(self, index: int) -> None:
        if index < self.column_count:
            self.solo = index
            self.current = index

    def action_show_all(self) -> None:
        if self.narrow:
            self.notify("Too narrow for every column side by side: F2/F3 switch columns; widen the terminal for all.")
        self.solo = None

    def action_step_column(self, delta: int) -> None:
        self.current = (self.current + delta) % self.column_count
        if self.solo is not None:
            self.solo = self.current

    def toggle_solo(self) -> None:
        if self.narrow:
            self.notify("Too narrow for every column side by side: one shows at a time (F2/F3 switch).")
        self.solo = None if self.solo is not None else self.current
