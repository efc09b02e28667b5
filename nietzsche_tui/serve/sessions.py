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
import html
import json
import logging
import os
import resource
import shlex
import signal
import string
import sys
import time
from dataclasses import dataclass
from importlib.resources import files

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from nietzsche_tui.runs import signal_on_parent_death
from nietzsche_tui.serve.boundary import (
    BadMessage,
    Boundary,
    InputMeter,
    listen_url,
    parse_message,
    plural,
    size_from_query,
)

log = logging.getLogger("nietzsche-tui.serve")

QUIT_GRACE = 2.0  # seconds an app has to quit when asked, before SIGTERM
TERM_GRACE = 2.0  # seconds after SIGTERM, before SIGKILL
CLOSE_TIMEOUT = 2.0  # seconds to wait for a browser's closing handshake (a client that never reads)
SHUTDOWN_TIMEOUT = 3.0  # seconds the server waits for open connections once every app has ended
MAX_MESSAGE_BYTES = 256 * 1024  # a websocket frame beyond this closes the connection (aiohttp checks it)
TITLE = "nietzsche-tui"
# What an app that reached its address-space limit writes last (Python, the loader, libc).
OUT_OF_MEMORY = ("memoryerror", "cannot allocate memory", "failed to map segment", "out of memory")
PAGE = string.Template(files("nietzsche_tui.serve").joinpath("page.html").read_text(encoding="utf-8"))
FULL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nietzsche-tui: {title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>{title}</h1>
<p>{text} Try again in a few minutes: a session ends when its tab closes or after {idle} without input.</p>
</body></html>
"""


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


class SessionServer(Server):
    """textual-serve's server with the boundary checked and sessions limited, timed out and never orphaned."""

    def __init__(
        self, command: list[str], host: str, port: int, public_url: str | None, boundary: Boundary, limits: Limits
    ) -> None:
        super().__init__(shlex.join(command), host=host, port=port, title=TITLE, public_url=listen_url(host, port))
        self.explicit_url = public_url  # None: the page links to the name the browser used
        if public_url:
            self.public_url = public_url
        self.argv = command
        self.boundary = boundary
        self.limits = limits
        self.cookie = f"nietzsche_tui_token_{port}"  # cookies ignore ports: one name per server
        self.sessions: set[Session] = set()

    # -- the boundary, before any handler ----------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        """Refuse (403, one log line) what is not for this server: a foreign Host, a foreign Origin,
        a missing or wrong token. A right token in the URL is kept in a cookie."""
        offered = request.query.get("token")
        reason = self.boundary.refuse_host(request.headers.get("Host"), 443 if request.secure else 80)
        reason = reason or self.boundary.refuse_origin(request.headers.get("Origin"))
        if not reason and not self.boundary.token_matches(offered, request.cookies.get(self.cookie)):
            reason = "a wrong token" if offered else "no token"
        if reason:
            log.warning("refused %s %s from %s: %s", request.method, request.path, request.remote, reason)
            text = f"403 Forbidden: {reason}. Open the address the server printed."
            return web.Response(status=403, text=text + "\n")
        response = await handler(request)
        if offered and self.boundary.token and not response.prepared:
            response.set_cookie(self.cookie, offered, httponly=True, samesite="Strict", path="/")
        return response

    def _refusal(self, client: str) -> tuple[str, str] | None:
        """(title, text) when a new session cannot start: the server or this address is full."""
        limits = self.limits
        if len(self.sessions) >= limits.max_sessions:
            return (
                f"All {plural(limits.max_sessions, 'session')} are in use"
                if limits.max_sessions > 1
                else "The one session is in use",
                f"This nietzsche-tui server runs at most {plural(limits.max_sessions, 'chat')} at once.",
            )
        # A session on its way out (its tab closed) does not count: a reload is not a second tab.
        mine = sum(1 for session in self.sessions if session.client == client and not session.ending)
        if mine >= limits.per_client:
            return (
                f"Your address already has {plural(mine, 'session')}",
                f"This server gives one address at most {plural(limits.per_client, 'chat')} at once; close a tab.",
            )
        return None

    # -- the handlers ------------------------------------------------------------------------

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request.remote or "")
        if refusal:
            title, text = refusal
            page = FULL_PAGE.format(title=title, text=text, idle=duration(self.limits.idle_timeout))
            return web.Response(status=503, text=page, content_type="text/html")
        # The page's own address (the name the browser used, already checked): its cookie goes along.
        base = self.explicit_url.rstrip("/") if self.explicit_url else f"{request.scheme}://{request.host}"
        websocket = ("wss:" if base.startswith("https") else "ws:") + base.split(":", 1)[1] + "/ws"
        try:
            font_size = min(max(int(request.query.get("fontsize", "16")), 6), 48)
        except ValueError:
            font_size = 16
        values = {"title": TITLE, "static": f"{base}/static/", "websocket": websocket, "font_size": font_size}
        page = PAGE.substitute({key: html.escape(str(value), quote=True) for key, value in values.items()})
        return web.Response(text=page, content_type="text/html")

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """A file an app offered, while its session lasts; any other key is a 404."""
        key = request.match_info["key"]
        download = self.download_manager._active_downloads.get(key)
        if download is None or download.app_service not in self.sessions:
            raise web.HTTPNotFound(text="404: no such download (it ended with its session)")
        return await super().handle_download(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15, timeout=CLOSE_TIMEOUT, max_msg_size=MAX_MESSAGE_BYTES)
        await websocket.prepare(request)
        client = request.remote or ""
        refusal = self._refusal(client)
        if refusal:
            title, text = refusal
            await say(websocket, f"{title}. {text} Try again in a few minutes.")
            await close(websocket, f"{title}; try again in a few minutes.", code=1013)
            return websocket
        session = Session(
            self.argv,
            self.limits.app_memory_mib,
            client,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=lambda: close(websocket, self._closing_words(session)),
            download_manager=self.download_manager,
        )
        self.sessions.add(session)
        watchdog = asyncio.create_task(self._end_when_idle(session, websocket))
        reason = "the tab closed"
        try:
            await session.start(*size_from_query(request.query.get("width"), request.query.get("height")))
            log.info("session started (app pid %s, %s); %s running", session.pid, client, len(self.sessions))
            await self._relay(websocket, session)
        except asyncio.CancelledError:
            reason = "the connection dropped"
        except BadMessage as error:
            reason = f"the browser sent {error}"
            await close(websocket, f"Session ended: the browser sent {error}.", code=1008)
        except Exception as error:  # one broken session, never the server; one line, no traceback
            reason = f"an error ({type(error).__name__}: {str(error)[:200]})"
        finally:
            watchdog.cancel()
            if watchdog.done() and not watchdog.cancelled():
                reason = f"no input for {duration(self.limits.idle_timeout)}"
            reason = session.app_failure() or ("the app was closed" if session.exited is not None else reason)
            # Shielded: a handler cancelled by a vanished client still ends its app.
            await asyncio.shield(self._end(session, reason))
            await close(websocket, self._closing_words(session))
        return websocket

    def _closing_words(self, session: Session) -> str:
        failure = session.app_failure()
        return f"Session ended: {failure}. Restart for a new one." if failure else "Session ended."

    async def _relay(self, websocket: web.WebSocketResponse, session: Session) -> None:
        """The browser's messages to the app, each checked (``parse_message``), keystrokes metered."""
        meter = InputMeter()
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(message.data)
            except ValueError:
                raise BadMessage("a message that is not JSON") from None
            kind, payload = parse_message(data)
            if kind == "stdin":
                wait = meter.wait_for(len(payload))
                if wait:
                    await asyncio.sleep(wait)  # the browser's socket backs up; nothing is dropped
                await session.send_bytes(payload)
            elif kind == "resize":
                await session.set_terminal_size(*payload)
            elif kind == "ping":
                await websocket.send_json(["pong", payload])
            elif kind == "blur":
                await session.blur()
            elif kind == "focus":
                await session.focus()

    async def _end(self, session: Session, reason: str) -> None:
        if session.ending:  # the tab closing and the server stopping can meet here
            return
        session.ending = True
        try:
            await session.stop()
        finally:
            self.sessions.discard(session)
            for key, download in list(self.download_manager._active_downloads.items()):
                if download.app_service is session:  # an ended session's keys answer 404
                    self.download_manager._active_downloads.pop(key, None)
            lasted = duration(round(time.monotonic() - session.started))
            log.info(
                "session ended (app pid %s, %s, %s): %s; %s running",
                session.pid,
                session.client,
                lasted,
                reason,
                len(self.sessions),
            )

    async def _end_when_idle(self, session: Session, websocket: web.WebSocketResponse) -> None:
        timeout = self.limits.idle_timeout
        while (idle := time.monotonic() - session.last_input) < timeout:
            await asyncio.sleep(min(timeout - idle, 5.0) + 0.05)
        words = f"Session ended after {duration(timeout)} without input; reload to start again."
        with contextlib.suppress(Exception):
            await say(websocket, words)
        await close(websocket, words)

    async def on_startup(self, app: web.Application) -> None:
        print(f"nietzsche-tui serving on {self.public_url}  (Ctrl+C to stop)", flush=True)
        limits = self.limits
        print(
            f"  one app per browser tab, at most {limits.max_sessions} at once ({limits.per_client} per address); "
            f"a tab idle for {duration(limits.idle_timeout)} ends",
            flush=True,
        )

    async def on_shutdown(self, app: web.Application) -> None:
        ending = [self._end(session, "the server stopped") for session in list(self.sessions)]
        await asyncio.gather(*ending, return_exceptions=True)

    def serve(self, debug: bool = False) -> None:
        """Serve until SIGINT or SIGTERM; then every app ends and the server exits within seconds,
        even with clients that never read (textual-serve's waits 60 s)."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=lambda *args: None,
            access_log=None,  # the log holds one line per session, not one per request
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
