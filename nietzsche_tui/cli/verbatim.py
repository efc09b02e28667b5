"""``nietzsche-tui verbatim``: which spans of a text the model's training text holds word for word."""

from __future__ import annotations

import argparse
import json
import sys

from nietzsche_tui.cli.analysis import read_text_argument
from nietzsche_tui.cli.common import EXIT_CHECKPOINT, EXIT_USAGE, add_model_options, fail, whole_number
from nietzsche_tui.contracts.checkpoint import Checkpoint, CheckpointError
from nietzsche_tui.contracts.folder import resolve_checkpoint
from nietzsche_tui.engine.analysis import ScoreError
from nietzsche_tui.locate import setting_location
from nietzsche_tui.text import visible_one_line
from nietzsche_tui.verbatim.index import VerbatimIndex
from nietzsche_tui.verbatim.source import TrainingIndexes, TrainingTextError, training_index
from nietzsche_tui.verbatim.spans import DEFAULT_MIN_SPAN, Copying

VERBATIM_HELP = (
    "Mark every span of at least --min characters (default 20) that appears word for word in the text "
    "the model was trained on, with the line it comes from. The training text is found through the "
    "checkpoint (the paths and sha256 it records; the bundled models carry theirs); --corpus names it "
    "instead, and a text whose sha256 differs from the recorded one is refused."
)


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """``--corpus``, for the commands that mark copied spans (given before the command word, it is kept)."""
    parser.add_argument(
        "--corpus",
        default=argparse.SUPPRESS,
        help="the model's training text, where the checkpoint's record does not find it",
    )


def add_command(commands) -> None:
    """Add ``verbatim`` to the ``nietzsche-tui`` sub-command parsers."""
    shared = argparse.ArgumentParser(add_help=False)
    add_model_options(shared, default=argparse.SUPPRESS, bundled=False)
    verbatim = commands.add_parser(
        "verbatim", parents=[shared], help="which spans of a text the training text holds", description=VERBATIM_HELP
    )
    verbatim.add_argument("file", nargs="?", default="-", help="a UTF-8 text file, or - for standard input")
    verbatim.add_argument(
        "--min",
        dest="copied_min",
        type=whole_number(1),
        default=argparse.SUPPRESS,
        help=f"shortest span counted (default {DEFAULT_MIN_SPAN})",
    )
    verbatim.add_argument("--json", action="store_true", help="one JSON object: the spans, longest, fraction")
    verbatim.add_argument(
        "--where", action="store_true", help="under each span, the passage of the training text it comes from"
    )
    add_corpus_options(verbatim)


def add_copied_options(parser: argparse.ArgumentParser) -> None:
    """``generate``'s options for its ``copied`` field."""
    parser.add_argument(
        "--copied-min",
        type=whole_number(1),
        default=argparse.SUPPRESS,
        help=f"with --json: shortest copied span counted (default {DEFAULT_MIN_SPAN})",
    )
    add_corpus_options(parser)


def copied_counter(args: argparse.Namespace):
    """For ``generate --json``: a function giving a text's ``copied`` record under a checkpoint's
    training text (None where that text cannot be found: said once on standard error)."""
    indexes = TrainingIndexes(getattr(args, "corpus", None), args.copied_min)
    told: set[str] = set()

    def copied(checkpoint: Checkpoint, text: str) -> dict | None:
        try:
            index, found = indexes.open(checkpoint.metadata)
        except TrainingTextError as error:
            if str(error) not in told:
                print(f"nietzsche-tui: warning: no copied spans: {error}", file=sys.stderr)
                told.add(str(error))
            return None
        return index.copying(found.as_seen(text)).to_dict()

    return copied


def span_records(copying: Copying, text: str, index: VerbatimIndex) -> list[dict]:
    """Each span with its text and the passage it was copied from (the JSON form)."""
    records = copying.to_dict()["spans"]
    for record, span in zip(records, copying.spans, strict=True):
        record["text"] = text[span.start : span.end]
        record["passage"] = index.passage(span)
    return records


def run_verbatim(args: argparse.Namespace) -> int:
    try:
        checkpoint = resolve_checkpoint(setting_location(args.checkpoint))
    except CheckpointError as error:
        return fail(str(error), EXIT_CHECKPOINT)
    try:
        text = read_text_argument(args.file, what="verbatim")
    except ScoreError as error:
        return fail(str(error), EXIT_USAGE)
    try:
        index, found = training_index(checkpoint.metadata, getattr(args, "corpus", None), args.copied_min)
    except TrainingTextError as error:
        return fail(str(error), EXIT_USAGE)
    copying = index.copying(found.as_seen(text))
    if args.json:
        record = {
            "checkpoint": str(checkpoint.metadata_path),
            "corpus": found.origin,
            "min": args.copied_min,
            "characters": len(text),
            **copying.to_dict(),
            "spans": span_records(copying, text, index),
        }
        print(json.dumps(record, ensure_ascii=False))
        return 0
    for span in copying.spans:
        print(f"line {span.line:,}: {span.length} characters  “{visible_one_line(text[span.start : span.end])}”")
        if args.where:
            print(f"    from: “…{visible_one_line(index.passage(span))}…”")
    print(
        f"{len(copying.spans)} span(s) of at least {args.copied_min} characters: {copying.covered:,} of "
        f"{len(text):,} characters ({copying.fraction:.0%}) copied, the longest {copying.longest}; "
        f"training text: {found.origin}"
    )
    return 0
