"""``nietzsche-tui score`` and ``nietzsche-tui cells``: the analysis views for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nietzsche_tui.cli.common import EXIT_CHECKPOINT, EXIT_USAGE, add_model_options, fail, load_engine, whole_number
from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.engine.analysis import (
    MAX_CELLS_CHARS,
    MAX_SCORE_CHARS,
    PROPERTIES,
    ScoreError,
    disagreements,
    rank_cells,
    score_text,
)
from nietzsche_tui.engine.epochs import load_epochs
from nietzsche_tui.engine.prompts import describe_characters
from nietzsche_tui.locate import model_checkpoints
from nietzsche_tui.text import visible_one_line

SCORE_HELP = (
    "How surprised the model is by a text. Every character after the first is predicted from the up "
    "to maxlen characters before it, each window from a zero LSTM state: the way the model was "
    "trained (and how its held-out loss is measured). Reports bits and nats per character and the "
    "most surprising places; characters outside the vocabulary are reported and skipped, never "
    "scored. The held-out figure in checkpoints counts only characters with a full maxlen window "
    "before them; that figure is printed too."
)
CELLS_HELP = (
    "Rank the LSTM's cells by how well their activation follows simple properties of a text. The "
    "activation of a cell at a character is tanh of its cell state after the window ending at that "
    "character (window mode, zero state, up to maxlen characters). Properties: "
    + "; ".join(f"{name}: {meaning}" for name, meaning in PROPERTIES.items())
    + ". Correlation is Pearson's r over every character the model knows."
)


def add_commands(commands) -> None:
    """Add ``score`` and ``cells`` to the ``nietzsche-tui`` sub-command parsers.

    They take only ``--checkpoint`` (sampling settings mean nothing to them); given before the
    command word, it is honoured too.
    """
    shared = argparse.ArgumentParser(add_help=False)
    add_model_options(shared, default=argparse.SUPPRESS, bundled=False)
    score = commands.add_parser(
        "score", parents=[shared], help="how surprised the model is by a text", description=SCORE_HELP
    )
    score.add_argument("file", nargs="?", default="-", help="a UTF-8 text file, or - for standard input")
    score.add_argument("--json", action="store_true", help="one JSON object with every character's bits")
    score.add_argument("--spans", type=whole_number(1), default=5, help="how many surprising places to list")
    score.add_argument(
        "--models",
        default=None,
        metavar="LIST",
        help="score the text under several models side by side (book, large, folders, DIR@N, files; "
        "comma-separated) and list where they disagree most",
    )
    cells = commands.add_parser(
        "cells", parents=[shared], help="which LSTM cells track quotes, words, lines", description=CELLS_HELP
    )
    cells.add_argument(
        "--text", default=None, help="UTF-8 text to read (default: the checkpoint's stored held-out passages)"
    )
    cells.add_argument("--top", type=whole_number(1), default=5, help="cells listed per property (at least 1)")
    cells.add_argument("--json", action="store_true", help="one JSON object")


def read_text_argument(location: str, limit: int = MAX_SCORE_CHARS, what: str = "score") -> str:
    """A file's text, or standard input's for "-", read with a bound (a device or a pipe has no
    size to check first: ``score /dev/zero`` must end); raises ScoreError with one readable line.

    ``limit`` characters take at most 4 bytes each, so more than ``4 * limit`` bytes is more than
    ``limit`` characters, whatever the text: that is said without reading further."""
    cap = 4 * limit
    try:
        if location == "-":
            data = sys.stdin.buffer.read(cap + 1)
        else:
            with open(Path(location).expanduser(), "rb") as stream:
                data = stream.read(cap + 1)
    except OSError as error:
        raise ScoreError(f"cannot read {location}: {error.strerror or error}") from None
    if len(data) > cap:
        given = "standard input" if location == "-" else location
        raise ScoreError(f"{given} holds more than {limit:,} characters; {what} takes at most {limit:,} (split it)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScoreError(f"{location} is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})") from None


def run_models_score(args: argparse.Namespace) -> int:
    """``score --models``: bits per character under each model, and where they disagree most."""
    try:
        chosen = model_checkpoints(args.models)
        engines = load_epochs([choice.checkpoint for choice in chosen])
    except CheckpointError as error:
        return fail(str(error), EXIT_CHECKPOINT)
    except ValueError as error:
        return fail(f"--models: {error}", EXIT_USAGE)
    names, specs = [choice.name for choice in chosen], [choice.spec for choice in chosen]
    try:
        text = read_text_argument(args.file)
        scores = [score_text(engine, text) for engine in engines]
    except ScoreError as error:
        return fail(str(error), EXIT_USAGE)
    disagree = disagreements(scores, max(0, args.spans))
    if args.json:
        record = {
            "models": [
                {
                    "model": spec,
                    "name": name,
                    "checkpoint": str(engine.checkpoint.metadata_path),
                    "scored": len(scored.bits),
                    "bits_per_char": scored.bits_per_char,
                    "full_window_nats_per_char": scored.full_window_nats,
                    "skipped": scored.skipped,
                }
                for spec, name, engine, scored in zip(specs, names, engines, scores, strict=True)
            ],
            "disagreements": [
                {"position": position, "char": text[position], "bits": dict(zip(specs, bits, strict=True))}
                for position, bits in disagree
            ],
        }
        print(json.dumps(record, ensure_ascii=False))
        return 0
    width = max(len(name) for name in names)
    for name, engine, scored in zip(names, engines, scores, strict=True):
        skipped = f" · skipped {describe_characters(scored.skipped)}" if scored.skipped else ""
        print(
            f"{name:>{width}}: {scored.bits_per_char:.3f} bits/char over {len(scored.bits):,} characters "
            f"({engine.checkpoint.describe()}){skipped}"
        )
    if disagree:
        print("where they disagree most (bits per model, in the order above):")
        for position, bits in disagree:
            context = visible_one_line(text[max(0, position - 12) : position + 1])
            figures = " ".join(f"{b:6.2f}" for b in bits)
            print(f"  {figures}  “…{context}” at {position}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    if getattr(args, "models", None):
        return run_models_score(args)
    try:
        engine = load_engine(args.checkpoint)
    except CheckpointError as error:
        return fail(str(error), EXIT_CHECKPOINT)
    try:
        text = read_text_argument(args.file)
        scored = score_text(engine, text)
    except ScoreError as error:
        return fail(str(error), EXIT_USAGE)
    spans = [
        {"start": start, "end": end, "text": text[start:end], "bits": round(bits, 4)}
        for start, end, bits in scored.surprising_spans(max(0, args.spans))
    ]
    if args.json:
        record = {
            "checkpoint": str(engine.checkpoint.metadata_path),
            "epoch": engine.checkpoint.epoch,
            "scored": len(scored.bits),
            "bits_per_char": scored.bits_per_char,
            "nats_per_char": scored.nats_per_char,
            "full_window_nats_per_char": scored.full_window_nats,
            "skipped": scored.skipped,
            "characters": [
                {"position": int(p), "char": text[p], "bits": round(float(b), 5)}
                for p, b in zip(scored.positions, scored.bits, strict=True)
            ],
            "spans": spans,
        }
        print(json.dumps(record, ensure_ascii=False))
        return 0
    print(
        f"{len(scored.bits):,} characters scored with {engine.checkpoint.describe()}: "
        f"{scored.bits_per_char:.3f} bits/char ({scored.nats_per_char:.3f} nats/char)"
    )
    if scored.full_window_nats is not None:
        full, nats = int(scored.full_window.sum()), scored.full_window_nats
        print(f"after a full {engine.maxlen}-character window ({full:,} characters): {nats:.4f} nats/char")
    if scored.skipped:
        print(f"skipped characters the model does not know: {describe_characters(scored.skipped)}")
    if spans:
        print("most surprising:")
        for span in spans:
            print(f"  {span['bits']:6.2f} bits  “{visible_one_line(span['text'])}”")
    return 0


def run_cells(args: argparse.Namespace) -> int:
    try:
        engine = load_engine(args.checkpoint)
    except CheckpointError as error:
        return fail(str(error), EXIT_CHECKPOINT)
    try:
        if args.text is not None:
            text, source = read_text_argument(args.text, MAX_CELLS_CHARS, "cells"), args.text
        else:
            text = "\n".join(engine.metadata.seed_passages)
            source = f"the {len(engine.metadata.seed_passages)} held-out passages stored in the checkpoint"
        ranked = rank_cells(engine, text, args.top)
    except ScoreError as error:
        return fail(str(error), EXIT_USAGE)
    if args.json:
        record = {
            "checkpoint": str(engine.checkpoint.metadata_path),
            "characters": len(text),
            "properties": {
                name: {"definition": PROPERTIES[name], "cells": [{"cell": c, "r": round(r, 4)} for c, r in cells]}
                for name, cells in ranked.items()
            },
        }
        print(json.dumps(record, ensure_ascii=False))
        return 0
    print(f"cells of {engine.checkpoint.describe()} over {len(text):,} characters of {source}")
    for name, cells in ranked.items():
        listed = ", ".join(f"cell {c} r={r:+.2f}" for c, r in cells) or "constant in this text: nothing to rank"
        print(f"{name:>19}: {listed}")
    return 0
