"""Models side by side in the app: --compare or the palette's picker; each column equals that
model alone, with its own vocabulary; the history keeps the exchange and replays it exactly."""

from textual.widgets import SelectionList

from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.dialogs import ModelsDialog
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.checkpoints import random_weights, write_checkpoint
from tests.conftest import TINY_TEXT
from tests.helpers import WIDE, history_ready, notified, prompt, ready, saved, settle

VOCABULARY = sorted(set(TINY_TEXT.lower()))
WITHOUT_MARKS = [c for c in VOCABULARY if c not in "?!"]


def two_models(root):
    write_checkpoint(root / "lstm", random_weights(len(VOCABULARY), 16, seed=1), VOCABULARY, epoch=2, maxlen=20)
    gru = random_weights(len(WITHOUT_MARKS), 12, seed=3, cell="gru", layers=2)
    write_checkpoint(root / "gru", gru, WITHOUT_MARKS, epoch=1, maxlen=16)
    return [str(root / "lstm"), str(root / "gru")]


def alone(folder, text, seed, length):
    generation = Engine.load(folder).generate(GenerationRequest(text, (0.5,), length, seed))
    return "".join(step.chars[0] for step in generation)


async def test_compare_sends_each_prompt_to_every_model_and_replays_it(app_model, tmp_path):
    folders = [str(app_model), *two_models(tmp_path)]
    app = make_app(
        checkpoint=str(app_model),
        seed=4,
        length=30,
        compare=",".join(folders),
        history=str(tmp_path / "h.db"),
        keep_history=True,
    )
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        assert "comparing 3 models" in str(app.chat_screen.status.render())
        await prompt(app, pilot, "what then? all!")
        exchange = app.query_one(Exchange)
        assert [c.text for c in exchange.columns] == [alone(f, "what then? all!", 4, 30) for f in folders]
        assert exchange.columns[2].label.startswith("gru · ")
        assert "gru: dropped unknown characters" in exchange.turn.notice
        await saved(app, pilot, 1)
        (stored,) = app.history.exchanges(limit=None)
        assert stored.kind == "models" and [c.model for c in stored.columns] == folders
        app.chat_screen.replay(stored)
        await settle(app, pilot)
        assert notified(app, "identical to the stored one")
        assert app.query(Exchange).last().texts() == [c.text for c in stored.columns]


async def test_the_palette_picker_chooses_the_models(app_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    two_models(tmp_path)  # folders beside ./checkpoints, the app's training folder
    app = make_app(checkpoint=None, seed=2, length=20)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.chat_screen.action_compare_models()
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, ModelsDialog)
        choices = dialog.query_one(SelectionList)
        values = [choices.get_option_at_index(i).value for i in range(choices.option_count)]
        assert values[:2] == ["book", "large"] and str(tmp_path / "gru") not in values  # relative: ./gru
        assert any(v.endswith("gru") for v in values) and any(v.endswith("lstm") for v in values)
        choices.select("book")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ModelsDialog)  # one model is not a comparison
        for value in values:
            if value.endswith("lstm"):
                choices.select(value)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.chat_screen.compare_models.startswith("book,") and not isinstance(app.screen, ModelsDialog)
        await prompt(app, pilot, "truth")
        assert len(app.query(Exchange).last().columns) == 2
        app.chat_screen.action_compare_models()
        await settle(app, pilot)
        app.screen.query_one(SelectionList).deselect_all()
        await pilot.press("ctrl+s")
        assert app.chat_screen.compare_models == ""
