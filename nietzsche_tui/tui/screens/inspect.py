"""Looking inside one column: the alternatives at each character (i) and the cells (n).

Both screens take a finished (or stopped) column and the engine that wrote it, and recompute
what they show from the text: generation is deterministic in its inputs, so nothing had to be
stored while streaming and generation ran at full speed.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from nietzsche_tui.engine.analysis import ScoreError, alternatives, cell_activations, rank_activations
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.text import visible_one_line
from nietzsche_tui.tui.colours import paint_copied, painted_activations, painted_buckets
from nietzsche_tui.tui.widgets.columns import TemperatureColumn
from nietzsche_tui.verbatim.index import VerbatimIndex

BAR_WIDTH = 12


def shown_char(char: str) -> str:
    """A character as a person can see it in a table: space as ␣, newline as ↵."""
    return "␣" if char == " " else visible_one_line(char)


def bar(probability: float) -> str:
    filled = probability * BAR_WIDTH
    return "█" * int(filled) + ("▌" if filled - int(filled) >= 0.5 else "")


def choices_table(
    title: str,
    caption: str,
    temperature: float,
    rows: list[tuple[str, str, str, float, float]],
    highlighted: int | None = None,
) -> Table:
    """The characters the model weighed, one row each: (key, character, mark, probability,
    probability after the temperature), as bars and figures; the ``highlighted`` row stands out.
    Inspect (i) and step mode (F8) show their choices so."""
    table = Table(title=title, caption=caption, expand=True)
    table.add_column("key · char", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("p", justify="right")
    table.add_column(f"after T={temperature:g}", no_wrap=True)
    table.add_column("p", justify="right")
    for index, (key, char, mark, before, after) in enumerate(rows):
        cells = (f"{key}{shown_char(char)}{mark}", bar(before), f"{before:.3f}", bar(after), f"{after:.3f}")
        table.add_row(*cells, style="bold on grey30" if index == highlighted else None)
    return table


class InspectScreen(Screen[tuple[int, str] | None]):
    """A cursor over one column's text; the side panel shows what the model weighed at the cursor.

    Picking one of the listed characters (its digit, or Enter on the highlighted row) ends the
    screen with (cursor, character): the chat continues the column from there with that character
    instead, as a branch."""

    BINDINGS = [
        Binding("escape,i", "app.pop_screen", "Back", id="inspect-close"),
        Binding("up", "row(-1)", "▲ row", priority=True, id="inspect-row-up"),
        Binding("down", "row(1)", "▼ row", priority=True, id="inspect-row-down"),
        Binding("enter", "branch", "Branch here", priority=True, id="inspect-branch"),
        *(
            Binding(str(n), f"branch({n})", f"Branch with row {n}", show=False, id=f"inspect-branch-{n}")
            for n in range(1, 10)
        ),
        Binding("left", "move(-1)", "◀", priority=True, id="inspect-left"),
        Binding("right", "move(1)", "▶", priority=True, id="inspect-right"),
        Binding("ctrl+left", "word(-1)", "◀ word", priority=True, id="inspect-word-left"),
        Binding("ctrl+right", "word(1)", "word ▶", priority=True, id="inspect-word-right"),
        Binding("home", "edge(0)", "Start", priority=True, id="inspect-home"),
        Binding("end", "edge(1)", "End", priority=True, id="inspect-end"),
    ]

    def __init__(
        self,
        column: TemperatureColumn,
        prompt: str,
        engine: Engine,
        temperature: float,
        request,
        index: VerbatimIndex | None = None,
        served: bool = False,
    ) -> None:
        super().__init__()
        self.text = column.text
        self.buckets = column.buckets
        self.copying = column.copying  # the column's copied spans (found once the index is open)
        self.index = index  # the training text's index, for the passage a span comes from
        self.served = served  # a visitor's tab: the training text is the operator's, never shown
        self.label = column.label
        self.prompt = prompt
        self.engine = engine
        self.temperature = temperature
        self.request = request
        self.cursor = max(0, len(self.text) - 1)
        self.row = 0  # the highlighted alternative (Enter branches with it)
        self.listed: list[str] = []  # the alternatives the panel lists, in its order

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-body"):
            with VerticalScroll(id="inspect-text-box"):
                yield Static(id="inspect-text", markup=False)
            yield Static(id="inspect-panel", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def context(self) -> str:
        """What the model had read before the character at the cursor (prompt included)."""
        return self.prompt + self.text[: self.cursor]

    def show(self) -> None:
        if not self.text:
            self.query_one("#inspect-text", Static).update(Text("This column has no text yet."))
            return
        body = Text(f"column {self.label}\n\n", style="bold")
        body.append(Text(visible_one_line(self.prompt[-200:]), style="dim"))
        shown = painted_buckets(self.text, self.buckets)
        if self.copying is not None:
            paint_copied(shown, self.copying)
        shown.stylize("reverse", self.cursor, self.cursor + 1)
        body.append(shown)
        self.query_one("#inspect-text", Static).update(body)
        self.query_one("#inspect-panel", Static).update(self.panel())

    def panel(self) -> Table | Text:
        request = self.request
        try:
            seen = alternatives(
                self.engine,
                self.context(),
                self.text[self.cursor],
                self.temperature,
                request.top_k,
                request.top_p,
                mode=request.mode,
            )
        except ScoreError as error:
            return Text(str(error))
        truncation = "".join(
            f", {name} {value}" for name, value in (("top-k", request.top_k), ("top-p", request.top_p)) if value
        )
        self.listed = [char for char, _, _ in seen.top]
        self.row = min(self.row, len(self.listed) - 1)
        rows = []
        for row, (char, before, after) in enumerate(seen.top, 1):
            mark = " ◀" if char == seen.chosen else ""
            if row > 10 and mark:  # listed although it is not among the 10 likeliest
                mark = f" ◀ (rank {seen.chosen_rank})"
            rows.append((f"{row} " if row < 10 else "  ", char, mark, before, after))
        return choices_table(
            f"character {self.cursor + 1} of {len(self.text)}: {shown_char(seen.chosen)!s} "
            f"(rank {seen.chosen_rank}, p={seen.chosen_probability:.3f})",
            f"entropy {seen.entropy_bits:.2f} bits · T={self.temperature:g}{truncation}\n"
            f"read: “{visible_one_line(seen.context[-60:])}”\n{self.copied_line()}",
            self.temperature,
            rows,
            self.row,
        )

    def action_row(self, delta: int) -> None:
        if self.listed:
            self.row = (self.row + delta) % len(self.listed)
            self.show()

    def action_branch(self, row: int | None = None) -> None:
        """Branch here with the listed character ``row`` (1-based), or the highlighted one."""
        index = self.row if row is None else row - 1
        if not self.text or not 0 <= index < len(self.listed):
            return
        self.dismiss((self.cursor, self.listed[index]))

    def copied_line(self) -> str:
        """Whether the character at the cursor is inside a copied span, and where it comes from."""
        if self.copying is None or self.index is None:
            return "copied: v in the chat looks for spans copied from the training text"
        span = self.copying.at(self.cursor)
        if span is None:
            return f"copied: no (no span of {self.index.min_span}+ characters here is in the training text)"
        if self.served:
            return f"copied: {span.length} characters of the training text"
        passage = visible_one_line(self.index.passage(span, context=20))
        return f"copied: {span.length} characters from line {span.line:,}\n“…{passage}…”"

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(len(self.text) - 1, self.cursor + delta))
        self.show()

    def action_word(self, direction: int) -> None:
        """Jump to the start of the next or previous word."""
        position, text = self.cursor, self.text
        if direction > 0:
            while position < len(text) - 1 and not text[position].isspace():
                position += 1
            while position < len(text) - 1 and text[position].isspace():
                position += 1
        else:
            position = max(0, position - 1)
            while position > 0 and text[position].isspace():
                position -= 1
            while position > 0 and not text[position - 1].isspace():
                position -= 1
        self.cursor = position
        self.show()

    def action_edge(self, end: int) -> None:
        self.cursor = max(0, len(self.text) - 1) if end else 0
        self.show()


class CellScreen(Screen[None]):
    """One column's text coloured by one LSTM cell's activation; cells ranked by what they track."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="cells-close")]

    def __init__(self, column: TemperatureColumn, prompt: str, engine: Engine) -> None:
        super().__init__()
        self.full_text = prompt + column.text
        self.prompt_length = len(prompt)
        self.label = column.label
        self.engine = engine
        self.cell = 0
        self.activations: list[float | None] = []
        self._states = None
        self._positions = None
        self.painted: Text | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="cells-body"):
            with VerticalScroll(id="cells-text-box"):
                yield Static("Computing the cells' activations…", id="cells-text", markup=False)
            with Vertical(id="cells-side"):
                yield Input(placeholder=f"cell number, 0-{self.engine.units - 1}", id="cell-number")
                yield OptionList(id="cell-ranking")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cell-number", Input).focus()  # a cell number is what one types here
        self.compute()

    @work(thread=True, exclusive=True)
    def compute(self) -> None:
        try:
            positions, states = cell_activations(self.engine, self.full_text)
            ranked = rank_activations(self.full_text, positions, states, top=3, lowercase=self.engine.lowercase)
        except ScoreError as error:
            self.app.call_from_thread(self.query_one("#cells-text", Static).update, Text(str(error)))
            return
        self.app.call_from_thread(self._computed, positions, states, ranked)

    def _computed(self, positions, states, ranked) -> None:
        self._positions, self._states = positions, states
        options = self.query_one("#cell-ranking", OptionList)
        for name, cells in ranked.items():
            for cell, r in cells:
                options.add_option(Option(f"cell {cell:>3} · {name} r={r:+.2f}", id=f"{name}-{cell}"))
        best = max((c for cells in ranked.values() for c in cells), key=lambda item: abs(item[1]))
        self.select(best[0])

    def select(self, cell: int) -> None:
        if self._states is None:
            return
        self.cell = cell
        values: list[float | None] = [None] * len(self.full_text)
        for position, value in zip(self._positions.tolist(), self._states[:, cell].tolist(), strict=True):
            values[position] = value
        body = Text(f"column {self.label} · cell {cell} (blue −1 · white 0 · red +1)\n\n", style="bold")
        self.painted = painted_activations(self.full_text, values)  # the text as this cell paints it
        body.append(self.painted)
        body.stylize("underline", len(body) - len(self.full_text), len(body) - len(self.full_text) + self.prompt_length)
        self.query_one("#cells-text", Static).update(body)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.select(int(str(event.option.id).rsplit("-", 1)[1]))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.select(int(str(event.option.id).rsplit("-", 1)[1]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            cell = int(event.value)
        except ValueError:
            cell = -1
        if not 0 <= cell < self.engine.units:
            self.notify(f"cells are numbered 0 to {self.engine.units - 1}", severity="warning")
            return
        self.select(cell)
