"""The history screen (F6): every stored exchange, newest first, searchable; open one to read it in
the chat's layout, replay it, continue from it, delete it or export its session to Markdown.

The screen reads and writes through the app's ``HistoryStore`` (history.py); replaying and
continuing are the chat screen's work, asked for through the app.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.history.export import to_markdown
from nietzsche_tui.history.records import Column, StoredExchange, weights_sha256
from nietzsche_tui.history.store import HistoryStore
from nietzsche_tui.text import visible, visible_one_line
from nietzsche_tui.tui.screens.dialogs import SubScreen
from nietzsche_tui.tui.widgets.columns import Exchange


def stored_from_exchange(exchange: Exchange, state: str, fallback: Engine | None) -> StoredExchange:
    """What the history keeps of a finished (or stopped, or failed) exchange. Runs in a thread."""
    generation, request = exchange.generation, exchange.generation.request
    engines = exchange.engines or [fallback]
    checkpoint = engines[-1].checkpoint
    columns = [
        Column(
            label=column.label,
            text=column.text,
            state=state,
            temperature=request.temperatures[0] if generation.labels else request.temperatures[i],
            epoch=engines[i].checkpoint.epoch if i < len(engines) else checkpoint.epoch,
        )
        for i, column in enumerate(exchange.columns)
    ]
    return StoredExchange(
        kind="epochs" if generation.labels else "temperatures",
        prompt=exchange.prompt_typed,
        prompt_read=generation.prompt.text,
        dropped=list(generation.prompt.dropped),
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
    )


def stored_from_score(text: str, summary: str, engine: Engine) -> StoredExchange:
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


class StoredView(Vertical):
    """A stored exchange, read-only, in the chat's layout: the prompt, then its columns side by side."""

    def __init__(self, stored: StoredExchange, highlighted: int | None = None) -> None:
        super().__init__(classes="exchange stored")
        self.stored = stored
        self.highlighted = highlighted

    def compose(self) -> ComposeResult:
        stored = self.stored
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stored.created))
        yield Static(Text(f"› {visible_one_line(stored.prompt[:300])}"), classes="prompt", markup=False)
        details = f"{when} · {stored.kind} · epoch {stored.epoch}"
        if stored.kind != "score":
            details += f" · seed {stored.seed} · {stored.mode} · {stored.length} characters"
        yield Static(Text(details), classes="details", markup=False)
        with Horizontal(classes="columns"):
            for index, column in enumerate(stored.columns):
                classes = "column" + (" -current" if index == self.highlighted else "")
                with Vertical(classes=classes):
                    state = "" if column.state == "done" else f" ■ {column.state}"
                    yield Static(Text(f"{index + 1} · {column.label}{state}"), classes="column-header")
                    yield Static(Text(visible(column.text[-4000:])), classes="column-body", markup=False)


class HistoryScreen(SubScreen):
    """Sessions and exchanges, newest first, with full-text search over prompts and outputs."""

    BINDINGS = [
        Binding("f6,escape", "app.pop_screen", "Chat", id="history-close"),
        Binding("ctrl+r", "replay", "Replay", priority=True, id="history-replay"),
        Binding("ctrl+o", "continue_exchange", "Continue", priority=True, id="history-continue"),
        Binding("ctrl+d", "delete", "Delete", priority=True, id="history-delete"),
        Binding("ctrl+e", "export", "Export session", priority=True, id="history-export"),
        Binding("ctrl+left", "column(-1)", "◀ Col", priority=True, id="history-column-left"),
        Binding("ctrl+right", "column(1)", "Col ▶", priority=True, id="history-column-right"),
        # With the search field focused (as the screen opens), the arrows still move the list.
        Binding("up", "move(-1)", "Up", show=False, id="history-up"),
        Binding("down", "move(1)", "Down", show=False, id="history-down"),
    ]
    DELETE_CONFIRM_SECONDS = 3.0

    def __init__(self, store: HistoryStore | None, why_off: str | None, only_session: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.why_off = why_off
        self.only_session = only_session  # served in a browser: this visitor's session alone
        self._told_skipped = False
        self._delete_asked: tuple[int, float] | None = None  # (exchange id, when Ctrl+D was first pressed)
        self.selected: StoredExchange | None = None
        self.column = 0
        self._shown: dict[int, StoredExchange] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search prompts and outputs (every word must appear)", id="history-search")
        with Horizontal(id="history-body"):
            yield DataTable(id="history-list", cursor_type="row", zebra_stripes=True)
            yield VerticalScroll(id="history-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")
        table = self.query_one("#history-list", DataTable)
        for label in ("when", "session", "kind", "prompt"):
            table.add_column(label, key=label)
        if self.store is None:
            self.query_one("#history-detail").mount(Static(Text(self.why_off or "The history is off.")))
            return
        self.refresh_list()
        self.query_one("#history-search", Input).focus()  # typing searches at once

    def refresh_list(self, search: str | None = None) -> None:
        """List the newest exchanges (or those matching ``search``)."""
        table = self.query_one("#history-list", DataTable)
        table.clear()
        skipped = self.store.skipped if self.store else 0
        found = self.store.exchanges(search=search, session=self.only_session, limit=500) if self.store else []
        if self.store and self.store.skipped > skipped and not self._told_skipped:
            self._told_skipped = True  # once a screen: the count grows with every search
            self.notify(f"Skipped {self.store.skipped - skipped} damaged rows of the history.", severity="warning")
        self._shown = {exchange.id: exchange for exchange in found}
        for exchange in found:
            when = time.strftime("%m-%d %H:%M", time.localtime(exchange.created))
            prompt = visible_one_line(exchange.prompt[:60])
            table.add_row(when, str(exchange.session_id), exchange.kind, prompt, key=str(exchange.id))
        if not found:
            self.show(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_list(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#history-list", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self.column = 0
            self.show(self._shown.get(int(event.row_key.value)))

    NARROW = 110  # columns below which the preview shows one column (Ctrl+← Ctrl+→ switch)

    def on_resize(self, event) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")

    def show(self, exchange: StoredExchange | None) -> None:
        self.selected = exchange
        detail = self.query_one("#history-detail", VerticalScroll)
        detail.remove_children()
        if exchange is None:
            detail.mount(Static(Text("No stored exchange matches." if self.store else (self.why_off or ""))))
        else:
            detail.mount(StoredView(exchange, self.column))

    # -- actions -----------------------------------------------------------------------------

    def action_column(self, delta: int) -> None:
        if self.selected is not None:
            self.column = (self.column + delta) % len(self.selected.columns)
            self.show(self.selected)

    def action_replay(self) -> None:
        if self.selected is not None:
            self.app.replay(self.selected)

    def action_continue_exchange(self) -> None:
        if self.selected is not None:
            self.app.continue_from(self.selected, self.column)

    def action_move(self, rows: int) -> None:
        table = self.query_one("#history-list", DataTable)
        (table.action_cursor_down if rows > 0 else table.action_cursor_up)()

    def action_delete(self) -> None:
        """Ctrl+D asks once: a second Ctrl+D within a few seconds deletes."""
        if self.selected is None or self.store is None:
            return
        asked, self._delete_asked = self._delete_asked, None
        if asked is None or asked[0] != self.selected.id or time.monotonic() - asked[1] > self.DELETE_CONFIRM_SECONDS:
            self._delete_asked = (self.selected.id, time.monotonic())
            self.notify(
                f"Press Ctrl+D again to delete exchange {self.selected.id}.", timeout=self.DELETE_CONFIRM_SECONDS
            )
            return
        self.store.delete(self.selected.id)
        self.notify(f"Deleted exchange {self.selected.id}.", timeout=2)
        self.refresh_list(self.query_one("#history-search", Input).value)

    def action_export(self) -> None:
        if self.selected is None or self.store is None:
            return
        session = self.selected.session_id
        exchanges = list(reversed(self.store.exchanges(session=session, limit=None)))
        markdown = to_markdown(exchanges, f"nietzsche-tui session {session}", full_paths=self.only_session is None)
        self.app.deliver_export(markdown, Path(f"nietzsche-session-{session}.md"))
