"""Pilot tests: the app's behaviour, driven headless the way a user drives it."""

import json
import subprocess
import sys

import pytest
from textual.widgets import Input

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.dialogs import HelpScreen, ProblemScreen
from nietzsche_tui.tui.turns import MAX_PROMPT_CHARS
from nietzsche_tui.tui.widgets.chat_view import MAX_EXCHANGES, ChatView
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.helpers import WIDE, messages, notified, ready, running, settle


def expected_texts(folder, prompt, seed, length, temperatures=(0.2, 0.5, 1.0, 1.2)):
    engine = Engine.load(folder)
    steps = list(engine.generate(GenerationRequest(prompt, temperatures, length, seed)))
    return ["".join(s.chars[i] for s in steps) for i in range(len(temperatures))]


async def test_typing_and_enter_streams_every_column_exactly_as_the_engine(app_model):
    app = make_app(checkpoint=str(app_model), seed=11, length=300)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth is a woman", "enter")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        assert exchange.texts() == expected_texts(app_model, "truth is a woman", 11, 300)
        assert app.query_one(Input).value == ""
        assert [c.state for c in exchange.columns] == ["done"] * 4


@pytest.mark.slow  # streams for seconds by design: the thorough run
async def test_escape_stops_and_keeps_the_partial_text(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=20_000)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"what then", "enter")
        await pilot.pause(0.1)
        await pilot.press("escape")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        texts = exchange.texts()
        assert 0 < len(texts[0]) < 20_000
        assert all(c.state == "stopped" for c in exchange.columns)
        full = expected_texts(app_model, "what then", 5, len(texts[0]))
        assert texts == full  # the flushed prefix is exactly what the engine produced
        assert not running(app)


async def test_a_new_prompt_cancels_the_running_one(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=20_000)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.send("first")
        await pilot.pause(0.05)
        screen = app.chat_screen
        screen.settings = screen.settings.__class__(**{**screen.settings.__dict__, "length": 50})
        app.prompt_input.value = "second"
        await pilot.press("enter")
        await settle(app, pilot)
        first, second = app.query(Exchange)
        assert all(c.state == "stopped" for c in first.columns)
        assert all(c.state == "done" for c in second.columns) and len(second.texts()[0]) == 50


async def test_column_keys_switch_views_but_never_fire_while_typing(app_model):
    app = make_app(checkpoint=str(app_model), seed=1, length=40)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        chat = app.query_one(ChatView)
        await pilot.press(*"so 1234 0", "left", "right")
        assert app.query_one(Input).value == "so 1234 0" and chat.solo is None and chat.current == 0
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("tab")
        assert app.focused is chat
        await pilot.press("3")
        assert chat.solo == 2 and chat.visible_columns() == [2]
        assert [c.display for c in app.query_one(Exchange).columns] == [False, False, True, False]
        await pilot.press("right")
        assert chat.solo == 3
        await pilot.press("0")
        assert chat.solo is None and chat.visible_columns() == [0, 1, 2, 3]
        await pilot.press("left")
        assert chat.current == 2
        await pilot.press("f4")
        assert chat.solo == 2
        await pilot.press("f3", "f3")
        assert chat.solo == 0  # wraps around
        await pilot.press("f4", "f2")
        assert chat.solo is None and chat.current == 3


async def test_narrow_terminal_shows_one_column_and_widening_restores(app_model):
    app = make_app(checkpoint=str(app_model), seed=1, length=40)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"narrow", "enter")
        await settle(app, pilot)
        chat = app.query_one(ChatView)
        await pilot.resize_terminal(70, 30)
        await pilot.pause()
        assert chat.narrow and chat.visible_columns() == [0]
        await pilot.press("f3")
        assert [c.display for c in app.query_one(Exchange).columns] == [False, True, False, False]
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert not chat.narrow and all(c.display for c in app.query_one(Exchange).columns)


@pytest.mark.slow  # the 300-prompt soak in tests/reliability covers the same, harder; both run in CI
async def test_fifty_prompts_in_quick_succession(app_model):
    app = make_app(checkpoint=str(app_model), length=300)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        for i in range(50):
            # The prompt goes in as a paste would; pilot.press waits for the app to go idle.
            app.prompt_input.value = f"prompt number {i}"
            await app.prompt_input.action_submit()
            if i % 10 == 0:
                await pilot.press("f3", "f4")
            await pilot.pause(0)
            assert len(running(app)) <= 1
        await settle(app, pilot)
        exchanges = list(app.query(Exchange))
        assert len(exchanges) == min(50, MAX_EXCHANGES)
        assert all(c.state == "done" for c in exchanges[-1].columns)
        assert not running(app)


async def test_unknown_characters_are_dropped_with_a_notice_and_markup_is_text(app_model):
    app = make_app(checkpoint=str(app_model), seed=2, length=20)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        await pilot.press(*"[bold]Truth[/]", "enter")
        await settle(app, pilot)
        assert app.send("Truth 🎉 *is*")
        await settle(app, pilot)
        first, second = app.query(Exchange)
        assert first.turn.prompt_shown == "[bold]Truth[/]"  # shown as typed, not parsed as markup
        assert "[bold]" in str(first.query_one(".prompt").render())
        assert "dropped unknown characters" in second.turn.notice and "🎉" in second.turn.notice
        assert notified(app, "dropped")
        assert all(len(t) == 20 for t in second.texts())


async def test_empty_and_unusable_prompts_start_nothing(app_model):
    app = make_app(checkpoint=str(app_model), seed=2, length=20)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        await pilot.press("enter")
        app.prompt_input.value = "🎉🎉"
        await pilot.press("enter")
        await pilot.pause()
        assert not app.query(Exchange)
        assert app.query_one(Input).value == "🎉🎉"  # nothing typed is lost
        said = messages(app)
        assert any("type a few words" in m for m in said) and any("no character" in m for m in said)


async def test_huge_paste_is_cut_to_what_the_model_reads(app_model):
    app = make_app(checkpoint=str(app_model), seed=3, length=30)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        text = "is there not ground for suspecting " * 3000  # ~100 kB
        assert app.send(text)
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        assert "last 20 characters" in exchange.turn.notice
        assert len(exchange.turn.prompt_shown) < 400
        assert exchange.texts() == expected_texts(app_model, text[-MAX_PROMPT_CHARS:], 3, 30)


async def test_regenerate_uses_a_new_seed_and_surprise_uses_a_stored_passage(app_model):
    app = make_app(checkpoint=str(app_model), seed=100, length=30)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        first, second, third = app.query(Exchange)
        assert (first.generation.request.seed, second.generation.request.seed) == (100, 101)
        assert second.generation.request.prompt == "truth" and first.texts() != second.texts()
        assert third.generation.request.prompt == "what then? is there "


async def test_bad_checkpoint_explains_itself_and_the_app_keeps_running(tmp_path):
    (tmp_path / "epoch_0001.json").write_text("{not json")
    (tmp_path / "epoch_0001.keras").write_bytes(b"garbage")
    app = make_app(checkpoint=str(tmp_path / "epoch_0001.json"))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert "not readable JSON" in app.screen.problem and "nietzsche-train" in app.screen.remedy
        await pilot.press("escape")
        await pilot.press(*"hello", "enter")
        await pilot.pause()
        assert app.is_running and not app.query(Exchange)
        assert app.query_one(Input).value == "hello"


async def test_reload_picks_up_a_newer_checkpoint(app_model, tmp_path):
    import shutil

    for suffix in (".json", ".keras"):
        shutil.copy(app_model / f"epoch_0003{suffix}", tmp_path / f"epoch_0003{suffix}")
    app = make_app(checkpoint=str(tmp_path))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        assert app.engine.checkpoint.epoch == 3
        meta = (tmp_path / "epoch_0003.json").read_text().replace('"epoch": 3', '"epoch": 4')
        shutil.copy(tmp_path / "epoch_0003.keras", tmp_path / "epoch_0004.keras")
        (tmp_path / "epoch_0004.json").write_text(meta)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert app.engine.checkpoint.epoch == 4


async def test_help_screen_and_palette_commands(app_model):
    app = make_app(checkpoint=str(app_model))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Stop generating", "Regenerate", "Surprise me", "Reload checkpoint", "Solo temperature 0.2"):
            assert title in titles


@pytest.mark.parametrize("mode", ["window", "stateful"])
async def test_both_modes_stream_in_the_app(app_model, mode):
    app = make_app(checkpoint=str(app_model), seed=8, length=25, mode=mode)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"what then", "enter")
        await settle(app, pilot)
        engine = Engine.load(app_model)
        steps = list(engine.generate(GenerationRequest("what then", length=25, seed=8, mode=mode)))
        assert app.query_one(Exchange).texts()[3] == "".join(s.chars[3] for s in steps)
        exchange = app.query_one(Exchange)
        elapsed = exchange.finished_at - exchange.started
        assert exchange.produced == 25 and elapsed > 0
        assert exchange.chars_per_second() == pytest.approx(25 / elapsed)


async def test_typing_a_question_mark_or_q_in_the_prompt_stays_text(app_model):
    app = make_app(checkpoint=str(app_model))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"what? q 0 1", "question_mark")
        assert app.query_one(Input).value == "what? q 0 1?"
        assert not isinstance(app.screen, HelpScreen)
        # Outside the prompt (Tab: the chat), ? is typed into the prompt too (issue 19: "What IS
        # Truth?" opened the help); F1 opens the help from anywhere.
        await pilot.press("tab", "question_mark")
        assert app.query_one(Input).value == "what? q 0 1??" and not isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


KEY_NAMES = {"escape": "Esc", "question_mark": "?", "left": "←", "right": "→", "up": "↑", "down": "↓"}


def shown_key(key: str) -> str:
    """A binding's key as the help writes it: Esc, ←, p (a bare letter as pressed, lowercase), and
    Ctrl+R (a letter after a modifier upper case, the usual way)."""
    parts = [KEY_NAMES.get(part, part if len(part) == 1 else part.capitalize()) for part in key.split("+")]
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts[-1] = parts[-1].upper()
    return "+".join(parts)


def key_tokens(text: str) -> set[str]:
    """Every whole token of a text of keys: split at spaces and the separators the help uses."""
    import re

    return set(re.split(r"[\s/,·:;()]+", text)) - {""}


def test_every_key_is_in_the_help_screen_and_the_readme():
    """Keys are defined once, as bindings; the help screen and README are checked against them,
    token by token (a one-letter key is not "in" the help because some word holds that letter)."""
    from pathlib import Path

    from nietzsche_tui.tui.app import NietzscheApp
    from nietzsche_tui.tui.screens.chat import ChatScreen
    from nietzsche_tui.tui.screens.dialogs import KEYS, HelpScreen
    from nietzsche_tui.tui.screens.history import HistoryScreen
    from nietzsche_tui.tui.screens.inspect import CellScreen, InspectScreen
    from nietzsche_tui.tui.screens.training import TrainingScreen

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    keys_table = readme[readme.index("| Key | What it does |") :].split("\n\n", 1)[0]
    help_tokens = key_tokens(" ".join(f"{key} {what}" for key, _, what in KEYS))
    readme_tokens = key_tokens(keys_table)
    everywhere = [*NietzscheApp.BINDINGS, *ChatScreen.BINDINGS, *ChatView.BINDINGS]
    screens = [*TrainingScreen.BINDINGS, *HistoryScreen.BINDINGS, *InspectScreen.BINDINGS, *CellScreen.BINDINGS]
    screens += HelpScreen.BINDINGS
    for binding, in_readme in [(b, True) for b in everywhere] + [(b, False) for b in screens]:
        for key in binding.key.split(","):
            shown = shown_key(key)
            if shown in {str(n) for n in range(1, 10)}:
                assert "1-4" in help_tokens and "1-4" in readme_tokens  # "1-4" stands for the digits
                continue
            assert shown in help_tokens, f"{key} ({shown}) is missing from the help screen"
            if in_readme:
                assert shown in readme_tokens, f"{key} ({shown}) is missing from the README's keys"


def test_the_key_check_fails_for_a_key_left_out():
    """The test above can fail: without its row, a one-letter key is not found in the help."""
    from nietzsche_tui.tui.screens.dialogs import KEYS

    tokens = key_tokens(" ".join(f"{key} {what}" for key, _, what in KEYS if key != "p"))
    assert shown_key("p") not in tokens and shown_key("ctrl+r") in tokens


async def test_typing_while_the_chat_has_focus_goes_to_the_prompt(app_model):
    """After Tab (or Esc out of a view) the chat has focus; its one-letter keys (p, i, n, ?,
    digits) must not eat a sentence typed there."""
    from nietzsche_tui.tui.widgets.chat_view import ChatView

    app = make_app(checkpoint=str(app_model), seed=1, length=10)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.chat.focus()
        await pilot.pause()
        assert isinstance(app.focused, ChatView)
        await pilot.press(*"What IS Truth?")
        await pilot.pause()
        assert app.prompt_input.value == "What IS Truth?"
        assert app.focused is app.prompt_input and app.screen is app.chat_screen  # no help opened
        app.chat.focus()
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.prompt_input


async def test_the_palette_offers_only_commands_that_work(app_model):
    app = make_app(checkpoint=str(app_model))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert not titles & {"Screenshot", "Keys", "Maximize", "Minimize"}
        assert {"Quit", "Theme", "Regenerate", "History"} <= titles


async def test_the_chat_says_when_it_drops_old_exchanges_and_why_narrow_keys_do_nothing(app_model, monkeypatch):
    from nietzsche_tui.tui.widgets import chat_view as widgets

    monkeypatch.setattr(widgets, "MAX_EXCHANGES", 3)  # the rule, not the number: four prompts, not 21
    MAX_EXCHANGES = widgets.MAX_EXCHANGES
    app = make_app(checkpoint=str(app_model), seed=1, length=2)
    async with app.run_test(size=(60, 30)) as pilot:  # narrow: one column at a time
        await ready(app, pilot)
        for number in range(MAX_EXCHANGES + 1):
            app.send(f"prompt {number}")
            await settle(app, pilot)
        said = messages(app)
        assert sum("older ones are in the history (F6)" in m for m in said) == 1
        await pilot.press("f4")
        await pilot.pause()
        assert notified(app, "Too narrow for every column")


async def test_a_child_process_streams_the_same_text_and_ends_with_the_app(app_model):
    """With the generation child (the command line's default) the columns get exactly what the
    engine computes here, for one prompt after another; the child exits with the app."""
    app = make_app(checkpoint=str(app_model), seed=11, length=300, generation_process=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        process = app.models.process
        app.send("what then", seed=5)
        await settle(app, pilot)
        await pilot.press(*"truth is a woman", "enter")
        await settle(app, pilot)
        exchanges = list(app.query(Exchange))
        assert exchanges[-1].texts() == expected_texts(app_model, "truth is a woman", 11, 300)
        assert process.failure is None and process.available
        child = process._child
    assert child.wait(timeout=5) is not None


def test_the_first_frame_imports_neither_the_engine_nor_numpy(tmp_path):
    """The app draws its first frame before the model maths is imported (issue 21: under 300 ms):
    NumPy, h5py and the engine come with the worker that loads the model. Here that worker does
    nothing, so what is imported at the first frame is what the first frame needed."""
    script = (
        "import asyncio, json, sys\n"
        "from nietzsche_tui.tui.app import NietzscheApp, make_app\n"
        "NietzscheApp.load_model = lambda self, location=None: None\n"
        "async def main():\n"
        "    app = make_app(seed=1, suggest=True)\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "        heavy = ('numpy', 'h5py', 'nietzsche_tui.engine.generation', 'nietzsche_tui.verbatim.index')\n"
        "        print(json.dumps({'shown': bool(app.chat_screen.is_mounted),\n"
        "                          'imported': [name for name in heavy if name in sys.modules]}))\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"shown": True, "imported": []}


async def test_tab_then_a_chat_key_right_after_enter_reaches_the_chat(app_model, monkeypatch):
    """In a browser, Tab and v pressed 30 ms after Enter typed the v into the prompt: Tab waited
    behind the screen's handling of Enter while v went straight to the still-focused prompt. The
    screen is made slow here the way a busy machine makes it."""
    import asyncio

    from textual import events

    from nietzsche_tui.tui.screens.chat import ChatScreen

    handle_submitted = ChatScreen.on_input_submitted

    async def slowly(self, event):
        await asyncio.sleep(0.3)
        handle_submitted(self, event)

    monkeypatch.setattr(ChatScreen, "on_input_submitted", slowly)
    app = make_app(checkpoint=str(app_model), seed=1, length=10)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth")
        app.post_message(events.Key("enter", "\r"))
        await asyncio.sleep(0.03)  # the prompt has sent its text; the screen is still busy with it
        app.post_message(events.Key("tab", "\t"))  # as a driver posts keys: without waiting on the app
        app.post_message(events.Key("v", "v"))
        await pilot.pause(0.5)
        await settle(app, pilot)
        assert app.chat_screen.last_prompt == "truth"
        assert app.prompt_input.value == ""
        assert isinstance(app.focused, ChatView)
        # v reached the chat's key: it tried to mark the copied spans (this fixture has no training text)
        assert notified(app, "No copied spans")
