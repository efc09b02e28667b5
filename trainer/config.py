"""Typed training configuration: one dataclass, saved inside every checkpoint.

Two recipes train the same architecture (one-hot → LSTM → Dense softmax by default; ``--layers``,
``--units`` and ``--cell`` change it) with the same weight shapes, so the engine and the app treat
their checkpoints alike:

* ``book``: the book's recipe as printed (maxlen 60, step 3, batch 128, RMSprop 0.01, one target
  per window). The default, kept for fidelity.
* ``fast``: trains on every position of longer contiguous sequences (each character is read about
  once per epoch and every position yields a training signal), with gradient clipping and a
  decaying learning rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from nietzsche_tui.contracts.checkpoint import CELLS, Architecture

RECIPES = ("book", "fast")
BOOK_CORPUS_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run. CLI flags map one-to-one onto these fields."""

    recipe: str = "book"
    # UTF-8 text files and folders of .txt files, joined by a blank line; () downloads nietzsche.txt
    corpus: tuple[str, ...] = ()
    keep_case: bool = False  # the book lowercases the text; True keeps capitals as their own characters
    out: str = "checkpoints"
    epochs: int = 60
    maxlen: int = 60
    step: int = 3  # book recipe: distance between window starts
    sequence_length: int = 200  # fast recipe: characters per training sequence
    batch_size: int = 128
    cell: str = "lstm"  # or "gru"
    layers: int = 1  # stacked recurrent layers, each `units` wide
    units: int = 128
    learning_rate: float = 0.01
    lr_decay: float = 1.0  # multiplied into the learning rate once per epoch (1 = constant)
    clipnorm: float | None = None
    dropout: float = 0.0  # dropout after every recurrent layer while training (none at inference)
    val_fraction: float = 0.05
    val_step: int = 1  # distance between held-out windows; 1 scores every held-out character
    temperatures: tuple[float, ...] = (0.2, 0.5, 1.0, 1.2)
    sample_length: int = 400
    seed: int = 1337
    steps_per_epoch: int | None = None  # cap batches per epoch for quick runs
    distribute: str = "none"  # none | mirrored | multiworker (trainer/devices.py); not a resume key
    cpu_devices: int | None = None  # mirrored on a machine without GPUs: split the CPU in N devices
    worker_timeout: float = 300.0  # multiworker: seconds to wait for the other workers; not a resume key
    explode_factor: float = 3.0  # stop when the epoch loss exceeds this × the best so far

    def __post_init__(self) -> None:
        # One path (as older checkpoints and the app's start form give it) means a one-file corpus.
        corpus = self.corpus
        paths = (corpus,) if isinstance(corpus, str) else tuple(corpus or ())
        object.__setattr__(self, "corpus", paths)
        object.__setattr__(self, "temperatures", tuple(self.temperatures))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["temperatures"] = list(self.temperatures)
        data["corpus"] = list(self.corpus)
        return data

    @property
    def architecture(self) -> Architecture:
        return Architecture(self.cell, self.layers, self.units, self.dropout)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first setting that cannot work."""
        if self.cell not in CELLS:
            raise ValueError(f"--cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if not 1 <= self.layers <= 16:
            raise ValueError("--layers must be from 1 to 16")
        if self.recipe not in RECIPES:
            raise ValueError(f"--recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        positive = ("epochs", "maxlen", "step", "sequence_length", "batch_size", "units", "val_step")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0 <= self.val_fraction < 0.5:
            raise ValueError("--val-fraction must be in [0, 0.5)")
        if not 0 <= self.dropout < 1:
            raise ValueError("--dropout must be in [0, 1)")
        if not self.learning_rate > 0 or not 0 < self.lr_decay <= 1:
            raise ValueError("--learning-rate must be > 0 and --lr-decay in (0, 1]")
        if not self.worker_timeout > 0:
            raise ValueError("--worker-timeout must be a positive number of seconds")
        if self.cpu_devices is not None and self.cpu_devices < 1:
            raise ValueError("--cpu-devices must be at least 1")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ValueError("--steps-per-epoch must be at least 1")
        if self.clipnorm is not None and not (math.isfinite(self.clipnorm) and self.clipnorm > 0):
            raise ValueError(
                f"--clipnorm must be a positive number (leave it out for no clipping), got {self.clipnorm}"
            )
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"--seed must be from 0 to {2**32 - 1}, got {self.seed}")
        if self.sample_length < 0 or any(t < 0 for t in self.temperatures):
            raise ValueError("--sample-length and --temperatures must not be negative")
        return self


# The fast recipe's settings, chosen by the quality-against-time benchmark (benchmarks/RESULTS.md).
FAST_RECIPE = {
    "sequence_length": 100,
    "batch_size": 64,
    "learning_rate": 0.02,
    "lr_decay": 0.98,
    "clipnorm": 1.0,
    "epochs": 150,
}


def recipe_defaults(recipe: str) -> dict[str, Any]:
    """The field values a recipe sets when the user does not give them."""
    return dict(FAST_RECIPE) if recipe == "fast" else {}


def config_from(recipe: str, overrides: dict[str, Any]) -> TrainConfig:
    """Build a config: dataclass defaults, then the recipe's, then explicit overrides."""
    values = {**recipe_defaults(recipe), **{k: v for k, v in overrides.items() if v is not None}}
    names = {f.name for f in fields(TrainConfig)}
    return replace(TrainConfig(recipe=recipe), **{k: v for k, v in values.items() if k in names}).validate()


# Settings that the saved state fixes: the model's shape, the optimizer and its schedule (stored with
# the optimizer), the batches' meaning and the held-out measure. A resumed run must ask for the same
# values, or its metadata would claim settings that did not run.
RESUME_KEYS = (
    "recipe",
    "keep_case",
    "maxlen",
    "step",
    "sequence_length",
    "batch_size",
    "cell",
    "layers",
    "units",
    "dropout",
    "learning_rate",
    "lr_decay",
    "clipnorm",
    "steps_per_epoch",
    "val_fraction",
    "val_step",
    "seed",  # the shuffling order continues from it: another seed would not be the run the metadata names
)


def flag(key: str) -> str:
    """The command-line flag of a config field."""
    return "--" + key.replace("_", "-")


# Settings one recipe never reads: comparing them on resume would refuse what makes no difference.
_UNUSED_BY = {"book": {"sequence_length"}, "fast": {"step"}}


def recipe_keys(recipe: str) -> tuple[str, ...]:
    """The resume keys that mean something for ``recipe``."""
    return tuple(key for key in RESUME_KEYS if key not in _UNUSED_BY.get(recipe, set()))


def shown(key: str, value: Any) -> str:
    """A setting as a person reads it in a message: ``--maxlen 60``, ``no --clipnorm``, ``--keep-case``."""
    if value is None:
        return f"no {flag(key)}"
    if isinstance(value, bool):
        return flag(key) if value else f"no {flag(key)}"
    return f"{flag(key)} {value}"


def typed(key: str, value: Any) -> str:
    """What to type to ask for ``value`` (argparse takes no "False" or "None")."""
    if value is None or value is False:
        return f"no {flag(key)} (leave it out)"
    if value is True:
        return flag(key)
    return f"{flag(key)} {value}"
