"""The nietzsche-tui app: wiring only.

The screens own the behaviour: ``ChatScreen`` (prompts and columns, chat_screen.py),
``TrainingScreen`` (a folder's epochs and its live run, training_screen.py), ``HistoryScreen``
(history_screen.py) and the inspect and cell views (inspect_screens.py). The app holds the shared
state they are given (the ``ModelState``, the ``TrainingControl``, the ``HistoryStore``), loads
models and saves exchanges in thread workers, polls the training folder once a second and follows
a live run, and defines every key once, in ``BINDINGS`` (the help screen and README are tested
against them). TensorFlow is
never imported; inference is the NumPy engine and training is a subprocess.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

import nietzsche_tui
from nietzsche_tui.contracts.checkpoint import CheckpointError, MissingCheckpoint
from nietzsche_tui.contracts.training import StartSettings
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.history.opening import open_history
from nietzsche_tui.history.records import StoredExchange
from nietzsche_tui.history.store import HistoryStore, default_history_path
from nietzsche_tui.locate import checkpoint_folder, setting_location, train_hint
from nietzsche_tui.runs import TrainingControl
from nietzsche_tui.tui.screens.chat import ChatScreen
from nietzsche_tui.tui.screens.dialogs import HelpScreen, ProblemScreen
from nietzsche_tui.tui.screens.history import HistoryScreen, StoredView, stored_from_exchange, stored_from_score
from nietzsche_tui.tui.screens.start_form import QuitDialog, StartForm
from nietzsche_tui.tui.screens.training import TrainingScreen
from nietzsche_tui.tui.state import ModelState, Settings
from nietzsche_tui.tui.widgets.chat_view import ChatView
from nietzsche_tui.tui.widgets.columns import Exchange


class NietzscheApp(App[None]):
    """Seed prompts in, temperature columns streaming out; a training folder watched alongside."""

    TITLE = "nietzsche-tui"
    CSS_PATH = "app.tcss"
    # Every key, once. Footer order is priority order: a narrow footer cuts from the right, and F1
    # must stay visible. "screen.*" actions belong to the chat screen and are hidden elsewhere.
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("escape", "screen.stop", "Stop", id="stop"),
        Binding("ctrl+r", "screen.regenerate", "New seed", id="regenerate"),
        Binding("ctrl+t", "screen.surprise", "Surprise", id="surprise"),
        Binding("ctrl+l", "reload", "Reload", id="reload"),
        Binding("f2", "screen.step_column(-1)", "◀ Col", id="previous-column"),
        Binding("f3", "screen.step_column(1)", "Col ▶", id="next-column"),
        Binding("f4", "screen.toggle_solo", "Solo", id="toggle-solo"),
        Binding("f5", "training", "Training", id="training"),
        Binding("f6", "history", "History", id="history"),
        Binding("f7", "screen.toggle_compare", "Epochs/Temps", id="toggle-compare"),
        Binding("ctrl+f", "toggle_follow", "Follow", show=False, id="toggle-follow"),
        Binding("question_mark", "help", "Help", show=False, id="help-question"),
    ]
    FOLDER_POLL_SECONDS = 1.0  # two stat() calls a second: what watching a folder costs when idle
    QUIT_SAVE_SECONDS = 10.0  # quitting mid-stream waits this long at most for the stop and the save

    class ModelLoaded(Message):
        def __init__(self, engine: Engine) -> None:
            super().__init__()
            self.engine = engine

    class HistoryOpened(Message):
        def __init__(self, store: HistoryStore | None, notice: str | None) -> None:
            super().__init__()
            self.store = store
            self.notice = notice

    class ModelFailed(Message):
        def __init__(self, problem: str, missing: bool = False) -> None:
            super().__init__()
            self.problem = problem
            self.missing = missing  # nothing trained yet: explained in place, no dialog

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.models = ModelState()
        # Served, a run started from the tab belongs to it: it ends (gracefully) when the app ends.
        self.training = TrainingControl(checkpoint_folder(settings.checkpoint), settings.corpus, settings.served)
        self.follow = settings.follow
        self.chat_screen = ChatScreen(settings, self.models, self.training)
        self.history: HistoryStore | None = None
        off = "the history is off on this server" if settings.served else "history is off (--no-history)"
        self.history_off: str | None = None if settings.keep_history else off
        self.start_form_typed: dict[str, str] = {}  # the start form's fields when it last closed
        self._followed_up_to = 0  # epochs up to this one were damaged or tried: follow mode skips them
        self._quitting = False  # Ctrl+Q arrived mid-stream: quit once the stopped exchange is saved
        self._awaiting_finish = False  # quitting waits for the stopped generation's Finished message

    def get_default_screen(self) -> Screen:
        return self.chat_screen

    def on_mount(self) -> None:
        self.training.poll()
        self.set_interval(self.FOLDER_POLL_SECONDS, self.poll_training_folder)
        self.load_model()
        if self.settings.keep_history:
            self.open_history()

    # The chat screen's parts, for scripts and tests that drive the app as a whole.
    @property
    def engine(self) -> Engine | None:
        return self.models.engine

    @property
    def chat(self):
        return self.chat_screen.chat

    @property
    def prompt_input(self):
        return self.chat_screen.prompt_input

    @property
    def status(self):
        return self.chat_screen.status

    def send(self, text: str, seed: int | None = None) -> bool:
        return self.chat_screen.send(text, seed)

    def train_hint(self) -> str:
        return train_hint(self.settings.checkpoint)

    # -- the model ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self, location: str | None = None) -> None:
        try:
            self.post_message(self.ModelLoaded(Engine.load(setting_location(location or self.settings.checkpoint))))
        except MissingCheckpoint as error:
            self.post_message(self.ModelFailed(str(error), missing=True))
        except CheckpointError as error:
            self.post_message(self.ModelFailed(str(error)))
        except Exception as error:  # anything else a damaged file can cause: explain, don't crash
            self.post_message(self.ModelFailed(f"unexpected {type(error).__name__}: {error}"))

    def on_nietzsche_app_model_loaded(self, message: ModelLoaded) -> None:
        previous, self.models.engine = self.models.engine, message.engine
        self.models.problem = None
        described = message.engine.checkpoint.describe()
        self.chat_screen.show_welcome(
            f"Loaded {described}.\nType a few words and press Enter, or Ctrl+T for a surprise."
        )
        if previous is not None:
            before, now = previous.checkpoint, message.engine.checkpoint
            if (before.metadata_path, before.epoch) == (now.metadata_path, now.epoch):
                self.notify(f"Already the latest: {described}", title="Nothing new", markup=False)
            else:
                self.notify(f"Now using {described}", title="Model reloaded", markup=False)
        if message.engine.passed_over:
            # Damaged newer files: say so once, and do not reload them every second when following.
            self._followed_up_to = max([self._followed_up_to, *(c.epoch for c in self.training.watch.checkpoints)])
            self.notify(message.engine.passed_over, severity="warning", timeout=10, markup=False)
        self.chat_screen.refresh_status()

    def on_nietzsche_app_model_failed(self, message: ModelFailed) -> None:
        self.models.problem = message.problem
        hint = self.train_hint()
        engine = self.models.engine
        if engine is None and message.missing:
            # An empty folder is where training starts, not an error to dismiss: say how, in place.
            self.chat_screen.show_welcome(
                f"No model yet: {message.problem}\nPress F5, then s, to train one here. {hint}"
            )
            self.chat_screen.refresh_status()
            return
        if engine is None:
            self.chat_screen.show_welcome(f"No model loaded. {hint}")
            problem = message.problem
        else:
            # The old model stays in use: the welcome, the status line and the dialog all say so.
            still = f"Still using {engine.checkpoint.describe()}."
            self.chat_screen.show_welcome(f"Reloading failed. {still}")
            problem = f"{message.problem}\n\n{still}"
        if isinstance(self.screen, ProblemScreen):
            self.screen.dismiss()
        self.push_screen(ProblemScreen("The checkpoint could not be loaded", problem, hint))
        self.chat_screen.refresh_status()

    def action_reload(self) -> None:
        self.notify("Reloading the latest checkpoint…", timeout=2)
        self.load_model()

    # -- the history: open it, store every exchange as it ends, replay, export ----------------

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def open_history(self) -> None:
        location = self.settings.history or default_history_path()
        store, notice = open_history(
            location,
            self.settings.max_history,
            evict_own_only=self.settings.served,
            default_location=self.settings.history is None,
        )
        if store is not None:
            store.start_session(nietzsche_tui.__version__)
        self.post_message(self.HistoryOpened(store, notice))

    def on_nietzsche_app_history_opened(self, message: HistoryOpened) -> None:
        self.history = message.store
        if message.store is None:
            self.history_off = message.notice
            self.notify(f"{message.notice}. The app runs on without it.", severity="warning", markup=False)
            return
        if message.notice:
            self.notify(message.notice, severity="warning", timeout=10, markup=False)
        if self.settings.resume:
            last = message.store.last_session(before=message.store.session_id)
            if last is not None:
                reopened = list(reversed(message.store.exchanges(session=last, limit=None)))
                for stored in reopened:
                    self.chat_screen.chat.add_score(StoredView(stored))
                prompts = [stored.prompt for stored in reopened if stored.kind != "score"]
                if prompts and self.chat_screen.last_prompt is None:
                    self.chat_screen.last_prompt = prompts[-1]  # Ctrl+R regenerates the last one reopened
                self.notify(f"Reopened session {last}.", timeout=3)

    def on_chat_view_finished(self, message: ChatView.Finished) -> None:
        self._awaiting_finish = False
        if self.history is not None:
            self._store(message.exchange, message.state)

    @work(thread=True, group="history-save", exit_on_error=False)
    def _store(self, exchange: Exchange, state: str) -> None:
        """Save one exchange in a thread (hashing the weights included): the UI never waits for the disk."""
        self._save(stored_from_exchange(exchange, state, self.models.engine))

    def _saving(self) -> bool:
        return any(not worker.is_finished for worker in self.workers if worker.group == "history-save")

    def record_score(self, text: str, summary: str, engine: Engine) -> None:
        """Keep a /score exchange too (its column is the scored text)."""
        if self.history is not None:
            stored = stored_from_score(text, summary, engine)
            self.run_worker(lambda: self._save(stored), thread=True, group="history-save", exit_on_error=False)

    def _save(self, stored: StoredExchange) -> None:
        try:
            self.history.add(stored)
        except Exception as error:  # a full disk or a vanished file: say so once, keep chatting
            self.history, self.history_off = None, f"history is off: saving failed ({error})"
            self.call_from_thread(self.notify, self.history_off, severity="warning", markup=False)

    def action_history(self) -> None:
        if isinstance(self.screen, HistoryScreen):
            self.pop_screen()
            return
        # Served, the database may hold other visitors' sessions: each sees only their own.
        only = self.history.session_id if self.settings.served and self.history is not None else None
        self.push_screen(HistoryScreen(self.history, self.history_off, only))

    def replay(self, stored: StoredExchange) -> None:
        self.switch_to_chat()
        self.chat_screen.replay(stored)

    def continue_from(self, stored: StoredExchange, column: int) -> None:
        """A new exchange whose prompt is the stored prompt followed by one column's text; for a
        stored /score, the scored text itself (its column is that text, its prompt the command)."""
        self.switch_to_chat()
        if stored.kind == "score":
            self.chat_screen.send(stored.prompt_read)
            return
        self.chat_screen.send(stored.prompt + stored.columns[column].text)

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

    # -- the training folder: watch it, follow its run, start and stop runs ------------------

    def poll_training_folder(self) -> None:
        """Once a second: what changed in the training folder reaches the screens and the model."""
        if not self.training.poll():
            return
        for screen in self.screen_stack:
            if isinstance(screen, TrainingScreen):
                screen.show()
        self._follow_latest()
        self._show_follow()

    def _show_follow(self) -> None:
        """The chat's status line says whether a live run is followed (nothing when none is live)."""
        live = self.training.watch.state.live
        self.chat_screen.follow_note = ("following the run" if self.follow else "follow off") if live else ""
        self.chat_screen.refresh_status()

    def _follow_latest(self) -> None:
        """Load the folder's newest checkpoint when following and it is newer than the model in use.

        A generation that is streaming keeps the model it started with; the next prompt uses the new one.
        """
        latest = self.training.watch.latest
        if not self.follow or latest is None or latest.epoch <= self._followed_up_to:
            return
        current = self.models.engine.checkpoint if self.models.engine else None
        ours = current is None or current.metadata_path.parent.resolve() == self.training.folder.resolve()
        if not ours and self.settings.checkpoint is not None:
            return  # the user named another checkpoint: never swap it behind their back
        if current is None or not ours or latest.epoch > current.epoch:
            self.load_model(str(self.training.folder))

    def action_training(self) -> None:
        if isinstance(self.screen, TrainingScreen):
            self.pop_screen()
            return
        self.poll_training_folder()
        self.push_screen(TrainingScreen(self.training.watch, self.shown_folder))

    @property
    def shown_folder(self) -> str:
        """The training folder as the screens name it: served, its name only (not the operator's path)."""
        return self.training.folder.name if self.settings.served else str(self.training.folder)

    TRAINING_OFF = "Training is off in this served app; whoever runs the server can allow it with --allow-training."

    def action_start_training(self) -> None:
        if not self.settings.allow_training:
            self.notify(self.TRAINING_OFF, severity="warning")
            return
        self.poll_training_folder()
        if self.training.watch.state.live:
            self.notify("A run is already training in this folder.", severity="warning")
            return
        resumes = bool(self.training.watch.checkpoints)
        defaults = self.training.defaults()
        if self.settings.served:
            # The corpus is the operator's (--corpus on the server's command line): no path from the browser.
            defaults = defaults.replace(corpus=self.settings.corpus or "")
        bounds = self.settings.training_bounds
        defaults = bounds.clamp(defaults)
        saved = self.training.watch.latest.epoch if resumes else 0
        form = StartForm(
            defaults,
            self.shown_folder,
            resumes,
            corpus_fixed=self.settings.served,
            bounds=bounds,
            saved_epoch=saved,
            typed=self.start_form_typed,
        )

        def closed(settings: StartSettings | None) -> None:
            self.start_form_typed = form.closed_with  # the next form opens with what was typed
            self._start_training(settings)

        self.push_screen(form, closed)

    def _start_training(self, settings: StartSettings | None) -> None:
        if settings is None:
            return
        if self.settings.served and settings["corpus"] != (self.settings.corpus or ""):
            self.notify("The corpus is fixed by whoever runs the server.", severity="error")
            return
        try:
            trainer = self.training.start(settings)
        except (OSError, RuntimeError) as error:
            self.notify(f"Could not start training: {error}", severity="error", markup=False)
            return
        self.notify(trainer.describe(), title="Training started", markup=False)
        self.poll_training_folder()

    def action_stop_training(self) -> None:
        if not self.settings.allow_training:
            self.notify(self.TRAINING_OFF, severity="warning")
            return
        self.notify(self.training.stop(), markup=False)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.notify(f"Follow the training run: {'on' if self.follow else 'off'}", timeout=2)
        if self.follow:
            self._follow_latest()
        self._show_follow()

    async def action_quit(self) -> None:
        if not self._quitting and (self.chat.is_generating or self._saving()):
            # Stop, keep the exchange as stopped (the README's promise), wait for its save, then
            # quit. A stop or a save that never lands still quits, QUIT_SAVE_SECONDS later.
            self._quitting = True
            self._awaiting_finish = self.chat.is_generating
            self.chat.stop()
            self.notify("Stopping and saving the generation…", timeout=self.QUIT_SAVE_SECONDS)
            deadline = time.monotonic() + self.QUIT_SAVE_SECONDS

            def saved_or_late() -> None:
                if (self._awaiting_finish or self._saving()) and time.monotonic() < deadline:
                    return
                waiting.stop()
                self.call_later(self.action_quit)

            waiting = self.set_interval(0.05, saved_or_late)
            return
        if not self.training.ours_running:
            self.exit()
            return
        if self.training.owned_runs:  # served: the run is the tab's and cannot be left running
            self.training.stop()
            self.exit()
            return

        def answered(choice: str | None) -> None:
            if choice == "leave":
                self.exit()
            elif choice == "stop":
                self.training.stop()
                self.notify("Stopping the run (waiting for its checkpoint write)…")
                self._stop_then_exit()

        self.push_screen(QuitDialog(self.training.trainer.describe()), answered)

    @work(thread=True, exclusive=True, group="quit", exit_on_error=False)
    def _stop_then_exit(self) -> None:
        self.training.trainer.wait(timeout=120)
        self.call_from_thread(self.exit)

    # -- help and the command palette ---------------------------------------------------------

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        super().action_command_palette()
        if self.settings.served:
            # The page's font (Roboto Mono) has no 🔎: the browser would draw an empty box.
            self.call_after_refresh(self._plain_search_icon)

    def _plain_search_icon(self) -> None:
        from textual.command import SearchIcon

        for icon in self.screen.query(SearchIcon):
            icon.icon = ">"

    # Textual's built-ins that do not work here: "Screenshot" failed to save, the "Keys" panel could
    # not be closed, "Maximize" on the prompt filled the screen with hatching. F1 lists the keys.
    UNWORKING_BUILT_INS = frozenset({"Screenshot", "Keys", "Maximize", "Minimize"})

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from (c for c in super().get_system_commands(screen) if c.title not in self.UNWORKING_BUILT_INS)
        chat = self.chat_screen
        commands = [
            ("Stop generating", "Stop the running generation (Esc)", chat.action_stop),
            ("Regenerate", "The last prompt again with a new seed (Ctrl+R)", chat.action_regenerate),
            ("Surprise me", "Start from a held-out passage (Ctrl+T)", chat.action_surprise),
            ("Reload checkpoint", "Load the latest checkpoint (Ctrl+L)", self.action_reload),
            ("Show all columns", "Columns side by side", chat.chat.action_show_all),
            ("Training screen", "The folder's epochs, loss plot and samples (F5)", self.action_training),
            ("Start training", "Train or resume into the folder", self.action_start_training),
            ("Stop training", "Stop the run this app started", self.action_stop_training),
            ("Epochs or temperatures", "The next prompt's comparison (F7)", chat.action_toggle_compare),
            ("Choose epochs to compare", "Like 1,5,last or all", chat.action_choose_epochs),
            ("Follow the run", "Load each new checkpoint as it completes (Ctrl+F)", self.action_toggle_follow),
            ("History", "Stored exchanges: search, replay, continue, export (F6)", self.action_history),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
        for index, temperature in enumerate(self.settings.temperatures):
            yield SystemCommand(
                f"Solo temperature {temperature:g}",
                f"Show column {index + 1} alone",
                lambda i=index: chat.chat.action_solo(i),
            )
        yield SystemCommand("Help", "Keys and what they do (F1)", self.action_help)


def make_app(checkpoint: str | None = None, **options) -> NietzscheApp:
    """Build the app from typed settings (the CLI and the tests both come through here); the
    keyword options are ``Settings`` fields.

    History is off unless asked for (the CLI asks by default): tests and scripts never touch the
    user's real data directory by accident.
    """
    options.setdefault("keep_history", False)
    if "temperatures" in options:
        options["temperatures"] = tuple(options["temperatures"])
    return NietzscheApp(Settings(checkpoint=checkpoint, **options))
