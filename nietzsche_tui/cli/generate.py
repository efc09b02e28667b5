"""`nietzsche-tui generate`: text from a checkpoint on stdout, as plain text or JSON."""

from __future__ import annotations

import argparse
import json
import secrets
import sys

import numpy as np

from nietzsche_tui.cli.common import EXIT_CHECKPOINT, EXIT_USAGE, fail, load_engine
from nietzsche_tui.cli.verbatim import copied_counter
from nietzsche_tui.contracts.checkpoint import CheckpointError
from nietzsche_tui.engine.analysis import top_alternatives
from nietzsche_tui.engine.epochs import generate_epochs, load_epochs
from nietzsche_tui.engine.models import generate_models
from nietzsche_tui.engine.prompts import PromptError, describe_characters
from nietzsche_tui.engine.request import DEFAULT_TEMPERATURES, GenerationRequest, comparison_temperature
from nietzsche_tui.locate import epoch_checkpoints, model_checkpoints
from nietzsche_tui.text import visible


def run_generate(args: argparse.Namespace) -> int:
    """The headless command: stream the first column live, then the others, as the book prints them.

    Columns are the temperatures of one checkpoint, or (``--epochs``) a folder's epochs at one
    temperature.
    """
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    if args.alternatives and not args.json:
        return fail("--alternatives lists characters in the JSON output: add --json", EXIT_USAGE)
    temperatures = args.temperatures
    names: list[str] = []
    specs: list[str] = []
    if args.epochs is not None and args.models is not None:
        return fail("--epochs compares one folder's epochs, --models several models: give one", EXIT_USAGE)
    try:
        if args.models is not None:
            if len(temperatures) > 1 and temperatures != DEFAULT_TEMPERATURES:
                return fail(
                    "--models compares models at one temperature; give one, like --temperatures 0.5", EXIT_USAGE
                )
            temperatures = (comparison_temperature(temperatures),)
            chosen = model_checkpoints(args.models)
            names = [choice.name for choice in chosen]
            specs = [choice.spec for choice in chosen]
            engines = load_epochs([choice.checkpoint for choice in chosen])
        elif args.epochs is not None:
            if len(temperatures) > 1 and temperatures != DEFAULT_TEMPERATURES:
                return fail(
                    "--epochs compares epochs at one temperature; give one, like --temperatures 0.5", EXIT_USAGE
                )
            temperatures = (comparison_temperature(temperatures),)
            engines = load_epochs(epoch_checkpoints(args.checkpoint, args.epochs))
        else:
            engines = [load_engine(args.checkpoint)]
    except CheckpointError as error:
        return fail(str(error), EXIT_CHECKPOINT)
    except ValueError as error:
        return fail(f"{'--models' if args.models is not None else '--epochs'}: {error}", EXIT_USAGE)
    engine = engines[-1]  # the newest reads the prompt (a folder's epochs share one vocabulary)
    prompt = args.prompt
    try:
        for each in engines if names else [engine]:
            each.prepare_prompt(prompt)
    except PromptError as error:
        if not args.surprise:
            return fail(f"{error} (or pass --surprise)", EXIT_USAGE)
        try:
            prompt = engine.surprise_prompt(np.random.default_rng(seed))
        except PromptError as surprise_error:
            return fail(str(surprise_error), EXIT_USAGE)
    try:
        request = GenerationRequest(prompt, temperatures, args.length, seed, args.mode, args.top_k, args.top_p)
        if names:
            generation = generate_models(engines, names, request)
            columns = [
                (f"model: {label}", temperatures[0], e.checkpoint)
                for label, e in zip(generation.labels, engines, strict=True)
            ]
        elif args.epochs is not None:
            generation = generate_epochs(engines, request)
            columns = [(f"epoch: {e.checkpoint.epoch}", temperatures[0], e.checkpoint) for e in engines]
        else:
            generation = engine.generate(request)
            columns = [(f"temperature: {t}", t, engine.checkpoint) for t in request.temperatures]
    except (ValueError, PromptError) as error:
        return fail(str(error), EXIT_USAGE)
    prompts = generation.prompts or (generation.prompt,) * len(columns)
    for index, read in enumerate(prompts if names else prompts[:1]):
        if read.dropped:
            who = f"{names[index]}: " if names else ""
            print(
                f"nietzsche-tui: {who}dropped characters the model does not know: {describe_characters(read.dropped)}",
                file=sys.stderr,
            )
    seed_texts = [
        read.text[-each.maxlen :] if args.mode == "window" else read.text
        for read, each in zip(prompts, engines if names else [engine] * len(columns), strict=True)
    ]
    seed_text = seed_texts[0]
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
                vocabulary = (engines[column] if names else engine).vocabulary  # models: each its own
                top = top_alternatives(step.distributions[column], vocabulary, args.alternatives)
                alternatives[column].append(top)
        if not args.json:
            out.write(visible(step.chars[0]))  # a terminal must never receive the model's raw controls
            out.flush()
    if args.json:
        copied = copied_counter(args)
        for index, ((_, temperature, checkpoint), chars, probs, column_alternatives) in enumerate(
            zip(columns, texts, probabilities, alternatives, strict=True)
        ):
            record = {
                "temperature": temperature,
                "text": "".join(chars),
                "probabilities": probs,
                "prompt": seed_texts[index],
                "seed": seed,
                "mode": args.mode,
                "length": args.length,
                "top_k": args.top_k,
                "top_p": args.top_p,
                "checkpoint": str(checkpoint.metadata_path),
                "epoch": checkpoint.epoch,
                "val_loss": checkpoint.val_loss,
                "dropped": list(prompts[index].dropped),
                "copied": copied(checkpoint, "".join(chars)),
            }
            if names:
                record["model"], record["name"] = specs[index], names[index]
            if args.alternatives:
                record["alternatives"] = column_alternatives
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write("\n")
        for (header, _, _), chars, column_seed in zip(columns[1:], texts[1:], seed_texts[1:], strict=True):
            out.write(f"------ {header}\n{visible(column_seed + ''.join(chars))}\n")
        if names:
            described = f"{len(names)} models at T={temperatures[0]:g}"
        elif args.epochs is not None:
            described = f"epochs of {engine.checkpoint.metadata_path.parent}"
        else:
            described = engine.checkpoint.describe()
        print(f"nietzsche-tui: seed {seed}, mode {args.mode}, {described}", file=sys.stderr)
    out.flush()
    return 0
