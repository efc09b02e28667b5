"""Training runs as the app sees them: start and stop a trainer subprocess, follow a folder.

The app never imports TensorFlow: a run it starts is ``python -m trainer.cli …`` in its own
process (and its own session, so it can outlive the app when the user chooses). Whoever started
a run, the app learns about it from the folder alone: the checkpoints and ``events.jsonl``
(``events.py``). Nothing here imports Textual.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from nietzsche_tui.contracts.checkpoint import Checkpoint
from nietzsche_tui.contracts.events import EVENTS_FILE, EventReader, RunState
from nietzsche_tui.contracts.folder import complete_checkpoints
from nietzsche_tui.contracts.training_form import StartSettings

STDERR_FILE = ".trainer-stderr.log"  # the trainer's one-line reasons, for a run that fails at once


def trainer_command(settings: StartSettings, folder: str | Path) -> list[str]:
    """``python -m trainer.cli …`` with this interpreter: the same environment as the app."""
    return [sys.executable, "-m", "trainer.cli", *settings.arguments(folder)]


def signal_on_parent_death(sig: int) -> None:  # pragma: no cover - runs in a child between fork and exec
    """Linux: the calling process gets ``sig`` when its parent dies, however the parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGINT (a graceful stop, as Ctrl-C) when the app that started the trainer dies."""
    signal_on_parent_death(signal.SIGINT)


class TrainerProcess:
    """A trainer the app started. Stopping sends SIGINT: finished epochs stay, as with Ctrl-C.

    ``owned``: the run belongs to the app (a served tab's): it stops gracefully when the app ends,
    however the app ends. Otherwise it may outlive the app, as the user chooses when quitting.
    """

    def __init__(self, settings: StartSettings, folder: str | Path, owned: bool = False) -> None:
        self.owned = owned
        self.stopping = False
        self.folder = Path(folder)
        self.command = trainer_command(settings, self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
        with open(self.folder / STDERR_FILE, "wb") as stderr:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # the events file carries everything the app shows
                stderr=stderr,
                env=env,
                start_new_session=True,  # the terminal's signals and the app's exit do not reach it
                preexec_fn=_stop_with_parent if owned and sys.platform.startswith("linux") else None,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Ask the trainer to stop after (never during) a checkpoint write: once (a second SIGINT
        while it shuts down left "Exception ignored … KeyboardInterrupt" in its log)."""
        if self.running() and not self.stopping:
            self.stopping = True
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def failure(self) -> str | None:
        """The trainer's last stderr line when it exited with an error, else None."""
        code = self.process.poll()
        if code in (None, 0):
            return None
        try:
            lines = (self.folder / STDERR_FILE).read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else f"the trainer exited with status {code}"

    def describe(self) -> str:
        return shlex.join(["nietzsche-train", *self.command[3:]])


class FolderWatch:
    """Everything the app knows about one training folder, refreshed by ``poll()``.

    ``poll`` is cheap when nothing changed (two ``stat`` calls), so the app can call it every
    second while it shows the folder or follows a run.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.reader = EventReader(self.folder)
        self.state = RunState()
        self.checkpoints: list[Checkpoint] = []
        self._signature: tuple | None = None

    def _stat_signature(self) -> tuple:
        def stat(path: Path) -> tuple[int, int] | None:
            try:
                info = path.stat()
            except OSError:
                return None
            return info.st_mtime_ns, info.st_size

        return stat(self.folder), stat(self.folder / EVENTS_FILE)

    def poll(self) -> bool:
        """Read what is new; True when anything changed."""
        signature = self._stat_signature()
        was_live = self.state.live
        events = signature[1]
        # Unchanged, and every byte of the events file read: nothing new. (A line being written
        # while it was read leaves bytes behind the reader's offset: read again even if the
        # file's size and time have not moved since.)
        if signature == self._signature and (events is None or self.reader.offset >= events[1]):
            self.state.check_alive()
            return was_live != self.state.live
        folder_changed = self._signature is None or signature[0] != self._signature[0]
        self._signature = signature
        self.state.apply_all(self.reader.read())
        self.state.check_alive()
        if folder_changed:  # checkpoints appear by rename, which changes the folder, not events.jsonl
            self.checkpoints = complete_checkpoints(self.folder)
        return True

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


class TrainingControl:
    """The app's one handle on its training folder: what the folder says, and the run it started.

    A run started elsewhere is followed through the folder and never signalled.
    """

    def __init__(self, folder: str | Path, corpus: str | None = None, owned_runs: bool = False) -> None:
        self.folder = Path(folder)
        self.corpus = corpus
        self.owned_runs = owned_runs  # served: a run started here ends with the app
        self.watch = FolderWatch(self.folder)
        self.trainer: TrainerProcess | None = None
        self._reported_failure = False

    def poll(self) -> bool:
        """Refresh from the folder; a trainer of ours that died before writing events is a failed run."""
        changed = self.watch.poll()
        if self.trainer is not None and not self._reported_failure:
            failure = self.trainer.failure()
            if failure is not None and self.watch.state.status not in ("failed", "stopped"):
                self.watch.state.status, self.watch.state.message = "failed", failure
                self._reported_failure = changed = True
        return changed

    @property
    def ours_running(self) -> bool:
        """A run this app started is still going."""
        return self.trainer is not None and self.trainer.running()

    def defaults(self) -> StartSettings:
        """The start form's values: the folder's own settings when resuming (so the trainer accepts
        them), else the fast recipe on the corpus given with ``--corpus``."""
        latest = self.watch.latest
        if latest is None:
            return StartSettings.defaults(corpus=self.corpus or "")
        saved = latest.metadata.training
        # Checkpoints record the corpus as a path (format 1) or a list of paths; the form takes one.
        paths = saved.get("corpus")
        paths = [paths] if isinstance(paths, str) else paths if isinstance(paths, list) else []
        corpus = paths[0] if len(paths) == 1 and isinstance(paths[0], str) else ""
        if self.corpus or not corpus or not Path(corpus).exists():
            corpus = self.corpus or ""
        # The shape comes from the checkpoint's architecture (the truth, in every format); the
        # rest from the training settings it saved.
        arch = latest.architecture
        fields = {"cell": arch.cell, "layers": arch.layers, "units": arch.units, "dropout": arch.dropout}
        fields["maxlen"] = latest.maxlen
        for name in ("recipe", "learning_rate", "steps_per_epoch", "seed"):
            value = saved.get(name)
            if value is not None or name in ("learning_rate", "steps_per_epoch"):
                fields[name] = value
        return StartSettings.defaults(corpus=corpus, epochs=latest.epoch + 10, **fields)

    def start(self, settings: StartSettings) -> TrainerProcess:
        """Start a trainer into the folder (raises RuntimeError when a run is live there)."""
        self.poll()
        if self.watch.state.live:
            raise RuntimeError("a run is already training into this folder")
        self.trainer = TrainerProcess(settings, self.folder, owned=self.owned_runs)
        self._reported_failure = False
        if self.watch.state.status in ("failed", "stopped"):  # the last run's ending is not this one's
            self.watch.state.status, self.watch.state.message = "starting", ""
        return self.trainer

    def stop(self) -> str:
        """Stop our run gracefully; say what happened in one line."""
        if self.ours_running:
            self.trainer.stop()
            return "Stopping after the current step; the epoch being written is kept, the partial one discarded."
        if self.watch.state.live:
            pid = self.watch.state.pid
            return f"This run was started outside the app (pid {pid}); stop it where it runs (Ctrl-C there)."
        return "No run is training in this folder."
