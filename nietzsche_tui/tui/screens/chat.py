"""The chat screen: prompts in, columns streaming out, a status line, the footer.

It owns the chat's behaviour: turning a prompt into a generation (temperatures side by side, or
a training folder's epochs side by side), seeds, "surprise me", the column keys and the status
line. The model comes from the app's ``ModelState``; the keys are bound once, on the app, as
``screen.*`` actions that land here.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.engine.analysis import ScoreError, score_text
from nietzsche_tui.engine.epochs import EPOCHS_TEMPERATURE, generate_epochs, load_epochs
from nietzsche_tui.engine.generation import Engine, Generation, GenerationRequest
from nietzsche_tui.engine.prompts import PromptError
from nietzsche_tui.history.records import StoredExchange, weights_sha256
from nietzsche_tui.locate import epoch_checkpoints
from nietzsche_tui.runs import TrainingControl
from nietzsche_tui.tui.colours import confidence_legend
from nietzsche_tui.tui.screens.dialogs import EpochsDialog, HelpScreen
from nietzsche_tui.tui.screens.inspect import CellScreen, InspectScreen
from nietzsche_tui.tui.state import ModelState, Settings
from nietzsche_tui.tui.widgets.chat_view import ChatView
from nietzsche_tui.tui.widgets.columns import Exchange, ScoreView
from nietzsche_tui.tui.widgets.prompt import PromptInput
from nietzsche_tui.tui.widgets.status import StatusBar, prompt_notice

MAX_PROMPT_CHARS = 10_000  # longer pastes keep their end: the part the model reads last
SHOWN_PROMPT_CHARS = 300
COMMANDS = {"/score": "/score TEXT: how surprised the model is by TEXT", "/help": "/help: keys and commands"}


class ChatScreen(Screen[None]):
    """Seed prompts in, columns streaming out."""

    def __init__(self, settings: Settings, models: ModelState, training: TrainingControl) -> None:
        super().__init__()
        self.settings = settings
        self.models = models
        self.training = training
        self.last_prompt: str | None = None
        self.seed = settings.seed
        self._next_seed = settings.seed
        self.compare_epochs = False  # the next prompt: temperatures side by side, or epochs
        self.epoch_spec: str | None = None  # which epochs; None: first, ~quarter, half, last
        self.follow_note = ""  # what the app says about following a live run, for the status line

    def compose(self) -> ComposeResult:
        self.chat = ChatView(self.settings.temperatures, id="chat")
        self.status = StatusBar(id="status")
        # Coming back to the prompt keeps what is in it: no select-all that the next key would replace.
        self.prompt_input = PromptInput(
            placeholder="Seed the model with a few words and press Enter  (F1: help)",
            id="prompt-input",
            select_on_focus=False,
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

    def score(self, text: str, engine: Engine | None = None) -> bool:
        """Show ``text`` painted by the model's surprise at each character, with its bits per
        character: all of it, up to MAX_PROMPT_CHARS (beyond, one line says the limit)."""
        engine = engine or self.models.engine
        if engine is None:
            self.notify("No model is loaded yet.", severity="error")
            return False
        if not text.strip():
            self.notify("Type some text after /score: /score TEXT shows how surprised the model is by it.")
            return False
        try:
            scored = score_text(engine, text, MAX_PROMPT_CHARS, "/score")
        except ScoreError as error:
            longer = " (`nietzsche-tui score FILE` takes longer texts)" if len(text) > MAX_PROMPT_CHARS else ""
            self.notify(f"{error}{longer}", severity="warning", markup=False)
            return False
        count = len(scored.bits)
        summary = f"{scored.bits_per_char:.2f} bits/char over {count} character{'' if count == 1 else 's'}"
        if scored.skipped:
            summary += f" · skipped {len(scored.skipped)} unknown character(s)"
        self.chat.add_score(ScoreView(f"/score {text[:SHOWN_PROMPT_CHARS]}", text, scored.per_position(), summary))
        self.app.record_score(text, summary, engine)
        return True

    def replay(self, stored: StoredExchange) -> None:
        """Generate a stored exchange again with its stored settings and say whether the text is
        the same (it must be, when the checkpoint file is the same); a stored /score scores its
        text again with its checkpoint."""
        try:
            if stored.kind == "score":
                self.score(stored.prompt_read, Engine.load(stored.checkpoint_path))
                return
            if stored.kind == "epochs":
                folder = Path(stored.checkpoint_path).parent
                engines = [Engine.load(folder / f"epoch_{c.epoch:04d}.json") for c in stored.columns]
            else:
                engines = [Engine.load(stored.checkpoint_path)] * len(stored.columns)
        except CheckpointError as error:
            self.notify(f"Cannot replay: {error}", severity="error", markup=False)
            return
        temperatures = tuple(stored.temperatures)
        request = GenerationRequest(
            stored.prompt, temperatures, stored.length, stored.seed or 0, stored.mode, stored.top_k, stored.top_p
        )
        try:
            generation = generate_epochs(engines, request) if stored.kind == "epochs" else engines[0].generate(request)
        except (PromptError, ValueError) as error:
            self.notify(f"Cannot replay: {error}", severity="error", markup=False)
            return
        same = weights_sha256(engines[-1].checkpoint.weights_path) == stored.weights_sha256
        note = "replay: same checkpoint file" if same else "replay: the checkpoint file has changed since"
        exchange = self.chat.start(stored.prompt[-SHOWN_PROMPT_CHARS:], generation, note)
        exchange.engines, exchange.prompt_typed = engines, stored.prompt
        exchange.replay_of, exchange.replay_same_weights = stored, same
        # The status line shows the replay's seed, and Ctrl+R regenerates its prompt.
        self.seed, self.last_prompt = stored.seed, stored.prompt
        self._status_timer.resume()

    def _report_replay(self, exchange: Exchange, state: str) -> None:
        stored = exchange.replay_of
        if state != "done":
            return
        identical = exchange.texts() == [column.text for column in stored.columns]
        if identical:
            self.notify("Replayed: the text is identical to the stored one.", title="Replay", timeout=4)
        elif exchange.replay_same_weights:
            self.notify("Replayed: the text differs although the checkpoint is the same.", severity="error")
        else:
            self.notify(
                "Replayed: the text differs; the checkpoint file changed since it was stored.", severity="warning"
            )

    def send(self, text: str, seed: int | None = None) -> bool:
        """Start generating from ``text``; False (with a notice) when it cannot start."""
        engine = self.models.engine
        if engine is None:
            self.notify(f"No model is loaded yet. {self.app.train_hint()}", severity="error", markup=False)
            return False
        cut = len(text) > MAX_PROMPT_CHARS
        used = text[-MAX_PROMPT_CHARS:] if cut else text
        if seed is None:
            seed = self._take_seed()
        try:
            generation, engines = self._prepare(engine, used, seed)
        except (PromptError, CheckpointError, ValueError) as error:
            self.notify(str(error), severity="warning", markup=False)
            return False
        self.seed = seed
        self.last_prompt = text
        read = len(generation.prompt.text)
        model_reads = min(read, engine.maxlen) if self.settings.mode == "window" else read
        notice = prompt_notice(generation.prompt.dropped, model_reads if (cut or model_reads < read) else 0)
        if generation.prompt.dropped:
            self.notify(notice, title="Prompt adjusted", severity="warning", markup=False)
        shown = text if len(text) <= SHOWN_PROMPT_CHARS else "…" + text[-SHOWN_PROMPT_CHARS:]
        exchange = self.chat.start(shown, generation, notice)
        exchange.engines = engines
        exchange.prompt_typed = text
        self._status_timer.resume()
        self.refresh_status()
        return True

    def _prepare(self, engine: Engine, text: str, seed: int) -> tuple[Generation, list[Engine]]:
        """The next generation and each column's engine: the loaded model's temperatures, or the
        training folder's epochs at one temperature."""
        settings = self.settings
        if not self.compare_epochs:
            request = GenerationRequest(text, settings.temperatures, settings.length, seed, settings.mode)
            return engine.generate(request), [engine] * len(settings.temperatures)
        engines = load_epochs(epoch_checkpoints(self.training.folder, self.epoch_spec))
        request = GenerationRequest(text, (EPOCHS_TEMPERATURE,), settings.length, seed, settings.mode)
        return generate_epochs(engines, request), engines

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
        if message.exchange.replay_of is not None:
            self._report_replay(message.exchange, message.state)

    def on_chat_view_view_changed(self, message: ChatView.ViewChanged) -> None:
        self.legend.display = self.chat.colour
        self.refresh_status()

    # -- actions (bound on the app as screen.*) ---------------------------------------------

    def action_stop(self) -> None:
        if not self.chat.stop():
            self.notify("Nothing is generating.", timeout=2)

    def action_regenerate(self) -> None:
        if self.last_prompt is None:
            self.notify("Send a prompt first.", severity="warning")
            return
        self.send(self.last_prompt)

    def action_surprise(self) -> None:
        if self.models.engine is None:
            self.notify("No model is loaded yet.", severity="error")
            return
        # The passage is picked with the exchange's own seed, as `generate --surprise --seed N` does,
        # so --seed reproduces the passage as well as the text.
        seed = self._take_seed()
        try:
            passage = self.models.engine.surprise_prompt(np.random.default_rng(seed))
        except PromptError as error:
            self.notify(str(error), severity="warning", markup=False)
            return
        self.send(passage, seed)

    def action_step_column(self, delta: int) -> None:
        self.chat.action_step_column(delta)

    def action_toggle_solo(self) -> None:
        self.chat.toggle_solo()

    def _column_to_look_at(self) -> tuple[Exchange, int] | None:
        """The newest exchange and its highlighted column, once it has stopped streaming."""
        exchange = self.chat.active
        if exchange is None or not exchange.is_attached:
            self.notify("Send a prompt first.", severity="warning")
            return None
        if self.chat.is_generating:
            self.notify("Wait for the text to finish, or press Esc to stop it.", severity="warning")
            return None
        return exchange, min(
            self.chat.visible_columns()[0] if self.chat.shows_one else self.chat.current, len(exchange.columns) - 1
        )

    def action_inspect(self) -> None:
        chosen = self._column_to_look_at()
        if chosen is None:
            return
        exchange, index = chosen
        request = exchange.generation.request
        temperature = request.temperatures[index] if not exchange.generation.labels else request.temperatures[0]
        column, prompt = exchange.columns[index], exchange.generation.prompt.text
        self.app.push_screen(InspectScreen(column, prompt, exchange.engines[index], temperature, request))

    def action_cells(self) -> None:
        chosen = self._column_to_look_at()
        if chosen is None:
            return
        exchange, index = chosen
        self.app.push_screen(
            CellScreen(exchange.columns[index], exchange.generation.prompt.text, exchange.engines[index])
        )

    def action_toggle_compare(self) -> None:
        self.compare_epochs = not self.compare_epochs
        what = f"epochs side by side at T={EPOCHS_TEMPERATURE:g}" if self.compare_epochs else "temperatures"
        self.notify(f"The next prompt: {what}", timeout=2)
        self.refresh_status()

    def action_choose_epochs(self) -> None:
        def chosen(spec: str | None) -> None:
            if spec is None:
                return
            try:
                picked = epoch_checkpoints(self.training.folder, spec)
            except (CheckpointError, ValueError) as error:
                self.notify(str(error), severity="warning", markup=False)
                return
            self.epoch_spec, self.compare_epochs = spec or None, True
            epochs = ", ".join(str(checkpoint.epoch) for checkpoint in picked)
            self.notify(f"The next prompt compares epochs {epochs}", timeout=3)
            self.refresh_status()

        self.app.push_screen(EpochsDialog(self.epoch_spec or ""), chosen)

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
        if self.compare_epochs:
            parts.append("comparing epochs")
        if self.follow_note:
            parts.append(self.follow_note)
        state = " · ".join(parts)
        self.status.show(self.models.summary(), self.settings.mode, self.seed, state, speed, chat.column_indicator())
