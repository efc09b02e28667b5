"""The dialogs of a run: the start form (train or resume into the folder) and quitting while one trains."""

from __future__ import annotations

import math
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Select, Static

from nietzsche_tui.runs import StartSettings, TrainingBounds


class StartForm(ModalScreen[StartSettings | None]):
    """The settings of a new (or resumed) run, pre-filled; Enter starts, Esc cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "start", "Start", id="start-form-start"),  # shown; a field's Enter does the same
        Binding("tab", "app.focus_next", "Next field", id="start-form-next"),
    ]

    FIELDS = (
        ("corpus", "Corpus file or folder of .txt (empty: download the book's text)"),
        ("epochs", "Epochs (train up to)"),
        ("layers", "Recurrent layers"),
        ("units", "Units per layer"),
        ("maxlen", "Characters read (maxlen)"),
        ("learning_rate", "Learning rate (empty: the recipe's)"),
        ("dropout", "Dropout after each layer"),
        ("steps_per_epoch", "Batches per epoch (empty: all)"),
        ("seed", "Seed"),
    )

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
                value = self.typed.get(name, getattr(self.defaults, name))
                with Horizontal(classes="form-row"):
                    yield Label(name.capitalize())
                    yield Select(options, value=value, allow_blank=False, id=f"field-{name}")
            for name, label in self.FIELDS:
                value = getattr(self.defaults, name)
                fixed = name == "corpus" and self.corpus_fixed
                shown = "" if value is None else str(value)
                if not fixed and name in self.typed:
                    shown = self.typed[name]
                with Horizontal(classes="form-row"):
                    yield Label(label)
                    yield Input(shown, id=f"field-{name}", disabled=fixed)
            yield Static("", id="start-problem", classes="dialog-problem")
            yield Static("Enter to start · Esc to cancel", classes="dialog-hint")
        yield Footer()  # the form's own keys, not the training screen's beneath it

    def on_mount(self) -> None:
        self.query_one("#field-epochs" if self.corpus_fixed else "#field-corpus", Input).focus()

    # What each field takes: its type and the smallest value (dropout also stays below 1).
    KINDS = {
        "epochs": (int, 1),
        "layers": (int, 1),
        "units": (int, 1),
        "maxlen": (int, 1),
        "learning_rate": (float, 0.0),
        "dropout": (float, 0.0),
        "steps_per_epoch": (int, 1),
        "seed": (int, 0),
    }

    def settings(self) -> StartSettings:
        """The form's values as settings; raises ValueError naming the first bad field."""
        values: dict = {name: self.query_one(f"#field-{name}", Select).value for name in ("recipe", "cell")}
        for name, label in self.FIELDS:
            text = self.query_one(f"#field-{name}", Input).value.strip()
            if name == "corpus":
                values[name] = self.defaults.corpus if self.corpus_fixed else text
                continue
            if not text:
                if name in ("learning_rate", "steps_per_epoch"):
                    values[name] = None
                    continue
                raise ValueError(f"{label}: a value is needed")
            kind, smallest = self.KINDS[name]
            try:
                value = kind(text)
            except ValueError:
                what = "a whole number" if kind is int else "a number"
                raise ValueError(f"{label}: {what} is needed, not {text!r}") from None
            if not math.isfinite(value) or value < smallest or (name == "learning_rate" and value == 0):
                least = "more than 0" if name == "learning_rate" else f"at least {smallest:g}"
                raise ValueError(f"{label}: {least} is needed")
            if name == "dropout" and value >= 1:
                raise ValueError(f"{label}: less than 1 is needed (it is the fraction of units dropped)")
            values[name] = value
        settings = replace(self.defaults, **values)
        problem = self.bounds.problem(settings)
        if problem:
            raise ValueError(problem)
        if self.resumes and settings.epochs <= self.saved_epoch:
            raise ValueError(
                f"Nothing to do: the folder already holds epoch {self.saved_epoch}; "
                f"ask for more epochs (Epochs {self.saved_epoch + 10}, say)"
            )
        if settings.corpus and not self.corpus_fixed:
            from pathlib import Path

            if not Path(settings.corpus).expanduser().exists():
                raise ValueError(f"Corpus: {settings.corpus} does not exist")
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
        self.closed_with = {name: str(self.query_one(f"#field-{name}", Select).value) for name in ("recipe", "cell")}
        self.closed_with |= {name: self.query_one(f"#field-{name}", Input).value for name, _ in self.FIELDS}


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
