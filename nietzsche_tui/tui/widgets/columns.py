"""One exchange's columns: its prompt, and a column per temperature (or epoch) streaming text."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from nietzsche_tui.history.records import StoredExchange
from nietzsche_tui.text import visible, visible_one_line
from nietzsche_tui.tui.colours import confidence_buckets, paint_copied, painted_buckets, surprisal_buckets
from nietzsche_tui.tui.turns import Turn
from nietzsche_tui.verbatim.spans import Copying

if TYPE_CHECKING:
    from nietzsche_tui.engine.generation import Engine, Generation

MAX_COLUMN_CHARS = 20_000  # characters kept per column; older text is dropped
DISPLAY_CHARS = 4_000  # characters rendered per finished column
LIVE_LINES = 12  # lines per column while streaming (a fixed height: no re-layout per frame)


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
        self.copying: Copying | None = None  # its spans found in the training text, once finished
        self.show_copied = False  # underline them
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
        """The last ``count`` characters, made visible, painted by confidence when colouring and
        with the copied spans underlined when they are shown."""
        text = self.text[-count:]
        shown = painted_buckets(text, self.buckets) if self.colour else Text(visible(text))
        if self.show_copied and self.copying is not None:
            paint_copied(shown, self.copying, len(self.text) - len(text))
        return shown

    def set_copying(self, text: str, copying: Copying) -> None:
        """The spans a worker found for ``text`` (UI thread); kept only if the text is still that."""
        if text == self.text:
            self.copying = copying
            self.redraw()

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
    """Shows one ``Turn``: its prompt and a column per temperature (or epoch), fed by a worker thread."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes="exchange")
        self.turn = turn
        self.labels = turn.labels
        self._pending: list[list[tuple[str, float]]] = [[] for _ in self.labels]
        self._lock = threading.Lock()
        self.produced = 0  # steps fed by the worker (read under the lock)
        self.started = time.perf_counter()
        self.finished_at: float | None = None
        self.columns = [TemperatureColumn(i, label) for i, label in enumerate(self.labels)]

    # The turn's parts, read-only: the record is the truth, the widget only shows it.
    @property
    def generation(self) -> Generation:
        return self.turn.generation

    @property
    def prompt_typed(self) -> str:
        return self.turn.prompt_typed

    @property
    def engines(self) -> tuple[Engine, ...]:
        return self.turn.engines

    @property
    def replay_of(self) -> StoredExchange | None:
        return self.turn.replay.stored if self.turn.replay else None

    def compose(self) -> ComposeResult:
        turn, request = self.turn, self.turn.request
        yield Static(Text(f"› {visible_one_line(turn.prompt_shown)}"), classes="prompt", markup=False)
        details = f"seed {request.seed} · {request.mode} · {request.length} characters"
        if turn.compares_epochs:  # columns are not temperatures: say the one temperature used
            details += f" · T={request.temperatures[0]:g}"
        yield Static(Text(details + (f" · {turn.notice}" if turn.notice else "")), classes="details", markup=False)
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


class MarksCopied(Protocol):
    """A view besides an ``Exchange`` whose texts v marks: a /score, a stored exchange shown in
    the chat. ``copied_sources`` says each text and the checkpoint whose training text it is
    looked up in; ``show_copying`` redraws one of them with its spans (None: unmarked)."""

    def copied_sources(self) -> list[tuple[int, str, str]]: ...

    def show_copying(self, part: int, text: str, copying: Copying | None) -> None: ...


class ScoreView(Vertical):
    """A /score prompt's answer: the user's own text painted by how surprised the model was."""

    def __init__(
        self, prompt_shown: str, text: str, bits: Sequence[float | None], summary: str, checkpoint: str = ""
    ) -> None:
        super().__init__(classes="exchange score")
        self.prompt_shown = prompt_shown
        self.text = text
        self.bits = list(bits)
        self.summary = summary
        self.checkpoint = checkpoint  # the model that scored it: its training text is where v looks
        self.body = Static(self._painted(None), classes="score-body", markup=False)

    def compose(self) -> ComposeResult:
        yield Static(Text(f"› {visible_one_line(self.prompt_shown)}"), classes="prompt", markup=False)
        yield Static(Text(self.summary), classes="details", markup=False)
        yield self.body

    def _painted(self, copying: Copying | None) -> Text:
        painted = painted_buckets(self.text, surprisal_buckets(self.bits))
        return paint_copied(painted, copying) if copying is not None else painted

    def copied_sources(self) -> list[tuple[int, str, str]]:
        return [(0, self.text, self.checkpoint)] if self.checkpoint else []

    def show_copying(self, part: int, text: str, copying: Copying | None) -> None:
        self.body.update(self._painted(copying))
