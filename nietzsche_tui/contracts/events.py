"""The training-events contract: what a run is doing, as a file any reader can follow.

The trainer appends one JSON object per line to ``events.jsonl`` in its checkpoint folder; the
app (and anything else) reads it to show a live run, whoever started it. Like the checkpoint, it
is a contract between the trainer and the app, versioned and documented here. Every line is

    {"v": 1, "event": NAME, "time": UNIX_SECONDS, "run": RUN_ID, ...fields}

with these events, in the order a run writes them:

``run_started``   ``pid``, ``initial_epoch`` (epochs already complete), ``epochs`` (the target),
                  ``steps_per_epoch``, ``settings`` (the TrainConfig as a dict)
``batch``         ``epoch`` (1-based, the epoch being trained), ``batch`` (done in this epoch),
                  ``batches`` (per epoch), ``loss`` (running mean this epoch), ``seconds``
                  (since the epoch began). At most a few per second.
``epoch_ended``   ``epoch``, ``train_loss``, ``val_loss``, ``val_bpc``, ``learning_rate``,
                  ``seconds``, ``checkpoint`` (the metadata file's name, or null when the epoch
                  was not saved), ``seed_text`` and ``samples`` (``[{"temperature": T, "text": …}]``),
                  ``copied_longest`` and ``copied_fraction`` (what the samples copied word for
                  word from the training text: the longest span, the share of characters in
                  spans of 20+; null when there were no samples)
``run_finished``  ``epoch`` (the last complete one)
``run_stopped``   ``reason``: ``interrupted`` (SIGINT/Ctrl-C) or ``diverged``; ``message``
``run_failed``    ``message``: the one line the trainer printed (bad corpus, disk full, …)

Writing: each line goes out in a single ``write`` on a file opened with ``O_APPEND``, so lines
from one writer never interleave and a reader sees whole lines or a truncated last one. Reading:
``EventReader`` remembers its offset and returns only complete lines; a line that is not valid
JSON (a crash mid-write, a foreign file) is counted and skipped, never raised. A later run in the
same folder appends; its ``run_started`` starts a new story. This module imports neither
TensorFlow nor Textual.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
EVENTS_VERSION = 1
MAX_LINE_BYTES = 1024 * 1024  # samples are a few kB; a longer "line" is garbage
TERMINAL_EVENTS = ("run_finished", "run_stopped", "run_failed")
_FINGERPRINT_BYTES = 64  # the start of a line holds its time stamp: two files differ there


# ---------------------------------------------------------------------------------------------
# Writing (the trainer's side)


class EventWriter:
    """Append events to ``folder/events.jsonl``, one line per ``write``; never raises on disk errors
    (a full disk must not turn a good epoch into a failed run: the checkpoint is what matters)."""

    def __init__(self, folder: str | Path, run: str | None = None) -> None:
        self.path = Path(folder) / EVENTS_FILE
        self.run = run or f"{os.getpid()}-{int(time.time() * 1000)}"
        self.failed = False

    def write(self, event: str, **fields: Any) -> None:
        record = {"v": EVENTS_VERSION, "event": event, "time": round(time.time(), 3), "run": self.run, **fields}
        line = (json.dumps(_plain(record), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        except OSError:
            self.failed = True


def _plain(value: Any) -> Any:
    """Plain JSON values: NumPy scalars become numbers, NaN and infinity become null (JSON has
    no such numbers), anything else unknown becomes its string."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------------------------
# Reading (the app's side)


class EventReader:
    """Follow an events file: each ``read()`` returns the complete new lines since the last one."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / EVENTS_FILE
        self.offset = 0
        self.skipped = 0  # lines that were not valid events
        self._identity: tuple[int, int, bytes] | None = None

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as stream:
                stat = os.fstat(stream.fileno())
                # A replaced file can reuse the inode number: its first bytes tell them apart.
                identity = (stat.st_dev, stat.st_ino, stream.read(_FINGERPRINT_BYTES).split(b"\n")[0])
                if identity != self._identity or stat.st_size < self.offset:
                    self._identity, self.offset = identity, 0  # a new or truncated file: start over
                stream.seek(self.offset)
                data = stream.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []  # only a partial line so far: wait for its newline
        self.offset += end + 1
        return list(self._parse(data[: end + 1].splitlines()))

    def _parse(self, lines: Iterable[bytes]) -> Iterable[dict[str, Any]]:
        for line in lines:
            if not line.strip():
                continue
            event = parse_event(line)
            if event is None:
                self.skipped += 1
            else:
                yield event


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One line as an event, or None when it is not one we understand."""
    if len(line) > MAX_LINE_BYTES:
        return None
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        return None
    if record.get("v") != EVENTS_VERSION:
        return None
    return record


def read_events(folder: str | Path) -> list[dict[str, Any]]:
    """Every valid event in a folder's events file (empty when there is none)."""
    return EventReader(folder).read()


# ---------------------------------------------------------------------------------------------
# What the events say: the state of the latest run


@dataclass
class EpochRecord:
    """One finished epoch as the events tell it."""

    epoch: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_bpc: float | None = None
    learning_rate: float | None = None
    seconds: float | None = None
    checkpoint: str | None = None
    seed_text: str = ""
    samples: list[tuple[float, str]] = field(default_factory=list)
    copied_longest: float | None = None
    copied_fraction: float | None = None


@dataclass
class RunState:
    """The latest run in a folder: where it is, what it produced, how it ended."""

    status: str = "none"  # none, running, finished, stopped, failed
    message: str = ""
    pid: int | None = None
    run: str | None = None
    epochs_target: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    epoch: int | None = None  # the epoch in progress
    batch: int = 0
    batches: int = 0
    loss: float | None = None
    epoch_seconds: float = 0.0
    updated: float = 0.0  # the time of the latest event
    epochs: dict[int, EpochRecord] = field(default_factory=dict)  # every run's epochs, latest wins

    @property
    def live(self) -> bool:
        return self.status == "running"

    def eta_seconds(self) -> float | None:
        """Seconds left in the current epoch at the current pace."""
        if not self.live or self.batch <= 0 or self.batches <= 0:
            return None
        return self.epoch_seconds / self.batch * (self.batches - self.batch)

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event into the state (unknown events and malformed fields are ignored)."""
        kind = event.get("event")
        self.updated = _number(event.get("time")) or self.updated
        if kind == "run_started":
            self.status, self.message = "running", ""
            self.run = event.get("run")
            self.pid = event.get("pid") if isinstance(event.get("pid"), int) else None
            self.epochs_target = _integer(event.get("epochs"))
            settings = event.get("settings")
            self.settings = settings if isinstance(settings, dict) else {}
            initial = _integer(event.get("initial_epoch")) or 0
            self.epoch, self.batch, self.batches, self.loss = initial + 1, 0, 0, None
        elif kind == "batch":
            self.epoch = _integer(event.get("epoch")) or self.epoch
            self.batch = _integer(event.get("batch")) or 0
            self.batches = _integer(event.get("batches")) or self.batches
            self.loss = _number(event.get("loss"))
            self.epoch_seconds = _number(event.get("seconds")) or 0.0
        elif kind == "epoch_ended":
            epoch = _integer(event.get("epoch"))
            if epoch is None:
                return
            samples = []
            for sample in event.get("samples") or []:
                if isinstance(sample, dict) and isinstance(sample.get("text"), str):
                    samples.append((_number(sample.get("temperature")) or 0.0, sample["text"]))
            self.epochs[epoch] = EpochRecord(
                epoch,
                _number(event.get("train_loss")),
                _number(event.get("val_loss")),
                _number(event.get("val_bpc")),
                _number(event.get("learning_rate")),
                _number(event.get("seconds")),
                checkpoint if isinstance(checkpoint := event.get("checkpoint"), str) else None,
                seed_text if isinstance(seed_text := event.get("seed_text"), str) else "",
                samples,
                _number(event.get("copied_longest")),
                _number(event.get("copied_fraction")),
            )
            self.epoch, self.batch, self.loss = epoch + 1, 0, None
        elif kind in TERMINAL_EVENTS:
            self.status = {"run_finished": "finished", "run_stopped": "stopped", "run_failed": "failed"}[kind]
            message = event.get("message")
            self.message = message if isinstance(message, str) else ""
            self.batch, self.loss = 0, None

    def apply_all(self, events: Iterable[dict[str, Any]]) -> RunState:
        for event in events:
            self.apply(event)
        return self

    def check_alive(self) -> None:
        """A run whose process is gone without a final event (SIGKILL, power loss) has ended."""
        if self.live and self.pid is not None and not process_exists(self.pid):
            self.status, self.message = "stopped", "the trainer process ended without saying why (killed?)"


def process_exists(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie) on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().split(b") ")[-1][:1] != b"Z"
    except OSError:
        return True


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
