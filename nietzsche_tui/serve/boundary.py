"""The served app's boundary: every check a browser's request passes before it reaches an app.

Pure functions and small records, no aiohttp, so each rule is tested on its own (tests/serve/
test_boundary.py) and the server (``sessions.py``) only applies them:

* **Who may talk to the server.** A request's ``Host`` must be one of the server's own names (a
  DNS-rebinding page arrives under the attacker's name) and a websocket's ``Origin`` must be the
  server's own address (a page on another origin opened in the operator's browser sends its own).
  A browser always sends ``Origin`` on a websocket; a client without one is not a web page and
  cannot be driven by one, so it passes this check (the host and token checks still apply).
* **A token beyond loopback**, as Jupyter does: a random one in the printed address, kept in a
  cookie after the first visit.
* **Sizes and rates.** Terminal sizes are clamped, keystrokes are capped per frame and metered
  per second; a malformed message is named, never raised as a traceback.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import secrets
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
WIDTH_RANGE = (20, 500)  # columns a browser's terminal may ask for: beyond 500 nobody reads it
HEIGHT_RANGE = (5, 200)
INPUT_BYTES_PER_FRAME = 16 * 1024  # one paste of 16 KiB is a long prompt; more is not typing
INPUT_BYTES_PER_SECOND = 16 * 1024  # sustained; a burst of two frames' worth passes at once


class BadMessage(ValueError):
    """A websocket message the server refuses; its text is the one line the log gets."""


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the server on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bracketed(host: str) -> str:
    """``host`` as it goes into a URL: IPv6 literals need brackets (``http://[::1]:8000``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def listen_url(host: str, port: int) -> str:
    """The address the server listens on, as a browser would type it."""
    return f"http://{bracketed(host)}" + ("" if port == 80 else f":{port}")


def _host_port(netloc: str, default_port: int) -> tuple[str, int] | None:
    """``(hostname, port)`` of ``host[:port]`` (brackets for IPv6), lowercased; None if malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port or default_port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname.lower(), port


def machine_names() -> set[str]:
    """This machine's names and addresses, for a server listening on every interface."""
    names = {*LOOPBACK_NAMES}
    for name in {socket.gethostname(), socket.getfqdn()}:
        names.add(name.lower())
        with contextlib.suppress(OSError):
            names.update(info[4][0] for info in socket.getaddrinfo(name, None))
    return {name.lower() for name in names if name}


@dataclass(frozen=True)
class Boundary:
    """The names the server answers to and the token it asks for (None: no token)."""

    names: frozenset[tuple[str, int]]
    token: str | None

    @classmethod
    def for_server(cls, host: str, port: int, public_url: str | None, token: str | None) -> Boundary:
        """The loopback names for a loopback server, the listening address otherwise, every name of
        this machine for a wildcard address, and the ``--public-url`` one in every case."""
        if is_loopback(host):
            hosts = set(LOOPBACK_NAMES)
        elif host in WILDCARDS:
            hosts = machine_names()
        else:
            hosts = {host.lower()}
        names = {(name, port) for name in hosts}
        if public_url:
            parts = urlsplit(public_url)
            default = 443 if parts.scheme == "https" else 80
            public = _host_port(parts.netloc, default)
            if public:
                names.add(public)
        return cls(frozenset(names), token)

    def refuse_host(self, host_header: str | None, default_port: int = 80) -> str | None:
        """Why a request with this ``Host`` header is refused, or None when it names this server."""
        if not host_header:
            return "no Host header"
        named = _host_port(host_header, default_port)
        if named is None or named not in self.names:
            return f"Host {host_header[:100]!r} is not one of this server's names"
        return None

    def refuse_origin(self, origin: str | None) -> str | None:
        """Why a websocket from a page of this ``Origin`` is refused, or None when it is this server's own."""
        if origin is None:
            return None  # not a web page (browsers always send one on a websocket)
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https"):
            return f"Origin {origin[:100]!r} is not a web page of this server"
        named = _host_port(parts.netloc, 443 if parts.scheme == "https" else 80)
        if named is None or named not in self.names:
            return f"Origin {origin[:100]!r} is another site's page"
        return None

    def token_matches(self, *offered: str | None) -> bool:
        """Whether any offered token (URL parameter, cookie) is the server's; True when none is asked."""
        if self.token is None:
            return True
        expected = self.token.encode()
        return any(value is not None and hmac.compare_digest(value.encode(), expected) for value in offered)


def new_token() -> str:
    """A token nobody guesses: 24 random bytes, URL-safe."""
    return secrets.token_urlsafe(24)


def clamp_size(width: object, height: object) -> tuple[int, int]:
    """A terminal size the app may be given: whole numbers clamped into the ranges (a browser asking
    for 100000 columns made an app grow by 45 MB a second); anything else is a BadMessage."""
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadMessage(f"a terminal size that is not a whole number ({str(value)[:40]!r})")
    return min(max(width, WIDTH_RANGE[0]), WIDTH_RANGE[1]), min(max(height, HEIGHT_RANGE[0]), HEIGHT_RANGE[1])


def size_from_query(width: str | None, height: str | None) -> tuple[int, int]:
    """The first size, from the websocket URL: missing or not a number is 80 × 24, then clamped."""

    def number(text: str | None, default: int) -> int:
        try:
            return int(text) if text is not None else default
        except ValueError:
            return default

    return clamp_size(number(width, 80), number(height, 24))


def parse_message(data: object) -> tuple[str, object]:
    """A browser message ``[type, payload]`` checked for shape: ``("stdin", bytes)``, ``("resize",
    (w, h))``, ``("ping", str)``, ``("blur" | "focus", None)``, or ``("ignored", None)`` for types
    the server does not know. Raises BadMessage for anything malformed."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise BadMessage("a message that is not [type, …]")
    kind, payload = data[0], data[1] if len(data) > 1 else None
    if kind == "stdin":
        if not isinstance(payload, str):
            raise BadMessage("keystrokes that are not text")
        keys = payload.encode("utf-8", "replace")
        if len(keys) > INPUT_BYTES_PER_FRAME:
            raise BadMessage(f"{len(keys):,} bytes of keystrokes in one message (at most {INPUT_BYTES_PER_FRAME:,})")
        return kind, keys
    if kind == "resize":
        if not isinstance(payload, dict):
            raise BadMessage("a resize without a size")
        return kind, clamp_size(payload.get("width"), payload.get("height"))
    if kind == "ping":
        return kind, str(payload)[:64]
    if kind in ("blur", "focus"):
        return kind, None
    return "ignored", None


class InputMeter:
    """Keystroke bytes per second, as a token bucket: what arrives faster waits (the socket backs up
    in the browser), so nothing typed is dropped and an app never gets more than it can take."""

    def __init__(self, per_second: int = INPUT_BYTES_PER_SECOND, burst: int = 2 * INPUT_BYTES_PER_FRAME) -> None:
        self.per_second, self.burst = per_second, burst
        self.available = float(burst)
        self.checked = time.monotonic()

    def wait_for(self, size: int) -> float:
        """Take ``size`` bytes from the bucket; the seconds to wait before passing them on."""
        now = time.monotonic()
        self.available = min(self.burst, self.available + (now - self.checked) * self.per_second)
        self.checked = now
        self.available -= size
        return 0.0 if self.available >= 0 else -self.available / self.per_second


def plural(count: int, one: str, many: str | None = None) -> str:
    """``1 session``, ``2 sessions``."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
