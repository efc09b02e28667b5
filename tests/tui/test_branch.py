"""Branching at any character: in inspect, a listed alternative (its digit, or Enter on a row)
continues the column from there with that character instead; the branch equals `generate` on
the branched prompt with the same seed, says where it came from, and is stored with the link."""

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.inspect import InspectScreen
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.helpers import WIDE, history_ready, prompt, ready, saved, settle


async def test_a_digit_in_inspect_branches_there_like_generate_on_the_branched_prompt(app_model, tmp_path):
    app = make_app(
        checkpoint=str(app_model),
        seed=5,
        length=40,
        temperatures=(0.2, 1.0),
        history=str(tmp_path / "h.db"),
        keep_history=True,
    )
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "Truth is")
        await saved(app, pilot, 1)
        original = app.query_one(Exchange)
        written = original.columns[1].text
        await pilot.press("tab", "right", "i", "home", *["right"] * 9)
        screen = app.screen
        assert isinstance(screen, InspectScreen) and screen.cursor == 9
        screen.panel()
        chosen = screen.listed[2]
        await pilot.press("3")
        await settle(app, pilot)
        assert not isinstance(app.screen, InspectScreen)
        branch = app.query(Exchange).last()
        assert branch is not original and len(branch.columns) == 1
        branched_prompt = "truth is" + written[:9] + chosen
        engine = Engine.load(app_model)
        expected = "".join(s.chars[0] for s in engine.generate(GenerationRequest(branched_prompt, (1.0,), 40, 5)))
        assert branch.columns[0].text == expected
        assert branch.turn.notice == (f"branch of exchange #1 (T=1) at character 10: “{chosen}” for “{written[9]}”")
        await saved(app, pilot, 2)
        stored = app.history.exchanges(limit=None)[0]
        assert stored.prompt == branched_prompt and stored.temperatures == [1.0] and stored.seed == 5
        assert stored.branch_of == {
            "prompt": "truth is",
            "column": "T=1",
            "position": 9,
            "chosen": chosen,
            "instead_of": written[9],
            "exchange": 1,
        }
        app.chat_screen.replay(stored)  # a replayed branch gives its text again, and says it is one
        await settle(app, pilot)
        replayed = app.query(Exchange).last()
        assert replayed.columns[0].text == expected and "branch of exchange #1" in replayed.turn.notice


async def test_enter_branches_with_the_highlighted_row(app_model):
    app = make_app(checkpoint=str(app_model), seed=2, length=30, temperatures=(0.5,))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "what then")
        await pilot.press("tab", "i", "home")
        screen = app.screen
        await pilot.press("down", "down", "up")
        assert screen.row == 1
        chosen = screen.listed[1]
        await pilot.press("enter")
        await settle(app, pilot)
        branch = app.query(Exchange).last()
        assert branch.turn.prompt_typed == "what then" + chosen and branch.turn.branch.position == 0
