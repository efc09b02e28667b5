"""The chat pane: exchanges of a prompt and its temperature columns, streamed live.

Generation runs in an exclusive thread worker owned by ``ChatView``. The thread only appends
characters to an exchange's pending buffers under a lock; a timer on the UI side drains them at
frame rate and updates every column in one batch, and a final drain runs when the stream ends,
stops or fails, so no character is lost or shown twice. Model text is always rendered as plain
``Text``: brackets and asterisks are characters, never markup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from nietzsche_tui.colours import confidence_buckets, painted_buckets, surprisal_buckets
from nietzsche_tui.engine import Generation, describe_characters
from nietzsche_tui.text import PASTED_NEWLINE, visible, visible_one_line

FRAME_SECONDS = 1 / 30
# Painted text costs Textual several times more per frame (a segment per colour run), and frames
# share the interpreter with the generation thread: at 30 frames a second colouring halved the
# stream. At 12 it keeps ~90% of the plain speed (benchmarks/app_startup.py) and still reads live.
PAINTED_FRAME_SECONDS = 1 / 12
MAX_COLUMN_CHARS = 20_000  # characters kept per column; older text is dropped
DISPLAY_CHARS = 4_000  # characters rendered per finished column
LIVE_LINES = 12  # lines per column while streaming (a fixed height: no re-layout per frame)
MAX_EXCHANGES = 20  # older exchanges are removed: each re-layout costs time per widget
MIN_COLUMN_WIDTH = 26  # below this many cells per column the chat shows one column at a time


def temperature_label(temperature: float) -> str:
    return "greedy (T=0)" if temperature == 0 else f"T={temperature:g}"


class TemperatureColumn(Vertical):
    """One column's text (a temperature, or an epoch when epochs are compared), with a header that
    says which and its state."""

    def __init__(self, index: int, label: str) -> None:
        super().__init__(classes="column")
        self.index = index
        self.label = label
        self.text = ""
        self.probabilities: list[float] = []  # the model's probability of each character of text
        self.buckets = b""  # their confidence colours, computed once as they arrive
        self.colour = False  # paint each character by that probability
        self.state = "streaming"  # columns are created as their generation starts
        # Children exist from the start so the stream can update them before they are mounted.
        self.header = Static(self._header(), classes="column-header", markup=False)
        self.body = Static(Text(""), classes="column-body", markup=False)
        self.add_class("-live")

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.body

    def _header(self) -> Text:
        marks = {"streaming": " ●", "stopped": " ■ stopped", "failed": " ✗ failed", "done": ""}
        return Text(f"{self.index + 1} · {self.label}{marks.get(self.state, '')}")

    def extend(self, chars: str, probabilities: Sequence[float]) -> None:
        """Append characters and their probabilities (UI thread) and redraw."""
        self.text = (self.text + chars)[-MAX_COLUMN_CHARS:]
        self.probabilities = (self.probabilities + list(probabilities))[-MAX_COLUMN_CHARS:]
        self.buckets = (self.buckets + confidence_buckets(probabilities))[-MAX_COLUMN_CHARS:]
        self.redraw()

    def _shown(self, count: int) -> Text:
        """The last ``count`` characters, made visible, painted by confidence when colouring."""
        if not self.colour:
            return Text(visible(self.text[-count:]))
        return painted_buckets(self.text[-count:], self.buckets)

    def redraw(self) -> None:
        """While streaming, show the last LIVE_LINES wrapped lines in a fixed-height body, so new
        characters repaint only this column instead of re-laying out the whole chat every frame;
        once finished, show the text in full (its last DISPLAY_CHARS)."""
        if self.state != "streaming":
            self.body.update(self._shown(DISPLAY_CHARS))
            return
        width = self.body.content_size.width
        if width <= 0:
            return  # hidden or not laid out yet; redrawn on resize
        shown = visible(self.text[-LIVE_LINES * width * 2 :])
        lines = list(Text(shown).wrap(self.app.console, width, overflow="fold")[-LIVE_LINES:])
        if self.colour:
            lines = self._paint_lines(shown, lines)
        self.body.update(Text("\n").join(lines), layout=False)

    def _paint_lines(self, shown: str, lines: list[Text]) -> list[Text]:
        """Colour already-wrapped lines: wrapping plain text and painting only the lines on screen
        is several times cheaper than wrapping painted text. Wrapping drops only the whitespace
        between lines, so each line is found in the text by searching back from the end."""
        buckets = self.buckets[-len(shown) :] if shown else b""
        offset = len(shown) - len(buckets)  # characters without a probability (none while streaming)
        end, painted_lines = len(shown), []
        for line in reversed(lines):
            start = shown.rfind(line.plain, 0, end) if line.plain else end
            if start < 0 or start < offset:
                painted_lines.append(line)
                continue
            first = start - offset
            painted_lines.append(painted_buckets(line.plain, buckets[first : first + len(line.plain)]))
            end = start
        return painted_lines[::-1]

    def on_resize(self) -> None:
        self.redraw()

    def set_state(self, state: str) -> None:
        self.state = state
        self.set_class(state == "stopped", "-stopped")
        self.set_class(state == "streaming", "-live")
        self.header.update(self._header())
        self.redraw()


class Exchange(Vertical):
    """A prompt and its reply: one column per temperature, fed by a worker thread."""

    def __init__(self, prompt_shown: str, generation: Generation, notice: str = "") -> None:
        super().__init__(classes="exchange")
        self.prompt_shown = prompt_shown
        self.generation = generation
        self.notice = notice
        self.labels = generation.labels or tuple(temperature_label(t) for t in generation.request.temperatures)
        self._pending: list[list[tuple[str, float]]] = [[] for _ in self.labels]
        self._lock = threading.Lock()
        self.produced = 0  # steps fed by the worker (read under the lock)
        self.started = time.perf_counter()
        self.finished_at: float | None = None
        self.columns = [TemperatureColumn(i, label) for i, label in enumerate(self.labels)]
        self.engines: list = []  # each column's engine (set by the chat screen), for inspecting it
        self.prompt_typed = prompt_shown  # the whole prompt as typed (set by the chat screen)
        self.replay_of = None  # the stored exchange this one replays, if any
        self.replay_same_weights = False

    def compose(self) -> ComposeResult:
        request = self.generation.request
        yield Static(Text(f"› {visible_one_line(self.prompt_shown)}"), classes="prompt", markup=False)
        details = f"seed {request.seed} · {request.mode} · {request.length} characters"
        if self.generation.labels:  # columns are not temperatures: say the one temperature used
            details += f" · T={request.temperatures[0]:g}"
        yield Static(Text(details + (f" · {self.notice}" if self.notice else "")), classes="details", markup=False)
        with Horizontal(classes="columns"):
            yield from self.columns

    def feed(self, chars: Sequence[str], probabilities: Sequence[float]) -> None:
        """Queue one step's characters and their probabilities (any thread)."""
        with self._lock:
            for pending, char, probability in zip(self._pending, chars, probabilities, strict=True):
                pending.append((char, probability))
            self.produced += 1

    def drain(self) -> int:
        """Move queued characters onto the screen (UI thread); return how many steps arrived."""
        with self._lock:
            batches, self._pending = self._pending, [[] for _ in self.labels]
        arrived = len(batches[0])
        if arrived:
            with self.app.batch_update():
                for column, pairs in zip(self.columns, batches, strict=True):
                    column.extend("".join(char for char, _ in pairs), [p for _, p in pairs])
        return arrived

    def finish(self, state: str) -> None:
        """Final flush and the columns' final state (UI thread)."""
        self.drain()
        self.finished_at = time.perf_counter()
        for column in self.columns:
            column.set_state(state)

    def chars_per_second(self) -> float:
        elapsed = (self.finished_at or time.perf_counter()) - self.started
        return self.produced / elapsed if elapsed > 0 else 0.0

    def texts(self) -> list[str]:
        return [column.text for column in self.columns]


class ScoreView(Vertical):
    """A /score prompt's answer: the user's own text painted by how surprised the model was."""

    def __init__(self, prompt_shown: str, text: str, bits: Sequence[float | None], summary: str) -> None:
        super().__init__(classes="exchange score")
        self.prompt_shown = prompt_shown
        self.text = text
        self.bits = list(bits)
        self.summary = summary

    def compose(self) -> ComposeResult:
        yield Static(Text(f"› {visible_one_line(self.prompt_shown)}"), classes="prompt", markup=False)
        yield Static(Text(self.summary), classes="details", markup=False)
        painted = painted_buckets(self.text, surprisal_buckets(self.bits))
        yield Static(painted, classes="score-body", markup=False)


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
        Binding("i", "screen.inspect", "Inspect", show=False, id="inspect"),
        Binding("n", "screen.cells", "Cells", show=False, id="cells"),
    ]
    BOUND_KEYS = frozenset(key for binding in BINDINGS for key in binding.key.split(","))  # the chat's own

    solo: reactive[int | None] = reactive(None)  # a column shown alone, or None for side by side
    current = reactive(0)  # the highlighted column (and the one shown when narrow)
    narrow = reactive(False)
    colour = reactive(False)  # paint characters by the model's confidence

    class Finished(Message):
        """A generation ended: ``state`` is done, stopped or failed."""

        def __init__(self, exchange: Exchange, state: str, error: str | None = None) -> None:
            super().__init__()
            self.exchange = exchange
            self.state = state
            self.error = error

    def __init__(self, temperatures: Sequence[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.temperatures = tuple(temperatures)
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

    def start(self, prompt_shown: str, generation: Generation, notice: str = "") -> Exchange:
        """Add an exchange and stream ``generation`` into it, cancelling any running one."""
        self.query("#welcome").remove()
        exchange = Exchange(prompt_shown, generation, notice)
        for column in exchange.columns:
            column.colour = self.colour
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
        try:
            for step in exchange.generation:
                if worker.is_cancelled:
                    state = "stopped"
                    break
                exchange.feed(step.chars, step.probabilities)
                time.sleep(0)  # hand the GIL to the UI thread between steps: typing stays responsive
        except Exception as failure:  # report in the UI; never let the app exit
            state, error = "failed", f"{type(failure).__name__}: {failure}"
        self.post_message(self.Finished(exchange, state, error))

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


def prompt_notice(dropped: Sequence[str], cut: int) -> str:
    """What the user should know about how their prompt was read."""
    parts = []
    if dropped:
        parts.append(f"dropped unknown characters {describe_characters(list(dropped), limit=8)}")
    if cut:
        parts.append(f"used the last {cut} characters of a long prompt")
    return "; ".join(parts)


class StatusBar(Static):
    """One line: the column shown alone, state, checkpoint, seed, mode and speed, fitted to the width.

    Parts are listed most important first. When the line is too long, the checkpoint switches to
    its short form, then the least important parts are dropped, so the state and the column shown
    are always readable, at any width.
    """

    def show(
        self,
        checkpoint: tuple[str, str],
        mode: str,
        seed: int | None,
        state: str,
        speed: float | None,
        column: str | None = None,
    ) -> None:
        long_name, short_name = checkpoint
        parts = [column, state, long_name, f"seed {seed}" if seed is not None else "seed —", f"mode {mode}"]
        if speed is not None:
            parts.append(f"{speed:,.0f} chars/s")
        parts = [part for part in parts if part]
        self.update(Text(fit_parts(parts, self.content_size.width or 200, {long_name: short_name})), layout=False)


def fit_parts(parts: list[str], width: int, shorter: dict[str, str], separator: str = " · ") -> str:
    """Join ``parts`` within ``width`` cells: use the shorter forms, then drop parts from the end."""
    parts = list(parts)
    if len(separator.join(parts)) > width:
        parts = [shorter.get(part, part) for part in parts]
    while len(parts) > 1 and len(separator.join(parts)) > width:
        parts.pop()
    return separator.join(parts)[:width]


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
