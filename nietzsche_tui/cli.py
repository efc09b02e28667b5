"""``nietzsche-tui``: the chat app, and ``nietzsche-tui generate`` for scripts.

Neither path imports TensorFlow: checkpoints are read with the NumPy engine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import secrets
import sys
from collections.abc import Sequence

import numpy as np

from nietzsche_tui.analysis import top_alternatives
from nietzsche_tui.analysis_cli import add_commands as add_analysis_commands
from nietzsche_tui.analysis_cli import load_engine, run_cells, run_score
from nietzsche_tui.arguments import whole_number
from nietzsche_tui.checkpoint import CheckpointError
from nietzsche_tui.engine import (
    BUNDLED_MODELS,
    DEFAULT_TEMPERATURES,
    MODES,
    GenerationRequest,
    PromptError,
    describe_characters,
    generate_epochs,
    load_epochs,
)
from nietzsche_tui.history_cli import add_commands as add_history_commands
from nietzsche_tui.history_cli import run_export, run_history
from nietzsche_tui.runs import TrainingBounds
from nietzsche_tui.serve import add_command as add_serve_command
from nietzsche_tui.serve import run_serve
from nietzsche_tui.text import visible

EXIT_USAGE, EXIT_CHECKPOINT = 2, 1
EPOCHS_TEMPERATURE = 0.5  # epochs side by side, when no single temperature is given


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


_non_negative = whole_number(0)


def _bounds(text: str) -> TrainingBounds:
    try:
        return TrainingBounds.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class OneLineParser(argparse.ArgumentParser):
    """Argument errors as one line (what was wrong, where to look), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _shared_options(defaults: bool = True) -> argparse.ArgumentParser:
    """The options the app and `generate` share. Without ``defaults`` an option left out keeps the
    value given before the command word (``nietzsche-tui --seed 5 generate`` honours --seed)."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--checkpoint",
        default=None if defaults else argparse.SUPPRESS,
        help="checkpoint file, or a training folder (its latest); default: "
        "./checkpoints if it holds any, else the bundled model",
    )
    shared.add_argument(
        "--model",
        choices=sorted(BUNDLED_MODELS),
        default=None if defaults else argparse.SUPPRESS,
        help="a model bundled with the package instead of --checkpoint: book (the book's LSTM(128)) or "
        "large (2 × LSTM(256), lower held-out loss, about 8× the work per character); see MODEL.md",
    )
    shared.add_argument(
        "--temperatures",
        type=temperatures_arg,
        default=DEFAULT_TEMPERATURES if defaults else argparse.SUPPRESS,
        help="comma-separated sampling temperatures, one column each (0 = greedy)",
    )
    shared.add_argument(
        "--length", type=_non_negative, default=400 if defaults else argparse.SUPPRESS, help="characters to generate"
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
    parser.add_argument("--corpus", default=None, help="text file to pre-fill the training form with (F5, then s)")
    parser.add_argument("--history", default=None, help="the history database (default: the user data folder)")
    parser.add_argument("--no-history", dest="keep_history", action="store_false", help="keep nothing of this session")
    parser.add_argument("--resume", action="store_true", help="reopen the last session's exchanges in the chat")
    parser.add_argument(
        "--max-history", type=_non_negative, default=10_000, help="exchanges kept in the history; the oldest go first"
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
        dest="command", metavar="{generate,score,cells,history,export,serve}", parser_class=OneLineParser
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
    generate.add_argument("--json", action="store_true", help="print one JSON object per column")
    generate.add_argument(
        "--alternatives",
        type=_non_negative,
        default=0,
        metavar="N",
        help="with --json: the N most likely characters (untempered) at every step",
    )
    add_analysis_commands(commands)
    add_history_commands(commands)
    add_serve_command(commands, _shared_options())
    return parser


def _fail(message: str, code: int) -> int:
    print(f"nietzsche-tui: {message}", file=sys.stderr)
    return code


def run_generate(args: argparse.Namespace) -> int:
    """The headless command: stream the first column live, then the others, as the book prints them.

    Columns are the temperatures of one checkpoint, or (``--epochs``) a folder's epochs at one
    temperature.
    """
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    if args.alternatives and not args.json:
        return _fail("--alternatives lists characters in the JSON output: add --json", EXIT_USAGE)
    temperatures = args.temperatures
    try:
        if args.epochs is not None:
            if len(temperatures) > 1 and temperatures != DEFAULT_TEMPERATURES:
                return _fail(
                    "--epochs compares epochs at one temperature; give one, like --temperatures 0.5", EXIT_USAGE
                )
            temperatures = temperatures if len(temperatures) == 1 else (EPOCHS_TEMPERATURE,)
            engines = load_epochs(args.checkpoint, args.epochs)
        else:
            engines = [load_engine(args.checkpoint)]
    except CheckpointError as error:
        return _fail(str(error), EXIT_CHECKPOINT)
    except ValueError as error:
        return _fail(f"--epochs: {error}", EXIT_USAGE)
    engine = engines[-1]  # the newest reads the prompt (a folder's epochs share one vocabulary)
    prompt = args.prompt
    try:
        engine.prepare_prompt(prompt)
    except PromptError as error:
        if not args.surprise:
            return _fail(f"{error} (or pass --surprise)", EXIT_USAGE)
        try:
            prompt = engine.surprise_prompt(np.random.default_rng(seed))
        except PromptError as surprise_error:
            return _fail(str(surprise_error), EXIT_USAGE)
    try:
        request = GenerationRequest(prompt, temperatures, args.length, seed, args.mode, args.top_k, args.top_p)
        if args.epochs is not None:
            generation = generate_epochs(engines, request)
            columns = [(f"epoch: {e.checkpoint.epoch}", temperatures[0], e.checkpoint) for e in engines]
        else:
            generation = engine.generate(request)
            columns = [(f"temperature: {t}", t, engine.checkpoint) for t in request.temperatures]
    except (ValueError, PromptError) as error:
        return _fail(str(error), EXIT_USAGE)
    if generation.prompt.dropped:
        print(
            f"nietzsche-tui: dropped characters the model does not know: "
            f"{describe_characters(generation.prompt.dropped)}",
            file=sys.stderr,
        )
    seed_text = generation.prompt.text[-engine.maxlen :] if args.mode == "window" else generation.prompt.text
    out = sys.stdout
    texts: list[list[str]] = [[] for _ in columns]
    probabilities: list[list[float]] = [[] for _ in columns]
    alternatives: list[list[list]] = [[] for _ in columns]
    if args.alternatives and args.json:
        generation = generation.with_distributions()
    if not args.json:
        out.write(f'--- Generating with seed: "{visible(seed_text)}"\n------ {columns[0][0]}\n{visible(seed_text)}')
        out.flush()
    for step in generation:
        for column, (char, probability) in enumerate(zip(step.chars, step.probabilities, strict=True)):
            texts[column].append(char)
            probabilities[column].append(round(probability, 6))
            if step.distributions is not None:
                top = top_alternatives(step.distributions[column], engine.vocabulary, args.alternatives)
                alternatives[column].append(top)
        if not args.json:
            out.write(visible(step.chars[0]))  # a terminal must never receive the model's raw controls
            out.flush()
    if args.json:
        for (_, temperature, checkpoint), chars, probs, column_alternatives in zip(
            columns, texts, probabilities, alternatives, strict=True
        ):
            record = {
                "temperature": temperature,
                "text": "".join(chars),
                "probabilities": probs,
                "prompt": seed_text,
                "seed": seed,
                "mode": args.mode,
                "length": args.length,
                "top_k": args.top_k,
                "top_p": args.top_p,
                "checkpoint": str(checkpoint.metadata_path),
                "epoch": checkpoint.epoch,
                "val_loss": checkpoint.val_loss,
                "dropped": list(generation.prompt.dropped),
            }
            if args.alternatives:
                record["alternatives"] = column_alternatives
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write("\n")
        for (header, _, _), chars in zip(columns[1:], texts[1:], strict=True):
            out.write(f"------ {header}\n{visible(seed_text + ''.join(chars))}\n")
        described = (
            engine.checkpoint.describe()
            if args.epochs is None
            else f"epochs of {engine.checkpoint.metadata_path.parent}"
        )
        print(f"nietzsche-tui: seed {seed}, mode {args.mode}, {described}", file=sys.stderr)
    out.flush()
    return 0


def run_app(args: argparse.Namespace) -> int:
    """Open the chat app (imported here so `generate` stays light)."""
    from nietzsche_tui.app import make_app

    app = make_app(
        checkpoint=args.checkpoint,
        temperatures=args.temperatures,
        length=args.length,
        seed=args.seed,
        mode=args.mode,
        corpus=args.corpus,
        follow=args.follow,
        history=args.history,
        keep_history=args.keep_history,
        resume=args.resume,
        max_history=args.max_history,
        served=args.served,
        allow_training=args.allow_training or not args.served,
        training_bounds=args.training_bounds,
    )
    app.run()
    # Textual sets 1 when an unhandled exception ended the app: the shell must see the failure.
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the ``nietzsche-tui`` command."""
    args = build_parser().parse_args(argv)
    if getattr(args, "model", None) is not None:
        if args.checkpoint is not None:
            print("nietzsche-tui: --model and --checkpoint both name a model; give one", file=sys.stderr)
            return EXIT_USAGE
        args.checkpoint = str(BUNDLED_MODELS[args.model])
    # Model text can hold characters a non-UTF-8 terminal cannot show: escape them, never crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        runners = {
            "generate": run_generate,
            "score": run_score,
            "cells": run_cells,
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


if __name__ == "__main__":
    sys.exit(main())
