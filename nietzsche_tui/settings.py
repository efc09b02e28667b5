"""What the app is asked to do: its typed settings, and the command line that gives them.

``cli/main.py`` parses the user's flags into ``Settings`` (``from_args``); ``serve`` builds each
browser tab's ``Settings`` and starts the app with ``argv()``, so what the operator chose travels
as this object, never as flags rebuilt by hand. No Textual here: the server imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from nietzsche_tui.contracts.training_form import TrainingBounds
from nietzsche_tui.engine.request import DEFAULT_LENGTH, DEFAULT_TEMPERATURES
from nietzsche_tui.history.store import DEFAULT_MAX_EXCHANGES
from nietzsche_tui.verbatim.spans import DEFAULT_MIN_SPAN


@dataclass(frozen=True)
class Settings:
    """What the command line controls."""

    checkpoint: str | None = None
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = DEFAULT_LENGTH
    seed: int | None = None  # None: a fresh seed for every prompt
    mode: str = "window"
    show_speed: bool = True  # snapshot tests turn the live figure off
    corpus: str | None = None  # the training text: pre-fills the training form; the copied spans' text
    copied_min: int = DEFAULT_MIN_SPAN  # the shortest span marked as copied from the training text
    follow: bool = True  # load each new checkpoint of a live run as it completes
    history: str | None = None  # the history database; None: the default location
    keep_history: bool = True  # --no-history keeps nothing
    compare: str | None = None  # models side by side for every prompt: "book,large,runs/mine"
    runs: str | None = None  # where F5's "Compare runs…" looks (None: the training folder's parent; served: none)
    suggest: bool = True  # the model's continuation, dimmed after the cursor as you type
    generation_process: bool = True  # generate in a child process (engine/process.py), beside the UI
    resume: bool = False  # reopen the last session's exchanges in the chat
    max_history: int = DEFAULT_MAX_EXCHANGES  # exchanges kept; the oldest go first
    served: bool = False  # running in a browser tab for `nietzsche-tui serve`: the user is not the owner
    allow_training: bool = True  # served: only when the operator passed --allow-training
    training_bounds: TrainingBounds = field(default_factory=TrainingBounds)  # served: the operator's bounds

    @classmethod
    def from_args(cls, args: Any) -> Settings:
        """The settings ``nietzsche-tui``'s parsed options ask for (``cli/main.py``'s parser)."""
        values = {name: getattr(args, name) for name in FLAGS}
        values["allow_training"] = args.allow_training or not args.served  # the owner may always train
        return cls(**values)

    def argv(self) -> list[str]:
        """The command-line options that give these settings: ``nietzsche-tui serve`` starts each
        tab's app with them, so what the operator chose reaches the app through this object."""
        argv: list[str] = []
        for spec in fields(self):
            name, value = spec.name, getattr(self, spec.name)
            option = FLAGS.get(name)
            if option is None or value is None:
                continue
            if isinstance(value, bool):
                # "--no-…" options turn a default-on setting off; the others turn one on.
                wanted = not value if option.startswith("--no-") else value
                if name == "allow_training":
                    wanted = value and self.served  # an app at a terminal always allows training
                argv += [option] if wanted else []
            elif name == "temperatures":
                argv += [option, ",".join(f"{t:g}" if float(f"{t:g}") == t else repr(t) for t in value)]
            elif name == "training_bounds":
                argv += [option, value.flag()] if value.limits else []
            else:
                argv += [option, str(value)]
        return argv


# Each setting's command-line option (``cli/main.py`` defines them; ``show_speed`` has none).
FLAGS = {
    "checkpoint": "--checkpoint",
    "temperatures": "--temperatures",
    "length": "--length",
    "seed": "--seed",
    "mode": "--mode",
    "corpus": "--corpus",
    "copied_min": "--copied-min",
    "follow": "--no-follow",
    "history": "--history",
    "keep_history": "--no-history",
    "compare": "--compare",
    "runs": "--runs",
    "suggest": "--no-suggest",
    "generation_process": "--no-generation-process",
    "resume": "--resume",
    "max_history": "--max-history",
    "served": "--served",
    "allow_training": "--allow-training",
    "training_bounds": "--training-bounds",
}
