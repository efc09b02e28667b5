"""Runs side by side on F5: other training folders plotted beside this one, a legend naming each
and its settings, a table of each run's best held-out loss and the time it took, live updates."""

import json

from textual.widgets import DataTable, SelectionList

from nietzsche_tui.contracts.events import EVENTS_FILE
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.dialogs import RunsDialog
from nietzsche_tui.tui.screens.training import TrainingScreen
from tests.helpers import WIDE, ready, settle
from tests.tui.conftest import write_epoch


def another_run(folder, epochs):
    folder.mkdir()
    started = {"v": 1, "event": "run_started", "time": 1_800_000_000.0, "run": "other", "pid": 1, "epochs": 9}
    (folder / EVENTS_FILE).write_text(json.dumps(started) + "\n", encoding="utf-8")
    for epoch in range(1, epochs + 1):
        write_epoch(folder, epoch)


async def test_two_folders_on_one_plot_with_their_best_and_a_live_one_updating(run_folder):
    other = run_folder.parent / "other"
    another_run(other, 2)
    app = make_app(checkpoint="run", seed=1, length=20)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5", "c")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, RunsDialog)
        choices = dialog.query_one(SelectionList)
        assert [choices.get_option_at_index(i).prompt.plain for i in range(choices.option_count)] == ["other"]
        choices.select(str(other))
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TrainingScreen) and [w.folder for w in screen.compared] == [other]
        curves = {label: (xs, ys) for label, xs, ys in screen.plotted}
        held = {"run": "run · fast · LSTM 1×16", "other": "other · fast · LSTM 1×16"}  # the legend's names
        assert set(curves) == {held["run"], "run train", held["other"], "other train"}
        assert curves[held["run"]] == ([1.0, 2.0, 3.0, 4.0], [3.2, 2.5, 2.2, 2.05])
        assert curves[held["other"]][1] == [3.2, 2.5]
        table = screen.query_one("#runs", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["run", "other"] and rows[0][1] == "fast · LSTM 1×16"
        assert (rows[0][3], rows[0][4], rows[0][5]) == ("2.050", "4", "2.0")  # best, its epoch, its minutes
        assert rows[1][6] == "running"
        await pilot.press("t")  # against minutes of training
        assert dict((label, xs) for label, xs, _ in screen.plotted)[held["other"]] == [0.5, 1.0]
        write_epoch(other, 3)  # the live run finishes another epoch
        app.poll_training_folder()
        await settle(app, pilot)
        curves = {label: (xs, ys) for label, xs, ys in screen.plotted}
        assert curves[held["other"]] == ([0.5, 1.0, 1.5], [3.2, 2.5, 2.2])
        assert table.get_row_at(1)[2] == "3"


async def test_no_runs_folder_means_no_comparison_in_a_served_tab(run_folder):
    app = make_app(checkpoint="run", seed=1, length=20, served=True)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5", "c")
        await settle(app, pilot)
        assert isinstance(app.screen, TrainingScreen) and not app.screen.compared
