"""The web server: textual-serve's terminal in the browser and its protocol to the app, with the
boundary (``boundary.py``) applied to every request and an app per tab that ends for sure.

* **No orphans.** Each tab's app runs in its own process group, started without a shell, and on
  Linux dies with the server (a parent-death signal). When the tab closes or its connection
  drops, the app is asked to quit, then its group gets SIGTERM and, if still there, SIGKILL
  (``QUIT_GRACE`` and ``TERM_GRACE`` seconds): an app stuck in a loop cannot outlive its tab.
* **Limits.** At most ``max_sessions`` apps at once and ``per_client`` from one address; a further
  tab gets a page saying so (HTTP 503) instead of a hang. A tab with no input for
  ``idle_timeout`` seconds is told so and ended. Each app has an address-space limit, so one that
  runs away dies alone.
* **One line per session** in the server's log, saying how it ended; an app's traceback never
  reaches the log, and the visitor sees the reason in the page's closing dialog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import shlex
import signal
import sys
import time
from dataclasses import dataclass

from aiohttp import web
from textual_serve.app_service import AppService

from nietzsche_tui.runs import signal_on_parent_death

log = logging.getLogger("nietzsche-tui.serve")
QUIT_GRACE = 2.0  # seconds an app has to quit when asked, before SIGTERM
TERM_GRACE = 2.0  # seconds after SIGTERM, before SIGKILL
# What an app that reached its address-space limit writes last (Python, the loader, libc).
OUT_OF_MEMORY = (
    "memoryerror",
    "cannot allocate memory",
    "failed to map segment",
    "out of memory",
    "memory allocation still failed",  # OpenBLAS, when its buffers do not fit
)


@dataclass(frozen=True)
class Limits:
    """What the operator bounds (``serve --help`` names each)."""

    max_sessions: int = 8
    per_client: int = 2  # sessions one address may hold
    idle_timeout: float = 900
    app_memory_mib: int = 1024  # address space of each app (RLIMIT_AS)


def duration(seconds: float) -> str:
    """``15 minutes``, ``3 seconds``."""
    return f"{seconds / 60:g} minutes" if seconds >= 120 else f"{seconds:g} seconds"


def _start_app_child(memory_bytes: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    """In the app's process: die with the server (Linux), and never take more than its memory."""
    signal_on_parent_death(signal.SIGKILL)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


class Session(AppService):
    """One tab's app: its own process group, a memory limit, ended for sure when the tab goes."""

    def __init__(self, command: list[str], memory_mib: int, client: str, **kwargs) -> None:
        super().__init__(shlex.join(command), **kwargs)
        self.argv = command
        self.memory_mib = memory_mib
        self.client = client
        self.started = time.monotonic()
        self.last_input = time.monotonic()
        self.stderr_tail = b""  # the app's last words, for the one log line; never shown whole
        self.ending = False

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        # Sessions share the cores: one BLAS thread each. Few malloc arenas keep the address space
        # (what the memory limit counts) close to what the app really uses.
        environment.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
        return environment

    async def _open_app_process(self, width: int = 80, height: int = 24):
        memory = self.memory_mib * 1024 * 1024
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,  # its own process group: ended as a whole
            preexec_fn=(lambda: _start_app_child(memory)) if sys.platform.startswith("linux") else None,
        )
        self._stdin = process.stdin
        return process

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def exited(self) -> int | None:
        """The app's exit status once it has ended by itself, else None."""
        return self._process.returncode if self._process is not None else None

    async def send_bytes(self, data: bytes) -> bool:
        self.last_input = time.monotonic()
        return await super().send_bytes(data)

    async def run(self) -> None:
        """Relay the app's packets to the browser (textual-serve's loop, with its stderr kept as a
        tail instead of copied into the server's log), then close the tab's connection."""
        process = self._process
        reader = asyncio.create_task(self._keep_stderr_tail(process.stderr))
        stdout = process.stdout
        try:
            for _ in range(10):  # the prelude a Textual app writes before its packets
                line = await stdout.readline()
                if not line or line == b"__GANGLION__\n":
                    break
            while True:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                if kind == b"D":
                    await self.on_data(payload)
                elif kind == b"M":
                    await self.on_meta(payload)
                elif kind == b"P":
                    await self.on_packed(payload)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), 1.0)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            with contextlib.suppress(Exception):
                await self.remote_close()

    async def _keep_stderr_tail(self, stderr: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            while chunk := await stderr.read(4096):
                self.stderr_tail = (self.stderr_tail + chunk)[-4096:]

    def app_failure(self) -> str | None:
        """Why the app ended by itself with a failure, in one line; None if it did not."""
        code = self.exited
        if code in (None, 0):
            return None
        tail = self.stderr_tail.decode("utf-8", "replace")
        if any(sign in tail.lower() for sign in OUT_OF_MEMORY) or code in (-signal.SIGABRT, -signal.SIGSEGV):
            return f"the app ran out of its {self.memory_mib} MiB of memory"
        lines = [line.strip() for line in tail.splitlines() if line.strip()]
        return f"the app failed (status {code}): {lines[-1][:200]}" if lines else f"the app failed (status {code})"

    async def stop(self) -> None:
        """Ask the app to quit; if it has not within QUIT_GRACE, end its process group."""
        process = self._process
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(super().stop(), QUIT_GRACE)
        if process is None:
            return
        for sig, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
            if process.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None


async def say(websocket: web.WebSocketResponse, text: str) -> None:
    """Write a line on the browser's terminal (its frames are what a terminal would receive)."""
    await websocket.send_bytes(f"\x1b[2J\x1b[H\r\n  {text}\r\n".encode())


async def close(websocket: web.WebSocketResponse, text: str, code: int = 1000) -> None:
    """Close the connection with ``text`` as its reason: the page shows it in its closing dialog
    (a close frame holds 123 bytes of reason)."""
    reason = text.encode()
    if len(reason) > 123:
        reason = reason[:120].decode("utf-8", "ignore").encode() + "…".encode()
    with contextlib.suppress(Exception):
        await websocket.close(code=code, message=reason)
