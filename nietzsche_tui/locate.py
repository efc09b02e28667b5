"""Which checkpoint a setting means: the bundled models, ./checkpoints, and a setting's training folder."""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from nietzsche_tui.contracts.checkpoint import (
    METADATA_SUFFIX,
    WEIGHTS_SUFFIX,
    Checkpoint,
    CheckpointError,
    MissingCheckpoint,
)
from nietzsche_tui.contracts.events import EVENTS_FILE
from nietzsche_tui.contracts.folder import complete_checkpoints, latest_checkpoint, resolve_checkpoint

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


def setting_location(setting: str | Path | None) -> Path:
    """The checkpoint file or folder a ``--checkpoint`` setting means: itself, or by default
    ``./checkpoints`` when it holds a checkpoint, else the bundled book model's folder."""
    return Path(setting).expanduser() if setting is not None else default_checkpoint().metadata_path.parent


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


def pick_epochs(available: Sequence[int], spec: str | None = None) -> list[int]:
    """Which epochs to compare: ``spec`` like "1,5,last" (or "all"), else first, ~¼, ½ and last.

    Raises ValueError naming an epoch that is not in ``available``.
    """
    epochs = sorted(set(available))
    if not epochs:
        raise ValueError("no complete checkpoints to compare")
    if spec is None or not spec.strip():
        picks = [epochs[0], epochs[len(epochs) // 4], epochs[len(epochs) // 2], epochs[-1]]
        return sorted(set(picks))
    if spec.strip().lower() == "all":
        return epochs
    chosen: list[int] = []
    for part in spec.split(","):
        part = part.strip().lower()
        try:
            epoch = epochs[-1] if part in ("last", "latest") else int(part)
        except ValueError:
            raise ValueError(f"epochs are numbers or 'last', like 1,5,last; got {part!r}") from None
        if epoch not in epochs:
            raise ValueError(f"there is no complete checkpoint for epoch {epoch} (have {epochs[0]}-{epochs[-1]})")
        if epoch not in chosen:
            chosen.append(epoch)
    return chosen


def epoch_checkpoints(folder: str | Path | None, spec: str | None = None) -> list[Checkpoint]:
    """The chosen epochs' checkpoints of a training folder (default ./checkpoints); see ``pick_epochs``.

    Raises CheckpointError for a missing folder, ValueError for a bad ``spec``.
    """
    target = Path(folder).expanduser() if folder is not None else LOCAL_CHECKPOINT_DIR
    if not target.exists():
        raise MissingCheckpoint(
            f"{target}: no training folder here yet; train one with `uv run nietzsche-train --out {target}` "
            "or name one with --checkpoint DIR."
        )
    if not target.is_dir():
        raise CheckpointError(f"{target}: epochs side by side need a training folder, not a file.")
    checkpoints = {c.epoch: c for c in complete_checkpoints(target)}
    if not checkpoints:
        raise CheckpointError(f"{target}: no complete checkpoint in this folder to compare.")
    return [checkpoints[e] for e in pick_epochs(list(checkpoints), spec)]


MAX_COMPARED_MODELS = 8


def model_name(spec: str) -> str:
    """A ``--models`` entry's name for column labels: the bundled name, ``folder@N``, a folder's
    name, or ``folder/epoch_NNNN`` for a file."""
    spec = spec.strip()
    folder, at, epoch = spec.rpartition("@")
    path = Path(spec).expanduser()
    if spec in BUNDLED_MODELS:
        return spec
    if at and epoch.isdigit():
        return f"{Path(folder).name}@{epoch}"
    if path.suffix in (METADATA_SUFFIX, WEIGHTS_SUFFIX):
        return f"{path.parent.name}/{path.stem}"
    return path.name or spec


def model_checkpoint(spec: str) -> tuple[str, Checkpoint]:
    """The checkpoint a ``--models``/``--compare`` entry names, and its name for a column label:
    ``book`` or ``large`` (bundled), a training folder (its latest epoch), ``DIR@N`` (epoch N of a
    folder), or a checkpoint file. Raises CheckpointError with one line."""
    spec = spec.strip()
    folder, at, epoch = spec.rpartition("@")
    path = Path(spec).expanduser()
    if spec in BUNDLED_MODELS:
        checkpoint = latest_checkpoint(BUNDLED_MODELS[spec])
        if checkpoint is None:
            raise MissingCheckpoint(f"the bundled model {spec!r} is missing from this install")
    elif at and epoch.isdigit():
        (checkpoint,) = epoch_checkpoints(folder, epoch)
    elif path.is_dir():
        checkpoint = latest_checkpoint(path)
        if checkpoint is None:
            raise MissingCheckpoint(f"{spec}: no complete checkpoint in this folder")
    else:
        checkpoint = resolve_checkpoint(path)
    return model_name(spec), checkpoint


class ModelChoice(NamedTuple):
    """One entry of ``--models``: as given, its name for labels, and its checkpoint."""

    spec: str
    name: str
    checkpoint: Checkpoint


def model_checkpoints(specs: str) -> list[ModelChoice]:
    """``model_checkpoint`` of each comma-separated entry (2 to MAX_COMPARED_MODELS of them)."""
    parts = [part for part in (p.strip() for p in specs.split(",")) if part]
    if not 2 <= len(parts) <= MAX_COMPARED_MODELS:
        raise ValueError(
            f"compare 2 to {MAX_COMPARED_MODELS} models, comma-separated (like book,large,runs/mine); got {len(parts)}"
        )
    return [ModelChoice(part, *model_checkpoint(part)) for part in parts]


def model_candidates(training_folder: str | None, served: bool = False, limit: int = 30) -> list[tuple[str, str]]:
    """What "Compare models…" offers, as (entry, description): the bundled models, then the
    training folder and the folders beside it that hold a checkpoint (their latest epoch). A
    served tab offers the bundled models and its own folder only: a visitor never learns the
    names of the operator's other folders. Reads the disk: call it in a thread."""
    found: list[tuple[str, str]] = []
    for name, folder in BUNDLED_MODELS.items():
        checkpoint = latest_checkpoint(folder)
        if checkpoint is not None:
            found.append((name, f"bundled · {checkpoint.metadata.architecture.describe()}"))
    own = Path(checkpoint_folder(training_folder))
    folders = [own]
    if not served and own.parent.is_dir():
        with contextlib.suppress(OSError):  # a parent we may not list offers nothing more
            folders += sorted(p for p in own.parent.iterdir() if p.is_dir() and p != own)
    for folder in folders:
        if len(found) >= limit:
            break
        checkpoint = latest_checkpoint(folder) if folder.is_dir() else None
        if checkpoint is not None:
            found.append((str(folder), f"{folder.name} · {checkpoint.describe_short()}"))
    return found


def run_candidates(runs: Path, own: Path, limit: int = 30) -> list[Path]:
    """The training folders in ``runs`` besides ``own`` (F5's "Compare runs…"): subfolders that
    hold a checkpoint or a run's events. Reads the disk: call it in a thread."""
    try:
        folders = sorted(p for p in runs.iterdir() if p.is_dir())
    except OSError:
        return []
    own_resolved = own.resolve()
    found = []
    for folder in folders:
        if folder.resolve() == own_resolved:
            continue
        if (folder / EVENTS_FILE).is_file() or latest_checkpoint(folder) is not None:
            found.append(folder)
        if len(found) >= limit:
            break
    return found
