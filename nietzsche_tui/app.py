"""The nietzsche-tui app: a prompt, a chat of temperature columns, a status line, a footer.

The App only wires things together: the model loads in a thread worker after the first frame,
prompts become ``GenerationRequest``s, and ``ChatView`` (widgets.py) streams them. TensorFlow is
never imported; inference is the NumPy engine.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from nietzsche_tui.checkpoint import METADATA_SUFFIX, WEIGHTS_SUFFIX, CheckpointError, MissingCheckpoint
from nietzsche_tui.engine import (
    DEFAULT_TEMPERATURES,
    Engine,
    Generation,
    GenerationRequest,
    PromptError,
    generate_epochs,
    load_epochs,
)
from nietzsche_tui.runs import StartSettings, TrainingControl
from nietzsche_tui.screens import EpochsDialog, HelpScreen, ProblemScreen
from nietzsche_tui.training_screen import QuitDialog, StartForm, TrainingScreen
from nietzsche_tui.widgets import ChatView, PromptInput, StatusBar, prompt_notice

MAX_PROMPT_CHARS = 10_000  # longer pastes keep their end: the part the model reads last
SHOWN_PROMPT_CHARS = 300


@dataclass(frozen=True)
class Settings:
    """What the command line controls."""

    checkpoint: str | None = None
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = 400
    seed: int | None = None  # None: a fresh seed for every prompt
    mode: str = "window"
    show_speed: bool = True  # snapshot tests turn the live figure off
    corpus: str | None = None  # pre-fills the training form
    follow: bool = True  # load each new checkpoint of a live run as it completes


def checkpoint_folder(checkpoint: str | None) -> str:
    """The training folder a ``--checkpoint`` setting points at (a file's folder; default ./checkpoints)."""
    if checkpoint is None:
        return "checkpoints"
    path = Path(checkpoint)
    return str(path.parent) if path.suffix in (METADATA_SUFFIX, WEIGHTS_SUFFIX) else checkpoint


def train_hint(checkpoint: str | None) -> str:
    """How to make a checkpoint the app will find, for the folder the user actually named."""
    folder = shlex.quote(checkpoint_folder(checkpoint))
    return (
        f"Train one with `uv run nietzsche-train --recipe fast --corpus YOUR_TEXT.txt --out {folder}` "
        "(without --corpus it downloads the book's text), then press Ctrl+L."
    )


class NietzscheApp(App[None]):
    """Seed prompts in, temperature columns streaming out."""

    TITLE = "nietzsche-tui"
    CSS_PATH = "app.tcss"
    # Footer order is priority order: a narrow footer cuts from the right, and F1 must stay visible.
    BINDINGS = [
        Binding("f1", "help", "Help", id="help"),
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+r", "regenerate", "New seed", id="regenerate"),
        Binding("ctrl+t", "surprise", "Surprise", id="surprise"),
        Binding("ctrl+l", "reload", "Reload", id="reload"),
        Binding("f2", "step_column(-1)", "◀ Col", id="previous-column"),
        Binding("f3", "step_column(1)", "Col ▶", id="next-column"),
        Binding("f4", "toggle_solo", "Solo", id="toggle-solo"),
        Binding("f5", "training", "Training", id="training"),
        Binding("f7", "toggle_compare", "Epochs/Temps", id="toggle-compare"),
        Binding("ctrl+f", "toggle_follow", "Follow", show=False, id="toggle-follow"),
        Binding("question_mark", "help", "Help", show=False, id="help-question"),
    ]
    FOLDER_POLL_SECONDS = 1.0  # two stat() calls a second: what following a folder costs when idle
    EPOCHS_TEMPERATURE = 0.5

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
        self.engine: Engine | None = None
        self.load_problem: str | None = None
        self.last_prompt: str | None = None
        self.seed = settings.seed
        self._next_seed = settings.seed
        self.training = TrainingControl(checkpoint_folder(settings.checkpoint), settings.corpus)
        self.follow = settings.follow
        self.compare_epochs = False  # the next prompt: temperatures side by side, or epochs
        self.epoch_spec: str | None = None  # which epochs; None: first, ~quarter, half, last
        self._epoch_engines: dict[tuple[str, int], Engine] = {}

    def compose(self) -> ComposeResult:
        # Kept as attributes: queries would search whichever screen is on top (help, problem).
        self.chat = ChatView(self.settings.temperatures, id="chat")
        self.status = StatusBar(id="status")
        self.prompt_input = PromptInput(
            placeholder="Seed the model with a few words and press Enter  (F1: help)", id="prompt-input"
        )
        with self.chat:
            yield Static(Text("Loading the model…"), id="welcome")
        yield self.status
        yield self.prompt_input
        yield Footer()

    def on_mount(self) -> None:
        self.prompt_input.focus()
        # The live speed figure needs a clock only while something streams: idle means asleep.
        self._status_timer = self.set_interval(0.25, self.refresh_status, pause=True)
        self.training.poll()
        self.set_interval(self.FOLDER_POLL_SECONDS, self.poll_training_folder)
        self.refresh_status()
        self.load_model()

    # -- the model ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self, location: str | None = None) -> None:
        try:
            self.post_message(self.ModelLoaded(Engine.load(location or self.settings.checkpoint)))
        except MissingCheckpoint as error:
            self.post_message(self.ModelFailed(str(error), missing=True))
        except CheckpointError as error:
            self.post_message(self.ModelFailed(str(error)))
        except Exception as error:  # anything else a damaged file can cause: explain, don't crash
            self.post_message(self.ModelFailed(f"unexpected {type(error).__name__}: {error}"))

    def on_nietzsche_app_model_loaded(self, message: ModelLoaded) -> None:
        previous, self.engine = self.engine, message.engine
        self.load_problem = None
        described = self.engine.checkpoint.describe()
        self.chat.show_welcome(f"Loaded {described}.\nType a few words and press Enter, or Ctrl+T for a surprise.")
        if previous is not None:
            same = (previous.checkpoint.metadata_path, previous.checkpoint.epoch) == (
                self.engine.checkpoint.metadata_path,
                self.engine.checkpoint.epoch,
            )
            if same:
                self.notify(f"Already the latest: {described}", title="Nothing new", markup=False)
            else:
                self.notify(f"Now using {described}", title="Model reloaded", markup=False)
        self.refresh_status()

    def on_nietzsche_app_model_failed(self, message: ModelFailed) -> None:
        self.load_problem = message.problem
        hint = train_hint(self.settings.checkpoint)
        if self.engine is None and message.missing:
            # An empty folder is where training starts, not an error to dismiss: say how, in place.
            self.chat.show_welcome(f"No model yet: {message.problem}\nPress F5, then s, to train one here. {hint}")
            self.refresh_status()
            return
        if self.engine is None:
            self.chat.show_welcome(f"No model loaded. {hint}")
            problem = message.problem
        else:
            # The old model stays in use: the welcome, the status line and the dialog all say so.
            still = f"Still using {self.engine.checkpoint.describe()}."
            self.chat.show_welcome(f"Reloading failed. {still}")
            problem = f"{message.problem}\n\n{still}"
        if isinstance(self.screen, ProblemScreen):
            self.screen.dismiss()
        self.push_screen(ProblemScreen("The checkpoint could not be loaded", problem, hint))
        self.refresh_status()

    def model_summary(self) -> tuple[str, str]:
        """The one description of which model is in use (long form, short form)."""
        if self.engine is None:
            text = "no model loaded" if self.load_problem else "loading…"
            return text, text
        checkpoint = self.engine.checkpoint
        failed = " (reload failed)" if self.load_problem else ""
        return checkpoint.describe() + failed, checkpoint.describe_short() + failed

    # -- prompts -----------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.send(self.prompt_input.prompt_text):
            event.input.clear()

    def send(self, text: str, seed: int | None = None) -> bool:
        """Start generating from ``text``; False (with a notice) when it cannot start."""
        if self.engine is None:
            hint = train_hint(self.settings.checkpoint)
            self.notify(f"No model is loaded yet. {hint}", severity="error", markup=False)
            return False
        cut = len(text) > MAX_PROMPT_CHARS
        used = text[-MAX_PROMPT_CHARS:] if cut else text
        if seed is None:
            seed = self._take_seed()
        try:
            generation = self._prepare(used, seed)
        except (PromptError, CheckpointError, ValueError) as error:
            self.notify(str(error), severity="warning", markup=False)
            return False
        self.seed = seed
        self.last_prompt = text
        read = len(generation.prompt.text)
        model_reads = min(read, self.engine.maxlen) if self.settings.mode == "window" else read
        notice = prompt_notice(generation.prompt.dropped, model_reads if (cut or model_reads < read) else 0)
        if generation.prompt.dropped:
            self.notify(notice, title="Prompt adjusted", severity="warning", markup=False)
        shown = text if len(text) <= SHOWN_PROMPT_CHARS else "…" + text[-SHOWN_PROMPT_CHARS:]
        self.chat.start(shown, generation, notice)
        self._status_timer.resume()
        self.refresh_status()
        return True

    def _prepare(self, text: str, seed: int) -> Generation:
        """The generation for the next prompt: the temperatures of the loaded model, or the
        training folder's epochs at one temperature."""
        settings = self.settings
        if not self.compare_epochs:
            return self.engine.generate(
                GenerationRequest(text, settings.temperatures, settings.length, seed, settings.mode)
            )
        engines = []
        for engine in load_epochs(self.training.folder, self.epoch_spec):
            key = (str(engine.checkpoint.metadata_path), engine.checkpoint.epoch)
            engines.append(self._epoch_engines.setdefault(key, engine))
        request = GenerationRequest(text, (self.EPOCHS_TEMPERATURE,), settings.length, seed, settings.mode)
        return generate_epochs(engines, request)

    def _take_seed(self) -> int:
        """The configured seed for the first prompt, then the next ones; random without --seed."""
        if self._next_seed is None:
            return secrets.randbelow(2**31)
        seed, self._next_seed = self._next_seed, self._next_seed + 1
        return seed

    def on_chat_view_finished(self, message: ChatView.Finished) -> None:
        # The chat has already shown the final characters; say so in the status line at once.
        if not self.chat.is_generating:
            self._status_timer.pause()
        self.refresh_status()
        if message.error:
            self.notify(f"Generation failed: {message.error}", severity="error", markup=False)

    def on_chat_view_view_changed(self, message: ChatView.ViewChanged) -> None:
        self.refresh_status()

    # -- actions -----------------------------------------------------------------------------

    def action_stop(self) -> None:
        if not self.chat.stop():
            self.notify("Nothing is generating.", timeout=2)

    def action_regenerate(self) -> None:
        if self.last_prompt is None:
            self.notify("Send a prompt first.", severity="warning")
            return
        self.send(self.last_prompt)

    def action_surprise(self) -> None:
        if self.engine is None:
            self.notify("No model is loaded yet.", severity="error")
            return
        # The passage is picked with the exchange's own seed, as `generate --surprise --seed N` does,
        # so --seed reproduces the passage as well as the text.
        seed = self._take_seed()
        try:
            passage = self.engine.surprise_prompt(np.random.default_rng(seed))
        except PromptError as error:
            self.notify(str(error), severity="warning", markup=False)
            return
        self.send(passage, seed)

    def action_reload(self) -> None:
        self.notify("Reloading the latest checkpoint…", timeout=2)
        self.load_model()

    def action_step_column(self, delta: int) -> None:
        self.chat.action_step_column(delta)

    def action_toggle_solo(self) -> None:
        self.chat.toggle_solo()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- training: the folder, the run, following it ----------------------------------------

    def poll_training_folder(self) -> None:
        """Once a second: what changed in the training folder reaches the screen and the model."""
        if not self.training.poll():
            return
        for screen in self.screen_stack:
            if isinstance(screen, TrainingScreen):
                screen.show()
        self._follow_latest()
        self.refresh_status()

    def _follow_latest(self) -> None:
        """Load the folder's newest checkpoint when following and it is newer than the model in use.

        A generation that is streaming keeps the model it started with; the next prompt uses the new one.
        """
        latest = self.training.watch.latest
        if not self.follow or latest is None:
            return
        current = self.engine.checkpoint if self.engine else None
        ours = current is None or current.metadata_path.parent.resolve() == self.training.folder.resolve()
        if not ours and self.settings.checkpoint is not None:
            return  # the user named another checkpoint: never swap it behind their back
        if current is None or not ours or latest.epoch > current.epoch:
            self.load_model(str(self.training.folder))

    def action_training(self) -> None:
        if isinstance(self.screen, TrainingScreen):
            self.pop_screen()
            return
        self.training.poll()
        self.push_screen(TrainingScreen(self.training.watch))

    def action_start_training(self) -> None:
        self.training.poll()
        if self.training.watch.state.live:
            self.notify("A run is already training in this folder.", severity="warning")
            return
        form = StartForm(self.training.defaults(), str(self.training.folder), bool(self.training.watch.checkpoints))
        self.push_screen(form, self._start_training)

    def _start_training(self, settings: StartSettings | None) -> None:
        if settings is None:
            return
        try:
            trainer = self.training.start(settings)
        except (OSError, RuntimeError) as error:
            self.notify(f"Could not start training: {error}", severity="error", markup=False)
            return
        self.notify(trainer.describe(), title="Training started", markup=False)
        self.poll_training_folder()

    def action_stop_training(self) -> None:
        self.notify(self.training.stop(), markup=False)

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.notify(f"Follow the training run: {'on' if self.follow else 'off'}", timeout=2)
        if self.follow:
            self._follow_latest()
        self.refresh_status()

    def action_toggle_compare(self) -> None:
        self.compare_epochs = not self.compare_epochs
        what = (
            f"epochs side by side at T={self.EPOCHS_TEMPERATURE:g}"
            if self.compare_epochs
            else "temperatures side by side"
        )
        self.notify(f"The next prompt: {what}", timeout=2)
        self.refresh_status()

    def action_choose_epochs(self) -> None:
        def chosen(spec: str | None) -> None:
            if spec is None:
                return
            try:
                picked = load_epochs(self.training.folder, spec)
            except (CheckpointError, ValueError) as error:
                self.notify(str(error), severity="warning", markup=False)
                return
            self.epoch_spec, self.compare_epochs = spec or None, True
            epochs = ", ".join(str(e.checkpoint.epoch) for e in picked)
            self.notify(f"The next prompt compares epochs {epochs}", timeout=3)
            self.refresh_status()

        self.push_screen(EpochsDialog(self.epoch_spec or ""), chosen)

    async def action_quit(self) -> None:
        if not self.training.ours_running:
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            ("Stop generating", "Stop the running generation (Esc)", self.action_stop),
            ("Regenerate", "The last prompt again with a new seed (Ctrl+R)", self.action_regenerate),
            ("Surprise me", "Start from a held-out passage (Ctrl+T)", self.action_surprise),
            ("Reload checkpoint", "Load the latest checkpoint (Ctrl+L)", self.action_reload),
            ("Show all columns", "Columns side by side", self.chat.action_show_all),
            ("Training screen", "The folder's epochs, loss plot and samples (F5)", self.action_training),
            ("Start training", "Train or resume into the folder", self.action_start_training),
            ("Stop training", "Stop the run this app started", self.action_stop_training),
            ("Epochs or temperatures", "The next prompt's comparison (F7)", self.action_toggle_compare),
            ("Choose epochs to compare", "Like 1,5,last or all", self.action_choose_epochs),
            ("Follow the run", "Load each new checkpoint as it completes (Ctrl+F)", self.action_toggle_follow),
        ]
        for title, help_text, callback in commands:
            yield SystemCommand(title, help_text, callback)
        for index, temperature in enumerate(self.settings.temperatures):
            yield SystemCommand(
                f"Solo temperature {temperature:g}",
                f"Show column {index + 1} alone",
                lambda i=index: self.chat.action_solo(i),
            )
        yield SystemCommand("Help", "Keys and what they do (F1)", self.action_help)

    # -- status ------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        if not self.status.is_attached:
            return  # shutting down
        chat = self.chat
        exchange = chat.active
        if self.engine is None:
            state, speed = "", None  # the model summary says "loading…" or "no model"
        elif exchange is None:
            state, speed = "ready", None
        else:
            state = "generating" if chat.is_generating else "ready"
            speed = exchange.chars_per_second() if self.settings.show_speed else None
        summary = self.model_summary()
        extras = []
        if self.compare_epochs:
            extras.append("comparing epochs")
        if self.training.watch.state.live:
            extras.append("following the run" if self.follow else "follow off")
        if extras:
            state = " · ".join([state, *extras]) if state else " · ".join(extras)
        self.status.show(summary, self.settings.mode, self.seed, state, speed, chat.column_indicator())


def make_app(
    checkpoint: str | None = None,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
    length: int = 400,
    seed: int | None = None,
    mode: str = "window",
    show_speed: bool = True,
    corpus: str | None = None,
    follow: bool = True,
) -> NietzscheApp:
    """Build the app from typed settings (the CLI and the tests both come through here)."""
    return NietzscheApp(Settings(checkpoint, tuple(temperatures), length, seed, mode, show_speed, corpus, follow))
