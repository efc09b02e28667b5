"""The training settings, defined once: what a run is, for the trainer and the app alike.

``TrainConfig`` is saved in every checkpoint (its ``training`` object) and is what the app's
start form asks for, so it is a contract and lives here, not in ``trainer/`` (which the app never
imports). Every field carries a ``Setting``: its help, its limits, whether a resumed run must ask
for the same value, and, for the fields the start form offers, the form's label and a served app's
default upper bound. From this one definition come:

* the trainer's flags (``trainer/cli.py`` loops over the fields) and their checks (``validate``);
* the resume comparison (``resume_keys``) and its messages (``shown``, ``typed``);
* the start form's fields, their Textual validators and its values as trainer flags
  (``FORM_FIELDS``, ``StartSettings``);
* a served app's bounds (``TrainingBounds``, ``serve --max-epochs`` and the others).

Two recipes train the same architecture: ``book`` as printed, ``fast`` on every position of
longer sequences with clipping and a decaying learning rate (``trainer/config.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nietzsche_tui.contracts.checkpoint import CELLS, Architecture

RECIPES = ("book", "fast")
DISTRIBUTE = ("none", "mirrored", "multiworker")
SEED_LIMIT = 2**32


def _shown(number: float) -> str:
    """A number as a person types it: whole numbers in full (4294967295, not 4.29497e+09)."""
    return str(int(number)) if float(number).is_integer() and abs(number) < 1e18 else f"{number:g}"


@dataclass(frozen=True)
class Limits:
    """The values a number may take: ``minimum`` (excluded when ``above``), ``maximum``, and an
    excluded upper limit ``below``."""

    minimum: float | None = None
    above: bool = False
    maximum: float | None = None
    below: float | None = None

    def violated(self, value: float) -> str | None:
        """The side ``value`` breaks, as a person reads it ("at least 1", "less than 1"), or None."""
        low = self.minimum is not None and (value <= self.minimum if self.above else value < self.minimum)
        if self.minimum is not None and (low or math.isnan(value)):
            return f"more than {_shown(self.minimum)}" if self.above else f"at least {_shown(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return f"at most {_shown(self.maximum)}"
        if self.below is not None and value >= self.below:
            return f"less than {_shown(self.below)}"
        return None if math.isfinite(value) else "a finite number"

    def describe(self) -> str:
        """The whole range, for the trainer's messages: "from 1 to 16", "in [0, 1)", "at least 1"."""
        low = self.minimum
        if low is not None and self.below is not None:
            opening = "(" if self.above else "["
            return f"in {opening}{_shown(low)}, {_shown(self.below)})"
        if low is not None and self.maximum is not None:
            if self.above:
                return f"in ({_shown(low)}, {_shown(self.maximum)}]"
            return f"from {_shown(low)} to {_shown(self.maximum)}"
        if low is not None:
            return "a positive number" if self.above and low == 0 else f"at least {_shown(low)}"
        return "a number"


@dataclass(frozen=True)
class Setting:
    """What one ``TrainConfig`` field means beyond its type and default."""

    help: str
    limits: Limits | None = None
    resume: bool = False  # the saved state fixes it: a resumed run must ask for the same value
    label: str | None = None  # the start form's label; None: the form does not offer it
    served_bound: int | None = None  # a served app's default upper bound (``serve --max-…``)
    bound_flag: str | None = None  # the ``serve`` flag of that bound
    recipe_default: bool = False  # the recipe decides when the flag is left out
    empty: str | None = None  # the start form: what an empty field means (None: a value is needed)


def setting(default: Any, help: str, **meaning: Any) -> Any:
    """A ``TrainConfig`` field with its ``Setting``."""
    return field(default=default, metadata={"setting": Setting(help, **meaning)})


def at_least(minimum: float) -> Limits:
    return Limits(minimum=minimum)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run; each field is one ``nietzsche-train`` flag."""

    recipe: str = setting(
        "book",
        "'book' reproduces the book; 'fast' trains every position of long sequences with clipping and decay",
        resume=True,
    )
    corpus: tuple[str, ...] = setting(
        (),
        "UTF-8 text files and folders of .txt files (a folder's in name order), joined in the order given with a "
        "blank line between them (default: download the book's nietzsche.txt)",
        label="Corpus file or folder of .txt",
        empty="download the book's text",
    )
    keep_case: bool = setting(
        False,
        "keep capitals as their own characters (default: lowercase, as the book); the app then keeps the case of "
        "prompts too",
        resume=True,
    )
    out: str = setting("checkpoints", "folder for checkpoints (resumes from its latest)")
    epochs: int = setting(
        60,
        "train up to this epoch",
        limits=at_least(1),
        label="Epochs (train up to)",
        served_bound=50,
        bound_flag="--max-epochs",
        recipe_default=True,
    )
    maxlen: int = setting(
        60,
        "characters the model reads before predicting",
        limits=at_least(1),
        resume=True,
        label="Characters read (maxlen)",
    )
    step: int = setting(3, "book recipe: characters between window starts", limits=at_least(1), resume=True)
    sequence_length: int = setting(
        200, "fast recipe: characters per training sequence", limits=at_least(1), resume=True, recipe_default=True
    )
    batch_size: int = setting(128, "batch size", limits=at_least(1), resume=True, recipe_default=True)
    cell: str = setting("lstm", "recurrent layer type (the book: lstm)", resume=True)
    layers: int = setting(
        1,
        "stacked recurrent layers (the book: 1)",
        limits=Limits(minimum=1, maximum=16),
        resume=True,
        label="Recurrent layers",
        served_bound=3,
        bound_flag="--max-layers",
    )
    units: int = setting(
        128,
        "units in every recurrent layer (the book: 128)",
        limits=at_least(1),
        resume=True,
        label="Units per layer",
        served_bound=512,
        bound_flag="--max-units",
    )
    learning_rate: float = setting(
        0.01,
        "RMSprop learning rate",
        limits=Limits(minimum=0, above=True),
        resume=True,
        label="Learning rate",
        recipe_default=True,
        empty="the recipe's",
    )
    lr_decay: float = setting(
        1.0,
        "learning-rate factor per epoch (book: 1, constant); saved with the optimizer, so a resumed run must ask "
        "for the schedule it started with",
        limits=Limits(minimum=0, above=True, maximum=1),
        resume=True,
        recipe_default=True,
    )
    clipnorm: float | None = setting(
        None,
        "clip gradients to this norm (book: none)",
        limits=Limits(minimum=0, above=True),
        resume=True,
        recipe_default=True,
    )
    dropout: float = setting(
        0.0,
        "dropout after every recurrent layer (between layers and before the softmax) while training (0: the "
        "book's model; none at inference)",
        limits=Limits(minimum=0, below=1),
        resume=True,
        label="Dropout after each layer",
    )
    val_fraction: float = setting(
        0.05,
        "held-out fraction at the end of the text (0 for an exact book run)",
        limits=Limits(minimum=0, below=0.5),
        resume=True,
    )
    val_step: int = setting(1, "characters between held-out windows", limits=at_least(1), resume=True)
    temperatures: tuple[float, ...] = setting(
        (0.2, 0.5, 1.0, 1.2), "sampling temperatures for the per-epoch samples, comma-separated"
    )
    sample_length: int = setting(400, "characters per sample (0: none)", limits=at_least(0))
    seed: int = setting(
        1337,
        "seed for weight initialisation, shuffling and samples: the same command on the same machine gives the "
        "same losses",
        limits=Limits(minimum=0, maximum=SEED_LIMIT - 1),
        # The shuffling order continues from it: another seed would not be the run the metadata names.
        resume=True,
        label="Seed",
    )
    steps_per_epoch: int | None = setting(
        None,
        "cap batches per epoch (quick runs)",
        limits=at_least(1),
        resume=True,
        label="Batches per epoch",
        served_bound=1000,
        bound_flag="--max-batches",
        empty="all",
    )
    distribute: str = setting(
        "none",
        "none: one device; mirrored: MirroredStrategy over the local GPUs (or --cpu-devices); multiworker: "
        "MultiWorkerMirroredStrategy configured by TF_CONFIG (run the same command on every worker; worker 0 "
        "writes the checkpoints; --out must be the same shared folder for a resume). --batch-size is always "
        "the global batch, split evenly among all devices",
    )
    cpu_devices: int | None = setting(
        None,
        "split the CPU into N logical devices for --distribute mirrored (for trying it without GPUs)",
        limits=at_least(1),
    )
    worker_timeout: float = setting(
        300.0,
        "with --distribute multiworker: seconds to wait for every worker of TF_CONFIG before giving up",
        limits=Limits(minimum=0, above=True),
    )
    explode_factor: float = setting(
        3.0, "stop when the epoch loss exceeds this × the best so far", limits=Limits(minimum=1, above=True)
    )
    # Off unless asked for: F5 already follows every run, and the summaries cost a write per epoch
    # (and a graph) that most runs would never read.
    tensorboard: str | None = setting(
        None,
        "also write TensorBoard logs into this folder (what keras.callbacks.TensorBoard writes, the held-out "
        "loss, and each epoch's samples as text): `tensorboard --logdir DIR` shows the run",
    )

    def __post_init__(self) -> None:
        # One path (as older checkpoints and the app's start form give it) means a one-file corpus.
        corpus = self.corpus
        paths = (corpus,) if isinstance(corpus, str) else tuple(corpus or ())
        object.__setattr__(self, "corpus", paths)
        object.__setattr__(self, "temperatures", tuple(self.temperatures))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a checkpoint's ``training`` object records them."""
        data = asdict(self)
        data["temperatures"] = list(self.temperatures)
        data["corpus"] = list(self.corpus)
        return data

    @property
    def architecture(self) -> Architecture:
        return Architecture(self.cell, self.layers, self.units, self.dropout)

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first setting that cannot work."""
        for name, choices in (("recipe", RECIPES), ("cell", CELLS), ("distribute", DISTRIBUTE)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{flag(name)} must be one of {', '.join(choices)}, got {getattr(self, name)!r}")
        for spec in fields(self):
            limits, value = spec.metadata["setting"].limits, getattr(self, spec.name)
            if limits is not None and value is not None and limits.violated(value) is not None:
                extra = " (leave it out for no clipping)" if spec.name == "clipnorm" else ""
                raise ValueError(f"{flag(spec.name)} must be {limits.describe()}{extra}, got {_shown(value)}")
        if any(not math.isfinite(t) or t < 0 for t in self.temperatures):
            raise ValueError("--temperatures must be finite numbers >= 0")
        return self


SETTINGS: dict[str, Setting] = {spec.name: spec.metadata["setting"] for spec in fields(TrainConfig)}


def field_kind(name: str) -> type:
    """int, float or str: how a setting's value is typed (its field's annotation says)."""
    annotation = str(TrainConfig.__dataclass_fields__[name].type)
    return int if annotation.startswith("int") else float if annotation.startswith("float") else str


def flag(name: str) -> str:
    """The command-line flag of a setting."""
    return "--" + name.replace("_", "-")


# Settings one recipe never reads: comparing them on resume would refuse what makes no difference.
_UNUSED_BY = {"book": {"sequence_length"}, "fast": {"step"}}


def resume_keys(recipe: str) -> tuple[str, ...]:
    """The settings a resumed run of ``recipe`` must repeat: the model's shape, the optimizer and its
    schedule (stored with the optimizer), the batches' meaning, the held-out measure, the seed."""
    unused = _UNUSED_BY.get(recipe, set())
    return tuple(name for name, meaning in SETTINGS.items() if meaning.resume and name not in unused)


def shown(name: str, value: Any) -> str:
    """A setting as a person reads it in a message: ``--maxlen 60``, ``no --clipnorm``, ``--keep-case``."""
    if value is None:
        return f"no {flag(name)}"
    if isinstance(value, bool):
        return flag(name) if value else f"no {flag(name)}"
    return f"{flag(name)} {value}"


def typed(name: str, value: Any) -> str:
    """What to type to ask for ``value`` (argparse takes no "False" or "None")."""
    if value is None or value is False:
        return f"no {flag(name)} (leave it out)"
    if value is True:
        return flag(name)
    return f"{flag(name)} {value}"
