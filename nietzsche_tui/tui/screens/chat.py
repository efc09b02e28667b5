"""The chat screen: prompts in, columns streaming out, a status line, the footer.

It owns the chat's behaviour and its keys (``BINDINGS``): turning a prompt into a ``Turn``
(temperatures side by side, or a training folder's epochs side by side), seeds, "surprise me",
/score, replays, and the status line, which follows its reactive inputs. Whatever reads the
disk or runs the model for long (a folder's epochs, a replay's engines and weights hash, a
score) runs in a thread worker and comes back as a message. The model comes from the app's
``ModelState``; what the history should keep goes to the app as messages.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointError
from nietzsche_tui.engine.prompts import PromptError, read_prompt
from nietzsche_tui.engine.request import GenerationRequest, comparison_temperature
from nietzsche_tui.history.records import StoredExchange
from nietzsche_tui.locate import epoch_checkpoints, model_checkpoints, train_hint
from nietzsche_tui.runs import TrainingControl
from nietzsche_tui.settings import Settings
from nietzsche_tui.tui.colours import confidence_legend, copied_legend
from nietzsche_tui.tui.screens.chat_keys import ChatKeys
from nietzsche_tui.tui.screens.chat_score import ChatScoring
from nietzsche_tui.tui.screens.dialogs import HelpScreen
from nietzsche_tui.tui.state import ModelState
from nietzsche_tui.tui.turns import MAX_PROMPT_CHARS, SHOWN_PROMPT_CHARS, Turn, replay_turn, replay_verdict
from nietzsche_tui.tui.widgets.chat_view import ChatView
from nietzsche_tui.tui.widgets.prompt import ModelSuggester, PromptInput
from nietzsche_tui.tui.widgets.status import StatusBar, prompt_notice
from nietzsche_tui.verbatim.source import TrainingIndexes

if TYPE_CHECKING:  # the model maths: imported in the workers that load models (after the first frame)
    from nietzsche_tui.engine.generation import Engine, Generation

COMMANDS = {"/score": "/score TEXT: how surprised the model is by TEXT", "/help": "/help: keys and commands"}


class ChatScreen(ChatKeys, ChatScoring, Screen[None]):
    """Seed prompts in, columns streaming out."""

    # Footer order is priority order: a narrow footer cuts from the right, so F1 comes first here
    # too (the app's own F1 serves every other screen).
    BINDINGS = [
        Binding("f1", "app.help", "Help", id="help"),
        Binding("escape", "stop", "Stop", id="stop"),
        Binding("ctrl+r", "regenerate", "New seed", id="regenerate"),
        Binding("ctrl+t", "surprise", "Surprise", id="surprise"),
        Binding("f2", "step_column(-1)", "◀ Col", id="previous-column"),
        Binding("f3", "step_column(1)", "Col ▶", id="next-column"),
        Binding("f4", "toggle_solo", "Solo", id="toggle-solo"),
        # In the help and the palette; the footer keeps its room for F5 and F6, the app's keys after these.
        Binding("f7", "toggle_compare", "Epochs/Temps", show=False, id="toggle-compare"),
        Binding("f8", "step_mode", "Step mode", show=False, id="step-mode"),
        # Before the focused widget sees them: Textual's own Tab waits in this screen's queue (behind
        # Enter's handler, on a busy machine) while the next key goes to the still-focused prompt.
        Binding("tab", "app.focus_next", "Focus next", show=False, priority=True, id="focus-next"),
        Binding("shift+tab", "app.focus_previous", "Focus previous", show=False, priority=True, id="focus-previous"),
    ]

    # What the status line shows besides the chat's own state: set them, and it follows.
    seed: reactive[int | None] = reactive(None, init=False)
    compare_epochs = reactive(False, init=False)  # the next prompt: temperatures side by side, or epochs
    compare_models = reactive("", init=False)  # the next prompt: these models side by side ("" : not)
    follow_note = reactive("", init=False)  # what the app says about following a live run
    model_summary = reactive(("loading…", "loading…"), init=False)  # ModelState.summary()
    STATUS_INPUTS = ("seed", "compare_epochs", "compare_models", "follow_note", "model_summary")

    class Stepped(Message):
        """A step-mode exchange ended: the chat shows it; the app keeps it in the history."""

        def __init__(self, stored: StoredExchange) -> None:
            super().__init__()
            self.stored = stored

    class TurnReady(Message):
        """A worker prepared a turn (a folder's epochs, a replay): show and stream it."""

        def __init__(self, turn: Turn) -> None:
            super().__init__()
            self.turn = turn

    def __init__(self, settings: Settings, models: ModelState, training: TrainingControl) -> None:
        super().__init__()
        self.settings = settings
        self.models = models
        self.training = training
        self.last_prompt: str | None = None
        self.set_reactive(ChatScreen.seed, settings.seed)
        self.set_reactive(ChatScreen.compare_models, settings.compare or "")
        self._engines: dict[tuple[str, int], Engine] = {}  # models compared: loaded once per file version
        self._next_seed = settings.seed
        self.epoch_spec: str | None = None  # which epochs; None: first, ~quarter, half, last
        self.suggest = settings.suggest  # the model's continuation as you type (the palette toggles it)

    def compose(self) -> ComposeResult:
        indexes = TrainingIndexes(self.settings.corpus, self.settings.copied_min)
        self.chat = ChatView(self.settings.temperatures, self.models, indexes, id="chat")
        self.status = StatusBar(id="status")
        # Coming back to the prompt keeps what is in it: no select-all that the next key would replace.
        self.prompt_input = PromptInput(
            placeholder="Seed the model with a few words and press Enter  (F1: help)",
            id="prompt-input",
            select_on_focus=False,
            suggester=ModelSuggester(lambda: self.models.engine, self.settings.mode, lambda: self.suggest),
        )
        with self.chat:
            yield Static(Text("Loading the model…"), id="welcome")
        self.legend = Static(confidence_legend(), id="legend", markup=False)
        self.legend.display = False
        yield self.legend
        yield self.status
        yield self.prompt_input
        yield Footer()

    def on_mount(self) -> None:
        self.prompt_input.focus()
        # The live speed figure needs a clock only while something streams: idle means asleep.
        self._status_timer: Timer = self.set_interval(0.25, self.refresh_status, pause=True)
        for name in self.STATUS_INPUTS:  # the status line follows these: set them, and it redraws
            self.watch(self, name, self.refresh_status, init=False)
        self.refresh_status()

    def show_welcome(self, text: str) -> None:
        self.chat.show_welcome(text)

    # -- prompts -----------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = self.prompt_input.prompt_text
        command = text.split(maxsplit=1)[0] if text.startswith("/") and text.strip() != "/" else None
        done = self.run_command(command, text) if command else self.send(text)
        if done:
            event.input.clear()

    def run_command(self, command: str, text: str) -> bool:
        """A prompt that starts with /word is a command, never a generation."""
        if command == "/help":
            self.app.push_screen(HelpScreen())
            return True
        if command == "/score":
            return self.score(text[len("/score") :].strip())
        known = ", ".join(COMMANDS)
        self.notify(f"Unknown command {command}; the commands are {known}.", severity="warning", markup=False)
        return False

    def replay(self, stored: StoredExchange) -> None:
        """Generate a stored exchange again with its stored settings and say whether the text is
        the same (it must be, when the checkpoint file is the same); a stored /score scores its
        text again with its checkpoint. The engines load in a worker."""
        self._replay_in_thread(stored)

    @work(thread=True, exclusive=True, group="prepare", exit_on_error=False)
    def _replay_in_thread(self, stored: StoredExchange) -> None:
        if stored.kind == "steps":
            self.app.call_from_thread(
                self.notify,
                "A step-by-step exchange has no replay: its characters were chosen by hand. "
                "Continue it (Ctrl+O) to write on from its end.",
                severity="warning",
            )
            return
        try:
            if stored.kind == "score":
                from nietzsche_tui.engine.generation import Engine

                engine = Engine.load(stored.checkpoint_path)
                self.app.call_from_thread(self.score, stored.prompt_read, engine)
                return
            turn = replay_turn(stored, SHOWN_PROMPT_CHARS)
        except (CheckpointError, PromptError, ValueError) as error:
            self.app.call_from_thread(self.notify, f"Cannot replay: {error}", severity="error", markup=False)
            return
        self.post_message(self.TurnReady(turn))

    def on_chat_screen_turn_ready(self, message: TurnReady) -> None:
        self._start(message.turn)

    def _start(self, turn: Turn) -> None:
        if turn.generation.prompt.dropped and turn.replay is None:
            self.notify(turn.notice, title="Prompt adjusted", severity="warning", markup=False)
        self.seed = turn.request.seed  # the status line shows the seed of what streams
        self.last_prompt = turn.prompt_typed  # Ctrl+R regenerates it (a replay's too)
        self.chat.start(turn)
        self._status_timer.resume()
        self.refresh_status()

    def send(self, text: str, seed: int | None = None) -> bool:
        """Start generating from ``text``; False (with a notice) when it cannot start. Epochs side
        by side load in a worker and start when loaded."""
        engine = self.models.engine
        if engine is None:
            self.notify(
                f"No model is loaded yet. {train_hint(self.settings.checkpoint)}", severity="error", markup=False
            )
            return False
        seed = self._take_seed() if seed is None else seed
        if self.compare_models:
            self._models_turn_in_thread(text, seed, self.compare_models)
            return True
        if self.compare_epochs:
            # The quick checks here, so a prompt that cannot start stays in the prompt line: which
            # epochs (their metadata) and whether their vocabulary reads the prompt. The weights
            # load in a worker.
            try:
                checkpoints = epoch_checkpoints(self.training.folder, self.epoch_spec)
                newest = checkpoints[-1].metadata
                read_prompt(self._used(text), newest.vocabulary, newest.lowercases)
            except (PromptError, CheckpointError, ValueError) as error:
                self.notify(str(error), severity="warning", markup=False)
                return False
            self._epochs_turn_in_thread(text, seed, checkpoints)
            return True
        request = GenerationRequest(
            self._used(text), self.settings.temperatures, self.settings.length, seed, self.settings.mode
        )
        try:
            turn = self._turn(text, engine.generate(request), (engine,) * len(request.temperatures))
        except (PromptError, ValueError) as error:
            self.notify(str(error), severity="warning", markup=False)
            return False
        self._start(turn)
        return True

    @staticmethod
    def _used(text: str) -> str:
        return text[-MAX_PROMPT_CHARS:]

    def _turn(self, text: str, generation: Generation, engines: tuple[Engine, ...]) -> Turn:
        """The record of a new turn, with the notice saying how the prompt was read."""
        read = len(generation.prompt.text)
        engine = engines[-1]
        model_reads = min(read, engine.maxlen) if self.settings.mode == "window" else read
        cut = len(text) > MAX_PROMPT_CHARS
        notice = prompt_notice(generation.prompt.dropped, model_reads if (cut or model_reads < read) else 0)
        if generation.prompts:  # models side by side: each read the prompt with its own vocabulary
            notice = " · ".join(
                f"{label.split(' · ')[0]}: {prompt_notice(prompt.dropped, 0)}"
                for label, prompt in zip(generation.labels, generation.prompts, strict=True)
                if prompt.dropped
            )
        shown = text if len(text) <= SHOWN_PROMPT_CHARS else "…" + text[-SHOWN_PROMPT_CHARS:]
        return Turn(text, shown, generation, engines, notice)

    @work(thread=True, exclusive=True, group="prepare", exit_on_error=False)
    def _epochs_turn_in_thread(self, text: str, seed: int, checkpoints: list[Checkpoint]) -> None:
        """A training folder's epochs at one temperature: their weights read in this thread."""
        from nietzsche_tui.engine.epochs import generate_epochs, load_epochs

        settings = self.settings
        try:
            engines = load_epochs(checkpoints)
            temperature = comparison_temperature(settings.temperatures)
            request = GenerationRequest(self._used(text), (temperature,), settings.length, seed, settings.mode)
            generation = generate_epochs(engines, request)
        except (PromptError, CheckpointError, ValueError) as error:
            self.app.call_from_thread(self.notify, str(error), severity="warning", markup=False)
            return
        self.post_message(self.TurnReady(self._turn(text, generation, tuple(engines))))

    @work(thread=True, exclusive=True, group="prepare", exit_on_error=False)
    def _models_turn_in_thread(self, text: str, seed: int, specs: str) -> None:
        """Models side by side: their checkpoints found and their weights read in this thread (a
        model loaded before is kept while its file is unchanged). A prompt that cannot start goes
        back into the prompt line, so nothing typed is lost."""
        from nietzsche_tui.engine.models import generate_models

        settings = self.settings
        try:
            chosen = model_checkpoints(specs)
            engines = [self._engine_of(choice.checkpoint) for choice in chosen]
            temperature = comparison_temperature(settings.temperatures)
            request = GenerationRequest(self._used(text), (temperature,), settings.length, seed, settings.mode)
            generation = generate_models(engines, [choice.name for choice in chosen], request)
        except (PromptError, CheckpointError, ValueError) as error:
            self.app.call_from_thread(self._not_started, text, f"Cannot compare these models: {error}")
            return
        turn = replace(self._turn(text, generation, tuple(engines)), models=tuple(c.spec for c in chosen))
        self.post_message(self.TurnReady(turn))

    def _engine_of(self, checkpoint: Checkpoint) -> Engine:
        """A compared model's engine (worker thread), loaded once per version of its file."""
        try:
            version = checkpoint.weights_path.stat().st_mtime_ns
        except OSError:
            version = -1
        key = (str(checkpoint.metadata_path.resolve()), version)
        if key not in self._engines:
            from nietzsche_tui.engine.epochs import load_epochs

            (self._engines[key],) = load_epochs([checkpoint])
        return self._engines[key]

    def _not_started(self, text: str, reason: str) -> None:
        if not self.prompt_input.value:
            self.prompt_input.value = text
        self.notify(reason, severity="warning", markup=False)

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
        replay = message.exchange.turn.replay
        if replay is not None and message.state == "done":
            said, severity = replay_verdict(replay, message.exchange.texts())
            self.notify(said, title="Replay", severity=severity, timeout=4)

    def on_chat_view_view_changed(self, message: ChatView.ViewChanged) -> None:
        legend = Text()
        if self.chat.colour:
            legend.append(confidence_legend())
        if self.chat.copied:
            legend.append(copied_legend(self.settings.copied_min))
        self.legend.update(legend)
        self.legend.display = bool(legend)
        self.refresh_status()

    # -- status ------------------------------------------------------------------------------

    def refresh_status(self) -> None:
        if not self.status.is_attached:
            return  # shutting down
        chat = self.chat
        exchange = chat.active
        if self.models.engine is None:
            parts = []  # the model summary says "loading…" or "no model"
            speed = None
        else:
            parts = ["generating" if chat.is_generating else "ready"]
            speed = exchange.chars_per_second() if exchange and self.settings.show_speed else None
        if self.compare_models:
            parts.append(f"comparing {len(self.compare_models.split(','))} models")
        elif self.compare_epochs:
            parts.append("comparing epochs")
        if self.follow_note:
            parts.append(self.follow_note)
        state = " · ".join(parts)
        self.status.show(self.model_summary, self.settings.mode, self.seed, state, speed, chat.column_indicator())
