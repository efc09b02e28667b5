"""The training settings as the app's start form offers them (and a served app bounds them):
which ``TrainConfig`` fields the form shows, how their text is read and checked, the form's
values as trainer flags (``StartSettings``), and the operator's upper bounds (``TrainingBounds``).
All of it comes from the fields' ``Setting`` in ``training.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from nietzsche_tui.contracts.training import SETTINGS, TrainConfig, field_kind, flag

FORM_FIELDS: tuple[str, ...] = tuple(name for name, meaning in SETTINGS.items() if meaning.label)
FORM_CHOICES = ("recipe", "cell")  # chosen from a list, not typed
BOUNDED: tuple[str, ...] = tuple(name for name, meaning in SETTINGS.items() if meaning.served_bound)
# What the app's form starts from when the folder has no run yet: the fast recipe, a short run.
FORM_DEFAULTS: dict[str, Any] = {"recipe": "fast", "epochs": 20, "learning_rate": None}


def form_label(name: str) -> str:
    """A field's label on the start form, saying what an empty field means."""
    meaning = SETTINGS[name]
    label = meaning.label or name.capitalize()
    return f"{label} (empty: {meaning.empty})" if meaning.empty else label


def parse_form_value(name: str, text: str) -> Any:
    """A start-form field's text as its setting's value; raises ValueError saying what is needed
    (the label is the caller's to add). Empty text is None where the setting allows it."""
    meaning, kind = SETTINGS[name], field_kind(name)
    text = text.strip()
    if not text:
        if meaning.empty is not None:
            return "" if kind is str else None
        raise ValueError("a value is needed")
    if kind is str:
        return text
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{'a whole number' if kind is int else 'a number'} is needed, not {text!r}") from None
    problem = meaning.limits.violated(value) if meaning.limits else None
    if problem:
        raise ValueError(f"{problem} is needed")
    return value


@dataclass(frozen=True)
class StartSettings:
    """What the start form chose: a value for each of ``FORM_FIELDS`` and ``FORM_CHOICES`` (None or
    "": left to the trainer, e.g. the recipe's learning rate)."""

    values: Mapping[str, Any]

    @classmethod
    def defaults(cls, **values: Any) -> StartSettings:
        """The form's starting values: ``FORM_DEFAULTS`` over ``TrainConfig``'s, then ``values``."""
        offered = FORM_FIELDS + FORM_CHOICES
        # The corpus first (the trainer's command reads best so), as a path: empty downloads the book's.
        base = {
            "corpus": "",
            **{f.name: f.default for f in fields(TrainConfig) if f.name in offered and f.name != "corpus"},
        }
        return cls({**base, **FORM_DEFAULTS, **values})

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def replace(self, **values: Any) -> StartSettings:
        return StartSettings({**self.values, **values})

    def arguments(self, folder: str) -> list[str]:
        """The trainer's flags for these settings, writing into ``folder``."""
        args = ["--out", str(folder)]
        for name, value in self.values.items():
            if value is None or value == "":
                continue
            args += [flag(name), str(value)]
        return args


@dataclass(frozen=True)
class TrainingBounds:
    """Upper bounds on what the start form accepts, for the ``BOUNDED`` settings. Unbounded for the
    owner at a terminal; a served app gets the operator's (``serve --max-epochs`` …), so a visitor
    cannot start a run of days. A bounded field left empty (all batches) is refused."""

    limits: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def served(cls) -> TrainingBounds:
        """The defaults of ``nietzsche-tui serve``: minutes of training, not days."""
        return cls({name: SETTINGS[name].served_bound for name in BOUNDED})  # type: ignore[misc]

    def flag(self) -> str:
        """As the served app's ``--training-bounds`` value: ``epochs=50,layers=3,…``."""
        return ",".join(f"{name}={bound}" for name, bound in self.limits.items())

    @classmethod
    def parse(cls, text: str) -> TrainingBounds:
        """The inverse of ``flag`` (raises ValueError)."""
        limits: dict[str, int] = {}
        for part in filter(None, text.split(",")):
            name, _, bound = part.partition("=")
            if name not in BOUNDED:
                raise ValueError(f"{name!r} cannot be bounded (the bounded settings: {', '.join(BOUNDED)})")
            limits[name] = int(bound)
        return cls(limits)

    def clamp(self, settings: StartSettings) -> StartSettings:
        """``settings`` brought within the bounds where a bound field is beyond them (the form's
        prefilled values: a resumed folder's "all batches" or its epochs + 10)."""
        over = {name: bound for name, bound in self.limits.items() if _beyond(settings.values.get(name), bound)}
        return settings.replace(**over) if over else settings

    def problem(self, settings: StartSettings) -> str | None:
        """Why these settings go beyond the bounds, naming the field as the form labels it."""
        for name, bound in self.limits.items():
            if _beyond(settings.values.get(name), bound):
                short = (SETTINGS[name].label or name).split(" (")[0]
                return f"{short}: at most {bound} on this server"
        return None


def _beyond(value: Any, bound: int) -> bool:
    return value is None or value == "" or value > bound
