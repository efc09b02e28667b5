"""``nietzsche-tui serve``: the app in a web browser, one app process per tab, with limits.

Built on textual-serve (its page, its terminal in the browser, its protocol to the app), with
what a server that other people open needs and textual-serve leaves out:

* **No orphans.** Each tab's app runs in its own process group, started without a shell, and on
  Linux dies with the server (a parent-death signal). When the tab closes or its connection
  drops, the app is asked to quit, then its group gets SIGTERM and, if still there, SIGKILL
  (``QUIT_GRACE`` and ``TERM_GRACE`` seconds): an app stuck in a loop cannot outlive its tab.
* **Limits.** At most ``max_sessions`` apps at once; a further tab gets a page saying so (HTTP 503)
  instead of a hang. A tab with no input for ``idle_timeout`` seconds is told so and ended.
* **A browser user is not the machine's owner.** Every app runs with the operator's options and
  ``--served``: the checkpoint is the operator's (resolved when the server starts), nothing typed
  in the browser names a path on the server, training from the app is off unless the operator
  passes ``--allow-training`` (then only into the operator's folder, on the operator's corpus), the
  history is off unless the operator names a database, and exports become browser downloads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")
QUIT_GRACE = 2.0  # seconds an app has to quit when asked, before SIGTERM
TERM_GRACE = 2.0  # seconds after SIGTERM, before SIGKILL
TITLE = "nietzsche-tui"
FULL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nietzsche-tui: all sessions in use</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>All {limit} sessions are in use</h1>
<p>This nietzsche-tui server runs at most {limit} chats at once. Try again in a few minutes:
a session ends when its tab closes or after {idle} without input.</p>
</body></html>
"""

log = logging.getLogger("nietzsche-tui.serve")


def add_command(commands, shared: argparse.ArgumentParser) -> None:
    """Add ``serve`` to the ``nietzsche-tui`` sub-command parsers (``shared``: the app's options)."""
    serve = commands.add_parser(
        "serve",
        parents=[shared],
        help="serve the app to web browsers (one app per tab)",
        description="Serve the chat app to web browsers: each tab gets its own app with these options. "
        "Binds to 127.0.0.1 unless --host says otherwise.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (anything but loopback is public)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--public-url",
        default=None,
        help="the address browsers use, when it is not http://HOST:PORT (e.g. http://my-laptop.local:8000 "
        "with --host 0.0.0.0)",
    )
    serve.add_argument("--max-sessions", type=int, default=8, help="apps running at once; more tabs are turned away")
    serve.add_argument("--idle-timeout", type=float, default=900, help="seconds without input before a tab's app ends")
    serve.add_argument(
        "--allow-training",
        action="store_true",
        help="let browser users start and stop training (into the --checkpoint folder, on --corpus only)",
    )
    serve.add_argument("--corpus", default=None, help="with --allow-training: the text browser users train on")
    serve.add_argument(
        "--history",
        default=None,
        help="a history database for the browser sessions (default: none is kept; never the owner's own)",
    )
    serve.add_argument("--no-follow", dest="follow", action="store_false", help="do not follow a live training run")


def app_command(args: argparse.Namespace) -> list[str]:
    """The command each browser tab's app runs: the operator's options, paths made absolute now
    (the server's working folder decides them, never the browser)."""
    from nietzsche_tui.engine import default_checkpoint

    checkpoint = Path(args.checkpoint).expanduser() if args.checkpoint else default_checkpoint().metadata_path.parent
    command = [sys.executable, "-m", "nietzsche_tui.cli", "--served", "--checkpoint", str(checkpoint.resolve())]
    command += ["--temperatures", ",".join(f"{t:g}" for t in args.temperatures), "--length", str(args.length)]
    command += ["--mode", args.mode]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.allow_training:
        command.append("--allow-training")
        if args.corpus:
            command += ["--corpus", str(Path(args.corpus).expanduser().resolve())]
    command += ["--history", str(Path(args.history).expanduser().resolve())] if args.history else ["--no-history"]
    if not args.follow:
        command.append("--no-follow")
    return command


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the app gets SIGKILL if the server dies without stopping it (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _make_classes():
    """The server classes, built on textual-serve's (imported only when serving: aiohttp is heavy)."""
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class Session(AppService):
        """One tab's app: its own process group, ended for sure when the tab goes."""

        def __init__(self, command: list[str], **kwargs) -> None:
            super().__init__(shlex.join(command), **kwargs)
            self.argv = command
            self.last_input = time.monotonic()

        async def _open_app_process(self, width: int = 80, height: int = 24):
            environment = self._build_environment(width=width, height=height)
            self._process = process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=environment,
                start_new_session=True,  # its own process group: ended as a whole
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
            self._stdin = process.stdin
            return process

        @property
        def pid(self) -> int | None:
            return self._process.pid if self._process is not None else None

        async def send_bytes(self, data: bytes) -> bool:
            self.last_input = time.monotonic()
            return await super().send_bytes(data)

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

    class SessionServer(Server):
        """textual-serve's server with sessions that are limited, timed out and never orphaned."""

        def __init__(
            self,
            command: list[str],
            host: str,
            port: int,
            public_url: str | None,
            max_sessions: int,
            idle_timeout: float,
        ) -> None:
            super().__init__(shlex.join(command), host=host, port=port, title=TITLE, public_url=public_url)
            self.argv = command
            self.max_sessions = max_sessions
            self.idle_timeout = idle_timeout
            self.sessions: set[Session] = set()

        def full(self) -> bool:
            return len(self.sessions) >= self.max_sessions

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            if self.full():
                page = FULL_PAGE.format(limit=self.max_sessions, idle=_duration(self.idle_timeout))
                return web.Response(status=503, text=page, content_type="text/html")
            response = await super().handle_index(request)
            # textual-serve's page has no <title>: the tab would read as its address.
            response.text = response.text.replace("<head>", f"<head>\n    <title>{TITLE}</title>", 1)
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            websocket = web.WebSocketResponse(heartbeat=15)
            await websocket.prepare(request)
            if self.full():
                await _say(websocket, f"All {self.max_sessions} sessions are in use; try again in a few minutes.")
                await websocket.close(code=1013, message=b"all sessions in use")
                return websocket
            session = Session(
                self.argv,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
            )
            self.sessions.add(session)
            watchdog = asyncio.create_task(self._end_when_idle(session, websocket))
            try:
                await session.start(
                    to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24)
                )
                log.info("session started (app pid %s); %d running", session.pid, len(self.sessions))
                await self._process_messages(websocket, session)
            except asyncio.CancelledError:
                pass
            except Exception as error:  # a broken message from a browser ends that session, not the server
                log.warning("session ended by an error: %s", error)
            finally:
                watchdog.cancel()
                # Shielded: a handler cancelled by a vanished client still ends its app.
                await asyncio.shield(self._end(session))
                with contextlib.suppress(Exception):
                    await websocket.close()
            return websocket

        async def _end(self, session: Session) -> None:
            try:
                await session.stop()
            finally:
                self.sessions.discard(session)
                log.info("session ended (app pid %s); %d running", session.pid, len(self.sessions))

        async def _end_when_idle(self, session: Session, websocket: web.WebSocketResponse) -> None:
            while True:
                idle = time.monotonic() - session.last_input
                if idle >= self.idle_timeout:
                    break
                await asyncio.sleep(min(self.idle_timeout - idle, 5.0) + 0.05)
            with contextlib.suppress(Exception):
                await _say(
                    websocket,
                    f"Session ended after {_duration(self.idle_timeout)} without input; reload to start again.",
                )
                await websocket.close(code=1000, message=b"idle")

        async def on_startup(self, app: web.Application) -> None:
            print(f"nietzsche-tui serving on {self.public_url}  (Ctrl+C to stop)", flush=True)
            print(
                f"  one app per browser tab, at most {self.max_sessions} at once; "
                f"a tab idle for {_duration(self.idle_timeout)} ends",
                flush=True,
            )

        async def on_shutdown(self, app: web.Application) -> None:
            await asyncio.gather(*(self._end(session) for session in list(self.sessions)), return_exceptions=True)

    return Session, SessionServer


async def _say(websocket, text: str) -> None:
    """Write a line on the browser's terminal (its frames are what a terminal would receive)."""
    await websocket.send_bytes(f"\x1b[2J\x1b[H\r\n  {text}\r\n".encode())


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 120 else f"{seconds:g} seconds"


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the server could not listen there (a port in use, an unknown address), before it says it does."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        return error.strerror or str(error)
    return None


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C (or SIGTERM); every app is stopped on the way out."""
    from nietzsche_tui.checkpoint import CheckpointError

    if args.max_sessions < 1 or args.idle_timeout <= 0 or not 0 < args.port < 65536:
        print("nietzsche-tui serve: --max-sessions, --idle-timeout and --port must be positive", file=sys.stderr)
        return 2
    try:
        command = app_command(args)
    except CheckpointError as error:
        print(f"nietzsche-tui serve: {error}", file=sys.stderr)
        return 1
    problem = _cannot_listen(args.host, args.port)
    if problem:
        print(f"nietzsche-tui serve: cannot listen on {args.host}:{args.port} ({problem})", file=sys.stderr)
        return 1
    if args.host not in LOOPBACK:
        print(
            f"Warning: listening on {args.host}: anyone who can reach this address and port gets a full app "
            "session (no shell, no files of yours, but the machine's CPU). Use --host 127.0.0.1 to keep it local.",
            file=sys.stderr,
            flush=True,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    _, server_class = _make_classes()
    server = server_class(command, args.host, args.port, args.public_url, args.max_sessions, args.idle_timeout)
    try:
        server.serve()
    except OSError as error:
        print(
            f"nietzsche-tui serve: cannot listen on {args.host}:{args.port} ({error.strerror or error})",
            file=sys.stderr,
        )
        return 1
    return 0
