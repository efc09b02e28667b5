"""Copied spans in the app: v underlines what the training text holds word for word, inspect says
from which line, and a training text that changed is refused with one line."""

from nietzsche_tui.contracts.corpus import corpus_sha256
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.inspect import InspectScreen
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.checkpoints import random_weights, write_checkpoint
from tests.conftest import TINY_TEXT
from tests.helpers import WIDE, notified, prompt, ready, settle

VOCABULARY = sorted(set(TINY_TEXT.lower()))
WEIGHTS = random_weights(len(VOCABULARY), 32, seed=2024)


def model_that_copies(tmp_path, seed=3, length=80):
    """A model and a training text that holds, on its third line, 30 characters of what the
    model writes at T=0.5 for "truth is" with this seed."""
    folder = tmp_path / "model"
    write_checkpoint(folder, WEIGHTS, VOCABULARY, epoch=1, maxlen=20)
    generation = Engine.load(folder).generate(GenerationRequest("truth is", (0.5,), length, seed))
    written = "".join(step.chars[0] for step in generation)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(f"one line\nanother line\nhere: {written[20:50]} and more\n", encoding="utf-8")
    record = {"source": "corpus.txt", "paths": [str(corpus)], "sha256": corpus_sha256(corpus.read_text())}
    write_checkpoint(folder, WEIGHTS, VOCABULARY, epoch=1, maxlen=20, corpus=record)
    return folder, corpus, written


def underlined(column) -> set[int]:
    """The characters drawn in the copied style (Textual's rendered spans carry their own style type)."""
    return {
        i for span in column.body.render().spans if "underline" in str(span.style) for i in range(span.start, span.end)
    }


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
        assert "copied word for word" in str(app.chat_screen.legend.render())
        await pilot.press("i", "home", *["right"] * 25)
        screen = app.screen
        assert isinstance(screen, InspectScreen)
        assert f"copied: {span.length} characters from line 3" in str(screen.panel().caption)
        await pilot.press("home")
        assert "copied: no" in str(screen.panel().caption)
        await pilot.press("escape")
        await prompt(app, pilot, "truth is")  # the next exchange is marked when it finishes
        assert app.query(Exchange).last().columns[0].copying is not None
        app.chat.focus()
        await pilot.press("v")
        assert not underlined(app.query(Exchange).last().columns[0])


async def test_a_training_text_changed_since_training_is_refused_in_one_line(tmp_path):
    folder, corpus, _ = model_that_copies(tmp_path)
    corpus.write_text("an edited text\n", encoding="utf-8")
    app = make_app(checkpoint=str(folder), seed=3, length=40)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "truth is")
        app.chat.focus()
        await pilot.press("v")
        await settle(app, pilot)
        assert notified(app, "No copied spans:") and notified(app, "changed since this model was trained on it")
        assert not app.chat.copied
        assert all(column.copying is None for column in app.query_one(Exchange).columns)
