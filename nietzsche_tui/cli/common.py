"""The command-line toolkit every command shares (the app's subcommands and the trainer's): exit
codes, the one-line failure, the parser that fails in one line, argument types, the model options
(``--checkpoint``/``--model``) and loading the engine they name.

It imports nothing of the app's screens, the web server or the history, so ``nietzsche-train``
can use it without pulling them in.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.locate import BUNDLED_MODELS, setting_location

EXIT_OK, EXIT_CHECKPOINT, EXIT_USAGE = 0, 1, 2
CHECKPOINT_HELP = (
    "checkpoint file, or a training folder (its latest); default: ./checkpoints if it holds any, else the bundled model"
)
MODEL_HELP = (
    "a model bundled with the package instead of --checkpoint: book (the book's LSTM(128)) or "
    "large (2 × LSTM(256), lower held-out loss, about 8× the work per character); see MODEL.md"
)


def fail(message: str, code: int) -> int:
    """Say what was wrong in one line on standard error; return the exit code to use."""
    print(f"nietzsche-tui: {message}", file=sys.stderr)
    return code


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line (what was wrong, where to look), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def whole_number(minimum: int, meaning: str | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``; ``meaning`` says the smallest in
    words when it means something ("0 (all)")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning or minimum} or more, got {value}")
        return value

    return parse


def temperatures_arg(text: str) -> tuple[float, ...]:
    """Parse "0.2,0.5,1.0,1.2" into finite, non-negative floats (argparse type)."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"an empty value in {text!r}; write them like 0.2,0.5,1.0")
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"temperatures must be finite numbers >= 0, got {text!r}")
    if len(values) > 8:
        raise argparse.ArgumentTypeError("at most 8 temperatures")
    return values


def add_model_options(parser: argparse.ArgumentParser, default: object = None, bundled: bool = True) -> None:
    """``--checkpoint`` (and ``--model``, the bundled ones by name); ``default`` is
    ``argparse.SUPPRESS`` on a subcommand, so a value given before the command word is kept."""
    parser.add_argument("--checkpoint", default=default, help=CHECKPOINT_HELP)
    if bundled:
        parser.add_argument("--model", choices=sorted(BUNDLED_MODELS), default=default, help=MODEL_HELP)


class UsageError(ValueError):
    """Options that contradict each other: the message is the one line to print."""


def chosen_checkpoint(args: argparse.Namespace) -> str | None:
    """The checkpoint the options name: ``--checkpoint``, or ``--model``'s bundled folder, or None
    (the default location). Raises UsageError when both are given."""
    checkpoint, model = getattr(args, "checkpoint", None), getattr(args, "model", None)
    if model is None:
        return checkpoint
    if checkpoint is not None:
        raise UsageError("--model and --checkpoint both name a model; give one")
    return str(BUNDLED_MODELS[model])


def load_engine(location: str | None) -> Engine:
    """``Engine.load``, with a warning line when damaged newer checkpoints were passed over."""
    engine = Engine.load(setting_location(location))
    if engine.passed_over:
        print(f"nietzsche-tui: warning: {engine.passed_over}", file=sys.stderr)
    return engine
