"""`nietzsche-tui serve` as a process: sessions end with their connection, limits hold, nothing is
left behind. Real processes and sockets, so these run in the slow step."""

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from tests.serve.conftest import alive, wait_for

pytestmark = pytest.mark.slow

# A client in its own process, so the test can kill it the way a crashing browser dies.
CLIENT = textwrap.dedent(
    """
    import asyncio, sys, aiohttp
    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(sys.argv[1]) as ws:
                async for message in ws:
                    print("frame", flush=True)
    asyncio.run(main())
    """
)


def connect_in_a_process(url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CLIENT, url], stdout=subprocess.PIPE, text=True)


def test_a_client_that_dies_leaves_no_app_behind(serve):
    served = serve()
    client = connect_in_a_process(served.ws_url)
    assert client.stdout.readline().strip() == "frame"  # the app is up and drawing
    (app,) = wait_for(served.apps, 20, "the session's app")
    client.kill()  # no goodbye: the socket just closes
    client.wait()
    wait_for(lambda: not alive(app), 10, "the app to end")
    assert served.apps() == [] and served.process.poll() is None  # the server runs on


def test_a_full_server_says_so_and_a_later_tab_gets_a_session(serve):
    import aiohttp

    served = serve("--max-sessions", "1")
    first = connect_in_a_process(served.ws_url)
    assert first.stdout.readline().strip() == "frame"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(served.url)
    assert refused.value.code == 503 and b"The one session is in use" in refused.value.read()

    async def second_tab():
        async with aiohttp.ClientSession() as session, session.ws_connect(served.ws_url) as ws:
            frames = [message async for message in ws]
            return b"".join(m.data for m in frames if m.type == aiohttp.WSMsgType.BINARY), ws.close_code

    shown, code = asyncio.run(second_tab())
    assert code == 1013 and b"The one session is in use" in shown
    first.kill()
    first.wait()
    wait_for(lambda: not served.apps(), 10, "the first session to end")
    assert urllib.request.urlopen(served.url).status == 200


def test_an_idle_session_ends_and_its_app_with_it(serve):
    import aiohttp

    served = serve("--idle-timeout", "3")

    async def idle_tab():
        async with aiohttp.ClientSession() as session, session.ws_connect(served.ws_url) as ws:
            started = time.monotonic()
            frames = [message async for message in ws]
            return b"".join(m.data for m in frames if m.type == aiohttp.WSMsgType.BINARY), time.monotonic() - started

    shown, lasted = asyncio.run(idle_tab())
    assert 3 <= lasted < 15 and b"Session ended after 3 seconds without input" in shown
    wait_for(lambda: not served.apps(), 10, "the idle app to end")


def test_stopping_the_server_stops_every_app(serve):
    served = serve()
    clients = [connect_in_a_process(served.ws_url) for _ in range(2)]
    for client in clients:
        assert client.stdout.readline().strip() == "frame"
    apps = wait_for(lambda: len(served.apps()) == 2 and served.apps(), 20, "two apps")
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=20) == 0
    wait_for(lambda: not any(alive(pid) for pid in apps), 10, "every app to end")
    for client in clients:
        client.kill()
        client.wait()


def test_an_app_killed_server_takes_its_apps_along(serve):
    """Even SIGKILL of the server (no chance to clean up) ends the apps: they die with their parent."""
    served = serve()
    client = connect_in_a_process(served.ws_url)
    assert client.stdout.readline().strip() == "frame"
    (app,) = wait_for(served.apps, 20, "the session's app")
    served.process.kill()
    served.process.wait()
    wait_for(lambda: not alive(app), 10, "the orphaned app to end")
    client.kill()
    client.wait()


async def test_an_app_that_ignores_quit_and_sigterm_is_killed():
    """The failure seen with plain textual-serve: an app stuck after a disconnect, deaf to SIGTERM."""
    from textual_serve.download_manager import DownloadManager

    from nietzsche_tui.serve.sessions import QUIT_GRACE, TERM_GRACE, Session

    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('__GANGLION__', flush=True)"
    stubborn += "; [time.sleep(1) for _ in range(100)]"

    async def ignore(data):
        pass

    session = Session(
        [sys.executable, "-c", stubborn],
        2048,
        "127.0.0.1",
        write_bytes=ignore,
        write_str=ignore,
        close=ignore,
        download_manager=DownloadManager(),
    )
    await session.start(80, 24)
    await asyncio.sleep(0.5)
    pid = session.pid
    assert alive(pid)
    started = time.monotonic()
    await session.stop()
    assert not alive(pid)
    assert time.monotonic() - started < QUIT_GRACE + TERM_GRACE + 2


def _first_lines(command: list[str]) -> tuple[str, str]:
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        return server.stderr.readline(), server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)


def test_listening_beyond_loopback_warns_and_prints_an_address_with_a_token(app_model, tmp_path):
    from tests.serve.conftest import free_port

    port = free_port()
    command = [sys.executable, "-m", "nietzsche_tui", "serve", "--host", "0.0.0.0", "--port", str(port)]
    command += ["--checkpoint", str(app_model)]
    warning, address = _first_lines([*command, "--public-url", f"http://127.0.0.1:{port}"])
    assert warning.startswith("Warning: listening on 0.0.0.0: anyone with the printed address (it holds the token)")
    assert "--public-url" not in warning
    assert address.startswith(f"nietzsche-tui serving on http://127.0.0.1:{port}/?token=")
    assert len(address.split("token=")[1].split()[0]) >= 32
    # Without --public-url the warning says it is needed; --no-token is said plainly.
    warning, address = _first_lines([*command, "--no-token"])
    assert "ANYONE who can reach this address" in warning and "--no-token" in warning
    assert "Pass --public-url with the address browsers use" in warning
    assert "0.0.0.0" not in address and "token=" not in address
