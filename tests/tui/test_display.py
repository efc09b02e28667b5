"""What reaches the terminal: control characters, pasted paragraphs, narrow layouts, an idle app."""

import numpy as np
import pytest
from textual import events
from textual.widgets import Footer

from nietzsche_tui.cli.main import main as cli_main
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.locate import BUNDLED_MODEL_DIR
from nietzsche_tui.text import visible, visible_one_line
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.chat import ChatScreen
from nietzsche_tui.tui.widgets.chat_view import ChatView
from nietzsche_tui.tui.widgets.columns import Exchange
from nietzsche_tui.tui.widgets.status import StatusBar, fit_parts
from tests.checkpoints import random_weights, write_checkpoint
from tests.conftest import TINY_TEXT
from tests.helpers import WIDE, ready, settle


@pytest.fixture(scope="module")
def control_model(tmp_path_factory):
    """A checkpoint whose vocabulary holds ESC and BEL, biased to write them often."""
    vocabulary = sorted(set(TINY_TEXT.lower()) | {"\x1b", "\x07"})
    weights = random_weights(len(vocabulary), 16, seed=5, scale=0.2)
    weights.dense_bias[vocabulary.index("\x1b")] = 4.0
    weights.dense_bias[vocabulary.index("\x07")] = 3.5
    folder = tmp_path_factory.mktemp("controls")
    write_checkpoint(folder, weights, vocabulary, epoch=1, maxlen=20)
    return folder


def test_visible_replaces_controls_and_keeps_the_layout():
    assert visible("a\x1b[31mb\x07\n\tc\x7f\x9b\u202e") == "a␛[31mb␇\n\tc␡\ufffd\u2195"
    assert visible_one_line("one\ntwo\tthree\r") == "one↵two three␍"


def test_generate_never_writes_raw_controls_but_json_keeps_them(control_model, capsys):
    assert cli_main(["generate", "--checkpoint", str(control_model), "--prompt", "truth", "--seed", "3"]) == 0
    plain = capsys.readouterr().out
    assert "\x1b" not in plain and "\x07" not in plain and "␛" in plain
    assert cli_main(["generate", "--checkpoint", str(control_model), "--prompt", "truth", "--seed", "3", "--json"]) == 0
    texts = [line for line in capsys.readouterr().out.splitlines() if line]
    import json

    assert any("\x1b" in json.loads(line)["text"] for line in texts)


async def test_the_app_shows_controls_as_symbols_and_keeps_the_true_text(control_model):
    app = make_app(checkpoint=str(control_model), seed=3, length=200)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        assert any("\x1b" in text for text in exchange.texts())  # the true characters are kept
        for column in exchange.columns:
            shown = str(column.body.render())
            assert "\x1b" not in shown and "\x07" not in shown
        assert "␛" in app.export_screenshot()


async def test_a_pasted_paragraph_arrives_whole():
    app_model = BUNDLED_MODEL_DIR  # its vocabulary, like the book's, holds the newline
    app = make_app(checkpoint=str(app_model), seed=4, length=20)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        paragraph = "supposing that truth\nis a woman--what then?\r\nis there not ground"
        app.prompt_input.post_message(events.Paste(paragraph))
        await pilot.pause()
        assert app.prompt_input.value.count("↵") == 2
        await pilot.press("enter")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        sent = paragraph.replace("\r\n", "\n")
        assert exchange.generation.request.prompt == sent
        assert exchange.generation.prompt.text == sent  # newlines are in the vocabulary: the model reads them
        expected = Engine.load(app_model).generate(GenerationRequest(sent, length=20, seed=4))
        assert exchange.texts()[0] == "".join(step.chars[0] for step in expected)


async def test_narrow_mode_says_which_column_shows(app_model):
    app = make_app(checkpoint=str(app_model), seed=1, length=30)
    async with app.run_test(size=(70, 30)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert str(app.status.render()).startswith("2/4 · T=0.5")
        await pilot.press("tab", "4")
        await pilot.pause()
        assert str(app.status.render()).startswith("4/4 · T=1.2")


@pytest.mark.parametrize("width", [80, 100, 120])
async def test_status_line_and_footer_fit_and_f1_stays_visible(app_model, width):
    app = make_app(checkpoint=str(app_model), seed=123456789, length=30)
    async with app.run_test(size=(width, 30)) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        status = app.query_one(StatusBar)
        text = str(status.render())
        assert len(text) <= status.content_size.width and "ready" in text
        help_key = next(key for key in app.query_one(Footer).query("FooterKey") if key.key == "f1")
        assert help_key.region.right <= width and help_key.region.width > 0


def test_fit_parts_shortens_before_it_drops():
    parts = ["2/4 · T=0.5", "generating", "model/epoch_0003 (epoch 3, held-out 1.457 nats/char)", "seed 1"]
    assert fit_parts(parts, 200, {}) == " · ".join(parts)
    expected = "2/4 · T=0.5 · generating · epoch 3 1.457 · seed 1"
    assert fit_parts(parts, len(expected), {parts[2]: "epoch 3 1.457"}) == expected
    assert fit_parts(parts, 20, {parts[2]: "epoch 3 1.457"}).startswith("2/4 · T=0.5")


@pytest.mark.slow  # waits idle by design: the thorough run
async def test_an_idle_app_runs_no_timers(app_model, monkeypatch):
    calls = {"flush": 0, "status": 0}
    original_flush, original_status = ChatView.flush, ChatScreen.refresh_status

    def counting_flush(self):
        calls["flush"] += 1
        original_flush(self)

    def counting_status(self):
        calls["status"] += 1
        original_status(self)

    monkeypatch.setattr(ChatView, "flush", counting_flush)
    monkeypatch.setattr(ChatScreen, "refresh_status", counting_status)
    app = make_app(checkpoint=str(app_model), seed=1, length=300)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.pause(0.1)
        calls.update(flush=0, status=0)
        await pilot.pause(0.6)
        assert calls == {"flush": 0, "status": 0}  # loaded and idle: no clock ticks
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        assert calls["flush"] > 0  # the frame clock ran while streaming
        calls.update(flush=0, status=0)
        await pilot.pause(0.6)
        assert calls == {"flush": 0, "status": 0}


@pytest.fixture(scope="module")
def many_passages(tmp_path_factory):
    vocabulary = sorted(set(TINY_TEXT.lower()))
    words = TINY_TEXT.lower().split()
    passages = [" ".join(words[i : i + 4]) for i in range(60)]
    folder = tmp_path_factory.mktemp("passages")
    write_checkpoint(
        folder, random_weights(len(vocabulary), 16, seed=9), vocabulary, epoch=1, maxlen=20, seed_passages=passages
    )
    return folder


async def test_surprise_honours_seed_like_generate(many_passages, capsys):
    app_model = many_passages
    app = make_app(checkpoint=str(app_model), seed=8, length=10)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
    assert exchange.generation.request.seed == 8
    passages = Engine.load(app_model).metadata.seed_passages
    assert exchange.generation.request.prompt == passages[int(np.random.default_rng(8).integers(len(passages)))]
    args = ["generate", "--checkpoint", str(app_model), "--surprise", "--seed", "8", "--length", "10", "--json"]
    assert cli_main(args) == 0
    import json

    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["prompt"] == exchange.generation.prompt.text and first["text"] == exchange.texts()[0]


async def test_a_case_keeping_two_layer_gru_chats_with_its_case_intact(tmp_path):
    vocabulary = sorted(set(TINY_TEXT) | set("TWS"))
    weights = random_weights(len(vocabulary), 16, seed=8, scale=0.4, cell="gru", layers=2)
    weights.dense_bias[vocabulary.index("T")] = 3.0  # capitals are likely: the columns must keep them
    write_checkpoint(tmp_path, weights, vocabulary, epoch=1, maxlen=20, lowercased=False)
    engine = Engine.load(tmp_path)
    assert engine.cell == "gru" and len(engine.weights.layers) == 2
    app = make_app(checkpoint=str(tmp_path), seed=4, length=60)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"Truth Was", "enter")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        assert exchange.prompt_typed == "Truth Was"
        expected = engine.generate(GenerationRequest("Truth Was", app.settings.temperatures, 60, seed=4))
        texts = ["".join(column) for column in zip(*(step.chars for step in expected), strict=True)]
        assert exchange.texts() == texts and any("T" in text for text in texts)
