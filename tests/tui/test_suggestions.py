"""Suggestions as you type: the model's greedy continuation to the end of the next word, dimmed;
→ takes it, Ctrl+→ one word; typing fast computes only for the text that stays; a toggle."""

import time

from nietzsche_tui.engine import suggestions
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.suggestions import suggest_continuation
from nietzsche_tui.tui.app import make_app
from tests.helpers import WIDE, ready, settle


def test_the_suggestion_is_the_greedy_text_to_the_end_of_the_next_word(app_model):
    engine = Engine.load(app_model)
    greedy = "".join(s.chars[0] for s in engine.generate(GenerationRequest("Truth is a", (0.0,), 30, 0)))
    suggested = suggest_continuation(engine, "Truth is a")
    assert greedy.startswith(suggested) and suggested.strip()
    assert " " not in suggested.strip() and len(suggested) <= 30
    rest = greedy[len(suggested) :]
    assert rest == "" or rest[0].isspace() or len(suggested) == 30
    assert suggest_continuation(engine, "🎉") == ""  # nothing the model can read


async def type_slowly(pilot, text):
    for char in text:
        await pilot.press("space" if char == " " else char)
        await pilot.pause(0.01)


async def test_right_takes_the_suggestion_and_ctrl_right_one_word(app_model):
    app = make_app(checkpoint=str(app_model), suggest=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        prompt = app.prompt_input
        await type_slowly(pilot, "truth is")
        await settle(app, pilot)
        expected = "truth is" + suggest_continuation(app.engine, "truth is")
        assert prompt.suggestion == expected and len(expected) > len("truth is")
        await pilot.press("right")
        assert prompt.value == expected and prompt.cursor_position == len(expected)
        await pilot.press("space")
        await settle(app, pilot)
        typed = prompt.value
        rest = suggest_continuation(app.engine, typed)
        assert prompt.suggestion == typed + rest
        await pilot.press("ctrl+right")
        first_word = rest.lstrip().split()[0] if rest.strip() else ""
        assert prompt.value == typed + rest[: len(rest) - len(rest.lstrip())] + first_word


async def test_typing_fast_computes_only_for_the_text_that_stays(app_model, monkeypatch):
    asked = []

    def counting(engine, text, mode="window"):
        asked.append(text)
        return suggest_continuation(engine, text, mode)

    monkeypatch.setattr(suggestions, "suggest_continuation", counting)  # the prompt looks it up there
    app = make_app(checkpoint=str(app_model), suggest=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        for end in range(1, len("whatthen") + 1):  # keystrokes faster than the pause: no await between
            app.prompt_input.insert_text_at_cursor("whatthen"[end - 1])
        await settle(app, pilot)
        assert asked == ["whatthen"]
        assert app.prompt_input.suggestion.startswith("whatthen")


async def test_the_palette_toggle_turns_suggestions_off(app_model):
    app = make_app(checkpoint=str(app_model), suggest=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await type_slowly(pilot, "is")
        await settle(app, pilot)
        assert app.prompt_input.suggestion
        app.chat_screen.action_toggle_suggestions()
        assert not app.prompt_input.suggestion
        await type_slowly(pilot, " the")
        await settle(app, pilot)
        assert not app.prompt_input.suggestion
    assert make_app().settings.suggest is False  # tests ask for it; the command line's default is on


async def test_a_suggestion_that_arrives_after_the_text_changed_is_dropped(app_model, monkeypatch):
    def slow(engine, text, mode="window"):
        time.sleep(0.3)  # the model takes long: the user types on meanwhile
        return "STALE" if text == "tr" else "th"

    monkeypatch.setattr(suggestions, "suggest_continuation", slow)
    app = make_app(checkpoint=str(app_model), suggest=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        prompt = app.prompt_input
        prompt.insert_text_at_cursor("tr")
        await pilot.pause(0.15)  # past the pause: "tr" is being computed
        prompt.insert_text_at_cursor("u")
        for _ in range(100):
            await pilot.pause(0.02)
            assert "STALE" not in prompt.suggestion
            if prompt.suggestion:
                break
        assert prompt.suggestion == "truth"
