"""The web server: textual-serve's, with every request checked at the boundary and each tab's app limited."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import shlex
import signal
import string
import time
from importlib.resources import files

from aiohttp import WSMsgType, web
from textual_serve.server import Server

from nietzsche_tui.serve.boundary import (
    BadMessage,
    Boundary,
    InputMeter,
    listen_url,
    parse_message,
    plural,
    size_from_query,
)
from nietzsche_tui.serve.sessions import Limits, Session, close, duration, log, say

CLOSE_TIMEOUT = 2.0  # seconds to wait for a browser's closing handshake (a client that never reads)
SHUTDOWN_TIMEOUT = 3.0  # seconds the server waits for open connections once every app has ended
MAX_MESSAGE_BYTES = 256 * 1024  # a websocket frame beyond this closes the connection (aiohttp checks it)
TITLE = "nietzsche-tui"
PAGE = string.Template(files("nietzsche_tui.serve").joinpath("page.html").read_text(encoding="utf-8"))
FULL_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>nietzsche-tui: {title}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>{title}</h1>
<p>{text} Try again in a few minutes: a session ends when its tab closes or after {idle} without input.</p>
</body></html>
"""


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
