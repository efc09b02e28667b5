"""History in the app: every exchange kept as it ends, F6 to find, replay, continue, delete, export."""

import json
import shutil

import pytest

from nietzsche_tui.cli.main import main as cli_main
from nietzsche_tui.contracts.folder import latest_checkpoint, write_metadata
from nietzsche_tui.history.opening import open_history
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.history import HistoryScreen, StoredView
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.helpers import WIDE, history_ready, messages, notified, prompt, ready, saved, settle


async def test_exchanges_are_kept_found_replayed_and_exported(app_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(checkpoint=str(app_model), seed=3, length=40, history="h.db", keep_history=True)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "truth is a woman")
        await prompt(app, pilot, "what then? 🎉")
        await prompt(app, pilot, "/score is there not ground")
        await saved(app, pilot, 3)
        first = app.history.exchanges(limit=None)[-1]
        texts = app.query(Exchange).first().texts()
        assert [c.text for c in first.columns] == texts and first.seed == 3 and first.kind == "temperatures"
        assert first.weights_sha256 and first.epoch == 3
        second = app.history.exchanges(limit=None)[-2]
        assert second.prompt == "what then? 🎉" and second.dropped == ["🎉"]
        await pilot.press("f6")
        screen = app.screen
        assert isinstance(screen, HistoryScreen) and screen.query_one("#history-list").row_count == 3
        await pilot.pause(0.1)
        screen.query_one("#history-search").value = "woman"
        await pilot.pause(0.1)
        assert screen.query_one("#history-list").row_count == 1 and screen.selected.id == first.id
        assert screen.query_one(StoredView).stored.id == first.id
        await pilot.press("ctrl+r")  # replay: back in the chat, the same text again
        await settle(app, pilot)
        assert not isinstance(app.screen, HistoryScreen)
        replayed = app.query(Exchange).last()
        assert replayed.texts() == texts and replayed.replay_of.id == first.id
        assert notified(app, "identical")
        await pilot.press("f6")
        await pilot.press("ctrl+e")
        exported = tmp_path / f"nietzsche-session-{first.session_id}.md"
        assert exported.exists() and "## 1. truth is a woman" in exported.read_text()
        await saved(app, pilot, 4)  # the replay was kept too
        history = app.screen
        history.query_one("#history-search").value = "woman"
        await pilot.pause(0.1)
        table = history.query_one("#history-list")
        assert table.row_count == 2
        table.move_cursor(row=1)  # the older one: the original
        await pilot.pause()
        assert history.selected.id == first.id
        await pilot.press("ctrl+d")  # asks once
        await pilot.pause(0.1)
        assert first.id in {e.id for e in app.history.exchanges(limit=None)}
        assert f"Press Ctrl+D again to delete exchange {first.id}." in messages(app)
        await pilot.press("ctrl+d")
        await pilot.pause(0.1)
        assert first.id not in {e.id for e in app.history.exchanges(limit=None)} and table.row_count == 1


async def test_replay_says_when_the_checkpoint_changed(app_model, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(app_model, folder)
    app = make_app(checkpoint=str(folder), seed=9, length=30, history=str(tmp_path / "h.db"), keep_history=True)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "truth")
        await saved(app, pilot, 1)
        stored = app.history.exchanges()[0]
        # New weights under the same name: the bytes of another model's archive.
        from tests.checkpoints import keras_archive, random_weights

        vocabulary = latest_checkpoint(folder).vocabulary
        (folder / "epoch_0003.keras").write_bytes(keras_archive(random_weights(len(vocabulary), 32, seed=99), 20))
        write_metadata(folder, latest_checkpoint(folder).metadata)
        app.post_message(HistoryScreen.Replay(stored))
        await settle(app, pilot)
        assert "changed" in app.query(Exchange).last().turn.notice
        assert notified(app, "checkpoint file changed")


async def test_resume_reopens_the_last_session(app_model, tmp_path):
    path = str(tmp_path / "h.db")
    app = make_app(checkpoint=str(app_model), seed=1, length=20, history=path, keep_history=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "first words")
        await prompt(app, pilot, "second words")
        await saved(app, pilot, 2)
    again = make_app(checkpoint=str(app_model), history=path, keep_history=True, resume=True)
    async with again.run_test(size=WIDE) as pilot:
        await history_ready(again, pilot)
        await pilot.pause(0.2)
        views = list(again.query(StoredView))
        assert [v.stored.prompt for v in views] == ["first words", "second words"]
        await pilot.press("ctrl+r")  # regenerates the last reopened exchange, with a new seed
        await settle(again, pilot)
        assert again.query(Exchange).last().prompt_typed == "second words"
        # An F6 replay puts its own seed on the status line.
        stored = views[0].stored
        again.post_message(HistoryScreen.Replay(stored))
        await settle(again, pilot)
        assert again.chat_screen.seed == stored.seed == 1
        assert f"seed {stored.seed}" in str(again.chat_screen.status.render())


async def test_no_history_keeps_nothing_and_an_unusable_location_says_so_once(app_model, tmp_path):
    app = make_app(checkpoint=str(app_model), length=10)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await prompt(app, pilot, "truth")
        assert app.history is None
        await pilot.press("f6")
        assert "--no-history" in str(app.screen.query_one("#history-detail").children[0].render())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    app = make_app(checkpoint=str(app_model), length=10, history=str(blocker / "h.db"), keep_history=True)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "truth")
        await prompt(app, pilot, "is")
        warnings = [m for m in messages(app) if "history is off" in m]
        assert len(warnings) == 1 and app.query(Exchange)


async def test_a_stopped_exchange_is_kept_as_stopped(app_model, tmp_path):
    app = make_app(checkpoint=str(app_model), seed=1, length=20_000, history=str(tmp_path / "h.db"), keep_history=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        app.send("truth")
        await pilot.pause(0.2)
        await pilot.press("escape")
        await settle(app, pilot)
        await saved(app, pilot, 1)
        stored = app.history.exchanges()[0]
        assert {c.state for c in stored.columns} == {"stopped"}
        assert stored.columns[0].text == app.query_one(Exchange).texts()[0]


def test_history_and_export_commands(app_model, tmp_path, capsys):
    path = tmp_path / "h.db"
    store, _ = open_history(path)
    store.start_session("test")
    from tests.helpers import stored

    store.add(stored(prompt="beyond good and evil", texts=("free spirits", "x")))
    store.add(stored(prompt="on the prejudices", texts=("of philosophers", "y")))
    store.close()
    assert cli_main(["history", "--history", str(path), "--search", "spirits"]) == 0
    out = capsys.readouterr().out
    assert "beyond good and evil" in out and "prejudices" not in out
    assert cli_main(["history", "--history", str(path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["prompt_typed"] == "on the prejudices"
    column = records[0]["columns"][0]
    assert {"temperature", "text", "prompt", "seed", "mode", "length", "checkpoint", "epoch"} <= set(column)
    assert cli_main(["export", "--history", str(path), "--format", "md", "-o", str(tmp_path / "s.md")]) == 0
    markdown = (tmp_path / "s.md").read_text()
    assert markdown.index("beyond good and evil") < markdown.index("on the prejudices")  # oldest first
    assert cli_main(["export", "--history", str(path), "--all", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["exchanges"]) == 2
    assert cli_main(["history", "--history", str(tmp_path / "none.db")]) == 2


@pytest.mark.slow  # two processes writing at once: a soak, for the thorough run
def test_two_app_instances_on_one_database_keep_every_exchange(app_model, tmp_path):
    """Two real app processes, each chatting into the same history file at the same time."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(root)!r})",
            "from nietzsche_tui.tui.app import make_app",
            "name, model, history = sys.argv[1:4]",
            "app = make_app(checkpoint=model, seed=1, length=20, history=history, keep_history=True)",
            "async def chat(pilot):",
            "    for _ in range(3000):  # 30 s, then the assertions below say what is missing",
            "        if app.engine is not None and app.history is not None:",
            "            break",
            "        await pilot.pause(0.01)",
            "    assert app.history is not None, app.history_off",
            "    for i in range(8):",
            "        app.send(f'{name} {i}')",
            "        while any(w.is_running for w in app.workers if w.group == 'generation'):",
            "            await pilot.pause(0.01)",
            "        await pilot.pause(0.05)",
            "    for _ in range(600):",
            "        if len([e for e in app.history.exchanges(limit=None) if e.prompt.startswith(name)]) >= 8:",
            "            break",
            "        await pilot.pause(0.05)",
            "    app.exit()",
            "app.run(headless=True, auto_pilot=chat)",
        ]
    )
    history = str(tmp_path / "shared.db")
    apps = [
        subprocess.Popen([sys.executable, "-c", script, name, str(app_model), history], stderr=subprocess.PIPE)
        for name in ("left", "right")
    ]
    for process in apps:
        assert process.wait(timeout=120) == 0, process.stderr.read().decode()
    store, _ = open_history(history)
    prompts = sorted(e.prompt for e in store.exchanges(limit=None))
    assert prompts == sorted(f"{name} {i}" for name in ("left", "right") for i in range(8))
    assert len({e.session_id for e in store.exchanges(limit=None)}) == 2


@pytest.mark.slow  # quits mid-stream, twice: the thorough run
@pytest.mark.parametrize("keys", [("ctrl+q",), ("escape", "ctrl+q")], ids=["quit", "stop-then-quit"])
async def test_quitting_while_a_generation_streams_keeps_it_as_stopped(app_model, tmp_path, keys):
    """Ctrl+Q mid-stream (or right after Esc): the generation stops, is saved as stopped, and only
    then the app exits."""
    import asyncio

    database = tmp_path / "h.db"
    app = make_app(checkpoint=str(app_model), seed=3, length=100_000, history=str(database), keep_history=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        app.prompt_input.value = "the free spirit"
        await pilot.press("enter")
        for _ in range(200):
            if app.chat.active is not None and len(app.chat.active.texts()[0]) > 20:
                break
            await pilot.pause(0.02)
        assert app.chat.is_generating
        await pilot.press(*keys)
        for _ in range(200):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
    assert not app.is_running
    store, _ = open_history(database)
    (kept,) = store.exchanges(limit=None)
    assert kept.prompt == "the free spirit" and {c.state for c in kept.columns} == {"stopped"}
    assert all(len(c.text) > 0 for c in kept.columns)


async def test_every_kind_of_stored_exchange_replays_and_continues(run_folder):
    """Temperatures, epochs side by side and /score: each replays as itself and continues from its
    text (a stored /score once crashed the app on Ctrl+R and continued from "/score …")."""
    from nietzsche_tui.tui.widgets.columns import ScoreView

    app = make_app(checkpoint="run", seed=5, length=20, history="h.db", keep_history=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "truth is")
        await pilot.press("f7")
        await prompt(app, pilot, "the free spirit")
        await pilot.press("f7")
        await prompt(app, pilot, "/score hello world")
        await saved(app, pilot, 3)
        stored = {e.kind: e for e in app.history.exchanges(limit=None)}
        assert set(stored) == {"temperatures", "epochs", "score"}
        for kind, exchange in stored.items():
            before = len(app.chat.query(".exchange"))
            app.post_message(HistoryScreen.Replay(exchange))
            await settle(app, pilot)
            assert app.return_code is None and len(app.chat.query(".exchange")) == before + 1
            newest = list(app.chat.query(".exchange"))[-1]
            if kind == "score":
                assert isinstance(newest, ScoreView) and newest.text == "hello world"
            else:
                assert isinstance(newest, Exchange) and newest.texts() == [c.text for c in exchange.columns]
            app.post_message(HistoryScreen.Continue(exchange, 0))
            await settle(app, pilot)
            continued = list(app.chat.query(Exchange))[-1]
            expected = "hello world" if kind == "score" else exchange.prompt + exchange.columns[0].text
            assert continued.prompt_typed == expected


async def test_f6_opens_on_the_search_field_and_the_arrows_move_the_list(app_model, tmp_path):
    from textual.widgets import DataTable, Input

    app = make_app(checkpoint=str(app_model), seed=3, length=10, history=str(tmp_path / "h.db"), keep_history=True)
    async with app.run_test(size=WIDE) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "one")
        await prompt(app, pilot, "two")
        await saved(app, pilot, 2)
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(app.focused, Input) and app.focused.id == "history-search"
        table = screen.query_one("#history-list", DataTable)
        assert table.cursor_row == 0
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == 1 and app.focused.id == "history-search"


async def test_a_narrow_history_preview_shows_one_column(app_model, tmp_path):
    app = make_app(checkpoint=str(app_model), seed=3, length=10, history=str(tmp_path / "h.db"), keep_history=True)
    async with app.run_test(size=(80, 30)) as pilot:
        await history_ready(app, pilot)
        await prompt(app, pilot, "one")
        await saved(app, pilot, 1)
        await pilot.press("f6")
        await pilot.pause()
        screen = app.screen
        assert screen.has_class("-narrow")
        shown = [c for c in screen.query(".stored .column") if c.display]
        assert len(shown) == 1 and shown[0].has_class("-current")
        await pilot.press("ctrl+right")
        await pilot.pause()
        assert screen.column == 1 and len([c for c in screen.query(".stored .column") if c.display]) == 1


def test_the_loss_axis_leaves_the_legend_room_above_the_curves():
    from nietzsche_tui.tui.screens.training import loss_axis

    low, high = loss_axis([3.2, 2.5, 2.2, 2.05])
    assert low < 2.05 and high >= 3.2 + 0.3 * (3.2 - 2.05)
    assert loss_axis([1.5])[1] > 1.5  # one epoch: still a range
