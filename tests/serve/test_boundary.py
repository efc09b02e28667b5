"""The served app's boundary, rule by rule (no app processes: fast), and the server's guard on a
real aiohttp server in this process: a foreign Host or Origin, a missing or wrong token are
refused with a 403 and one log line; the page links nothing outside the server."""

import logging
import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from nietzsche_tui.serve.boundary import (
    HEIGHT_RANGE,
    INPUT_BYTES_PER_FRAME,
    WIDTH_RANGE,
    BadMessage,
    Boundary,
    InputMeter,
    bracketed,
    clamp_size,
    listen_url,
    parse_message,
    size_from_query,
)

PORT = 8000


def loopback(token=None) -> Boundary:
    return Boundary.for_server("127.0.0.1", PORT, None, token)


def test_a_loopback_server_answers_to_its_loopback_names_only():
    boundary = loopback()
    for host in ("127.0.0.1:8000", "localhost:8000", "LOCALHOST:8000", "[::1]:8000"):
        assert boundary.refuse_host(host) is None, host
    for host in ("evil.example:8000", "127.0.0.1:8001", "localhost", "127.0.0.1.evil.example:8000", "", None):
        assert boundary.refuse_host(host), host
    assert boundary.refuse_host("user@localhost:8000")  # no credentials smuggled into a name


def test_a_websocket_from_another_sites_page_is_refused():
    boundary = loopback()
    assert boundary.refuse_origin("http://127.0.0.1:8000") is None
    assert boundary.refuse_origin("http://localhost:8000") is None
    assert boundary.refuse_origin(None) is None  # not a web page: browsers always send an Origin
    for origin in ("http://evil.example", "http://evil.example:8000", "null", "file://", "http://localhost:9999"):
        assert boundary.refuse_origin(origin), origin


def test_the_public_url_is_a_name_of_the_server():
    boundary = Boundary.for_server("0.0.0.0", PORT, "https://chat.example.org", None)
    assert boundary.refuse_host("chat.example.org", default_port=443) is None
    assert boundary.refuse_origin("https://chat.example.org") is None
    assert boundary.refuse_origin("http://chat.example.org") is not None  # port 80 is not 443
    specific = Boundary.for_server("192.0.2.7", PORT, None, None)
    assert specific.refuse_host("192.0.2.7:8000") is None and specific.refuse_host("localhost:8000")


def test_a_token_is_matched_exactly():
    boundary = loopback("s3cret-token")
    assert boundary.token_matches("s3cret-token")
    assert boundary.token_matches(None, "s3cret-token")
    assert not boundary.token_matches(None, None)
    assert not boundary.token_matches("s3cret-toke", "S3CRET-TOKEN", "")
    assert loopback().token_matches(None)  # no token asked


def test_ipv6_addresses_have_brackets_in_urls():
    assert bracketed("::1") == "[::1]" and bracketed("[::1]") == "[::1]" and bracketed("localhost") == "localhost"
    assert listen_url("::1", 8000) == "http://[::1]:8000"
    assert listen_url("127.0.0.1", 80) == "http://127.0.0.1"


def test_terminal_sizes_are_clamped_and_non_integers_refused():
    assert clamp_size(100_000, 100_000) == (WIDTH_RANGE[1], HEIGHT_RANGE[1])
    assert clamp_size(-5, 0) == (WIDTH_RANGE[0], HEIGHT_RANGE[0])
    assert clamp_size(100, 30) == (100, 30)
    for width, height in ((80.5, 24), ("80", 24), (True, 24), (None, 24), (80, [24])):
        with pytest.raises(BadMessage):
            clamp_size(width, height)
    assert size_from_query("100000", "100000") == (WIDTH_RANGE[1], HEIGHT_RANGE[1])
    assert size_from_query("1e9", None) == (80, 24)


def test_browser_messages_are_checked_for_shape_and_size():
    assert parse_message(["stdin", "abc"]) == ("stdin", b"abc")
    assert parse_message(["resize", {"width": 100000, "height": 100000}]) == ("resize", (500, 200))
    assert parse_message(["ping", "123"]) == ("ping", "123")
    assert parse_message(["something-new", 1]) == ("ignored", None)
    for bad in ({}, [], [1], ["stdin"], ["stdin", 5], ["resize", "big"], ["resize", {"width": "x", "height": 2}]):
        with pytest.raises(BadMessage):
            parse_message(bad)
    with pytest.raises(BadMessage, match="bytes of keystrokes in one message"):
        parse_message(["stdin", "x" * (INPUT_BYTES_PER_FRAME + 1)])


def test_keystrokes_beyond_the_rate_wait_instead_of_being_dropped():
    meter = InputMeter(per_second=1000, burst=2000)
    assert meter.wait_for(1500) == 0  # a burst passes at once
    wait = meter.wait_for(1500)  # the next 1,500 bytes: 1,000 over the bucket, at 1,000 a second
    assert 0.9 < wait <= 1.0


# -- the guard on a real server, without app processes --------------------------------------


@pytest.fixture
async def client(app_model):
    """A SessionServer's aiohttp app under a test server on 127.0.0.1, asking for a token."""
    from nietzsche_tui.serve.server import SessionServer
    from nietzsche_tui.serve.sessions import Limits

    made = []

    async def start(token=None):
        server = SessionServer(["true"], "127.0.0.1", PORT, None, loopback(token), Limits())
        test_server = TestServer(await server._make_app(), host="127.0.0.1", port=0)
        await test_server.start_server()
        # The test server listens on a random port: the boundary's names follow it.
        server.boundary = Boundary.for_server("127.0.0.1", test_server.port, None, token)
        server.cookie = f"nietzsche_tui_token_{test_server.port}"
        http = TestClient(test_server)
        await http.start_server()
        made.append(http)
        return http, server

    yield start
    for http in made:
        await http.close()


async def test_a_foreign_host_or_origin_is_refused_with_one_log_line(client, caplog):
    http, _ = await client()
    caplog.set_level(logging.WARNING, logger="nietzsche-tui.serve")
    ok = await http.get("/")
    assert ok.status == 200
    foreign = await http.get("/", headers={"Host": "attacker.example"})
    assert foreign.status == 403 and "is not one of this server's names" in await foreign.text()
    page = await http.get("/ws", headers={"Origin": "http://attacker.example"})
    assert page.status == 403 and "another site's page" in await page.text()
    refusals = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refusals) == 2 and all("\n" not in line for line in refusals)


async def test_a_token_is_asked_for_and_kept_in_a_cookie(client):
    http, server = await client(token="a-long-token")
    assert (await http.get("/")).status == 403
    assert (await http.get("/?token=wrong-token")).status == 403
    assert (await http.get("/static/js/textual.js")).status == 403
    first = await http.get("/?token=a-long-token")
    assert first.status == 200
    cookie = first.cookies[server.cookie]
    assert cookie.value == "a-long-token" and cookie["httponly"] and cookie["samesite"] == "Strict"
    # The cookie jar now carries it: later requests need no token in the URL.
    assert (await http.get("/")).status == 200 and (await http.get("/static/js/textual.js")).status == 200


async def test_the_page_links_nothing_outside_the_server(client):
    http, _ = await client()
    page = await http.get("/")
    text = await page.text()
    assert "<title>nietzsche-tui</title>" in text
    addresses = re.findall(r"""(?:href="|src="|url\(")([^"]+)""", text)
    assert addresses and all(a.startswith(f"http://127.0.0.1:{http.port}/static/") for a in addresses), addresses
    assert "googleapis" not in text and "fonts/RobotoMono" in text
    assert f'data-session-websocket-url="ws://127.0.0.1:{http.port}/ws"' in text
    for path in ("fonts/RobotoMono-VariableFont_wght.ttf", "css/xterm.css"):
        assert (await http.get(f"/static/{path}")).status == 200


async def test_static_lists_nothing_and_an_unknown_download_is_a_404(client):
    http, server = await client()
    assert (await http.get("/static/")).status in (403, 404)
    assert (await http.get("/static/js/")).status in (403, 404)
    assert (await http.get("/download/no-such-key")).status == 404

    class Gone:  # a download whose session has ended
        app_service_id = "gone"

    await server.download_manager.create_download(
        app_service=Gone(), delivery_key="k1", file_name="x.md", open_method="download", mime_type="text/plain"
    )
    assert (await http.get("/download/k1")).status == 404
