"""The command palette's entries: the app's actions by name (Ctrl+P), without the built-ins that
do not work here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand

if TYPE_CHECKING:
    from nietzsche_tui.tui.app import NietzscheApp

# Textual's built-ins that do not work here: "Screenshot" failed to save, the "Keys" panel could
# not be closed, "Maximize" on the prompt filled the screen with hatching. F1 lists the keys.
UNWORKING_BUILT_INS = frozenset({"Screenshot", "Keys", "Maximize", "Minimize"})


def system_commands(app: NietzscheApp, built_in: Iterable[SystemCommand]) -> Iterable[SystemCommand]:
    """Textual's working built-ins, then every action of the app and its chat by name."""
    yield from (c for c in built_in if c.title not in UNWORKING_BUILT_INS)
    chat = app.chat_screen
    commands = [
        ("Stop generating", "Stop the running generation (Esc)", chat.action_stop),
        ("Regenerate", "The last prompt again with a new seed (Ctrl+R)", chat.action_regenerate),
        ("Surprise me", "Start from a held-out passage (Ctrl+T)", chat.action_surprise),
        ("Reload checkpoint", "Load the latest checkpoint (Ctrl+L)", app.action_reload),
        ("Show all columns", "Columns side by side", chat.chat.action_show_all),
        (
            "Suggestions as you type",
            "The model's next word, dimmed: → takes it, Ctrl+→ a word",
            chat.action_toggle_suggestions,
        ),
        ("Step mode", "Continue the prompt one character at a time (F8)", chat.action_step_mode),
        ("Copied spans", "Underline what the training text holds word for word (v)", chat.chat.action_toggle_copied),
        ("Training screen", "The folder's epochs, loss plot and samples (F5)", app.action_training),
        ("Start training", "Train or resume into the folder", app.action_start_training),
        ("Stop training", "Stop the run this app started", app.action_stop_training),
        ("Epochs or temperatures", "The next prompt's comparison (F7)", chat.action_toggle_compare),
        ("Choose epochs to compare", "Like 1,5,last or all", chat.action_choose_epochs),
        ("Compare models…", "The next prompts go to several models side by side", chat.action_compare_models),
        ("Follow the run", "Load each new checkpoint as it completes (Ctrl+F)", app.action_toggle_follow),
        ("History", "Stored exchanges: search, replay, continue, export (F6)", app.action_history),
    ]
    for title, help_text, callback in commands:
        yield SystemCommand(title, help_text, callback)
    for index, temperature in enumerate(app.settings.temperatures):
        yield SystemCommand(
            f"Solo temperature {temperature:g}",
            f"Show column {index + 1} alone",
            lambda i=index: chat.chat.action_solo(i),
        )
    yield SystemCommand("Help", "Keys and what they do (F1)", app.action_help)
