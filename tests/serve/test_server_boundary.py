"""The boundary of a real `nietzsche-tui serve` process, attacked as the issue's hostile visitor
did: another site's page, oversized terminals and keystrokes, malformed messages, one address
taking every slot, a client that never reads. Real processes and sockets: the slow step."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve.conftest import alive, free_port, wait_for

pytestmark = pytest.mark.slow


async def _open(url: str, **headers):
    import aiohttp

    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(url, headers=headers or None)
    except BaseException:
        await session.close()
        raise
    return session, ws


async def _first_frame(ws) -> None:
    import aiohttp

    message = await asyncio.wait_for(ws.receive(), 30)
    assert message.type == aiohttp.WSMsgType.BINARY


async def _until_closed(ws, timeout: float = 20) -> tuple[int | None, str]:
    """Read until the server closes; the close code and its reason."""
    import aiohttp

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await asyncio.wait_for(ws.receive(), deadline - time.monotonic())
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code, message.extra or ""
    raise AssertionError("the server did not close the connection")


def log_of(served, tmp_path) -> str:
    return (tmp_path / f"serve-{served.port}.log").read_text()


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_a_websocket_from_another_sites_page_or_under_another_host_is_refused(serve, tmp_path):
    import aiohttp

    served = serve()

    async def attempts():
        for headers in ({"Origin": "http://attacker.example"}, {"Host": "attacker.example:80"}):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await _open(served.ws_url, **headers)
            assert refused.value.status == 403
        session, ws = await _open(served.ws_url, Origin=f"http://localhost:{served.port}")
        await _first_frame(ws)  # the server's own page still gets its session
        await ws.close()
        await session.close()

    asyncio.run(attempts())
    log = log_of(served, tmp_path)
    assert "refused GET /ws from 127.0.0.1: Origin 'http://attacker.example' is another site's page" in log
    assert "refused GET /ws from 127.0.0.1: Host 'attacker.example:80' is not one of this server's names" in log


def test_a_token_server_refuses_a_missing_or_wrong_token(serve):
    import aiohttp

    served = serve("--token", "the-operators-token")

    async def attempts():
        for url in (served.ws_url, served.ws_url + "&token=guessed-wrong"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await _open(url)
            assert refused.value.status == 403
        session, ws = await _open(served.ws_url + "&token=the-operators-token")
        await _first_frame(ws)
        await ws.close()
        await session.close()

    asyncio.run(attempts())


def test_a_huge_terminal_is_clamped_and_a_malformed_resize_ends_only_its_session(serve, tmp_path):
    served = serve()
    url = f"ws://127.0.0.1:{served.port}/ws?width=100000&height=100000"

    async def visit():
        session, ws = await _open(url)
        await _first_frame(ws)
        (app,) = served.apps()
        environment = environment_of(app)
        assert (environment["COLUMNS"], environment["ROWS"]) == ("500", "200")
        await ws.send_json(["resize", {"width": 100000, "height": 100000}])
        await asyncio.sleep(3)
        status = Path(f"/proc/{app}/status").read_text().splitlines()
        rss = int(next(line for line in status if line.startswith("VmRSS")).split()[1])
        assert rss < 400_000  # kB: a 500 × 200 terminal, not 4 GB
        await ws.send_json(["resize", {"width": "wide", "height": 1.5}])
        code, reason = await _until_closed(ws)
        await session.close()
        return app, code, reason

    app, code, reason = asyncio.run(visit())
    assert code == 1008 and "a terminal size that is not a whole number" in reason
    wait_for(lambda: not alive(app), 10, "the app to end")
    # The server logs a session's end after it has reaped the app: wait for the line, not the pid.
    wait_for(lambda: "session ended" in log_of(served, tmp_path), 10, "the session's last log line")
    log = log_of(served, tmp_path)
    assert "Traceback" not in log
    ended = [line for line in log.splitlines() if "session ended" in line]
    assert len(ended) == 1 and "the browser sent a terminal size that is not a whole number" in ended[0]


def test_a_megabyte_of_keystrokes_ends_the_session_not_the_machine(serve, tmp_path):
    served = serve()

    async def visit(keys: str):
        session, ws = await _open(served.ws_url)
        await _first_frame(ws)
        await ws.send_str(json.dumps(["stdin", keys]))
        code, _ = await _until_closed(ws)
        await session.close()
        return code

    # Beyond the frame size aiohttp accepts: closed with 1009, or (when the server drops the
    # connection while the client is still sending the megabyte) seen as an abnormal 1006.
    assert asyncio.run(visit("a" * 1_000_000)) in (1009, 1006)
    assert asyncio.run(visit("a" * 100_000)) == 1008  # beyond the keystrokes one message may hold
    wait_for(lambda: not served.apps(), 10, "the apps to end")
    assert "Traceback" not in log_of(served, tmp_path)


def test_an_app_that_runs_out_of_memory_dies_alone_and_the_visitor_is_told(serve, tmp_path):
    served = serve("--app-memory", "60")

    async def visit():
        session, ws = await _open(served.ws_url)
        _, reason = await _until_closed(ws, 30)
        await session.close()
        return reason

    reason = asyncio.run(visit())
    assert "ran out of its 60 MiB of memory" in reason
    # The server closes the tab's connection, then logs the session's end: wait for the line.
    said = "the app ran out of its 60 MiB of memory"
    wait_for(lambda: said in log_of(served, tmp_path), 10, "the session's last log line")
    assert "Traceback" not in log_of(served, tmp_path)
    assert served.process.poll() is None  # the server runs on


def test_one_address_cannot_take_every_slot(serve):
    served = serve("--max-sessions", "4", "--max-sessions-per-client", "1")

    async def visits():
        first, ws = await _open(served.ws_url)
        await _first_frame(ws)
        second, refused = await _open(served.ws_url)
        code, reason = await _until_closed(refused)
        await second.close()
        await ws.close()
        await first.close()
        return code, reason

    code, reason = asyncio.run(visits())
    assert code == 1013 and "Your address already has 1 session" in reason


def _masked_text_frame(text: str) -> bytes:
    """One websocket text frame as a browser sends it (masked), for a client written by hand."""
    payload, mask = text.encode(), b"\x01\x02\x03\x04"
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_sigterm_ends_the_server_quickly_even_with_a_client_that_never_reads(serve):
    served = serve("--length", "5000")
    reader = socket.create_connection(("127.0.0.1", served.port))
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    handshake = (
        f"GET /ws?width=200&height=60 HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    reader.sendall(handshake.encode())
    (app,) = wait_for(served.apps, 20, "the session's app")
    time.sleep(2)
    reader.sendall(_masked_text_frame(json.dumps(["stdin", "what is truth\r"])))
    time.sleep(4)  # four columns stream 5,000 characters each; nobody reads
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert time.monotonic() - started < 10
    wait_for(lambda: not alive(app), 10, "the app to end")
    reader.close()


def test_ipv6_loopback_prints_an_address_a_browser_opens(app_model, tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = free_port()
    command = [sys.executable, "-m", "nietzsche_tui", "serve", "--host", "::1", "--port", str(port)]
    server = subprocess.Popen([*command, "--checkpoint", str(app_model)], stdout=subprocess.PIPE, text=True)
    try:
        address = server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    assert address.startswith(f"nietzsche-tui serving on http://[::1]:{port}")


def test_a_trainer_started_by_a_served_app_stops_when_the_app_dies(tmp_path):
    """However the app ends (here SIGKILL, as the server's last resort), its run gets SIGINT: the
    trainer's graceful stop. The trainer is a stand-in that records the signal."""
    marker = tmp_path / "stopped"
    script = f"""
import signal, sys, time
from nietzsche_tui import runs
from nietzsche_tui.contracts.training_form import StartSettings
record = "lambda *a: (open({str(marker)!r}, 'w').write('SIGINT'), sys.exit(0))"
stand_in = "import signal, sys, time; signal.signal(signal.SIGINT, " + record + "); time.sleep(60)"
runs.trainer_command = lambda settings, folder: [sys.executable, "-c", stand_in]
trainer = runs.TrainingControl({str(tmp_path / "run")!r}, owned_runs=True).start(StartSettings.defaults())
print(trainer.pid, flush=True)
time.sleep(60)
"""
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    trainer = int(app.stdout.readline())
    time.sleep(0.5)
    app.kill()
    app.wait()
    wait_for(
        lambda: marker.exists() and marker.read_text(), 10, "the trainer to get SIGINT"
    )  # written, not only created
    assert marker.read_text() == "SIGINT"
    wait_for(lambda: not alive(trainer), 10, "the trainer to end")
