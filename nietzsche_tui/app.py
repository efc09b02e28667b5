"""The nietzsche-tui app: a prompt, a chat of temperature columns, a status line, a footer.

The App only wires things together: the model loads in a thread worker after the first frame,
prompts become ``GenerationRequest``s, and ``ChatView`` (widgets.py) streams them. TensorFlow is
never imported; inference is the NumPy engine.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from nietzsche_tui.checkpoint import CheckpointError
from nietzsche_tui.engine import DEFAULT_TEMPERATURES, Engine, GenerationRequest, PromptError
from nietzsche_tui.screens import HelpScreen, ProblemScreen
from nietzsche_tui.widgets import ChatView, StatusBar, prompt_notice

MAX_PROMPT_CHARS = 10_000  # longer pastes keep their end: the part the model reads last
SHOWN_PROMPT_CHARS = 300
TRAIN_HINT = (
    "Train one with `uv run nietzsche-train --out checkpoints` (add --recipe fast for a quick model), "
    "then press Ctrl+L."
)


@dataclass(frozen=True)
class Settings:
    """What the command line controls."""

    checkpoint: str | None = None
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = 400
    seed: int | None = None  # None: a fresh seed for every prompt
    mode: str = "window"
    show_speed: bool = True  # snapshot tests turn the live figure off


class NietzscheApp(App[None]):
    """Seed prompts in, temperature columns streaming out."""

    TITLE = "nietzsche-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+r", "regenerate", "New seed", id="regenerate"),
        Binding("ctrl+t", "surprise", "Surprise me", id="surprise"),
        Binding("ctrl+l", "reload", "Reload model", id="reload"),
        Binding("f2", "step_column(-1)", "◀ Col", id="previous-column"),
        Binding("f3", "step_column(1)", "Col ▶", id="next-column"),
        Binding("f4", "toggle_solo", "Solo/All", id="toggle-solo"),
        Binding("f1", "help", "Help", id="help"),
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
        self.chat = ChatView(len(self.settings.temperatures), id="chat")
        self.status = StatusBar(id="status")
        self.prompt_input = Input(
            placeholder="Seed the model with a few words and press Enter  (F1: help)", id="prompt-input"
        )
        with self.chat:
            yield Static("Loading the model…", id="welcome")
        yield self.status
        yield self.prompt_input
        yield Footer()

    def on_mount(self) -> None:
        self.prompt_input.focus()
        self.set_interval(0.25, self.refresh_status)
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
        reloaded = self.engine is not None
        self.engine = message.engine
        self.load_problem = None
        self.chat.welcome.update(
            f"Loaded {self.engine.checkpoint.describe()}.\nType a few words and press Enter, or Ctrl+T for a surprise."
        )
        if reloaded:
            self.notify(f"Loaded {self.engine.checkpoint.describe()}", title="Model reloaded")
        self.refresh_status()

    def on_nietzsche_app_model_failed(self, message: ModelFailed) -> None:
        problem = self.load_problem = message.problem
        if self.engine is not None:
            problem += f"\n\nStill using {self.engine.checkpoint.describe()}."
        self.chat.welcome.update("No model loaded. " + TRAIN_HINT)
        self.push_screen(ProblemScreen("The checkpoint could not be loaded", problem, TRAIN_HINT))
        self.refresh_status()

    # -- prompts -----------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.notify("Type a few words first, or press Ctrl+T for a surprise passage.", severity="warning")
            return
        if self.send(event.value):
            event.input.clear()

    def send(self, text: str) -> bool:
        """Start generating from ``text``; False (with a notice) when it cannot start."""
        if self.engine is None:
            self.notify("No model is loaded yet. " + TRAIN_HINT, severity="error")
            return False
        cut = len(text) > MAX_PROMPT_CHARS
        used = text[-MAX_PROMPT_CHARS:] if cut else text
        seed = self._take_seed()
        try:
            generation = self.engine.generate(
                GenerationRequest(used, self.settings.temperatures, self.settings.length, seed, self.settings.mode)
            )
        except PromptError as error:
            self.notify(str(error), severity="warning")
            return False
        self.seed = seed
        self.last_prompt = text
        read = len(generation.prompt.text)
        model_reads = min(read, self.engine.maxlen) if self.settings.mode == "window" else read
        notice = prompt_notice(generation.prompt.dropped, model_reads if (cut or model_reads < read) else 0)
        if generation.prompt.dropped:
            self.notify(notice, title="Prompt adjusted", severity="warning")
        shown = text if len(text) <= SHOWN_PROMPT_CHARS else "…" + text[-SHOWN_PROMPT_CHARS:]
        self.chat.start(" ".join(shown.split()), generation, notice)
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
        self.refresh_status()
        if message.error:
            self.notify(f"Generation failed: {message.error}", severity="error")

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
        try:
            passage = self.engine.surprise_prompt(np.random.default_rng(secrets.randbelow(2**31)))
        except PromptError as error:
            self.notify(str(error), severity="warning")
            return
        self.send(passage)

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
        chat = self.chat
        model = self.engine.checkpoint.describe() if self.engine else "no model loaded"
        exchange = chat.active
        if exchange is None:
            state = "ready" if self.engine else ("no model" if self.load_problem else "loading…")
            speed = None
        else:
            state = "generating" if chat.is_generating else "idle"
            speed = exchange.chars_per_second()
        if not self.status.is_attached:
            return  # shutting down
        self.status.show(model, self.settings.mode, self.seed, state, speed if self.settings.show_speed else None)


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
