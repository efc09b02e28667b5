"""Modal screens: the help page and the explanation of a checkpoint problem."""

from __future__ import annotations

from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, SelectionList, Static
from textual.widgets.selection_list import Selection

from nietzsche_tui.locate import MAX_COMPARED_MODELS, model_candidates, run_candidates

INTRODUCTION = (
    "Type a few words and press Enter: the model continues your text at every temperature at once, "
    "one column each. Low temperatures repeat the likeliest characters; high ones take risks."
)

KEYS = [
    ("Enter", "prompt", "send the prompt (a new prompt stops the running one)"),
    ("Esc", "anywhere", "stop generating; the text so far stays, marked stopped"),
    ("Ctrl+R", "anywhere", "regenerate the last prompt with a new seed"),
    ("Ctrl+T", "anywhere", "surprise me: start from a held-out passage stored in the checkpoint"),
    ("Ctrl+L", "anywhere", "reload the latest checkpoint (watch a model improve while it trains)"),
    ("F2 / F3", "anywhere", "previous / next temperature column"),
    ("F4", "anywhere", "one column ↔ all side by side"),
    (
        "F5",
        "anywhere",
        "the training screen: epochs, loss plot, samples; s start · x stop · t time axis · c compare runs",
    ),
    (
        "F6",
        "anywhere",
        "history: type to search, ↑ ↓ pick · Ctrl+R replay · Ctrl+O continue · Ctrl+D delete (asks once) · "
        "Ctrl+E export · Ctrl+← Ctrl+→ columns",
    ),
    ("F7", "anywhere", "the next prompt compares epochs (at T=0.5) instead of temperatures, and back"),
    ("Ctrl+F", "anywhere", "follow a live training run: load each new checkpoint (on by default)"),
    ("Tab / Shift+Tab", "anywhere", "move between the prompt and the chat"),
    ("1-4", "chat", "show that temperature alone"),
    ("p", "chat", "colour every character by the model's probability of it (legend below the chat)"),
    (
        "i",
        "chat",
        "inspect the column: ← → move, Ctrl+← Ctrl+→ by word, Home End; the 10 likeliest characters there; "
        "a digit (or ↑ ↓ and Enter) branches: the column continues from there with that character",
    ),
    (
        "F8",
        "anywhere",
        "step mode: continue the prompt one character at a time (a digit takes a listed one, Enter the drawn "
        "one, any other key your own, Backspace one back, Esc ends and keeps it)",
    ),
    ("v", "chat", "underline the spans copied word for word from the training text (i says from which line)"),
    ("→ / Ctrl+→", "prompt", "take the model's dimmed suggestion / one word of it (--no-suggest, or the palette)"),
    ("n", "chat", "the column's text coloured by one LSTM cell; cells ranked by what they track"),
    ("/score TEXT", "prompt", "how surprised the model is by TEXT, coloured character by character"),
    ("/help", "prompt", "this help"),
    ("0", "chat", "all temperatures side by side"),
    ("← / →", "chat", "previous / next column"),
    ("↑ ↓ PgUp PgDn", "chat", "scroll"),
    ("F1", "anywhere", "this help (Esc, F1, q or ? close it; ? opens it where nothing is typed)"),
    ("Ctrl+P", "anywhere", "command palette"),
    ("Ctrl+Q", "anywhere", "quit"),
]

FOOTNOTE = (
    "Digits, arrows and p i n v act on the chat only when it has focus (Tab); any other key typed there "
    "goes to the prompt, so typing never triggers them. Keys are written as you press them. "
    "A terminal too narrow for every column shows one at a time; the same keys switch between them."
)


def help_table() -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=True, show_edge=False)
    table.add_column("Key", style="bold", no_wrap=True)
    table.add_column("Where", style="dim", no_wrap=True)
    table.add_column("What it does")
    for row in KEYS:
        table.add_row(*row)
    return table


class HelpScreen(ModalScreen[None]):
    """Every key, what it does and where it works."""

    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("nietzsche-tui", classes="dialog-title")
            yield Static(Text(INTRODUCTION))
            yield Static(help_table())
            yield Static(Text(FOOTNOTE), classes="dialog-hint")
            yield Static("Esc to close", classes="dialog-hint")


class ProblemScreen(ModalScreen[None]):
    """A problem the user must act on (a missing or broken checkpoint), explained, never a traceback."""

    BINDINGS = [
        Binding("escape,enter", "dismiss", "Close"),
        Binding("ctrl+l", "reload", "Reload", priority=True),  # the remedy it names works right here
    ]

    def __init__(self, title: str, problem: str, remedy: str) -> None:
        super().__init__()
        self.title_text = title
        self.problem = problem
        self.remedy = remedy

    def compose(self) -> ComposeResult:
        with Vertical(id="problem-box"):
            yield Static(Text(self.title_text), classes="dialog-title")
            yield Static(Text(self.problem), classes="dialog-problem")
            yield Static(Text(self.remedy), classes="dialog-remedy")
            yield Static("Enter or Esc to close · Ctrl+L to reload · the app keeps running", classes="dialog-hint")

    def action_reload(self) -> None:
        self.dismiss()
        self.app.action_reload()


class EpochsDialog(ModalScreen[str | None]):
    """Which epochs the next prompt compares: "1,5,last", "all", or empty for the default picks."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="problem-box"):
            yield Static("Compare which epochs?", classes="dialog-title")
            yield Input(self.current, placeholder="1,5,last  ·  all  ·  empty: first, a quarter, half, last")
            yield Static("Enter to choose · Esc to cancel", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickerDialog(ModalScreen[list[str] | None]):
    """Pick several entries from a list found on disk (in a thread: it reads folders), then a
    button (Tab, Enter) or Ctrl+S; Esc cancels. Subclasses say what is listed and what is enough."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "choose", "Choose", priority=True)]
    TITLE = ""
    BUTTON = "Choose"
    HINT = ""

    def __init__(self, chosen: list[str]) -> None:
        super().__init__()
        self.chosen = chosen  # what was picked last time: shown picked again

    def compose(self) -> ComposeResult:
        with Vertical(id="problem-box"):
            yield Static(self.title_text(), classes="dialog-title")
            yield SelectionList[str]()
            yield Button(self.BUTTON, variant="primary", id="choose")
            yield Static(self.HINT, classes="dialog-hint")

    def title_text(self) -> str:
        return self.TITLE

    def candidates(self) -> list[tuple[str, str]]:
        """(entry, label) of everything to offer (runs in a thread)."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()
        self._list_candidates()

    @work(thread=True, exit_on_error=False)
    def _list_candidates(self) -> None:
        candidates = self.candidates()
        self.app.call_from_thread(self._show, candidates)

    def _show(self, candidates: list[tuple[str, str]]) -> None:
        choices = self.query_one(SelectionList)
        for entry, label in candidates:
            choices.add_option(Selection(label, entry, entry in self.chosen))
        if candidates:
            choices.highlighted = 0  # Space picks the first at once, not after an arrow
        else:
            choices.add_option(Selection(self.nothing_found(), "", disabled=True))

    def nothing_found(self) -> str:
        return "nothing to pick"

    def selected(self) -> list[str]:
        """The entries picked in the list (the "nothing found" line has no entry)."""
        return [value for value in self.query_one(SelectionList).selected if value]

    def picked(self) -> list[str] | None:
        """What to end with, or None (with a notice) while the picks are not enough."""
        return self.selected()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose()

    def action_choose(self) -> None:
        picked = self.picked()
        if picked is not None:
            self.dismiss(picked)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ModelsDialog(PickerDialog):
    """Which models the next prompts compare side by side: the bundled ones and the training
    folders found (``locate.model_candidates``), two to eight of them."""

    TITLE = "Compare models side by side"
    BUTTON = "Compare"
    HINT = (
        "Space picks · Tab, Enter (or Ctrl+S) compares the picked ones (2 to 8) · Esc cancels; "
        "none picked: back to temperatures"
    )

    def __init__(self, training_folder: str | None, served: bool, chosen: list[str]) -> None:
        super().__init__(chosen)
        self.training_folder = training_folder
        self.served = served

    def candidates(self) -> list[tuple[str, str]]:
        # A folder by its name: where it lives is the operator's business, not a visitor's.
        found = model_candidates(self.training_folder, self.served)
        return [(entry, f"{Path(entry).name}  ({description})") for entry, description in found]

    def picked(self) -> list[str] | None:
        picked = self.selected()
        if len(picked) == 1 or len(picked) > MAX_COMPARED_MODELS:
            self.notify(f"Pick 2 to {MAX_COMPARED_MODELS} models, or none to go back to temperatures.")
            return None
        return picked


class RunsDialog(PickerDialog):
    """Which training folders F5 plots beside its own (``locate.run_candidates``)."""

    BUTTON = "Plot them"
    HINT = "Space picks · Tab, Enter (or Ctrl+S) plots them with this run · Esc cancels"

    def __init__(self, runs: Path, own: Path, chosen: list[str]) -> None:
        super().__init__(chosen)
        self.runs = runs
        self.own = own

    def title_text(self) -> str:
        return f"Runs beside {self.own.name}, from {self.runs.name or self.runs}"

    def candidates(self) -> list[tuple[str, str]]:
        return [(str(folder), folder.name) for folder in run_candidates(self.runs, self.own)]

    def nothing_found(self) -> str:
        return f"no other training folder in {self.runs.name}"
