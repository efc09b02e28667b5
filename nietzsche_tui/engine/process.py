"""Generation in a child process, so the app's interface and the model never share an interpreter.

In one process the generation thread and Textual's UI thread take turns on Python's interpreter
lock: NumPy lets it go inside each matrix product, but every return into Python waits for the UI
thread to reach a switch point, dozens of times a character. In the app each column received
about a third to a half of the engine's own rate. Here a child process (``python -m
nietzsche_tui.engine.process``) runs the same engine code on the same weights and sends each step
back over a pipe; the app's worker thread only waits on the pipe (without the lock) and unpickles
a few characters a step.

The protocol is length-prefixed pickles over the child's stdin and stdout, both ends ours (the
child reads its pipe unbuffered, so ``select`` tells truly whether a message waits): the parent sends an
engine's metadata and weights once (so the child computes on exactly the arrays the app loaded,
even if the file changed since), then ``generate`` requests; the child answers with steps and an
end marker, and checks for a ``cancel`` between steps. ``GenerationProcess.stream`` is a step
iterator like ``Generation``; if the child is gone or fails, it says so once (``failure``) and the
same generation continues in this process from the step where the child stopped: the text is the
same either way (same weights, request and seed).

The app creates its ``GenerationProcess`` before its first frame, so this module imports no model
maths at its top: the engine (and NumPy) is imported where a generation is computed, in the child
or in the app's fallback.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from nietzsche_tui.engine.prompts import PromptError
from nietzsche_tui.engine.request import TEMPERATURES, Columns, GenerationRequest, Step

if TYPE_CHECKING:
    from nietzsche_tui.engine.generation import Engine

BATCH_SECONDS = 0.005  # the child sends what it computed at most this long ago (the app draws at 30 Hz)


class GenerationProcess:
    """The app's generation child: started once, one stream at a time, closed with the app."""

    def __init__(self) -> None:
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # one stream at a time: a new one waits for a cancelled one's end
        self._start_lock = threading.Lock()
        self._keys: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
        self._forgotten: list[int] = []  # engines gone from the app: the child may drop them
        self._next_key = 0
        self._job = 0
        self.failure: str | None = None  # why streams run in this process now, once said

    def start(self) -> None:
        """Start the child (it imports NumPy and the engine while the app loads its model); a
        no-op once started. A child that cannot start leaves generation in this process, saying
        why in ``failure``."""
        with self._start_lock:
            if self._child is not None or self.failure is not None:
                return
            environment = dict(os.environ, PYTHONUNBUFFERED="1")
            try:
                self._child = self._spawn(environment)
            except OSError as error:
                self.failure = f"generation runs in the app's own process: {error}"

    @staticmethod
    def _spawn(environment: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "nietzsche_tui.engine.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # its errors come back as messages; nothing reaches a screen
            env=environment,
        )

    def prepare(self, engine: Engine) -> None:
        """Send ``engine``'s weights to the child now (the app calls it in a worker once a model
        loads), so the first prompt does not wait for the transfer."""
        self.start()
        with self._lock:
            if not self.available:
                return
            assert self._child is not None and self._child.stdin is not None
            try:
                self._key(engine, self._child.stdin)
            except OSError as error:
                self.failure = f"generation continues in the app's own process: {error}"
                self.close()

    @property
    def available(self) -> bool:
        return self._child is not None and self._child.poll() is None and self.failure is None

    def close(self) -> None:
        """End the child: its stdin closes, it exits; killed if it does not within a second."""
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    def stream(
        self, engines: Sequence[Engine], request: GenerationRequest, columns: Columns = TEMPERATURES
    ) -> Iterator[Step]:
        """The steps of ``generate_columns(engines, request, columns)``, computed in the child.
        Stop iterating (or ``close()`` the iterator) to cancel."""
        received = 0
        with self._lock:
            if self.available:
                try:
                    for step in self._remote(engines, request, columns):
                        received += 1
                        yield step
                    return
                except (OSError, EOFError, pickle.UnpicklingError, ChildFailed) as error:
                    self.failure = f"generation continues in the app's own process: {error}"
                    self.close()
        from nietzsche_tui.engine.models import generate_columns

        local = generate_columns(engines, request, columns)
        for number, step in enumerate(local):
            if number >= received:  # the child's steps were shown already: go on from there
                yield step

    def _remote(self, engines: Sequence[Engine], request: GenerationRequest, columns: Columns) -> Iterator[Step]:
        child = self._child
        assert child is not None and child.stdin is not None and child.stdout is not None
        keys = [self._key(engine, child.stdin) for engine in engines]
        self._job += 1
        job = self._job
        forgotten, self._forgotten = self._forgotten, []
        _send(child.stdin, ("generate", job, keys, request, columns, forgotten))
        ended = False
        try:
            while True:
                kind, answer_job, payload = _receive(child.stdout.read)
                if answer_job != job:
                    continue  # the end of an earlier, cancelled job
                if kind == "steps":
                    for fields in payload:
                        yield Step(*fields)
                elif kind == "end":
                    ended = True
                    return
                else:
                    ended = True
                    raise ChildFailed(payload)
        finally:
            if not ended and self._child is child and child.poll() is None:
                self._cancel(child, job)

    def _cancel(self, child: subprocess.Popen[bytes], job: int) -> None:
        """Stop the child's job and read up to its end marker, so the next stream starts clean."""
        assert child.stdin is not None and child.stdout is not None
        try:
            _send(child.stdin, ("cancel", job))
            while _receive(child.stdout.read)[:2] != ("end", job):
                pass
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            self.failure = f"generation continues in the app's own process: {error}"
            self.close()

    def _key(self, engine: Engine, pipe: IO[bytes]) -> int:
        """The child's name for ``engine``: its metadata and weights go over once."""
        key = self._keys.get(engine)
        if key is None:
            key = self._next_key = self._next_key + 1
            _send(pipe, ("engine", key, (engine.metadata, engine.weights, engine.checkpoint)))
            self._keys[engine] = key
            weakref.finalize(engine, self._forgotten.append, key)
        return key


class ChildFailed(Exception):
    """The child reported an error (its one line)."""


def _send(pipe: IO[bytes], message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(len(data).to_bytes(8, "little") + data)
    pipe.flush()


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = read(remaining)
        if not chunk:
            raise EOFError("the other end of the pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive(read: Callable[[int], bytes]) -> tuple:
    """One message: its length in 8 bytes, then its pickle."""
    size = int.from_bytes(_read_exactly(read, 8), "little")
    return pickle.loads(_read_exactly(read, size))


def serve(requests: int, answers: IO[bytes]) -> None:
    """The child's loop over the file descriptor ``requests``: engines arrive once, then each
    ``generate`` streams its steps until its end or a ``cancel``. Ends when the parent closes the pipe."""
    from nietzsche_tui.engine.generation import Engine

    engines: dict[int, Engine] = {}
    pending: list[tuple] = []

    def next_message() -> tuple | None:
        if pending:
            return pending.pop(0)
        try:
            return _receive(lambda size: os.read(requests, size))
        except EOFError:
            return None

    while (message := next_message()) is not None:
        kind = message[0]
        if kind == "engine":
            _, key, (metadata, weights, checkpoint) = message
            engines[key] = Engine(metadata, weights, checkpoint)
            _warm_up(engines[key])
        elif kind == "generate":
            _, job, keys, request, columns, forgotten = message
            for key in forgotten:
                engines.pop(key, None)
            _stream_job(job, [engines[key] for key in keys], request, columns, requests, answers, pending)


def _stream_job(
    job: int,
    engines: list[Engine],
    request: GenerationRequest,
    columns: Columns,
    requests: int,
    answers: IO[bytes],
    pending: list[tuple],
) -> None:
    from nietzsche_tui.engine.models import generate_columns

    answer: tuple[str, int, Any]
    batch: list[tuple] = []
    sent = 0.0
    try:
        for step in generate_columns(engines, request, columns):
            batch.append((step.number, step.chars, step.probabilities, step.distributions))
            # Steps go in batches of up to BATCH_SECONDS' worth: the first at once, later ones
            # faster than the screen redraws anyway, and a pickle per step would cost more than
            # the step in stateful mode.
            if time.perf_counter() - sent >= BATCH_SECONDS:
                _send(answers, ("steps", job, batch))
                batch, sent = [], time.perf_counter()
            if _cancelled(job, requests, pending):
                break
        if batch:
            _send(answers, ("steps", job, batch))
        answer = ("end", job, None)
    except Exception as error:  # one line back to the app, which goes on in its own process
        answer = ("error", job, f"{type(error).__name__}: {error}")
    _send(answers, answer)


def _warm_up(engine: Engine) -> None:
    """A few characters in both modes, so the first prompt finds NumPy's code paths and this
    model's matrix sizes warm (a fresh process's first steps are several times slower)."""
    prompt = next((c for c in engine.vocabulary if c.isalpha()), engine.vocabulary[-1]) * 3
    for mode in ("window", "stateful"):
        with contextlib.suppress(PromptError):
            list(engine.generate(GenerationRequest(prompt, length=3, mode=mode)))


def _cancelled(job: int, requests: int, pending: list[tuple]) -> bool:
    """Whether a ``cancel`` for ``job`` waits on the pipe (other messages are kept for later)."""
    while select.select([requests], [], [], 0)[0]:
        message = _receive(lambda size: os.read(requests, size))
        if message[:2] == ("cancel", job):
            return True
        pending.append(message)
    return False


def main() -> None:
    """The child's entry point: stdout carries the answers alone (a stray print goes to stderr)."""
    from nietzsche_tui.engine.network import one_blas_thread

    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    with one_blas_thread():
        pass  # threadpoolctl inspects the loaded libraries once: here, not in the first prompt
    with contextlib.suppress(BrokenPipeError, EOFError, KeyboardInterrupt):  # the app went away
        serve(sys.stdin.fileno(), answers)


if __name__ == "__main__":
    main()
