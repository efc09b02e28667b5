"""``nietzsche-train``: command-line flags mapped one-to-one onto ``TrainConfig``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from nietzsche_tui.cli.common import OneLineParser, temperatures_arg
from nietzsche_tui.contracts.checkpoint import CELLS
from trainer.config import RECIPES, TrainConfig, config_from, recipe_defaults
from trainer.devices import STRATEGIES


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    fast = recipe_defaults("fast")
    parser = OneLineParser(
        prog="nietzsche-train",
        description="Train the character-level LSTM of Deep Learning with Python §8.1 and write one "
        "self-describing checkpoint per epoch. Rerun the same command to resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add(
        "--recipe",
        choices=RECIPES,
        default="book",
        help=f"'book' reproduces the book; 'fast' trains every position of long sequences with "
        f"clipping and decay (its defaults: {', '.join(f'{k}={v}' for k, v in fast.items())})",
    )
    add(
        "--corpus",
        nargs="+",
        default=None,
        metavar="PATH",
        help="UTF-8 text files and folders of .txt files (a folder's in name order), joined in the order "
        "given with a blank line between them (default: download the book's nietzsche.txt)",
    )
    add(
        "--keep-case",
        action="store_true",
        default=None,
        help="keep capitals as their own characters (default: lowercase, as the book); the app then keeps "
        "the case of prompts too",
    )
    add("--out", default=d.out, help="folder for checkpoints (resumes from its latest)")
    add("--epochs", type=int, default=None, help=f"train up to this epoch (book: {d.epochs})")
    add("--maxlen", type=int, default=d.maxlen, help="characters the model reads before predicting")
    add("--step", type=int, default=d.step, help="book recipe: characters between window starts")
    add("--sequence-length", type=int, default=None, help="fast recipe: characters per training sequence")
    add("--batch-size", type=int, default=None, help=f"batch size (book: {d.batch_size})")
    add("--cell", choices=CELLS, default=d.cell, help="recurrent layer type (the book: lstm)")
    add("--layers", type=int, default=d.layers, help="stacked recurrent layers (the book: 1)")
    add("--units", type=int, default=d.units, help="units in every recurrent layer (the book: 128)")
    add("--learning-rate", type=float, default=None, help=f"RMSprop learning rate (book: {d.learning_rate})")
    add(
        "--lr-decay",
        type=float,
        default=None,
        help="learning-rate factor per epoch (book: 1, constant); saved with the optimizer, "
        "so a resumed run must ask for the schedule it started with",
    )
    add("--clipnorm", type=float, default=None, help="clip gradients to this norm (book: none)")
    add(
        "--dropout",
        type=float,
        default=d.dropout,
        help="dropout after every recurrent layer (between layers and before the softmax) while training "
        "(0: the book's model; none at inference)",
    )
    add(
        "--val-fraction",
        type=float,
        default=d.val_fraction,
        help="held-out fraction at the end of the text (0 for an exact book run)",
    )
    add("--val-step", type=int, default=d.val_step, help="characters between held-out windows")
    add(
        "--temperatures",
        type=temperatures_arg,
        default=d.temperatures,
        help="sampling temperatures for the per-epoch samples, comma-separated",
    )
    add("--sample-length", type=int, default=d.sample_length, help="characters per sample (0: none)")
    add(
        "--seed",
        type=int,
        default=d.seed,
        help="seed for weight initialisation, shuffling and samples: the same command on the same "
        "machine gives the same losses",
    )
    add("--steps-per-epoch", type=int, default=None, help="cap batches per epoch (quick runs)")
    add(
        "--distribute",
        choices=STRATEGIES,
        default=d.distribute,
        help="none: one device; mirrored: MirroredStrategy over the local GPUs (or --cpu-devices); "
        "multiworker: MultiWorkerMirroredStrategy configured by TF_CONFIG (run the same command on every "
        "worker; worker 0 writes the checkpoints; --out must be the same shared folder for a resume). "
        "--batch-size is always the global batch, split evenly among all devices",
    )
    add(
        "--cpu-devices",
        type=int,
        default=None,
        help="split the CPU into N logical devices for --distribute mirrored (for trying it without GPUs)",
    )
    add(
        "--worker-timeout",
        type=float,
        default=d.worker_timeout,
        help="with --distribute multiworker: seconds to wait for every worker of TF_CONFIG before giving up",
    )
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
