"""The dialogs of a run: the start form (train or resume into the folder) and quitting while one trains."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Footer, Input, Label, Select, Static

from nietzsche_tui.contracts.training import field_kind
from nietzsche_tui.contracts.training_form import (
    FORM_CHOICES,
    FORM_FIELDS,
    StartSettings,
    TrainingBounds,
    form_label,
    parse_form_value,
)

INPUT_TYPES = {int: "integer", float: "number"}  # Textual's Input types: only such characters can be typed


class SettingValidator(Validator):
    """A start-form field's check, as the setting's definition says (limits, a value needed or not)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def validate(self, value: str) -> ValidationResult:
        try:
            parse_form_value(self.name, value)
        except ValueError as error:
            return self.failure(str(error))
        return self.success()


class StartForm(ModalScreen[StartSettings | None]):
    """The settings of a new (or resumed) run, pre-filled; Enter starts, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "start", "Start", id="start-form-start"),  # shown; a field's Enter does the same
        Binding("tab", "app.focus_next", "Next field", id="start-form-next"),
    ]

    def __init__(
        self,
        defaults: StartSettings,
        folder: str,
        resumes: bool,
        corpus_fixed: bool = False,
        bounds: TrainingBounds | None = None,
        saved_epoch: int = 0,
        typed: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.defaults = defaults
        self.folder = folder
        self.resumes = resumes
        self.corpus_fixed = corpus_fixed  # served in a browser: the operator's corpus, not editable
        self.bounds = bounds or TrainingBounds()
        self.saved_epoch = saved_epoch  # the folder's newest epoch: asking for no more is nothing to do
        self.typed = typed or {}  # what the user typed the last time the form closed, shown again
        self.closed_with: dict[str, str] = {}  # what is in the fields when the form closes

    def compose(self) -> ComposeResult:
        # One row per field (label left, field right): the form fits a 45-row terminal.
        with Vertical(id="start-box"):
            action = "Resume training in" if self.resumes else "Train a new model into"
            yield Static(Text(f"{action} {self.folder}"), classes="dialog-title")
            choices = {
                "recipe": [
                    ("fast: every position, clipping, decay (minutes)", "fast"),
                    ("book: as printed (hours)", "book"),
                ],
                "cell": [("LSTM (the book's)", "lstm"), ("GRU", "gru")],
            }
            for name, options in choices.items():
                value = self.typed.get(name, self.defaults[name])
                with Horizontal(classes="form-row"):
                    yield Label(name.capitalize())
                    yield Select(options, value=value, allow_blank=False, id=f"field-{name}")
            for name in FORM_FIELDS:
                value = self.defaults[name]
                fixed = name == "corpus" and self.corpus_fixed
                shown = "" if value is None else str(value)
                if not fixed and name in self.typed:
                    shown = self.typed[name]
                with Horizontal(classes="form-row"):
                    yield Label(form_label(name))
                    yield Input(
                        shown,
                        id=f"field-{name}",
                        disabled=fixed,
                        type=INPUT_TYPES.get(field_kind(name), "text"),
                        validators=[SettingValidator(name)],
                    )
            yield Static("", id="start-problem", classes="dialog-problem")
            yield Static("Enter to start · Esc to cancel", classes="dialog-hint")
        yield Footer()  # the form's own keys, not the training screen's beneath it

    def on_mount(self) -> None:
        self.query_one("#field-epochs" if self.corpus_fixed else "#field-corpus", Input).focus()

    def settings(self) -> StartSettings:
        """The form's values as settings; raises ValueError naming the first bad field (by the
        same check as each field's Textual validator, which marks it while it is typed)."""
        values: dict = {name: self.query_one(f"#field-{name}", Select).value for name in FORM_CHOICES}
        for name in FORM_FIELDS:
            field = self.query_one(f"#field-{name}", Input)
            if name == "corpus" and self.corpus_fixed:
                values[name] = self.defaults["corpus"]
                continue
            try:
                values[name] = parse_form_value(name, field.value)
            except ValueError as error:
                raise ValueError(f"{form_label(name)}: {error}") from None
        settings = self.defaults.replace(**values)
        problem = self.bounds.problem(settings)
        if problem:
            raise ValueError(problem)
        if self.resumes and settings["epochs"] <= self.saved_epoch:
            raise ValueError(
                f"Nothing to do: the folder already holds epoch {self.saved_epoch}; "
                f"ask for more epochs (Epochs {self.saved_epoch + 10}, say)"
            )
        if settings["corpus"] and not self.corpus_fixed and not Path(settings["corpus"]).expanduser().exists():
            raise ValueError(f"Corpus: {settings['corpus']} does not exist")
        return settings

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            settings = self.settings()
        except ValueError as error:
            self.query_one("#start-problem", Static).update(Text(str(error)))
            return
        self._remember()
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self._remember()
        self.dismiss(None)

    def action_start(self) -> None:
        self.on_input_submitted(None)

    def _remember(self) -> None:
        self.closed_with = {name: str(self.query_one(f"#field-{name}", Select).value) for name in FORM_CHOICES}
        self.closed_with |= {name: self.query_one(f"#field-{name}", Input).value for name in FORM_FIELDS}


class QuitDialog(ModalScreen[str | None]):
    """Asked once when quitting while a run this app started is live."""

    BINDINGS = [
        Binding("s", "choose('stop')", "Stop the run"),
        Binding("l", "choose('leave')", "Leave it running"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical(id="problem-box"):
            yield Static("A training run started here is still going", classes="dialog-title")
            yield Static(Text(self.description))
            yield Static(
                Text(
                    "s: stop it (it finishes writing its checkpoint first; finished epochs stay)\n"
                    "l: leave it running in the background (rerun the app to follow it)\n"
                    "Esc: stay in the app"
                ),
                classes="dialog-remedy",
            )

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
