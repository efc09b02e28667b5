"""What the history stores: one exchange and its columns, as frozen records (no SQL, no Textual)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# steps: written a character at a time (F8); models: several checkpoints side by side (--compare)
KINDS = ("temperatures", "epochs", "models", "score", "steps")


@dataclass
class Column:
    """One column of a stored exchange."""

    label: str
    text: str
    state: str = "done"  # done, stopped or failed
    temperature: float | None = None
    epoch: int | None = None
    model: str | None = None  # models side by side: the entry that named the model (book, a folder…)
    checkpoint: str | None = None  # models side by side: this column's checkpoint file


@dataclass
class StoredExchange:
    """Everything needed to show, replay and export one exchange."""

    kind: str
    prompt: str
    prompt_read: str
    dropped: list[str]
    checkpoint_path: str
    epoch: int | None
    weights_sha256: str | None
    mode: str
    temperatures: list[float]
    length: int
    seed: int | None
    top_k: int | None
    top_p: float | None
    columns: list[Column]
    # A branch (inspect, then a digit): where it branched from, as ``Branch.to_dict`` writes it.
    branch_of: dict[str, Any] | None = None
    id: int | None = None
    session_id: int | None = None
    created: float = 0.0

    def output(self) -> str:
        return " ".join(column.text for column in self.columns)

    def to_json(self) -> dict[str, Any]:
        """The exchange as JSON; each column in the shape of one ``generate --json`` object."""
        return {
            "id": self.id,
            "session": self.session_id,
            "created": self.created,
            "kind": self.kind,
            "prompt_typed": self.prompt,
            "dropped": self.dropped,
            "weights_sha256": self.weights_sha256,
            "branch_of": self.branch_of,
            "columns": [
                {
                    "label": column.label,
                    "state": column.state,
                    "temperature": column.temperature,
                    "text": column.text,
                    "prompt": self.prompt_read,
                    "seed": self.seed,
                    "mode": self.mode,
                    "length": self.length,
                    "top_k": self.top_k,
                    "top_p": self.top_p,
                    "checkpoint": column.checkpoint or self.checkpoint_path,
                    "epoch": column.epoch if column.epoch is not None else self.epoch,
                    **({"model": column.model} if column.model else {}),
                    "dropped": self.dropped,
                }
                for column in self.columns
            ],
        }


_HASHES: dict[tuple[str, int, int], str] = {}


def weights_sha256(path: str | Path) -> str | None:
    """The sha256 of a checkpoint's weights file (cached by path, size and time), or None."""
    try:
        stat = Path(path).stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _HASHES:
            _HASHES[key] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return _HASHES[key]
    except OSError:
        return None
