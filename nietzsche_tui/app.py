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

from nietzsche_tui.checkpoint import METADATA_SUFFIX, WEIGHTS_SUFFIX, CheckpointError
from nietzsche_tui.engine import DEFAULT_TEMPERATURES, Engine, GenerationRequest, PromptError
from nietzsche_tui.screens import HelpScreen, ProblemScreen
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
        Binding("question_mark", "help", "Help", show=False, id="help-question"),
    ]

    class ModelLoaded(Message):
        def __init__(self, engine: Engine) -> None:
            super().__init__()
            self.engine = engine

    class ModelFailed(Message):
        def __init__(self, problem: str) -> None:
            super().__init__()
            self.problem = problem

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.engine: Engine | None = None
        self.load_problem: str | None = None
        self.last_prompt: str | None = None
        self.seed = settings.seed
        self._next_seed = settings.seed

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
        self.refresh_status()
        self.load_model()

    # -- the model ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self) -> None:
        try:
            self.post_message(self.ModelLoaded(Engine.load(self.settings.checkpoint)))
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
            generation = self.engine.generate(
                GenerationRequest(used, self.settings.temperatures, self.settings.length, seed, self.settings.mode)
            )
        except PromptError as error:
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Stop generating", "Stop the running generation (Esc)", self.action_stop)
        yield SystemCommand("Regenerate", "The last prompt again with a new seed (Ctrl+R)", self.action_regenerate)
        yield SystemCommand("Surprise me", "Start from a held-out passage (Ctrl+T)", self.action_surprise)
        yield SystemCommand("Reload checkpoint", "Load the latest checkpoint (Ctrl+L)", self.action_reload)
        yield SystemCommand("Show all temperatures", "Columns side by side", self.chat.action_show_all)
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
        self.status.show(summary, self.settings.mode, self.seed, state, speed, chat.column_indicator())


def make_app(
    checkpoint: str | None = None,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
    length: int = 400,
    seed: int | None = None,
    mode: str = "window",
    show_speed: bool = True,
) -> NietzscheApp:
    """Build the app from typed settings (the CLI and the tests both come through here)."""
    return NietzscheApp(Settings(checkpoint, tuple(temperatures), length, seed, mode, show_speed))
