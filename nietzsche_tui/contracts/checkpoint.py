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
from typing import Any, ClassVar

FORMAT_NAME = "nietzsche-tui-checkpoint"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
CELLS = ("lstm", "gru")
GATES = {"lstm": 4, "gru": 3}  # LSTM gates i, f, c, o; GRU gates z, r, h (Keras's orders)
METADATA_SUFFIX = ".json"
WEIGHTS_SUFFIX = ".keras"
# Metadata is a few kB; anything far larger is not ours and is refused before parsing.
MAX_METADATA_BYTES = 4 * 1024 * 1024
LN2 = math.log(2)  # losses are recorded in nats per character; bits = nats / LN2
_NAME = re.compile(r"^epoch_(\d{4,})\.json$")


class CheckpointError(Exception):
    """A checkpoint that is missing, incomplete, corrupt or not ours. The message says what to do."""


class MissingCheckpoint(CheckpointError):
    """Nothing there yet (an empty or absent folder): a state to explain, not damage to report."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint on disk: where its two files are, and its validated, typed metadata."""

    metadata_path: Path
    weights_path: Path
    metadata: CheckpointMetadata

    @property
    def epoch(self) -> int:
        return self.metadata.epoch

    @property
    def vocabulary(self) -> list[str]:
        return self.metadata.vocabulary

    @property
    def maxlen(self) -> int:
        return self.metadata.maxlen

    @property
    def architecture(self) -> Architecture:
        return self.metadata.architecture

    @property
    def val_loss(self) -> float | None:
        return self.metadata.metrics.val_loss

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


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Metrics:
    """An epoch's figures: losses in nats per character (None where not measured), its learning
    rate and seconds; ``extra`` keeps whatever else a writer recorded (a bundle's provenance)."""

    train_loss: float | None = None
    val_loss: float | None = None
    val_bpc: float | None = None
    learning_rate: float | None = None
    epoch_seconds: float | None = None
    total_seconds: float | None = None
    # What the epoch's samples copied from the training text (verbatim/index.py, 20+ characters):
    # the longest span, and the share of their characters inside one.
    copied_longest: float | None = None
    copied_fraction: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    NAMES: ClassVar[tuple[str, ...]] = (
        "train_loss",
        "val_loss",
        "val_bpc",
        "learning_rate",
        "epoch_seconds",
        "total_seconds",
        "copied_longest",
        "copied_fraction",
    )

    @property
    def held_out_bits(self) -> float | None:
        """The held-out loss in bits per character (computed from nats where not recorded)."""
        if self.val_bpc is not None:
            return self.val_bpc
        return None if self.val_loss is None else self.val_loss / LN2

    def to_dict(self) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in self.NAMES}, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        """Metrics from a metadata file's ``metrics`` object (already validated)."""
        known = {name: _number(data.get(name)) for name in cls.NAMES}
        return cls(**known, extra={k: v for k, v in data.items() if k not in cls.NAMES})


@dataclass(frozen=True)
class CheckpointMetadata:
    """Everything one checkpoint's ``.json`` says; ``to_dict`` is the only place its layout is written."""

    epoch: int
    vocabulary: list[str]
    maxlen: int
    architecture: Architecture = Architecture()
    training: dict[str, Any] = field(default_factory=dict)  # the trainer's TrainConfig, as saved
    metrics: Metrics = Metrics()
    corpus: dict[str, Any] = field(default_factory=dict)  # source, paths, sha256, length, held_out_from, lowercased
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
            "metrics": self.metrics.to_dict(),
            "corpus": dict(self.corpus),
            "seed_passages": list(self.seed_passages),
            "versions": dict(self.versions),
            **self.extra,
            "created_utc": self.created_utc or datetime.now(UTC).isoformat(timespec="seconds"),
        }

    @property
    def lowercases(self) -> bool:
        """Whether the model was trained on lowercased text (so prompts are lowercased too).

        Checkpoints from before ``--keep-case`` say nothing: they were all lowercased."""
        return self.corpus.get("lowercased", True) is not False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointMetadata:
        """The typed form of validated metadata (``validate_metadata``), format 1 or 2."""
        model = data["model"]
        # Format 1 kept --dropout only in the training settings.
        dropout = model.get("dropout", (data.get("training") or {}).get("dropout", 0.0))
        architecture = Architecture(
            str(model.get("cell", "lstm")), int(model.get("layers", 1)), int(model["units"]), float(dropout or 0.0)
        )
        known = {"format", "format_version", "epoch", "vocabulary", "maxlen", "model", "training", "metrics"}
        known |= {"corpus", "seed_passages", "versions", "created_utc"}
        return cls(
            epoch=int(data["epoch"]),
            vocabulary=list(data["vocabulary"]),
            maxlen=int(data["maxlen"]),
            architecture=architecture,
            training=dict(data.get("training") or {}),
            metrics=Metrics.from_dict(data["metrics"]),
            corpus=dict(data.get("corpus") or {}),
            seed_passages=list(data.get("seed_passages") or []),
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
    for key in Metrics.NAMES:
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
    return Checkpoint(path, weights, CheckpointMetadata.from_dict(validate_metadata(metadata, path)))


def epoch_of_file(name: str) -> int | None:
    """The epoch of a checkpoint's ``.json`` or ``.keras`` file name, or None."""
    return epoch_from_name(name[: -len(WEIGHTS_SUFFIX)] + METADATA_SUFFIX if name.endswith(WEIGHTS_SUFFIX) else name)
