"""What a browser user may do: the app as `nietzsche-tui serve` runs it, driven headless here (the
real browser tests are in test_browser.py)."""

import argparse
from pathlib import Path

from textual.widgets import Input

from nietzsche_tui.app import make_app
from nietzsche_tui.cli import build_parser
from nietzsche_tui.history import open_history
from nietzsche_tui.history_screen import HistoryScreen
from nietzsche_tui.serve import app_command
from nietzsche_tui.training_screen import StartForm
from tests.app.test_app import WIDE, ready, settle
from tests.app.test_history_app import history_ready, prompt, saved


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
        messages = [n.message for n in app._notifications]
        assert messages.count(app.TRAINING_OFF) == 2
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
        assert form.settings().corpus == str(corpus)


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
    from nietzsche_tui.app import checkpoint_folder
    from nietzsche_tui.engine import BUNDLED_MODELS

    for folder in BUNDLED_MODELS.values():
        assert checkpoint_folder(str(folder)) == "checkpoints"
        assert checkpoint_folder(str(next(folder.glob("epoch_*.json")))) == "checkpoints"
    assert checkpoint_folder("runs/mine") == "runs/mine"
    assert checkpoint_folder("runs/mine/epoch_0003.json") == "runs/mine"


def test_a_port_in_use_is_one_line_before_anything_is_printed(capsys):
    import socket

    from nietzsche_tui.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port} (Address already in use)" in captured.err
