"""The app in a real browser: headless Chromium (Debian's, driven by Playwright) against
`nietzsche-tui serve` on 127.0.0.1. xterm.js draws on a canvas, so the screen is read by feeding
the page's websocket frames (the terminal's bytes) to pyte, a terminal emulator.

Needs /usr/bin/chromium (`apt-get install -y chromium`; .ci/run installs it); skipped with that
reason when it is missing. Run with `uv run pytest -m browser -n 0`.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.serve.conftest import alive, free_port, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no Chromium: apt-get install -y chromium"),
]
BORDERS = re.compile(r"[\s│┃║─━═╭╮╰╯┌┐└┘▌▐█▏▕▔▁╸╺]")
SCREENSHOT = os.environ.get("NIETZSCHE_SCREENSHOT")  # where to keep the README's screenshot, when set


class Terminal:
    """What the browser's terminal shows, rebuilt from the websocket's frames."""

    def __init__(self, page) -> None:
        self.screen = None
        self.stream = None
        page.on("websocket", self._attach)

    def _attach(self, websocket) -> None:
        import pyte

        query = parse_qs(urlparse(websocket.url).query)
        self.screen = pyte.Screen(int(query["width"][0]), int(query["height"][0]))
        self.stream = pyte.ByteStream(self.screen)
        websocket.on("framereceived", self._frame)

    def _frame(self, payload) -> None:
        if isinstance(payload, bytes):  # binary frames are terminal output; text frames are meta
            self.stream.feed(payload)

    def text(self) -> str:
        return "\n".join(self.screen.display) if self.screen else ""

    def flat(self) -> str:
        """The screen without whitespace or box drawing: wrapped text reads as one string."""
        return BORDERS.sub("", "".join(self.screen.display)) if self.screen else ""


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def until(page, condition, timeout: float, what: str, terminal: Terminal | None = None):
    """``wait_for`` while Playwright delivers the page's events (a plain sleep would block them)."""
    shown = (lambda: f"; the screen:\n{terminal.text()}") if terminal else (lambda: "")
    return wait_for(condition, timeout, what, pause=lambda: page.wait_for_timeout(50), shown=shown)


def press_until(page, key: str, condition, what: str, terminal: Terminal) -> None:
    """Press ``key`` until ``condition`` holds: a new screen draws before it takes keys, so a first
    press can land on the screen before it."""
    for _ in range(10):
        page.keyboard.press(key)
        try:
            until(page, condition, 2, what)
            return
        except AssertionError:
            continue
    until(page, condition, 0, what, terminal)


def open_app(browser, served, accept_downloads=False, address=None):
    """A new tab on the server (at ``address``, default its URL); ``browser`` is a Browser or (over
    CDP) a BrowserContext."""
    page = browser.new_page(accept_downloads=True) if accept_downloads else browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 800})
    terminal = Terminal(page)
    page.goto(address or served.url)
    page.wait_for_function("document.body.classList.contains('-first-byte')", timeout=30_000)
    until(page, lambda: "F1" in terminal.text(), 30, "the chat to draw")
    page.focus(".xterm-helper-textarea")  # keys go to the terminal; a click would move Textual's focus
    return page, terminal


def generated(app_model, prompt: str) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nietzsche_tui",
            "generate",
            "--checkpoint",
            str(app_model),
            "--seed",
            "7",
            "--length",
            "60",
            "--prompt",
            prompt,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(line)["text"] for line in result.stdout.splitlines() if line.strip()]


def test_a_prompt_typed_in_the_browser_streams_what_generate_writes(browser, serve, app_model, tmp_path):
    served = serve()
    page, terminal = open_app(browser, served)
    assert page.title() == "nietzsche-tui"
    page.keyboard.type("truth is")
    page.keyboard.press("Enter")
    expected = generated(app_model, "truth is")
    assert len(expected) == 4
    page.keyboard.press("F4")  # one column at a time, full width: its wrapped lines read as its text
    for number, text in enumerate(expected):
        want = BORDERS.sub("", text)
        until(page, lambda want=want: want in terminal.flat(), 30, f"column {number + 1}'s text")
        page.keyboard.press("F3")
    page.keyboard.press("F4")
    page.wait_for_timeout(500)
    shot = tmp_path / "browser.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if SCREENSHOT:
        shutil.copy(shot, SCREENSHOT)


def test_training_and_history_are_off_for_a_browser_user(browser, serve, app_model):
    served = serve()
    page, terminal = open_app(browser, served)
    # The model is the operator's, named when the server started; reloading keeps it.
    until(page, lambda: "model/epoch_0003" in terminal.text(), 20, "the status line", terminal)
    page.keyboard.press("Control+l")
    page.wait_for_timeout(500)
    assert "model/epoch_0003" in terminal.text()
    page.keyboard.press("F5")
    until(page, lambda: "held-out" in terminal.text(), 20, "the training screen")
    press_until(page, "s", lambda: "--allow-training" in terminal.flat(), "the training-off notice", terminal)
    assert "Corpus" not in terminal.text()  # no start form, no path field
    page.keyboard.press("F6")
    until(page, lambda: "historyisoffonthisserver" in terminal.flat(), 20, "the history-off notice")


def test_an_export_is_a_browser_download_not_a_file_on_the_server(browser, serve, tmp_path):
    database = tmp_path / "visits.db"
    served = serve("--history", str(database))
    page, terminal = open_app(browser, served, accept_downloads=True)
    page.keyboard.type("what is noble")
    page.keyboard.press("Enter")
    until(page, lambda: database.exists(), 20, "the history database")
    page.wait_for_timeout(3000)  # 60 characters stream and the exchange is stored
    page.keyboard.press("F6")
    until(page, lambda: "whatisnoble" in terminal.flat(), 20, "the stored exchange in the list")
    page.wait_for_timeout(300)  # the screen draws before it takes keys
    with page.expect_download(timeout=20_000) as download:
        page.keyboard.press("Control+e")
    target = tmp_path / "downloaded.md"
    download.value.save_as(target)
    assert download.value.suggested_filename.startswith("nietzsche-session-")
    assert "what is noble" in target.read_text()
    assert not list(tmp_path.glob("nietzsche-session-*.md"))  # nothing written where the server runs


def test_killing_the_browser_mid_stream_leaves_no_app(serve):
    """Chromium killed with SIGKILL while four columns stream 5,000 characters each."""
    from playwright.sync_api import sync_playwright

    served = serve("--length", "5000")
    port = free_port()
    chromium = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with sync_playwright() as playwright:
            browser = wait_for(lambda: _connect(playwright, port), 30, "Chromium's debugging port")
            page, _ = open_app(browser.contexts[0] if browser.contexts else browser.new_context(), served)
            page.keyboard.type("the free spirit")
            page.keyboard.press("Enter")
            page.wait_for_timeout(2000)  # streaming now
            (app,) = served.apps()
            assert alive(app)
            os.killpg(chromium.pid, signal.SIGKILL)
            chromium.wait()
            wait_for(lambda: not alive(app), 10, "the app to end after the browser died")
            assert served.apps() == [] and served.process.poll() is None
    finally:
        if chromium.poll() is None:
            os.killpg(chromium.pid, signal.SIGKILL)
            chromium.wait()


def _connect(playwright, port):
    try:
        return playwright.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
    except Exception:
        return None


def test_allowed_training_offers_only_the_operators_corpus(browser, serve, tmp_path):
    corpus = tmp_path / "operator corpus.txt"
    corpus.write_text("the operator's own text. " * 40, encoding="utf-8")
    served = serve("--allow-training", "--corpus", str(corpus))
    page, terminal = open_app(browser, served)
    page.keyboard.press("F5")
    until(page, lambda: "held-out" in terminal.text(), 20, "the training screen")
    press_until(page, "s", lambda: "Resumetrainingin" in terminal.flat(), "the start form", terminal)
    # The field shows the start of the operator's path (it is wider than the field).
    until(page, lambda: str(corpus)[:24] in terminal.text(), 5, "the operator's corpus in the form", terminal)
    page.keyboard.press("Shift+Tab")  # towards the corpus field: disabled, it never takes focus or text
    page.keyboard.type("/etc/passwd")
    page.wait_for_timeout(300)
    assert "/etc/passwd" not in terminal.text()
    page.keyboard.press("Escape")


def test_a_token_server_opens_with_the_printed_address_only(browser, serve, tmp_path):
    served = serve("--token", "the-operators-token")
    refused = browser.new_page().goto(served.url)
    assert refused.status == 403 and "no token" in refused.text()
    printed = next(
        line.split("serving on ")[1].split()[0]
        for line in (tmp_path / f"serve-{served.port}.log").read_text().splitlines()
        if "serving on" in line
    )
    assert printed == f"{served.url}/?token=the-operators-token"
    page, terminal = open_app(browser, served, address=printed)
    page.keyboard.type("truth is")
    page.keyboard.press("Enter")
    until(page, lambda: "generating" in terminal.text() or "ready" in terminal.text(), 20, "the chat", terminal)
    # The cookie carries the token now: the address without it opens the chat in this browser.
    page.goto(served.url)
    until(page, lambda: "ready·" in terminal.flat(), 30, "the chat again, without the token", terminal)


def test_a_page_on_another_origin_cannot_open_a_session(browser, serve, tmp_path):
    """The attack of the issue: a page elsewhere, opened in the operator's own browser, connects to
    the server's websocket. Chromium sends that page's Origin; the server refuses it."""
    import http.server
    import threading

    served = serve()
    attack = tmp_path / "attack"
    attack.mkdir()
    (attack / "index.html").write_text(
        f"<script>const ws = new WebSocket('ws://127.0.0.1:{served.port}/ws?width=80&height=24');"
        "ws.onopen = () => { document.title = 'opened'; ws.send(JSON.stringify(['stdin', 'hello'])); };"
        "ws.onerror = () => { document.title = 'refused'; };</script>"
    )
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(attack))  # noqa: E731
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        page = browser.new_page()
        page.goto(f"http://localhost:{other.server_address[1]}/index.html")
        until(page, lambda: page.title() in ("opened", "refused"), 20, "the attack's outcome")
        assert page.title() == "refused"
        assert served.apps() == []
        log = (tmp_path / f"serve-{served.port}.log").read_text()
        assert f"Origin 'http://localhost:{other.server_address[1]}' is another site's page" in log
    finally:
        other.shutdown()


def test_the_visitor_sees_why_the_session_ended(browser, serve):
    served = serve("--idle-timeout", "4")
    page, _ = open_app(browser, served)
    page.wait_for_selector("body.-closed", timeout=30_000)
    message = page.text_content(".closed-dialog .message")
    assert "Session ended after 4 seconds without input" in message
    assert page.is_visible(".closed-dialog .message")


def test_writing_with_the_model_works_in_the_browser(browser, serve):
    """Issue 22's features through the browser: the suggestion as you type (→ takes it), step mode
    (F8, Enter, Esc keeps it), and copied spans (v) with the bundled model's own training text."""
    from nietzsche_tui.engine.generation import Engine
    from nietzsche_tui.engine.suggestions import suggest_continuation
    from nietzsche_tui.locate import BUNDLED_MODELS

    book = str(BUNDLED_MODELS["book"])
    served = serve("--checkpoint", book)
    page, terminal = open_app(browser, served)
    typed = "truth is a wo"
    page.keyboard.type(typed)
    suggested = typed + suggest_continuation(Engine.load(book), typed)
    until(page, lambda: suggested in terminal.text(), 20, "the suggestion after the cursor", terminal)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("F8")
    until(page, lambda: "step mode" in terminal.text(), 20, "step mode", terminal)
    press_until(page, "Enter", lambda: "character 2:" in terminal.text(), "a character taken", terminal)
    page.keyboard.press("Escape")
    until(page, lambda: "steps T=0.2" in terminal.text(), 20, "the step-mode exchange in the chat", terminal)
    page.keyboard.type("supposing that truth is a woman--what then?")
    page.keyboard.press("Enter")
    # Finished, not only mounted: its columns' headers show before the status line says it streams,
    # and the status line names a speed only once something has streamed (step mode does not).
    answered = lambda: "ready ·" in terminal.text() and "chars/s" in terminal.text()  # noqa: E731
    until(page, answered, 30, "the answer", terminal)
    page.keyboard.press("Tab")
    page.keyboard.press("v")
    until(page, lambda: "training text word for word" in terminal.text(), 30, "the copied-spans legend", terminal)


def test_models_side_by_side_from_the_palette_in_the_browser(browser, serve):
    """Issue 23 through the browser: the palette's "Compare models…" picks book and large; the next
    prompt streams a column for each."""
    served = serve()
    page, terminal = open_app(browser, served)
    press_until(page, "Control+p", lambda: "Search for commands" in terminal.text(), "the palette", terminal)
    page.keyboard.type("Compare models")
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")
    until(page, lambda: "Compare models side by side" in terminal.text(), 20, "the models picker", terminal)
    until(page, lambda: "large  (bundled" in terminal.text(), 20, "the bundled models listed", terminal)
    assert "/tmp" not in terminal.text()  # the served folder by its name, never its path
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # to the Compare button (a browser keeps Ctrl+S for itself)
    page.keyboard.press("Enter")
    until(page, lambda: "comparing 2 models" in terminal.text(), 20, "the status line", terminal)
    page.keyboard.type("what is truth")
    page.keyboard.press("Enter")
    until(
        page,
        lambda: "book · 0.10 M" in terminal.text() and "large · 0.86 M" in terminal.text(),
        30,
        "two columns",
        terminal,
    )
