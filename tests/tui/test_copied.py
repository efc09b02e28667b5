"""Copied spans in the app: v underlines what the training text holds word for word, inspect says
from which line, and a training text that changed is refused with one line."""

from nietzsche_tui.history.records import Column, StoredExchange
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.history import StoredView
from nietzsche_tui.tui.screens.inspect import InspectScreen
from nietzsche_tui.tui.widgets.columns import Exchange, ScoreView
from tests.helpers import WIDE, model_that_copies, notified, prompt, ready, settle


def underlined_in(static) -> set[int]:
    """The characters a Static draws in the copied style (Textual's rendered spans carry their own style type)."""
    return {i for span in static.render().spans if "underline" in str(span.style) for i in range(span.start, span.end)}


def underlined(column) -> set[int]:
    return underlined_in(column.body)


async def answered_then_v(app, pilot):
    """The model answers "truth is", then v in the chat looks for copied spans."""
    await ready(app, pilot)
    await prompt(app, pilot, "truth is")
    app.chat.focus()
    await pilot.press("v")
    await settle(app, pilot)


async def test_v_underlines_the_copied_span_and_inspect_names_its_line(tmp_path):
    folder, _, written = model_that_copies(tmp_path)
    app = make_app(checkpoint=str(folder), seed=3, length=80, temperatures=(0.5,), copied_min=12)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "truth is")
        column = app.query_one(Exchange).columns[0]
        assert column.text == written and not underlined(column)
        app.chat.focus()
        await pilot.press("v")
        await settle(app, pilot)
        (span,) = column.copying.spans
        assert (span.start, span.line) == (20, 3) and span.length >= 30
        assert underlined(column) == set(range(span.start, span.end))
        assert "in the training text word for word (12+" in str(app.chat_screen.legend.render())
        await pilot.press("i", "home", *["right"] * 25)
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        assert f"copied: {span.length} characters from line 3" in str(screen.panel().caption)
        await pilot.press("home")
        assert "copied: no" in str(screen.panel().caption)
        await pilot.press("escape")
        await prompt(app, pilot, "truth is")  # the next exchange is marked when it finishes
        assert app.query(Exchange).last().columns[0].copying is not None
        app.prompt_input.focus()
        await prompt(app, pilot, f"/score he said: {written[20:50]}")  # a /score answer is marked too
        score = app.query(ScoreView).last()
        # ": " and the 30 characters after it are on the corpus's third line ("here: …").
        assert underlined_in(score.body) == set(range(len("he said"), len("he said: ") + 30))
        stored = StoredExchange(
            "steps",
            "p",
            "p",
            [],
            str(folder / "epoch_0001.json"),
            1,
            None,
            "window",
            [0.5],
            30,
            1,
            None,
            None,
            [Column("steps T=0.5", "xx" + written[20:50])],
        )
        app.chat.add_score(StoredView(stored))  # and an exchange from the history, shown in the chat
        await settle(app, pilot)
        assert underlined_in(app.query(StoredView).last().bodies[0]) == set(range(2, 32))
        app.chat.focus()
        await pilot.press("v")
        assert not underlined(app.query(Exchange).last().columns[0])


async def test_a_served_inspect_says_how_much_is_copied_but_never_shows_the_training_text(tmp_path):
    """The training text is the operator's: a visitor sees which characters are copied and how many,
    not the line they come from or the passage around them."""
    folder, _, _ = model_that_copies(tmp_path)
    app = make_app(checkpoint=str(folder), seed=3, length=80, temperatures=(0.5,), copied_min=12, served=True)
    async with app.run_test(size=WIDE) as pilot:
        await answered_then_v(app, pilot)
        (span,) = app.query_one(Exchange).columns[0].copying.spans
        await pilot.press("i", "home", *["right"] * 25)
        caption = str(app.screen.panel().caption)
        assert caption.endswith(f"\ncopied: {span.length} characters of the training text")  # nothing after it
        assert "from line" not in caption and "here:" not in caption  # the corpus's third line is "here: …"


async def test_a_training_text_changed_since_training_is_refused_in_one_line(tmp_path):
    folder, corpus, _ = model_that_copies(tmp_path)
    corpus.write_text("an edited text\n", encoding="utf-8")
    app = make_app(checkpoint=str(folder), seed=3, length=40)
    async with app.run_test(size=WIDE) as pilot:
        await answered_then_v(app, pilot)
        assert notified(app, "No copied spans:") and notified(app, "changed since this model was trained on it")
        assert not app.chat.copied
        assert all(column.copying is None for column in app.query_one(Exchange).columns)
