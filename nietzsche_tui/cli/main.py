"""``nietzsche-tui``: the chat app, and ``nietzsche-tui generate`` for scripts.

Neither path imports TensorFlow: checkpoints are read with the NumPy engine.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from nietzsche_tui.cli.analysis import add_commands as add_analysis_commands
from nietzsche_tui.cli.analysis import run_cells, run_score
from nietzsche_tui.cli.common import (
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    add_model_options,
    chosen_checkpoint,
    fail,
    temperatures_arg,
    whole_number,
)
from nietzsche_tui.cli.generate import run_generate
from nietzsche_tui.cli.history import add_commands as add_history_commands
from nietzsche_tui.cli.history import run_export, run_history
from nietzsche_tui.cli.verbatim import add_command as add_verbatim_command
from nietzsche_tui.cli.verbatim import add_copied_options, run_verbatim
from nietzsche_tui.contracts.training_form import TrainingBounds
from nietzsche_tui.engine.request import DEFAULT_LENGTH, DEFAULT_TEMPERATURES, MODES
from nietzsche_tui.history.store import DEFAULT_MAX_EXCHANGES
from nietzsche_tui.serve.command import add_command as add_serve_command
from nietzsche_tui.serve.command import run_serve
from nietzsche_tui.verbatim.spans import DEFAULT_MIN_SPAN

_non_negative = whole_number(0)


def _bounds(text: str) -> TrainingBounds:
    try:
        return TrainingBounds.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _shared_options(defaults: bool = True) -> argparse.ArgumentParser:
    """The options the app and `generate` share. Without ``defaults`` an option left out keeps the
    value given before the command word (``nietzsche-tui --seed 5 generate`` honours --seed)."""
    shared = argparse.ArgumentParser(add_help=False)
    add_model_options(shared, default=None if defaults else argparse.SUPPRESS)
    shared.add_argument(
        "--temperatures",
        type=temperatures_arg,
        default=DEFAULT_TEMPERATURES if defaults else argparse.SUPPRESS,
        help="comma-separated sampling temperatures, one column each (0 = greedy)",
    )
    shared.add_argument(
        "--length",
        type=_non_negative,
        default=DEFAULT_LENGTH if defaults else argparse.SUPPRESS,
        help="characters to generate",
    )
    shared.add_argument(
        "--seed",
        type=_non_negative,
        default=None if defaults else argparse.SUPPRESS,
        help="random seed; the same seed gives the same text (default: a fresh one)",
    )
    shared.add_argument(
        "--mode",
        choices=MODES,
        default="window" if defaults else argparse.SUPPRESS,
        help="window: the book's exact computation; stateful: carry the LSTM state",
    )
    return shared


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="nietzsche-tui",
        parents=[_shared_options()],
        description="Chat with the character-level LSTM of Deep Learning with Python §8.1: "
        "your prompt seeds four temperatures that stream side by side.",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        help="a text file: pre-fills the training form (F5, then s); the model's training text, where the "
        "checkpoint's record does not find it (copied spans, v)",
    )
    parser.add_argument(
        "--copied-min",
        type=whole_number(1),
        default=DEFAULT_MIN_SPAN,
        help="the shortest span marked as copied from the training text (v)",
    )
    parser.add_argument("--history", default=None, help="the history database (default: the user data folder)")
    parser.add_argument("--no-history", dest="keep_history", action="store_false", help="keep nothing of this session")
    parser.add_argument(
        "--compare",
        default=None,
        metavar="LIST",
        help="every prompt goes to these models side by side, at one temperature (0.5, or a single --temperatures): "
        "bundled names "
        "(book, large), training folders, DIR@N or files, comma-separated (the palette's Compare models… too)",
    )
    parser.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help="where F5's Compare runs (c) finds other training folders (default: the training folder's parent)",
    )
    parser.add_argument(
        "--no-suggest",
        dest="suggest",
        action="store_false",
        help="do not show the model's continuation as you type (the palette toggles it)",
    )
    parser.add_argument(
        "--no-generation-process",
        dest="generation_process",
        action="store_false",
        help="generate in the app's own process (slower: the model then waits for the screen's redraws)",
    )
    parser.add_argument("--resume", action="store_true", help="reopen the last session's exchanges in the chat")
    parser.add_argument(
        "--max-history",
        type=_non_negative,
        default=DEFAULT_MAX_EXCHANGES,
        help="exchanges kept in the history; the oldest go first",
    )
    parser.add_argument(
        "--no-follow",
        dest="follow",
        action="store_false",
        help="do not load each new checkpoint of a live training run as it completes (Ctrl+F toggles)",
    )
    # Set by `nietzsche-tui serve` for each browser tab's app; not for people to type.
    parser.add_argument("--served", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--allow-training", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--training-bounds", type=_bounds, default=TrainingBounds(), help=argparse.SUPPRESS)
    commands = parser.add_subparsers(
        dest="command", metavar="{generate,score,cells,verbatim,history,export,serve}", parser_class=OneLineParser
    )
    generate = commands.add_parser(
        "generate",
        parents=[_shared_options(defaults=False)],
        help="generate text headlessly (for scripts)",
        description="Generate from a prompt and print each temperature's text.",
    )
    generate.add_argument("--prompt", default="", help="seed text (lowercased; unknown characters dropped)")
    generate.add_argument(
        "--surprise",
        action="store_true",
        help="with no usable prompt, start from a held-out passage stored in the checkpoint",
    )
    generate.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="sample only among the k most likely characters (exactly k: ties go to the earlier character)",
    )
    generate.add_argument("--top-p", type=float, default=None, help="sample only within this probability mass")
    generate.add_argument(
        "--epochs",
        nargs="?",
        const="",
        default=None,
        metavar="LIST",
        help="compare a training folder's epochs at one temperature (default 0.5): e.g. 1,5,last or all; "
        "alone, the first, a quarter, half and last",
    )
    generate.add_argument(
        "--models",
        default=None,
        metavar="LIST",
        help="compare models at one temperature (default 0.5), one column each: bundled names (book, large), "
        "training folders (their latest), DIR@N (epoch N) or files, comma-separated",
    )
    generate.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per column (with its spans copied from the training text)",
    )
    add_copied_options(generate)
    generate.add_argument(
        "--alternatives",
        type=_non_negative,
        default=0,
        metavar="N",
        help="with --json: the N most likely characters (untempered) at every step",
    )
    add_analysis_commands(commands)
    add_verbatim_command(commands)
    add_history_commands(commands)
    add_serve_command(commands, _shared_options())
    return parser


def run_app(args: argparse.Namespace) -> int:
    """Open the chat app (imported here so `generate` stays light)."""
    from nietzsche_tui.settings import Settings
    from nietzsche_tui.tui.app import NietzscheApp

    app = NietzscheApp(Settings.from_args(args))
    app.run()
    # Textual sets 1 when an unhandled exception ended the app: the shell must see the failure.
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the ``nietzsche-tui`` command."""
    args = build_parser().parse_args(argv)
    try:
        args.checkpoint = chosen_checkpoint(args)
    except UsageError as error:
        return fail(str(error), EXIT_USAGE)
    # Model text can hold characters a non-UTF-8 terminal cannot show: escape them, never crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        runners = {
            "generate": run_generate,
            "score": run_score,
            "cells": run_cells,
            "verbatim": run_verbatim,
            "history": run_history,
            "export": run_export,
            "serve": run_serve,
        }
        runner = runners.get(args.command, run_app)
        code = runner(args)
        sys.stdout.flush()  # a full disk shows here, while one line can still say so
        return code
    except BrokenPipeError:  # `nietzsche-tui generate | head` closes the pipe early
        _silence_stdout()
        return 0
    except OSError as error:  # standard output full (`> /dev/full`) or closed
        _silence_stdout()
        print(f"nietzsche-tui: cannot write the output ({error.strerror or error})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Standard output failed: send what is left in its buffer nowhere, so Python's own flush at
    exit adds no "Exception ignored" traceback."""
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
