"""A training folder on disk: its checkpoints found (latest, best, damaged) and written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from nietzsche_tui.contracts.checkpoint import (
    METADATA_SUFFIX,
    WEIGHTS_SUFFIX,
    Checkpoint,
    CheckpointError,
    CheckpointMetadata,
    MissingCheckpoint,
    checkpoint_names,
    epoch_from_name,
    read_checkpoint,
    validate_metadata,
)

_UMASK = os.umask(0)


os.umask(_UMASK)


def scan_checkpoints(folder: str | Path) -> tuple[list[Checkpoint], list[tuple[Path, str]]]:
    """One read of a folder: its complete, valid checkpoints ordered by epoch, and the metadata
    files named like a checkpoint that do not read as one, with the reason, by name.

    Temporary files and weights without metadata are neither: they are what an interrupted write
    leaves behind (the trainer writes the metadata last), and a reader must never see them as
    checkpoints. A ``.json`` that is there but unreadable, or whose weights are gone, is damage a
    reader should be told about, never a checkpoint to skip silently.
    """
    found: list[Checkpoint] = []
    damaged: list[tuple[Path, str]] = []
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return [], []
    for name in entries:
        if epoch_from_name(name) is None:
            continue
        try:
            found.append(read_checkpoint(Path(folder) / name))
        except CheckpointError as error:
            damaged.append((Path(folder) / name, str(error)))
    return sorted(found, key=lambda c: c.epoch), damaged


def complete_checkpoints(folder: str | Path) -> list[Checkpoint]:
    """Every complete, valid checkpoint in a folder, ordered by epoch (``scan_checkpoints``)."""
    return scan_checkpoints(folder)[0]


def latest_checkpoint(folder: str | Path) -> Checkpoint | None:
    """The complete checkpoint with the highest epoch in the folder, or None."""
    found = complete_checkpoints(folder)
    return found[-1] if found else None


def best_checkpoint(folder: str | Path) -> Checkpoint | None:
    """The complete checkpoint with the lowest held-out loss (ties: the later epoch), or None."""
    scored = [c for c in complete_checkpoints(folder) if c.val_loss is not None]
    return min(scored, key=lambda c: (c.val_loss, -c.epoch)) if scored else None


def resolve_checkpoint(path: str | Path) -> Checkpoint:
    """A file means that checkpoint; a folder means its latest complete checkpoint."""
    target = Path(path).expanduser()
    if target.is_dir():
        latest = latest_checkpoint(target)
        if latest is None:
            raise MissingCheckpoint(
                f"{target}: no complete checkpoint in this folder; train one with "
                f"`uv run nietzsche-train --out {target}`."
            )
        return latest
    if not target.exists():
        raise MissingCheckpoint(f"{target}: no such file or folder.")
    if target.suffix not in (METADATA_SUFFIX, WEIGHTS_SUFFIX):
        raise CheckpointError(f"{target}: expected a checkpoint .json/.keras file or a training folder.")
    return read_checkpoint(target)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file so that readers see either the old content or the whole new content."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_UMASK)  # mkstemp creates 0600; checkpoints are ordinary files
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)


def fsync_folder(folder: str | Path) -> None:
    """Make a rename durable across power loss (a no-op where folders cannot be opened)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_metadata(folder: str | Path, metadata: CheckpointMetadata) -> Path:
    """Validate and atomically write a checkpoint's metadata: the checkpoint's completion marker."""
    data = metadata.to_dict()
    metadata_name, _ = checkpoint_names(metadata.epoch)
    path = Path(folder) / metadata_name
    validate_metadata(data, path)
    atomic_write_bytes(path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))
    return path
