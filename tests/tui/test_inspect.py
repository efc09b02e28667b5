"""Seeing inside the model in the app: confidence colours, inspect (i), cells (n), /score, /help."""

import pytest

from nietzsche_tui.engine.analysis import score_text
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.colours import confidence_bucket
from nietzsche_tui.tui.screens.dialogs import HelpScreen
from nietzsche_tui.tui.screens.inspect import CellScreen, InspectScreen
from nietzsche_tui.tui.widgets.columns import Exchange, ScoreView
from tests.helpers import WIDE, notified, ready, settle


async def prompt(app, pilot, text):
    app.prompt_input.value = text
    await pilot.press("enter")
    await settle(app, pilot)


async def test_p_paints_every_column_by_confidence_with_a_legend(app_model):
    app = make_app(checkpoint=str(app_model), seed=2, length=80)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "truth is")
        column = app.query_one(Exchange).columns[3]
        assert not column.body.render().spans
        await pilot.press("tab", "p")
        await pilot.pause()
        assert app.chat_screen.legend.display
        spans = column.body.render().spans
        painted = {i for span in spans for i in range(span.start, span.end)}
        for i, p in enumerate(column.probabilities):
            assert (i in painted) == (confidence_bucket(p) > 0)
        await prompt(app, pilot, "what then")  # a new exchange is painted while it streams
        assert app.query(Exchange).last().columns[0].colour
        app.chat.focus()
        await pilot.press("p")
        assert not app.chat_screen.legend.display and not app.query(Exchange).last().columns[0].colour


async def test_inspect_walks_the_text_and_shows_what_the_model_weighed(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=60)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "is there not")
        await pilot.press("tab", "right", "i")
        screen = app.screen
        assert isinstance(screen, InspectScreen) and screen.label == "T=0.5"
        assert screen.cursor == 59
        await pilot.press("home", "right", "right")
        assert screen.cursor == 2
        column = app.query_one(Exchange).columns[1]
        table = screen.panel()
        assert f"p={column.probabilities[2]:.3f}" in str(table.title)
        assert len(table.rows) == 10
        await pilot.press("end")
        assert screen.cursor == 59
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


@pytest.mark.slow  # streams by design: the thorough run
async def test_inspect_waits_for_a_streaming_column(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=20_000)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        app.send("truth")
        await pilot.pause(0.1)
        app.chat.focus()
        await pilot.press("i")
        assert not isinstance(app.screen, InspectScreen)
        assert notified(app, "Esc to stop")
        await pilot.press("escape")  # stops, and (issue 19) takes focus back to the prompt
        await settle(app, pilot)
        assert app.focused is app.prompt_input
        app.chat.focus()
        await pilot.press("i")
        assert isinstance(app.screen, InspectScreen)


async def test_the_cell_view_colours_the_text_by_the_chosen_cell(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=50)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "what then")
        await pilot.press("tab", "n")
        screen = app.screen
        assert isinstance(screen, CellScreen)
        await settle(app, pilot)
        await pilot.pause(0.1)
        assert screen.query_one("#cell-ranking").option_count > 0
        assert app.focused is screen.query_one("#cell-number")  # the number field, as the view opens
        screen.query_one("#cell-number").value = "7"
        await pilot.press("enter")
        assert screen.cell == 7
        # The painting is cell 7's: the text as painted from cell 7's activations, and not cell 8's.
        from nietzsche_tui.engine.analysis import cell_activations
        from nietzsche_tui.tui.colours import painted_activations

        positions, states = cell_activations(screen.engine, screen.full_text)

        def painted(cell):
            values = [None] * len(screen.full_text)
            for position, value in zip(positions.tolist(), states[:, cell].tolist(), strict=True):
                values[position] = value
            return painted_activations(screen.full_text, values).spans

        def spans(found):
            return [(s.start, s.end, str(s.style)) for s in found]

        expected = spans(painted(7))
        assert len(expected) > 10 and spans(screen.painted.spans) == expected
        assert spans(painted(8)) != expected  # another cell would paint it differently


async def test_slash_score_paints_the_users_own_text(app_model):
    app = make_app(checkpoint=str(app_model), seed=5, length=50)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "/score is there not ground for suspecting")
        view = app.query_one(ScoreView)
        expected = score_text(Engine.load(app_model), "is there not ground for suspecting")
        assert view.summary.startswith(f"{expected.bits_per_char:.2f} bits/char over {len(expected.bits)} characters")
        assert not app.query(Exchange) and app.prompt_input.value == ""
        await prompt(app, pilot, "/nonsense please")
        assert app.prompt_input.value == "/nonsense please" and not app.query(Exchange)
        assert notified(app, "Unknown command /nonsense")
        await prompt(app, pilot, "/help")
        assert isinstance(app.screen, HelpScreen)


@pytest.fixture(autouse=True)
def _no_animation(monkeypatch):
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
