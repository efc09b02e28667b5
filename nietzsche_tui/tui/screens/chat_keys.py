"""What the chat's keys do (bound in ``ChatScreen.BINDINGS``): stop, regenerate, surprise, the
columns, inspect and cells, epochs or temperatures. A mixin of ``ChatScreen``: it uses the
screen's ``chat``, ``models``, ``training`` and ``send``.
"""

from __future__ import annotations

from textual import work

from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.engine.prompts import PromptError
from nietzsche_tui.engine.request import comparison_temperature
from nietzsche_tui.locate import epoch_checkpoints
from nietzsche_tui.tui.screens.dialogs import EpochsDialog, ModelsDialog
from nietzsche_tui.tui.screens.history import StoredView
from nietzsche_tui.tui.turns import MAX_PROMPT_CHARS, SHOWN_PROMPT_CHARS, branch_turn, stored_steps, temperature_label
from nietzsche_tui.tui.widgets.columns import Exchange


class ChatKeys:
    """The chat screen's actions."""

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
        import numpy as np  # the engine, loaded, has imported it

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
        turn = exchange.turn
        column, prompt = exchange.columns[index], turn.prompt_of(index)
        engine = turn.engines[index]
        copied = self.chat.indexes.opened(engine.metadata)  # None until v has opened the index
        if copied is not None and column.copying is None:
            index_, found = copied
            column.copying = index_.copying(found.as_seen(column.text))  # one column: a millisecond
        source = None if copied is None else copied[0]
        temperature = turn.temperature(index)
        from nietzsche_tui.tui.screens.inspect import InspectScreen  # the analyses: on the first i

        screen = InspectScreen(column, prompt, engine, temperature, turn.request, source, self.settings.served)

        def branch(picked: tuple[int, str] | None) -> None:
            if picked is not None:
                self.branch(exchange, index, *picked)

        self.app.push_screen(screen, branch)

    def branch(self, exchange: Exchange, index: int, position: int, chosen: str) -> None:
        """Continue column ``index`` of ``exchange`` from ``position`` with ``chosen`` there."""
        column = exchange.columns[index]
        try:
            turn = branch_turn(exchange.turn, index, column.text, position, chosen, SHOWN_PROMPT_CHARS)
        except (PromptError, ValueError) as error:
            self.notify(f"Cannot branch: {error}", severity="warning", markup=False)
            return
        self._start(turn)

    def action_cells(self) -> None:
        chosen = self._column_to_look_at()
        if chosen is None:
            return
        exchange, index = chosen
        from nietzsche_tui.tui.screens.inspect import CellScreen  # the analyses: on the first n

        self.app.push_screen(
            CellScreen(exchange.columns[index], exchange.turn.prompt_of(index), exchange.engines[index])
        )

    def action_step_mode(self) -> None:
        """Continue the prompt being typed one character at a time (F8), at the highlighted
        column's temperature and the next seed."""
        from nietzsche_tui.engine.stepping import StepSession  # on first use: start-up never needs them
        from nietzsche_tui.tui.screens.step import StepScreen

        engine = self.models.engine
        if engine is None:
            self.notify("No model is loaded yet.", severity="error")
            return
        typed = self.prompt_input.prompt_text
        if not typed.strip():
            self.notify("Type a prompt first: step mode continues it one character at a time.", severity="warning")
            return
        temperatures = self.settings.temperatures
        temperature = temperatures[min(self.chat.current, len(temperatures) - 1)]
        try:
            session = StepSession.start(engine, typed[-MAX_PROMPT_CHARS:], temperature, self._take_seed())
        except PromptError as error:
            self.notify(str(error), severity="warning", markup=False)
            return
        label = temperature_label(temperature)

        def ended(result: StepSession | None) -> None:
            if result is None:
                return  # nothing written: the prompt stays as typed
            self.prompt_input.clear()
            stored = stored_steps(result, typed, label)
            self.chat.add_score(StoredView(stored))
            self.post_message(self.Stepped(stored))

        self.app.push_screen(StepScreen(session, label), ended)

    def action_toggle_suggestions(self) -> None:
        self.suggest = not self.suggest
        if not self.suggest:
            self.prompt_input.clear_suggestion()
        self.notify(f"Suggestions as you type: {'on' if self.suggest else 'off'}", timeout=2)

    def action_compare_models(self) -> None:
        """Pick the models the next prompts compare side by side (none: back to temperatures)."""

        def chosen(picked: list[str] | None) -> None:
            if picked is None:
                return
            self.compare_models = ",".join(picked)
            if picked:
                self.compare_epochs = False
            at = comparison_temperature(self.settings.temperatures)
            said = f"{len(picked)} models side by side at T={at:g}" if picked else "temperatures"
            self.notify(f"The next prompt: {said}", timeout=3)

        current = self.compare_models.split(",") if self.compare_models else []
        self.app.push_screen(ModelsDialog(self.training.folder, self.settings.served, current), chosen)

    def action_toggle_compare(self) -> None:
        self.compare_models = ""  # epochs or temperatures: models side by side end
        self.compare_epochs = not self.compare_epochs
        at = comparison_temperature(self.settings.temperatures)
        what = f"epochs side by side at T={at:g}" if self.compare_epochs else "temperatures"
        self.notify(f"The next prompt: {what}", timeout=2)

    def action_choose_epochs(self) -> None:
        def chosen(spec: str | None) -> None:
            if spec is not None:
                self._look_up_epochs(spec)

        self.app.push_screen(EpochsDialog(self.epoch_spec or ""), chosen)

    @work(thread=True, exclusive=True, group="epochs", exit_on_error=False)
    def _look_up_epochs(self, spec: str) -> None:
        """The typed epochs found in the training folder (each epoch's metadata is read, so in a
        thread), then chosen on the UI thread, or the one line that says what was wrong."""
        try:
            picked = epoch_checkpoints(self.training.folder, spec)
        except (CheckpointError, ValueError) as error:
            self.app.call_from_thread(self.notify, str(error), severity="warning", markup=False)
            return
        self.app.call_from_thread(self._epochs_chosen, spec, ", ".join(str(c.epoch) for c in picked))

    def _epochs_chosen(self, spec: str, epochs: str) -> None:
        self.epoch_spec, self.compare_epochs = spec or None, True
        self.notify(f"The next prompt compares epochs {epochs}", timeout=3)
