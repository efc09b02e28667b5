"""What the history stores: one exchange and its columns, as frozen records (no SQL, no Textual)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nietzsche_tui.text import visible_one_line

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


@dataclass(frozen=True)
class Branch:
    """Where a branch leaves an exchange (inspect, then a digit or Enter on a row): the column, the
    position in its text, and the character chosen there instead of the one the model wrote."""

    prompt: str  # the original exchange's prompt, as the model read it
    column: str  # the column's label
    position: int  # 0-based, in the column's text
    chosen: str
    instead_of: str
    exchange: int | None = None  # the original's id in the history, once it was stored

    def describe(self) -> str:
        origin = f"exchange #{self.exchange}" if self.exchange is not None else f"“{self.prompt[-24:]}”"
        return (
            f"branch of {origin} ({self.column}) at character {self.position + 1}: "
            f"“{visible_one_line(self.chosen)}” for “{visible_one_line(self.instead_of)}”"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Branch | None:
        """The link a stored exchange keeps, or None when there is none or it is not what we write
        (a database is input too: a damaged link is dropped, never shown half)."""
        try:
            branch = cls(**data) if data else None
        except TypeError:
            return None
        if branch is None:
            return None
        texts = all(isinstance(t, str) for t in (branch.prompt, branch.column, branch.chosen, branch.instead_of))
        numbers = isinstance(branch.position, int) and branch.position >= 0
        numbers = numbers and (branch.exchange is None or isinstance(branch.exchange, int))
        return branch if texts and numbers else None


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
