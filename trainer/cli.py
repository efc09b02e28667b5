"""``nietzsche-train``: one command-line flag per ``TrainConfig`` field, generated from its definition."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path

from nietzsche_tui.cli.common import OneLineParser, temperatures_arg
from nietzsche_tui.contracts.checkpoint import CELLS
from nietzsche_tui.contracts.training import DISTRIBUTE, RECIPES, SETTINGS, TrainConfig, field_kind, flag
from trainer.config import config_from, recipe_defaults

# How a setting is typed on the command line, where its field's type does not say it all.
CHOICES = {"recipe": RECIPES, "cell": CELLS, "distribute": DISTRIBUTE}


def build_parser() -> argparse.ArgumentParser:
    """One flag per ``TrainConfig`` field, with the help, default and choices the field defines."""
    parser = OneLineParser(
        prog="nietzsche-train",
        description="Train the character-level LSTM of Deep Learning with Python §8.1 and write one "
        "self-describing checkpoint per epoch. Rerun the same command to resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    fast = recipe_defaults("fast")
    for spec in fields(TrainConfig):
        name, meaning, default = spec.name, SETTINGS[spec.name], spec.default
        options: dict = {"help": meaning.help}
        if name == "recipe":
            options["help"] += f" (fast's defaults: {', '.join(f'{k}={v}' for k, v in fast.items())})"
        if name == "corpus":
            options |= {"nargs": "+", "default": None, "metavar": "PATH"}
        elif spec.type == "bool":
            options |= {"action": "store_true", "default": None}
        elif name == "temperatures":
            options |= {"type": temperatures_arg, "default": default}
        else:
            options |= {
                "type": field_kind(name),
                "default": None if meaning.recipe_default or default is None else default,
            }
            if name in CHOICES:
                options["choices"] = CHOICES[name]
            if meaning.recipe_default and default is not None:
                fast_value = f", fast recipe: {fast[name]:g}" if name in fast else ""
                options["help"] += f" (book recipe: {default:g}{fast_value})"
        parser.add_argument(flag(name), **options)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clear line and a non-zero exit on any problem, never a traceback."""
    # Ctrl-C (and the app's Stop, a SIGINT) must stop the run even when this process was started
    # with SIGINT ignored, as a background job or a server's child inherits it: Python then
    # installs no handler of its own, and the run went on to its last epoch.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args.recipe, {k: v for k, v in vars(args).items() if k != "recipe"})
    except ValueError as error:
        print(f"nietzsche-train: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter out
    from nietzsche_tui.contracts.events import EventWriter
    from trainer.corpus import CorpusError
    from trainer.devices import DeviceError, writes_files
    from trainer.train import NotATrainingFolder, SilentEvents, TrainingError, TrainingStopped, train

    # Whatever ends the run is also written to the folder's events file, for the app to show
    # (by the chief alone, in a multi-worker run).
    events = EventWriter(config.out) if writes_files(config.distribute) else SilentEvents(config.out)

    def fail(message: str, code: int, event: str = "run_failed", **fields) -> int:
        print(f"nietzsche-train: {message}", file=sys.stderr)
        if Path(config.out).is_dir():
            events.write(event, message=message, **fields)
        return code

    try:
        train(config, events=events)
    except KeyboardInterrupt:
        return fail(
            f"interrupted. Complete epochs are saved in {config.out}; rerun the same command to resume.",
            130,
            "run_stopped",
            reason="interrupted",
        )
    except (TrainingStopped, NotATrainingFolder) as error:
        # Stopped: train() wrote the event. Not a training folder: nothing is written there.
        print(f"nietzsche-train: {error}", file=sys.stderr)
        return 3 if isinstance(error, TrainingStopped) else 2
    except (CorpusError, TrainingError, DeviceError) as error:
        return fail(str(error), 2)
    except OSError as error:
        return fail(f"cannot write to {config.out} ({error.strerror or error}); earlier checkpoints are intact.", 1)
    except Exception as error:  # a last line of defence: one readable line, not a traceback
        return fail(f"training failed: {type(error).__name__}: {error}", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
