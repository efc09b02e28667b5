"""The history screen (F6): every stored exchange, newest first, searchable; open one to read it in
the chat's layout, replay it, continue from it, delete it or export its session to Markdown.

The screen reads the app's ``HistoryStore`` in a thread worker (the list follows every key of
the search); replaying, continuing and exporting are asked of the app by messages.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from nietzsche_tui.history.export import to_markdown
from nietzsche_tui.history.records import Branch, StoredExchange
from nietzsche_tui.history.store import HistoryStore
from nietzsche_tui.text import visible, visible_one_line
from nietzsche_tui.tui.colours import paint_copied
from nietzsche_tui.tui.widgets.columns import DISPLAY_CHARS as SHOWN_CHARS
from nietzsche_tui.verbatim.spans import Copying


class StoredView(Vertical):
    """A stored exchange, read-only, in the chat's layout: the prompt, then its columns side by side."""

    def __init__(self, stored: StoredExchange, highlighted: int | None = None) -> None:
        super().__init__(classes="exchange stored")
        self.stored = stored
        self.highlighted = highlighted
        self.bodies = [
            Static(Text(visible(column.text[-SHOWN_CHARS:])), classes="column-body", markup=False)
            for column in stored.columns
        ]

    def copied_sources(self) -> list[tuple[int, str, str]]:
        """Each column's text and its checkpoint, for the copied-spans view (v)."""
        return [(i, c.text, c.checkpoint or self.stored.checkpoint_path) for i, c in enumerate(self.stored.columns)]

    def show_copying(self, part: int, text: str, copying: Copying | None) -> None:
        shown = Text(visible(text[-SHOWN_CHARS:]))
        if copying is not None:
            paint_copied(shown, copying, max(0, len(text) - SHOWN_CHARS))
        self.bodies[part].update(shown)

    def compose(self) -> ComposeResult:
        stored = self.stored
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stored.created))
        yield Static(Text(f"› {visible_one_line(stored.prompt[:300])}"), classes="prompt", markup=False)
        details = f"{when} · {stored.kind} · epoch {stored.epoch}"
        if stored.kind != "score":
            details += f" · seed {stored.seed} · {stored.mode} · {stored.length} characters"
        branch = Branch.from_dict(stored.branch_of)
        if branch is not None:
            details += f" · {branch.describe()}"
        yield Static(Text(details), classes="details", markup=False)
        with Horizontal(classes="columns"):
            for index, column in enumerate(stored.columns):
                classes = "column" + (" -current" if index == self.highlighted else "")
                with Vertical(classes=classes):
                    state = "" if column.state == "done" else f" ■ {column.state}"
                    yield Static(Text(f"{index + 1} · {column.label}{state}"), classes="column-header")
                    yield self.bodies[index]


class HistoryScreen(Screen[None]):
    """Sessions and exchanges, newest first, with full-text search over prompts and outputs."""

    class Replay(Message):
        """Generate this stored exchange again, in the chat."""

        def __init__(self, stored: StoredExchange) -> None:
            super().__init__()
            self.stored = stored

    class Continue(Message):
        """A new exchange from this stored one: its prompt and one column's text."""

        def __init__(self, stored: StoredExchange, column: int) -> None:
            super().__init__()
            self.stored, self.column = stored, column

    class Export(Message):
        """Hand this Markdown to the user (a download in a browser, a file in a terminal)."""

        def __init__(self, text: str, name: Path) -> None:
            super().__init__()
            self.text, self.name = text, name

    class Listed(Message):
        """The worker read the list of exchanges for ``search``."""

        def __init__(self, request: int, found: list[StoredExchange], skipped: int) -> None:
            super().__init__()
            self.request, self.found, self.skipped = request, found, skipped

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
        self._list_requests = 0  # the newest list asked for: older answers are dropped

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

    def on_screen_resume(self) -> None:
        """Each visit (the screen is installed once): the list as the store holds it now, the
        search kept; the store may have opened (or failed) since the last visit."""
        if self.store is None:
            self.show(None)
            return
        search = self.query_one("#history-search", Input)
        self.refresh_list(search.value or None)
        search.focus()  # typing searches at once

    def refresh_list(self, search: str | None = None) -> None:
        """List the newest exchanges (or those matching ``search``): read in a worker, the newest
        search winning."""
        if self.store is None:
            self.show(None)
            return
        self._list_requests += 1
        self._read_list(self._list_requests, search)

    @work(thread=True, exclusive=True, group="history-list", exit_on_error=False)
    def _read_list(self, request: int, search: str | None) -> None:
        store = self.store
        before = store.skipped
        found = store.exchanges(search=search, session=self.only_session, limit=500)
        self.post_message(self.Listed(request, found, store.skipped - before))

    def on_history_screen_listed(self, message: Listed) -> None:
        if message.request != self._list_requests:
            return  # an older search's answer, arriving after the newer one was asked for
        if message.skipped and not self._told_skipped:
            self._told_skipped = True  # once a screen: the count grows with every search
            self.notify(f"Skipped {message.skipped} damaged rows of the history.", severity="warning")
        table = self.query_one("#history-list", DataTable)
        table.clear()
        self._shown = {exchange.id: exchange for exchange in message.found}
        for exchange in message.found:
            when = time.strftime("%m-%d %H:%M", time.localtime(exchange.created))
            prompt = visible_one_line(exchange.prompt[:60])
            table.add_row(when, str(exchange.session_id), exchange.kind, prompt, key=str(exchange.id))
        if not message.found:
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
            said = "No stored exchange matches." if self.store else (self.why_off or "The history is off.")
            detail.mount(Static(Text(said)))
        else:
            detail.mount(StoredView(exchange, self.column))

    # -- actions -----------------------------------------------------------------------------

    def action_column(self, delta: int) -> None:
        if self.selected is not None:
            self.column = (self.column + delta) % len(self.selected.columns)
            self.show(self.selected)

    def action_replay(self) -> None:
        if self.selected is not None:
            self.post_message(self.Replay(self.selected))

    def action_continue_exchange(self) -> None:
        if self.selected is not None:
            self.post_message(self.Continue(self.selected, self.column))

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
        self._delete_in_thread(self.selected.id, self.query_one("#history-search", Input).value)

    @work(thread=True, group="history-write", exit_on_error=False)
    def _delete_in_thread(self, exchange_id: int, search: str) -> None:
        self.store.delete(exchange_id)
        self.app.call_from_thread(self.notify, f"Deleted exchange {exchange_id}.", timeout=2)
        self.app.call_from_thread(self.refresh_list, search)

    def action_export(self) -> None:
        if self.selected is not None and self.store is not None:
            self._export_in_thread(self.selected.session_id)

    @work(thread=True, group="history-export", exit_on_error=False)
    def _export_in_thread(self, session: int) -> None:
        """The session's exchanges read and written as Markdown here; the app hands it over."""
        exchanges = list(reversed(self.store.exchanges(session=session, limit=None)))
        markdown = to_markdown(exchanges, f"nietzsche-tui session {session}", full_paths=self.only_session is None)
        self.post_message(self.Export(markdown, Path(f"nietzsche-session-{session}.md")))
