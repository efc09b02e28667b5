"""The nietzsche-tui app: wiring only.

The screens own the behaviour and their keys: ``ChatScreen`` (screens/chat.py), ``TrainingScreen``
(screens/training.py), ``HistoryScreen`` (screens/history.py), the inspect and cell views. The
training and history screens are installed once, so they keep their state between visits. The
app holds the shared state they are given (the ``ModelState``, the ``TrainingControl``, the
``HistoryStore``), answers their messages (replay, continue, export, a /score to keep), loads
models, saves exchanges and polls the training folder in thread workers, follows a live run, and
binds the keys that work everywhere (``BINDINGS``; the help screen and README are tested against
every screen's). TensorFlow is never imported; inference is the NumPy engine and training is a
subprocess. The engine itself (and NumPy with it) is imported by the worker that loads the model,
after the first frame: nothing the first frame shows needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from nietzsche_tui.contracts.checkpoint import CheckpointError, MissingCheckpoint
from nietzsche_tui.engine.process import GenerationProcess
from nietzsche_tui.history.store import HistoryStore
from nietzsche_tui.locate import checkpoint_folder, setting_location, train_hint
from nietzsche_tui.runs import TrainingControl
from nietzsche_tui.settings import Settings
from nietzsche_tui.tui.app_history import HistoryWiring
from nietzsche_tui.tui.app_training import TrainingWiring
from nietzsche_tui.tui.commands import system_commands
from nietzsche_tui.tui.screens.chat import ChatScreen
from nietzsche_tui.tui.screens.dialogs import HelpScreen, ProblemScreen
from nietzsche_tui.tui.screens.history import HistoryScreen
from nietzsche_tui.tui.screens.start_form import QuitDialog
from nietzsche_tui.tui.screens.training import TrainingScreen
from nietzsche_tui.tui.state import ModelState

if TYPE_CHECKING:
    from nietzsche_tui.engine.generation import Engine


class NietzscheApp(HistoryWiring, TrainingWiring, App[None]):
    """Seed prompts in, temperature columns streaming out; a training folder watched alongside."""

    TITLE = "nietzsche-tui"
    CSS_PATH = "app.tcss"
    # The keys that work on every screen; each screen binds its own (the chat's: ChatScreen.BINDINGS).
    # Footer order is priority order: a narrow footer cuts from the right, and F1 must stay visible.
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+l", "reload", "Reload", id="reload"),
        Binding("f5", "training", "Training", id="training"),
        Binding("f6", "history", "History", id="history"),
        Binding("ctrl+f", "toggle_follow", "Follow", show=False, id="toggle-follow"),
        Binding("question_mark", "help", "Help", show=False, id="help-question"),
    ]
    FOLDER_POLL_SECONDS = 1.0  # two stat() calls a second: what watching a folder costs when idle
    QUIT_SAVE_SECONDS = 10.0  # quitting mid-stream waits this long at most for the stop and the save

    class ModelLoaded(Message):
        def __init__(self, engine: Engine) -> None:
            super().__init__()
            self.engine = engine

    class ModelFailed(Message):
        def __init__(self, problem: str, missing: bool = False) -> None:
            super().__init__()
            self.problem = problem
            self.missing = missing  # nothing trained yet: explained in place, no dialog

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.models = ModelState(process=GenerationProcess() if settings.generation_process else None)
        # Served, a run started from the tab belongs to it: it ends (gracefully) when the app ends.
        self.training = TrainingControl(checkpoint_folder(settings.checkpoint), settings.corpus, settings.served)
        self.follow = settings.follow
        self.chat_screen = ChatScreen(settings, self.models, self.training)
        self.history: HistoryStore | None = None
        off = "the history is off on this server" if settings.served else "history is off (--no-history)"
        self.history_off: str | None = None if settings.keep_history else off
        # Installed once: they keep their state (the time axis, the search) between visits.
        # Other runs to plot beside this one: the operator's --runs when served, else by default the
        # training folder's parent (the folders a person keeps side by side).
        runs = Path(settings.runs) if settings.runs else None if settings.served else self.training.folder.parent
        self.training_screen = TrainingScreen(self.training.watch, self.shown_folder, runs)
        self.history_screen = HistoryScreen(None, self.history_off)
        self.start_form_typed: dict[str, str] = {}  # the start form's fields when it last closed
        self._followed_up_to = 0  # epochs up to this one were damaged or tried: follow mode skips them
        self._polled = False  # the first poll of the folder sees what the app loads at start-up
        self._poll_lock = threading.Lock()  # one poll at a time: the folder's reader keeps an offset
        self._quitting = False  # Ctrl+Q arrived mid-stream: quit once the stopped exchange is saved
        self._awaiting_finish = False  # quitting waits for the stopped generation's Finished message

    def get_default_screen(self) -> Screen:
        return self.chat_screen

    def on_mount(self) -> None:
        if self.models.process is not None:
            self._start_generation_process()
        self.install_screen(self.training_screen, "training")
        self.install_screen(self.history_screen, "history")
        self.poll_training_folder()
        self.set_interval(self.FOLDER_POLL_SECONDS, self.poll_training_folder)
        self.load_model()
        if self.settings.keep_history:
            self.open_history()

    @work(thread=True, exclusive=True, group="generation-process", exit_on_error=False)
    def _start_generation_process(self) -> None:
        """Start the generation child (it imports NumPy while the model loads here); if it cannot
        start, generations run in this process, as with --no-generation-process."""
        assert self.models.process is not None
        self.models.process.start()

    def on_unmount(self) -> None:
        if self.models.process is not None:
            self.models.process.close()

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

    # -- the model ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self, location: str | None = None) -> None:
        from nietzsche_tui.engine.generation import Engine  # NumPy: imported here, off the UI thread

        try:
            engine = Engine.load(setting_location(location or self.settings.checkpoint))
        except MissingCheckpoint as error:
            self.post_message(self.ModelFailed(str(error), missing=True))
            return
        except CheckpointError as error:
            self.post_message(self.ModelFailed(str(error)))
            return
        except Exception as error:  # anything else a damaged file can cause: explain, don't crash
            self.post_message(self.ModelFailed(f"unexpected {type(error).__name__}: {error}"))
            return
        self.post_message(self.ModelLoaded(engine))
        if self.models.process is not None:
            self.models.process.prepare(engine)

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
        self.chat_screen.model_summary = self.models.summary()

    def on_nietzsche_app_model_failed(self, message: ModelFailed) -> None:
        self.models.problem = message.problem
        hint = train_hint(self.settings.checkpoint)
        engine = self.models.engine
        if engine is None and message.missing:
            # An empty folder is where training starts, not an error to dismiss: say how, in place.
            self.chat_screen.show_welcome(
                f"No model yet: {message.problem}\nPress F5, then s, to train one here. {hint}"
            )
            self.chat_screen.model_summary = self.models.summary()
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
        self.chat_screen.model_summary = self.models.summary()

    def action_reload(self) -> None:
        self.notify("Reloading the latest checkpoint…", timeout=2)
        self.load_model()

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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from system_commands(self, super().get_system_commands(screen))

    def action_command_palette(self) -> None:
        super().action_command_palette()
        if self.settings.served:
            # The page's font (Roboto Mono) has no 🔎: the browser would draw an empty box.
            self.call_after_refresh(self._plain_search_icon)

    def _plain_search_icon(self) -> None:
        from textual.command import SearchIcon

        for icon in self.screen.query(SearchIcon):
            icon.icon = ">"


def make_app(checkpoint: str | None = None, **options) -> NietzscheApp:
    """Build the app from typed settings (the CLI and the tests both come through here); the
    keyword options are ``Settings`` fields.

    History is off unless asked for (the CLI asks by default): tests and scripts never touch the
    user's real data directory by accident.
    """
    options.setdefault("keep_history", False)
    options.setdefault("generation_process", False)  # tests ask for the child where they test it
    options.setdefault("suggest", False)  # and for suggestions where they test them
    if "temperatures" in options:
        options["temperatures"] = tuple(options["temperatures"])
    return NietzscheApp(Settings(checkpoint=checkpoint, **options))
