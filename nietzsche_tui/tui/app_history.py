"""The app's half that keeps the history: open the store in a thread, save every exchange as it
ends (and each /score) from its record in a thread, and answer the history screen's messages
(replay, continue, export). A mixin of ``NietzscheApp``: it uses the app's ``settings``,
``chat_screen``, ``history_screen`` and ``notify``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.message import Message

import nietzsche_tui
from nietzsche_tui.history.opening import open_history
from nietzsche_tui.history.records import StoredExchange
from nietzsche_tui.history.store import HistoryStore, default_history_path
from nietzsche_tui.tui.screens.chat import ChatScreen
from nietzsche_tui.tui.screens.history import HistoryScreen, StoredView
from nietzsche_tui.tui.turns import stored_score, with_weights_hash
from nietzsche_tui.tui.widgets.chat_view import ChatView


class HistoryWiring:
    """Where exchanges are kept, for ``NietzscheApp``."""

    history: HistoryStore | None
    history_off: str | None

    class HistoryOpened(Message):
        def __init__(
            self,
            store: HistoryStore | None,
            notice: str | None,
            reopened: tuple[int, list[StoredExchange]] | None = None,
        ) -> None:
            super().__init__()
            self.store = store
            self.notice = notice
            self.reopened = reopened  # --resume: the last session and its exchanges, oldest first

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def open_history(self) -> None:
        location = self.settings.history or default_history_path()
        store, notice = open_history(
            location,
            self.settings.max_history,
            evict_own_only=self.settings.served,
            default_location=self.settings.history is None,
        )
        reopened = None
        if store is not None:
            store.start_session(nietzsche_tui.__version__)
            last = store.last_session(before=store.session_id) if self.settings.resume else None
            if last is not None:  # read here too: the UI thread never waits for the database
                reopened = (last, list(reversed(store.exchanges(session=last, limit=None))))
        self.post_message(self.HistoryOpened(store, notice, reopened))

    def on_history_wiring_history_opened(self, message: HistoryWiring.HistoryOpened) -> None:
        self.history = message.store
        self.history_screen.store = message.store
        # Served, the database may hold other visitors' sessions: each sees only their own.
        if self.settings.served and message.store is not None:
            self.history_screen.only_session = message.store.session_id
        if message.store is None:
            self.history_off = self.history_screen.why_off = message.notice
            self.notify(f"{message.notice}. The app runs on without it.", severity="warning", markup=False)
            return
        if message.notice:
            self.notify(message.notice, severity="warning", timeout=10, markup=False)
        if message.reopened is not None:
            last, reopened = message.reopened
            for stored in reopened:
                self.chat_screen.chat.add_score(StoredView(stored))
            prompts = [stored.prompt for stored in reopened if stored.kind != "score"]
            if prompts and self.chat_screen.last_prompt is None:
                self.chat_screen.last_prompt = prompts[-1]  # Ctrl+R regenerates the last one reopened
            self.notify(f"Reopened session {last}.", timeout=3)

    def on_chat_view_finished(self, message: ChatView.Finished) -> None:
        self._awaiting_finish = False
        if self.history is not None:
            # The record, with the text its columns received: stored from a thread.
            turn, texts = message.exchange.turn, message.exchange.texts()
            self._store(lambda: turn.stored(texts, message.state), turn.saved)

    def on_chat_screen_stepped(self, message: ChatScreen.Stepped) -> None:
        """Keep a step-mode exchange (its weights hashed in the storing thread)."""
        if self.history is not None:
            self._store(lambda: with_weights_hash(message.stored))

    def on_chat_scoring_scored(self, message: ChatScreen.Scored) -> None:
        """Keep a /score exchange too (its column is the scored text)."""
        if self.history is not None:
            self._store(lambda: stored_score(message.text, message.summary, message.engine))

    @work(thread=True, group="history-save", exit_on_error=False)
    def _store(self, record: Callable[[], StoredExchange], saved: dict[str, int] | None = None) -> None:
        """Save one exchange in a thread (hashing the weights included): the UI never waits for
        the disk. ``saved`` (a turn's) receives the row's id, which a branch of it names."""
        stored = record()
        self._save(stored)
        if saved is not None and stored.id is not None:
            saved["id"] = stored.id

    def _saving(self) -> bool:
        return any(not worker.is_finished for worker in self.workers if worker.group == "history-save")

    def _save(self, stored: StoredExchange) -> None:
        try:
            self.history.add(stored)
        except Exception as error:  # a full disk or a vanished file: say so once, keep chatting
            self.history, self.history_off = None, f"history is off: saving failed ({error})"
            self.call_from_thread(self.notify, self.history_off, severity="warning", markup=False)

    def action_history(self) -> None:
        if self.screen is self.history_screen:
            self.pop_screen()
            return
        self.switch_to_chat()
        self.push_screen("history")

    def on_history_screen_replay(self, message: HistoryScreen.Replay) -> None:
        self.switch_to_chat()
        self.chat_screen.replay(message.stored)

    def on_history_screen_continue(self, message: HistoryScreen.Continue) -> None:
        """A new exchange whose prompt is the stored prompt followed by one column's text; for a
        stored /score, the scored text itself (its column is that text, its prompt the command)."""
        stored = message.stored
        self.switch_to_chat()
        if stored.kind == "score":
            self.chat_screen.send(stored.prompt_read)
            return
        self.chat_screen.send(stored.prompt + stored.columns[message.column].text)

    def on_history_screen_export(self, message: HistoryScreen.Export) -> None:
        self.deliver_export(message.text, message.name)

    def switch_to_chat(self) -> None:
        while self.screen is not self.chat_screen and len(self.screen_stack) > 1:
            self.pop_screen()

    def deliver_export(self, text: str, name: Path) -> None:
        """Hand an export to the user: a download in a browser, else a file in the current folder."""
        if self.is_web:
            # A browser user gets the file, and nothing is written on the server.
            self.deliver_text(io.StringIO(text), save_filename=name.name, mime_type="text/markdown")
            self.notify(f"Downloading {name.name}", title="Export", markup=False)
            return
        try:
            name.write_text(text, encoding="utf-8")
        except OSError as error:
            self.notify(f"Could not write {name}: {error.strerror or error}", severity="error", markup=False)
            return
        self.notify(f"Exported to {name.resolve()}", title="Export", markup=False)
