"""Which checkpoint a setting means: the bundled models, ./checkpoints, and a setting's training folder."""

from __future__ import annotations

import shlex
from pathlib import Path

from nietzsche_tui.contracts.checkpoint import (
    METADATA_SUFFIX,
    WEIGHTS_SUFFIX,
    Checkpoint,
    MissingCheckpoint,
)
from nietzsche_tui.contracts.folder import latest_checkpoint

BUNDLED_MODEL_DIR = Path(__file__).parent / "bundled" / "book"


# The models shipped with the package (MODEL.md): the book's LSTM(128), and a 2 × LSTM(256).
BUNDLED_MODELS = {"book": BUNDLED_MODEL_DIR, "large": Path(__file__).parent / "bundled" / "large"}


LOCAL_CHECKPOINT_DIR = Path("checkpoints")


def default_checkpoint() -> Checkpoint:
    """``./checkpoints`` when it holds a complete checkpoint, else the model bundled with the package."""
    local = latest_checkpoint(LOCAL_CHECKPOINT_DIR)
    if local is not None:
        return local
    bundled = latest_checkpoint(BUNDLED_MODEL_DIR)
    if bundled is not None:
        return bundled
    raise MissingCheckpoint(
        "no checkpoint found: ./checkpoints is empty and no model is bundled with this install; "
        "train one with `uv run nietzsche-train --out checkpoints` or name one with --checkpoint."
    )


def checkpoint_folder(checkpoint: str | None) -> str:
    """The training folder a ``--checkpoint`` setting points at (a file's folder; default ./checkpoints)."""
    if checkpoint is None:
        return "checkpoints"
    path = Path(checkpoint)
    folder = path.parent if path.suffix in (METADATA_SUFFIX, WEIGHTS_SUFFIX) else path
    if folder.resolve() in {bundled.resolve() for bundled in BUNDLED_MODELS.values()}:
        return "checkpoints"  # a bundled model (--model): training never writes into the package
    return str(folder) if folder != path else checkpoint


def train_hint(checkpoint: str | None) -> str:
    """How to make a checkpoint the app will find, for the folder the user actually named."""
    folder = shlex.quote(checkpoint_folder(checkpoint))
    return (
        f"Train one with `uv run nietzsche-train --recipe fast --corpus YOUR_TEXT.txt --out {folder}` "
        "(without --corpus it downloads the book's text), then press Ctrl+L."
    )
