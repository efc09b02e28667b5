"""Make a shippable checkpoint (such as the model inside the package) from a training folder.

    uv run python -m trainer.bundle --source runs/quality-fast --epochs 40-80 \
        --corpus ../shared/corpus/nietzsche.txt --out nietzsche_tui/bundled/book

It averages the weights of a range of epochs (stochastic weight averaging: the fast recipe's
weights wander around a minimum late in training, and their mean generalises better than any one
of them), writes them into the same architecture without dropout or optimizer state (a third of the size),
scores the result on the held-out text with the NumPy engine, and saves it as an ordinary
checkpoint whose metadata keeps the full provenance. A single epoch (``--epochs 70`` or
``70-70``) copies it.

``--out`` is always named (no default could be safe: the package's own model folder is a
destination one must mean), is never the source folder, and is a new or empty folder or one that
holds only an earlier bundle of the same source (anything else in it, another run's checkpoints or
a note of the user's, is refused: nothing is deleted that the bundle did not make). The new
checkpoint is written file by file atomically, metadata last; only then are the earlier bundle's
files removed, so an interrupted bundle leaves the previous model loadable.

``--float16`` stores the weights in half precision but the model's dtype policy stays float32, so
plain Keras (``keras.models.load_model``) computes what the engine computes, in float32.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from nietzsche_tui.cli.common import OneLineParser
from nietzsche_tui.contracts.checkpoint import LN2, CheckpointError, CheckpointMetadata, checkpoint_names
from nietzsche_tui.contracts.folder import complete_checkpoints
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.engine.weights import ModelWeights, load_weights
from trainer.corpus import CorpusError, load_corpus


class BundleError(Exception):
    """A bundle that cannot be made; the message says why and what to do."""


def parse_epochs(text: str) -> tuple[int, int]:
    """ "40-80" or "70" into (first, last)."""
    parts = text.split("-")
    try:
        first, last = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (0, -1)
    except ValueError:
        first, last = 0, -1
    if not 1 <= first <= last:
        raise BundleError(f"--epochs must be FIRST-LAST or one epoch, like 40-80 or 70; got {text!r}")
    return first, last


_CHECKPOINT_FILE = re.compile(r"epoch_\d{4,}\.(json|keras)")


def earlier_bundle_files(out: Path, source: Path) -> list[Path]:
    """The files of ``out`` when it is new, empty or holds only an earlier bundle of ``source``
    (checkpoint pairs whose metadata names ``source`` as the bundle's); else a BundleError naming
    what else is there."""
    if not out.exists():
        return []
    if not out.is_dir():
        raise BundleError(f"--out {out} is a file; name a new or empty folder")
    files = sorted(out.iterdir())
    strangers = [p.name for p in files if not _CHECKPOINT_FILE.fullmatch(p.name)]
    for metadata in (p for p in files if p.suffix == ".json" and p.name not in strangers):
        try:
            made_by = json.loads(metadata.read_text(encoding="utf-8")).get("bundle", {}).get("source")
        except (OSError, ValueError, AttributeError):
            made_by = None
        if made_by != source.name:
            strangers.append(metadata.name)
    if strangers:
        shown = ", ".join(strangers[:3]) + (f" and {len(strangers) - 3} more" if len(strangers) > 3 else "")
        raise BundleError(
            f"--out {out} holds {shown}, not only an earlier bundle of {source.name}; name a new or empty folder"
        )
    return files


def bundle(
    source: Path, first: int, last: int, corpus_paths: list[Path], out: Path, float16: bool = False
) -> CheckpointMetadata:
    """Average epochs ``first``..``last`` of ``source`` into a checkpoint in ``out``; return its metadata."""
    if not source.is_dir():
        raise BundleError(f"--source {source} is not a folder of checkpoints")
    if out.resolve() == source.resolve():
        raise BundleError(f"--out {out} is the --source folder; bundling there would replace its checkpoints")
    earlier = earlier_bundle_files(out, source)
    chosen = [c for c in complete_checkpoints(source) if first <= c.epoch <= last]
    if not chosen:
        raise BundleError(f"no complete checkpoints in {source} between epochs {first} and {last}")
    last_checkpoint = chosen[-1]
    shapes = {(c.architecture, tuple(c.vocabulary), c.maxlen) for c in chosen}
    if len(shapes) > 1:
        raise BundleError(
            f"epochs {chosen[0].epoch}-{last_checkpoint.epoch} of {source} are not all one architecture and "
            "vocabulary (the folder was resumed with other settings); bundle a range of one shape"
        )
    try:
        weights = [load_weights(c) for c in chosen]
    except CheckpointError as error:
        raise BundleError(str(error)) from None
    averaged = ModelWeights.from_arrays(
        last_checkpoint.architecture.cell,
        [np.mean(arrays, axis=0) for arrays in zip(*(w.arrays() for w in weights), strict=True)],
    )

    meta = last_checkpoint.metadata
    training = meta.training
    corpus = load_corpus(
        corpus_paths, meta.maxlen, training.get("val_fraction", 0.05), bool(training.get("keep_case", False))
    )
    named = " + ".join(str(p) for p in corpus_paths)
    if corpus.sha256 != meta.corpus.get("sha256"):
        raise BundleError(
            f"{named} is not the corpus the checkpoints in {source} were trained on "
            "(give the same files and folders, in the same order, as to the trainer)"
        )
    if float16:  # score the weights as they will be stored
        averaged = averaged.map(lambda array: array.astype(np.float16).astype(np.float32))
    engine = Engine.of(last_checkpoint, averaged)
    held_out = corpus.text[corpus.split :]
    # A source trained with --val-fraction 0 has no held-out text: the bundle says so, it does not guess.
    val_loss = engine.held_out_loss(held_out) if len(held_out) > meta.maxlen else None
    measured_by = (
        "NumPy engine, every held-out window (step 1)"
        if val_loss is not None
        else "not measured: the source held no text out (--val-fraction 0)"
    )
    metrics = replace(
        meta.metrics,
        val_loss=val_loss,
        val_bpc=None if val_loss is None else val_loss / LN2,
        extra={**meta.metrics.extra, "val_loss_measured_by": measured_by},
    )
    bundled = {
        "source": source.name,
        "averaged_epochs": [c.epoch for c in chosen],
        "single_epoch_val_loss": {str(c.epoch): c.val_loss for c in (chosen[0], chosen[-1])},
        "optimizer_state": "stripped",
        "weights_dtype": "float16" if float16 else "float32",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    meta = replace(
        meta,
        metrics=metrics,
        seed_passages=corpus.seed_passages(meta.maxlen, training.get("seed", 1337)),
        training={**training, "corpus": [p.name for p in corpus_paths], "out": str(source.name)},
        extra={**meta.extra, "bundle": bundled},
        created_utc="",
    )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from trainer.callbacks import save_checkpoint
    from trainer.model import build_model

    # float16 halves the file; the engine computes in float32 from it (tests bound the change).
    keras.config.set_dtype_policy("float16" if float16 else "float32")
    try:
        model = build_model(len(corpus.vocabulary), meta.maxlen, replace(meta.architecture, dropout=0.0))
    finally:
        keras.config.set_dtype_policy("float32")
    model.set_weights([a.astype(np.float16 if float16 else np.float32) for a in averaged.arrays()])
    try:
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(model, out, meta)
        if float16:
            compute_in_float32(out / checkpoint_names(meta.epoch)[1])
    except OSError as error:
        raise BundleError(f"cannot write to {out}: {error.strerror or error}") from None
    keep = set(checkpoint_names(meta.epoch))
    for old in earlier:  # only what an earlier bundle of this source made (checked above)
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return meta


def compute_in_float32(archive: Path) -> None:
    """Set every dtype policy in a ``.keras`` archive's config to float32, keeping its float16
    weights: Keras then loads them into float32 variables and computes as the engine does (with
    the float16 policy it computed in half precision, 3.5e-3 from the engine). Rewritten atomically."""
    with zipfile.ZipFile(archive) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    rewritten = archive.with_name(archive.name + ".tmp")
    with zipfile.ZipFile(rewritten, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            if info.filename == "config.json":
                data = json.dumps(_float32_policies(json.loads(data))).encode()
            target.writestr(info, data)
    os.replace(rewritten, archive)


def _float32_policies(config):
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_policies(value) for value in config]
    return config


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line and a non-zero exit on any problem, never a traceback."""
    parser = OneLineParser(
        prog="python -m trainer.bundle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, required=True, help="training folder")
    parser.add_argument("--epochs", required=True, help="range to average, FIRST-LAST, or one epoch")
    parser.add_argument(
        "--corpus",
        type=Path,
        nargs="+",
        required=True,
        help="the corpus it was trained on: the same files and folders, in the same order, as given to the trainer",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the bundled checkpoint (never the source)")
    parser.add_argument("--float16", action="store_true", help="store the weights as float16 (half the size)")
    args = parser.parse_args(argv)
    try:
        first, last = parse_epochs(args.epochs)
        meta = bundle(args.source, first, last, args.corpus, args.out, args.float16)
    except (BundleError, CorpusError) as error:
        print(f"bundle: {error}", file=sys.stderr)
        return 2
    loss, bits = meta.metrics.val_loss, meta.metrics.held_out_bits
    quality = f"held-out {loss:.4f} nats/char ({bits:.3f} bits)" if loss is not None else "no held-out text"
    averaged = meta.extra["bundle"]["averaged_epochs"]  # what was there, not what was asked for
    epochs = f"epoch {averaged[0]}" if len(averaged) == 1 else f"epochs {averaged[0]}-{averaged[-1]}"
    print(f"bundled {epochs} ({len(averaged)}) of {args.source}: {quality} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
