"""The checkpoint contract: the one thing the trainer and the app share.

A checkpoint is a pair of files in a training folder, named by the zero-padded epoch:

    epoch_0007.keras   Keras native archive: architecture, weights, optimizer state
    epoch_0007.json    metadata: vocabulary, maxlen, architecture, configs, losses, corpus hash, versions

The trainer writes the ``.keras`` file first and the ``.json`` last, each under a temporary name
that is renamed into place, so the metadata is the completion marker: a reader that sees
``epoch_0007.json`` can rely on ``epoch_0007.keras`` being whole. "Latest" is the highest epoch
parsed from the names of complete checkpoints (never file times); "best" is the lowest held-out
loss. This module imports neither TensorFlow nor Keras, so the app can use it at start-up.

The metadata is built in one place, ``CheckpointMetadata`` (the trainer, ``trainer.bundle`` and
the tests all write through it). Format versions:

* 1: the book's architecture only; ``model`` holds ``units``.
* 2: ``model`` also holds ``cell`` ("lstm" or "gru"), ``layers`` (stacked, all ``units`` wide)
  and ``dropout`` (between layers and before the softmax, training only). Format 1 files still
  load, read as one LSTM layer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT_NAME = "nietzsche-tui-checkpoint"


FORMAT_VERSION = 2


READABLE_VERSIONS = (1, 2)


CELLS = ("lstm", "gru")


GATES = {"lstm": 4, "gru": 3}  # LSTM gates i, f, c, o; GRU gates z, r, h (Keras's orders)


METADATA_SUFFIX = ".json"


WEIGHTS_SUFFIX = ".keras"


# Metadata is a few kB; anything far larger is not ours and is refused before parsing.
MAX_METADATA_BYTES = 4 * 1024 * 1024


_NAME = re.compile(r"^epoch_(\d{4,})\.json$")


class CheckpointError(Exception):
    """A checkpoint that is missing, incomplete, corrupt or not ours. The message says what to do."""


class MissingCheckpoint(CheckpointError):
    """Nothing there yet (an empty or absent folder): a state to explain, not damage to report."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk, with its validated metadata."""

    metadata_path: Path
    weights_path: Path
    metadata: dict[str, Any]

    @property
    def epoch(self) -> int:
        return int(self.metadata["epoch"])

    @property
    def vocabulary(self) -> list[str]:
        return list(self.metadata["vocabulary"])

    @property
    def maxlen(self) -> int:
        return int(self.metadata["maxlen"])

    @property
    def units(self) -> int:
        return int(self.metadata["model"]["units"])

    @property
    def cell(self) -> str:
        """ "lstm" or "gru" (format 1 checkpoints are the book's LSTM)."""
        return str(self.metadata["model"].get("cell", "lstm"))

    @property
    def layers(self) -> int:
        return int(self.metadata["model"].get("layers", 1))

    @property
    def layer_units(self) -> list[int]:
        return [self.units] * self.layers

    @property
    def architecture(self) -> Architecture:
        model = self.metadata["model"]
        # Format 1 kept --dropout only in the training settings.
        dropout = model.get("dropout", (self.metadata.get("training") or {}).get("dropout", 0.0))
        return Architecture(self.cell, self.layers, self.units, float(dropout or 0.0))

    @property
    def val_loss(self) -> float | None:
        value = self.metadata["metrics"].get("val_loss")
        return None if value is None else float(value)

    @property
    def lowercases(self) -> bool:
        """Whether the model was trained on lowercased text (so prompts are lowercased too).

        Checkpoints from before ``--keep-case`` say nothing: they were all lowercased."""
        return self.metadata.get("corpus", {}).get("lowercased", True) is not False

    @property
    def seed_passages(self) -> list[str]:
        return list(self.metadata.get("seed_passages") or [])

    def describe(self) -> str:
        """One short line for status bars and logs: where it is, which epoch, how good."""
        loss = self.val_loss
        quality = f"held-out {loss:.3f} nats/char" if loss is not None else "no held-out loss"
        return f"{self.metadata_path.parent.name}/{self.metadata_path.stem} (epoch {self.epoch}, {quality})"

    def describe_short(self) -> str:
        """The shortest useful form, for narrow status lines: the epoch and the held-out loss."""
        loss = self.val_loss
        return f"epoch {self.epoch}" + (f" {loss:.3f}" if loss is not None else "")


def checkpoint_names(epoch: int) -> tuple[str, str]:
    """The metadata and weights file names for one epoch."""
    stem = f"epoch_{epoch:04d}"
    return stem + METADATA_SUFFIX, stem + WEIGHTS_SUFFIX


def epoch_from_name(name: str) -> int | None:
    """The epoch a metadata file name stands for, or None when the name is not a checkpoint's."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Architecture:
    """one-hot → ``layers`` × ``cell``(``units``) → Dense(softmax). The default is the book's."""

    cell: str = "lstm"
    layers: int = 1
    units: int = 128
    dropout: float = 0.0  # training only: between recurrent layers and before the softmax

    def describe(self) -> str:
        stack = f"{self.layers} × " if self.layers > 1 else ""
        return f"one-hot → {stack}{self.cell.upper()}({self.units}) → Dense(softmax)"

    def parameters(self, vocab_size: int) -> int:
        """Weights of the model: per layer G·u·(inputs + u + 1) (GRU: one more bias row), then (u + 1)·V."""
        gates = GATES[self.cell]
        total, inputs = 0, vocab_size
        for _ in range(self.layers):
            total += gates * self.units * (inputs + self.units + (1 if self.cell == "lstm" else 2))
            inputs = self.units
        return total + (self.units + 1) * vocab_size


@dataclass(frozen=True)
class CheckpointMetadata:
    """Everything one checkpoint's ``.json`` says; ``to_dict`` is the only place its layout is written."""

    epoch: int
    vocabulary: list[str]
    maxlen: int
    architecture: Architecture = Architecture()
    training: dict[str, Any] = field(default_factory=dict)  # the trainer's TrainConfig, as saved
    metrics: dict[str, Any] = field(default_factory=dict)  # train_loss, val_loss (nats/char), ...
    corpus: dict[str, Any] = field(default_factory=dict)  # source, sha256, length, held_out_from, lowercased
    seed_passages: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. "bundle": how a bundled model was made
    created_utc: str = ""

    def to_dict(self) -> dict[str, Any]:
        arch = self.architecture
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "epoch": self.epoch,
            "vocabulary": list(self.vocabulary),
            "maxlen": self.maxlen,
            "model": {
                "architecture": arch.describe(),
                "cell": arch.cell,
                "layers": arch.layers,
                "units": arch.units,
                "dropout": arch.dropout,
                "vocab_size": len(self.vocabulary),
                "parameters": arch.parameters(len(self.vocabulary)),
            },
            "training": dict(self.training),
            "metrics": dict(self.metrics),
            "corpus": dict(self.corpus),
            "seed_passages": list(self.seed_passages),
            "versions": dict(self.versions),
            **self.extra,
            "created_utc": self.created_utc or datetime.now(UTC).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> CheckpointMetadata:
        """The typed form of a checkpoint read from disk (format 1 or 2)."""
        data = checkpoint.metadata
        known = {"format", "format_version", "epoch", "vocabulary", "maxlen", "model", "training", "metrics"}
        known |= {"corpus", "seed_passages", "versions", "created_utc"}
        return cls(
            epoch=checkpoint.epoch,
            vocabulary=checkpoint.vocabulary,
            maxlen=checkpoint.maxlen,
            architecture=checkpoint.architecture,
            training=dict(data.get("training") or {}),
            metrics=dict(data["metrics"]),
            corpus=dict(data.get("corpus") or {}),
            seed_passages=checkpoint.seed_passages,
            versions=dict(data.get("versions") or {}),
            extra={k: v for k, v in data.items() if k not in known},
            created_utc=str(data.get("created_utc", "")),
        )


def _require(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise CheckpointError(f"{path}: {what}; this is not a usable nietzsche-tui checkpoint.")


def validate_metadata(metadata: Any, path: Path) -> dict[str, Any]:
    """Check that parsed metadata follows the contract; return it or raise CheckpointError."""
    _require(isinstance(metadata, dict), path, "metadata is not a JSON object")
    _require(metadata.get("format") == FORMAT_NAME, path, "metadata has no nietzsche-tui format tag")
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}, but this program reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; retrain with this version's nietzsche-train "
            "or upgrade nietzsche-tui."
        )
    vocabulary = metadata.get("vocabulary")
    _require(
        isinstance(vocabulary, list)
        and len(vocabulary) >= 2
        and all(isinstance(c, str) and len(c) == 1 for c in vocabulary)
        and len(set(vocabulary)) == len(vocabulary),
        path,
        "vocabulary must be a list of distinct single characters",
    )
    for key in ("epoch", "maxlen"):
        value = metadata.get(key)
        _require(
            isinstance(value, int) and not isinstance(value, bool) and value >= 1,
            path,
            f"'{key}' must be a positive integer",
        )
    model = metadata.get("model")
    _require(
        isinstance(model, dict) and isinstance(model.get("units"), int) and model["units"] >= 1,
        path,
        "'model.units' must be a positive integer",
    )
    _require(model.get("cell", "lstm") in CELLS, path, f"'model.cell' must be one of {', '.join(CELLS)}")
    layers = model.get("layers", 1)
    _require(
        isinstance(layers, int) and not isinstance(layers, bool) and 1 <= layers <= 16,
        path,
        "'model.layers' must be an integer from 1 to 16",
    )
    metrics = metadata.get("metrics")
    _require(isinstance(metrics, dict), path, "'metrics' must be an object")
    for key in ("train_loss", "val_loss"):
        value = metrics.get(key)
        _require(
            value is None or (isinstance(value, int | float) and math.isfinite(value)),
            path,
            f"'metrics.{key}' must be a finite number or null",
        )
    passages = metadata.get("seed_passages", [])
    _require(
        isinstance(passages, list) and all(isinstance(p, str) for p in passages),
        path,
        "'seed_passages' must be a list of strings",
    )
    epoch = epoch_from_name(path.name)
    _require(epoch is None or epoch == metadata["epoch"], path, "file name and 'epoch' disagree")
    return metadata


def read_checkpoint(metadata_path: str | Path) -> Checkpoint:
    """Read and validate one checkpoint given its ``.json`` (or ``.keras``) path."""
    path = Path(metadata_path)
    if path.suffix == WEIGHTS_SUFFIX:
        path = path.with_suffix(METADATA_SUFFIX)
    weights = path.with_suffix(WEIGHTS_SUFFIX)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint metadata (an incomplete or missing checkpoint).")
    if not weights.is_file():
        raise CheckpointError(f"{weights}: the weights file of this checkpoint is missing.")
    try:
        size = path.stat().st_size
        _require(size <= MAX_METADATA_BYTES, path, f"metadata is {size} bytes, far too large")
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: metadata is not readable JSON ({error}).") from None
    return Checkpoint(path, weights, validate_metadata(metadata, path))


def epoch_of_file(name: str) -> int | None:
    """The epoch of a checkpoint's ``.json`` or ``.keras`` file name, or None."""
    return epoch_from_name(name[: -len(WEIGHTS_SUFFIX)] + METADATA_SUFFIX if name.endswith(WEIGHTS_SUFFIX) else name)
