"""What a browser user may do: the app as `nietzsche-tui serve` runs it, driven headless here (the
real browser tests are in test_browser.py)."""

import argparse
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from nietzsche_tui.cli.main import build_parser
from nietzsche_tui.contracts.training_form import TrainingBounds
from nietzsche_tui.history.opening import open_history
from nietzsche_tui.serve.command import app_command
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.history import HistoryScreen
from nietzsche_tui.tui.screens.start_form import StartForm
from tests.helpers import WIDE, fill, history_ready, messages, open_start_form, prompt, ready, saved, settle


def serve_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_each_tab_runs_the_operators_options_with_absolute_paths_and_no_history(app_model, tmp_path, monkeypatch):
    monkeypatch.chdir(app_model.parent)
    command = app_command(serve_args("--checkpoint", "model", "--seed", "4", "--temperatures", "0.5,1"))
    assert command[command.index("--checkpoint") + 1] == str(app_model.resolve())
    assert "--served" in command and "--no-history" in command
    assert "--allow-training" not in command and "--corpus" not in command
    assert command[command.index("--temperatures") + 1] == "0.5,1" and command[command.index("--seed") + 1] == "4"
    # The operator's --corpus only reaches the apps with --allow-training, and then as an absolute path.
    corpus = tmp_path / "text.txt"
    corpus.write_text("abc")
    command = app_command(serve_args("--allow-training", "--corpus", str(corpus), "--history", "visits.db"))
    assert command[command.index("--corpus") + 1] == str(corpus.resolve())
    assert command[command.index("--history") + 1] == str((app_model.parent / "visits.db").resolve())
    assert "--resume" not in command  # a visitor never reopens somebody else's last session


def test_the_app_parser_takes_the_served_flags():
    args = build_parser().parse_args(["--served", "--no-history"])
    assert args.served and not args.allow_training and not args.keep_history


async def test_training_is_off_in_a_served_app(run_folder):
    app = make_app(checkpoint="run", served=True, allow_training=False)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, StartForm)
        await pilot.press("x")
        await pilot.pause()
        said = messages(app)
        assert said.count(app.TRAINING_OFF) == 2
        assert not app.training.ours_running


async def test_allowed_training_uses_the_operators_corpus_only(run_folder, tmp_path):
    corpus = tmp_path / "operator.txt"
    corpus.write_text("the operator's text " * 50)
    app = make_app(checkpoint="run", served=True, allow_training=True, corpus=str(corpus))
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, StartForm)
        field = form.query_one("#field-corpus", Input)
        assert field.disabled and field.value == str(corpus)
        field.value = "/etc/passwd"  # whatever reaches the field, the operator's corpus is what runs
        assert form.settings()["corpus"] == str(corpus)


async def test_a_served_history_shows_only_this_visitors_session(app_model, tmp_path):
    database = tmp_path / "visits.db"
    other = make_app(checkpoint=str(app_model), seed=1, length=20, history=str(database), keep_history=True)
    async with other.run_test(size=WIDE) as pilot:
        await history_ready(other, pilot)
        await prompt(other, pilot, "another visitor's secret")
        await saved(other, pilot, 1)
    app = make_app(checkpoint=str(app_model), seed=2, length=20, history=str(database), keep_history=True, served=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "my own words")
        await saved(app, pilot, 2)
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert [e.prompt for e in screen._shown.values()] == ["my own words"]
        screen.refresh_list("secret")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen._shown
    store, _ = open_history(database)
    assert len(store.exchanges(limit=None)) == 2  # the operator's database keeps both


async def test_a_served_app_without_history_says_so(app_model):
    app = make_app(checkpoint=str(app_model), served=True, keep_history=False)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f6")
        await settle(app, pilot)
        assert "the history is off on this server" in str(app.screen.query_one("#history-detail").children[0].render())
    assert Path.cwd().joinpath("nietzsche-session-1.md").exists() is False


def test_a_bundled_model_is_never_a_training_folder():
    from nietzsche_tui.locate import BUNDLED_MODELS, checkpoint_folder

    for folder in BUNDLED_MODELS.values():
        assert checkpoint_folder(str(folder)) == "checkpoints"
        assert checkpoint_folder(str(next(folder.glob("epoch_*.json")))) == "checkpoints"
    assert checkpoint_folder("runs/mine") == "runs/mine"
    assert checkpoint_folder("runs/mine/epoch_0003.json") == "runs/mine"


def test_a_port_in_use_is_one_line_before_anything_is_printed(capsys):
    import socket

    from nietzsche_tui.cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in captured.err


def assert_refused(form: StartForm, baseline: dict[str, str], cases) -> None:
    """Each (field, value, message): the form, filled with ``baseline`` and then that one value,
    refuses with the message."""
    for field, value, said in cases:
        fill(form, **baseline)
        fill(form, **{field: value})
        with pytest.raises(ValueError, match=said):
            form.settings()


async def test_a_served_start_form_keeps_to_the_operators_bounds(run_folder, tmp_path):
    corpus = tmp_path / "operator.txt"
    corpus.write_text("the operator's text " * 50)
    bounds = TrainingBounds({"epochs": 12, "layers": 2, "units": 256, "steps_per_epoch": 100})
    app = make_app(checkpoint="run", served=True, allow_training=True, corpus=str(corpus), training_bounds=bounds)
    async with app.run_test(size=WIDE) as pilot:
        form = await open_start_form(app, pilot)
        # Prefilled within the bounds (the folder's own settings would ask for all batches).
        assert form.query_one("#field-steps_per_epoch", Input).value == "100"
        assert int(form.query_one("#field-epochs", Input).value) <= 12
        assert_refused(
            form,
            {"epochs": "10", "layers": "1", "units": "128", "steps_per_epoch": "50"},
            (
                ("epochs", "13", "Epochs: at most 12 on this server"),
                ("layers", "3", "Recurrent layers: at most 2 on this server"),
                ("units", "100000", "Units per layer: at most 256 on this server"),
                ("steps_per_epoch", "", "Batches per epoch: at most 100 on this server"),
                ("steps_per_epoch", "101", "Batches per epoch: at most 100 on this server"),
            ),
        )
        fill(form, epochs="12", layers="2", units="256", steps_per_epoch="100")
        assert form.settings()["epochs"] == 12
        assert "/" not in str(form.query_one(".dialog-title", Static).render())  # the folder's name, not its path


async def test_the_start_form_says_what_each_field_takes(run_folder):
    app = make_app(checkpoint="run")
    async with app.run_test(size=WIDE) as pilot:
        form = await open_start_form(app, pilot)
        assert_refused(
            form,
            {"epochs": "10", "dropout": "0", "learning_rate": "", "units": "128"},
            (
                ("epochs", "X", r"Epochs \(train up to\): a whole number is needed, not 'X'"),
                ("epochs", "0", r"Epochs \(train up to\): at least 1 is needed"),
                ("dropout", "1", "Dropout after each layer: less than 1 is needed"),
                ("dropout", "-0.1", "Dropout after each layer: at least 0 is needed"),
                ("learning_rate", "0", r"Learning rate \(empty: the recipe's\): more than 0 is needed"),
                ("learning_rate", "nan", "more than 0 is needed"),
                ("units", "-5", "Units per layer: at least 1 is needed"),
            ),
        )


async def test_quitting_a_served_app_stops_its_run_and_never_asks_to_leave_it(app_model):
    app = make_app(checkpoint=str(app_model), served=True, allow_training=True)

    class Running:  # a trainer of this tab's, still going
        stopped = False

        def running(self):
            return not self.stopped

        def stop(self):
            self.stopped = True

    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.training.trainer = trainer = Running()
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert trainer.stopped and app.return_code == 0


async def test_the_served_palette_draws_its_search_icon_in_the_pages_font(app_model):
    from textual.command import SearchIcon

    app = make_app(checkpoint=str(app_model), served=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.pause()
        assert [icon.icon for icon in app.screen.query(SearchIcon)] == [">"]


def test_a_served_export_names_the_checkpoint_not_where_it_lives(app_model):
    from nietzsche_tui.history.export import to_markdown
    from nietzsche_tui.history.records import Column, StoredExchange

    exchange = StoredExchange(
        kind="generate",
        prompt="p",
        prompt_read="p",
        dropped=[],
        checkpoint_path="/srv/operator/secret/model/epoch_0080.json",
        epoch=80,
        weights_sha256=None,
        mode="window",
        temperatures=[0.5],
        length=3,
        seed=1,
        top_k=None,
        top_p=None,
        columns=[Column(label="0.5", temperature=0.5, text="abc", state="done")],
    )
    assert "/srv/operator" in to_markdown([exchange], "t")
    served = to_markdown([exchange], "t", full_paths=False)
    assert "/srv/operator" not in served and "`model/epoch_0080.json`" in served


def test_one_visitor_evicts_only_their_own_exchanges(tmp_path):
    from tests.helpers import stored

    database = tmp_path / "visits.db"
    operator, _ = open_history(database, max_exchanges=3)
    operator.start_session("test")
    for number in range(3):
        operator.add(stored(f"operator {number}"))
    visitor, _ = open_history(database, max_exchanges=3, evict_own_only=True)
    visitor.start_session("test")
    for number in range(10):
        visitor.add(stored(f"visitor {number}"))
    prompts = [e.prompt for e in visitor.exchanges(limit=None)]
    assert sorted(p for p in prompts if p.startswith("operator")) == ["operator 0", "operator 1", "operator 2"]
    assert sorted(p for p in prompts if p.startswith("visitor")) == ["visitor 7", "visitor 8", "visitor 9"]


def test_serve_refuses_training_without_a_corpus_and_the_owners_history(capsys, monkeypatch, tmp_path):
    from nietzsche_tui.cli.main import main
    from nietzsche_tui.history.store import default_history_path

    assert main(["serve", "--allow-training"]) == 2
    assert "--allow-training needs --corpus" in capsys.readouterr().err
    assert main(["serve", "--history", str(default_history_path())]) == 2
    err = capsys.readouterr().err
    assert "--history names your own history database" in err and err.count("\n") == 1


def test_each_served_app_gets_the_operators_training_bounds(app_model, tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text("abc")
    command = app_command(serve_args("--allow-training", "--corpus", str(corpus), "--max-epochs", "7"))
    bounds = TrainingBounds.parse(command[command.index("--training-bounds") + 1])
    assert bounds == TrainingBounds({"epochs": 7, "layers": 3, "units": 512, "steps_per_epoch": 1000})
    assert build_parser().parse_args(["--training-bounds", bounds.flag()]).training_bounds == bounds
