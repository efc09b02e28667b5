"""The training screen, the start form, stopping, following a run, and epochs side by side."""

import json
import subprocess
import sys

import pytest

from nietzsche_tui import runs
from nietzsche_tui.cli.main import main as cli_main
from nietzsche_tui.contracts.events import EventWriter
from nietzsche_tui.contracts.training_form import StartSettings
from nietzsche_tui.engine.epochs import generate_epochs
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.tui.app import make_app
from nietzsche_tui.tui.screens.start_form import QuitDialog, StartForm
from nietzsche_tui.tui.screens.training import TrainingScreen
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.conftest import TINY_TEXT
from tests.helpers import WIDE, notified, ready, running, settle
from tests.tui.conftest import write_epoch


async def test_f5_shows_every_epoch_the_plot_and_each_epochs_samples(run_folder):
    app = make_app(checkpoint="run", seed=1, length=20)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        table = screen.query_one("#epochs")
        assert table.row_count == 4 and screen.selected_epoch == 4
        assert [table.get_row_at(i)[2] for i in range(4)] == ["3.200", "2.500", "2.200", "2.050"]
        assert [table.get_row_at(i)[4] for i in range(4)] == ["20 · 3%", "26 · 6%", "32 · 9%", "38 · 12%"]
        samples = str(screen.query_one("#samples-text").render())
        assert "truth is a woman (epoch 4 at 0.2)" in samples and "temperature 1" in samples
        await pilot.press("up")
        assert screen.selected_epoch == 3 and "(epoch 3 at 1.0)" in str(screen.query_one("#samples-text").render())
        assert "the run finished" in str(screen.query_one("#run-status").render())
        await pilot.press("t")
        assert screen.against_time
        await pilot.press("f5")
        assert not isinstance(app.screen, TrainingScreen)
        # Back again (after the history screen in between): the same screen, its axis and epoch kept.
        await pilot.press("f6", "f5")
        await pilot.pause()
        assert app.screen is screen and screen.against_time and screen.selected_epoch == 3


async def test_new_epochs_appear_and_the_chat_follows_them(run_folder):
    app = make_app(checkpoint="run", seed=3, length=100_000)  # streams until stopped
    said = []
    original_notify = app.notify
    app.notify = lambda message, **kwargs: (said.append(message), original_notify(message, **kwargs))[1]
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        assert app.engine.checkpoint.epoch == 4
        app.send("truth is")  # a long generation streams while epoch 5 lands
        await pilot.pause(0.05)
        streaming = app.query_one(Exchange)
        EventWriter(run_folder).write("run_started", pid=subprocess.os.getpid(), initial_epoch=4, epochs=6)
        write_epoch(run_folder, 5)
        await pilot.press("f5")
        app.poll_training_folder()
        await pilot.pause(0.1)
        assert app.screen.query_one("#epochs").row_count == 5 and app.screen.selected_epoch == 5
        await pilot.press("f5")
        for _ in range(500):  # the new epoch loads while the long generation still streams
            if app.engine.checkpoint.epoch == 5:
                break
            await pilot.pause(0.01)
        assert app.engine.checkpoint.epoch == 5
        assert running(app), "the generation must still stream once epoch 5 is loaded"
        app.chat.stop()  # what streamed so far is enough to tell which model wrote it
        await settle(app, pilot)
        assert any("epoch 5" in message for message in said)  # notifications expire: record them
        assert "following the run" in str(app.status.render())
        # The stream that was running kept the model it started with.
        streamed = streaming.texts()[0]
        expected = Engine.load(run_folder / "epoch_0004.json").generate(
            GenerationRequest("truth is", length=len(streamed), seed=3)
        )
        assert len(streamed) > 20 and streamed == "".join(step.chars[0] for step in expected)
        # Follow off: a new epoch is listed but not loaded.
        await pilot.press("ctrl+f")
        write_epoch(run_folder, 6)
        app.poll_training_folder()
        await settle(app, pilot)
        assert app.engine.checkpoint.epoch == 5 and "follow off" in str(app.status.render())


@pytest.fixture
def started(monkeypatch):
    """The (settings, folder) of every trainer the app starts; no process is started."""
    calls = []

    class FakeTrainer:
        def __init__(self, settings, folder, owned=False):
            calls.append((settings, folder))

        def describe(self):
            return "nietzsche-train (fake)"

        def running(self):
            return False

        def failure(self):
            return None

    monkeypatch.setattr(runs, "TrainerProcess", FakeTrainer)
    return calls


async def test_the_start_form_resumes_with_the_folders_settings(run_folder, started, tmp_path):
    (tmp_path / "mine.txt").write_text(TINY_TEXT)
    app = make_app(checkpoint="run", corpus="mine.txt")
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5", "s")
        form = app.screen
        assert isinstance(form, StartForm) and form.resumes
        assert form.query_one("#field-corpus").value == "mine.txt"
        assert form.query_one("#field-epochs").value == "14"  # the latest epoch + 10
        form.query_one("#field-corpus").value = "no-such.txt"
        await pilot.press("enter")
        assert isinstance(app.screen, StartForm) and "does not exist" in str(form.query_one("#start-problem").render())
        form.query_one("#field-corpus").value = "mine.txt"
        form.query_one("#field-units").value = "many"
        await pilot.press("enter")
        assert "a whole number is needed, not 'many'" in str(form.query_one("#start-problem").render())
        form.query_one("#field-units").value = "16"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen)
    settings, folder = started[0]
    assert (
        str(folder) == "run"
        and settings["corpus"] == "mine.txt"
        and settings["epochs"] == 14
        and settings["units"] == 16
    )
    assert settings.arguments(folder)[:4] == ["--out", "run", "--corpus", "mine.txt"]


async def test_a_run_started_elsewhere_is_followed_but_never_stopped(run_folder):
    outsider = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        EventWriter(run_folder).write("run_started", pid=outsider.pid, initial_epoch=4, epochs=9)
        EventWriter(run_folder).write("batch", epoch=5, batch=3, batches=12, loss=1.75, seconds=6.0)
        app = make_app(checkpoint="run")
        async with app.run_test(size=WIDE, notifications=True) as pilot:
            await ready(app, pilot)
            await pilot.press("f5")
            status = str(app.screen.query_one("#run-status").render())
            assert "training: epoch 5 of 9 · batch 3/12 · loss 1.750 · ETA 18 s" in status
            assert app.screen.query_one("#epoch-progress").display
            await pilot.press("x")
            await pilot.pause()
            assert notified(app, "started outside the app")
            await pilot.press("s")
            assert not isinstance(app.screen, StartForm)  # one run per folder
        assert outsider.poll() is None
    finally:
        outsider.kill()
        outsider.wait()


class FakeRun:
    def __init__(self):
        self.stopped = False

    def running(self):
        return not self.stopped

    def stop(self):
        self.stopped = True

    def wait(self, timeout=None):
        return 0

    def describe(self):
        return "nietzsche-train --out run"

    def failure(self):
        return None


@pytest.mark.parametrize(("answer", "stopped"), [("l", False), ("s", True)])
async def test_quitting_during_our_run_asks_once(run_folder, answer, stopped):
    app = make_app(checkpoint="run")
    fake = FakeRun()
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.training.trainer = fake
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, QuitDialog)
        await pilot.press(answer)
        await settle(app, pilot)
    assert app.return_code == 0 and fake.stopped is stopped


async def test_epochs_side_by_side_stream_what_each_epoch_writes_alone(run_folder):
    app = make_app(checkpoint="run", seed=6, length=40)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f7")
        assert "comparing epochs" in str(app.status.render())
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        exchange = app.query_one(Exchange)
        assert exchange.labels == ("epoch 1 · 3.200", "epoch 2 · 2.500", "epoch 3 · 2.200", "epoch 4 · 2.050")
        for epoch, text in zip((1, 2, 3, 4), exchange.texts(), strict=True):
            alone = Engine.load(run_folder / f"epoch_{epoch:04d}.json")
            steps = alone.generate(GenerationRequest("truth", (0.5,), 40, seed=6))
            assert text == "".join(step.chars[0] for step in steps)
        assert len(set(exchange.texts())) == 4


def test_generate_epochs_prints_what_each_checkpoint_prints_alone(run_folder, capsys):
    args = ["generate", "--checkpoint", "run", "--prompt", "truth is", "--seed", "5", "--length", "30"]
    assert cli_main([*args, "--epochs", "1,3,last", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["epoch"] for r in records] == [1, 3, 4] and {r["temperature"] for r in records} == {0.5}
    for record in records:
        alone = ["generate", "--checkpoint", f"run/epoch_{record['epoch']:04d}.json", "--temperatures", "0.5"]
        assert cli_main([*alone, *args[3:], "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["text"] == record["text"]
    assert cli_main([*args, "--epochs"]) == 0  # alone: first, a quarter, half, last
    assert [s.split("\n")[0] for s in capsys.readouterr().out.split("------ ")[1:]] == [
        "epoch: 1",
        "epoch: 2",
        "epoch: 3",
        "epoch: 4",
    ]
    assert cli_main([*args, "--epochs", "7"]) == 2
    assert "no complete checkpoint for epoch 7" in capsys.readouterr().err
    assert cli_main([*args, "--epochs", "1", "--temperatures", "0.2,1"]) == 2


def test_epochs_side_by_side_equal_their_engines_alone_in_stateful_mode(run_folder):
    engines = [Engine.load(run_folder / f"epoch_{e:04d}.json") for e in (2, 4)]
    request = GenerationRequest("is there not", (1.0,), 50, seed=2, mode="stateful")
    together = list(generate_epochs(engines, request))
    for column, engine in enumerate(engines):
        alone = [step.chars[0] for step in engine.generate(request)]
        assert [step.chars[column] for step in together] == alone


@pytest.mark.slow
async def test_train_from_the_app_watch_follow_compare_and_stop(tiny_corpus, tmp_path, monkeypatch):
    """The whole story with a real trainer: empty folder, F5, s, epochs arrive, the chat follows,
    epochs compare, x stops the run with its finished epochs kept."""
    import time

    monkeypatch.chdir(tmp_path)
    app = make_app(checkpoint="run", corpus=str(tiny_corpus), seed=4, length=30)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await pilot.pause(0.3)
        await pilot.press("f5", "s")
        form = app.screen
        assert isinstance(form, StartForm) and not form.resumes
        values = {"epochs": "40", "units": "16", "maxlen": "12", "steps_per_epoch": "4"}
        for name, value in values.items():
            form.query_one(f"#field-{name}").value = value
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        deadline = time.monotonic() + 120
        while len(app.training.watch.checkpoints) < 3:
            assert time.monotonic() < deadline, app.training.watch.state.message
            await pilot.pause(0.2)
        assert screen.query_one("#epochs").row_count >= 3
        assert "Epoch" in str(screen.query_one("#samples-text").render())
        await pilot.press("x")
        app.training.trainer.wait(timeout=60)
        await pilot.pause(1.5)  # the folder poll sees the run end
        state = app.training.watch.state
        assert state.status == "stopped" and "interrupted" in state.message
        saved = [c.epoch for c in app.training.watch.checkpoints]
        assert saved == list(range(1, len(saved) + 1)) and len(saved) < 40
        await pilot.press("f5")
        await settle(app, pilot)
        assert app.engine.checkpoint.epoch == saved[-1]  # followed without a key press
        await pilot.press("f7", *"truth", "enter")
        await settle(app, pilot)
        labels = app.query(Exchange).last().labels
        assert labels[0].startswith("epoch 1") and labels[-1].startswith(f"epoch {saved[-1]}")


async def test_a_trainer_that_fails_at_once_shows_its_one_line_reason(tmp_path, monkeypatch):
    """A trainer that dies before writing any event (say a missing corpus) still explains itself."""
    monkeypatch.chdir(tmp_path)

    def failing(settings, folder):
        code = "import sys; print('nietzsche-train: corpus nope.txt does not exist', file=sys.stderr); sys.exit(2)"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(runs, "trainer_command", failing)
    app = make_app(checkpoint="run")
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await pilot.pause(0.2)
        await pilot.press("f5", "s", "enter")
        app.training.trainer.wait(timeout=30)
        app.poll_training_folder()
        await pilot.pause()
        status = str(app.screen.query_one("#run-status").render())
        assert "the run failed: nietzsche-train: corpus nope.txt does not exist" in status


async def test_comparing_epochs_without_a_training_folder_explains_what_to_do(tmp_path, monkeypatch, app_model):
    monkeypatch.chdir(tmp_path)
    app = make_app(checkpoint=str(app_model / "epoch_0003.json"), seed=1, length=10)
    said = []
    notify = app.notify
    app.notify = lambda message, **kwargs: (said.append(message), notify(message, **kwargs))[1]
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.training.folder = tmp_path / "nowhere"
        await pilot.press("f7", *"truth", "enter")
        await pilot.pause()
        assert not app.query(Exchange) and app.prompt_input.value == "truth"
        assert any("no training folder here yet" in message for message in said)


async def test_the_start_form_resumes_a_gru_stack_with_its_own_shape(tmp_path, monkeypatch, started):
    from tests.checkpoints import random_weights, write_checkpoint
    from tests.tui.conftest import VOCABULARY

    monkeypatch.chdir(tmp_path)
    weights = random_weights(len(VOCABULARY), 12, seed=1, cell="gru", layers=2)
    folder = tmp_path / "gru"
    write_checkpoint(folder, weights, VOCABULARY, epoch=2, maxlen=20)
    app = make_app(checkpoint="gru")
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        await pilot.press("f5", "s")
        form = app.screen
        assert isinstance(form, StartForm)
        assert form.query_one("#field-cell").value == "gru" and form.query_one("#field-layers").value == "2"
        form.query_one("#field-layers").value = "3"
        form.query_one("#field-epochs").value = "5"
        await pilot.press("enter")
        await pilot.pause()
    settings, _ = started[0]
    assert (settings["cell"], settings["layers"], settings["units"]) == ("gru", 3, 12)
    assert settings.arguments("gru")[settings.arguments("gru").index("--cell") :][:4] == [
        "--cell",
        "gru",
        "--layers",
        "3",
    ]


async def test_the_start_form_fits_45_rows_keeps_what_was_typed_and_says_when_nothing_is_left(run_folder):
    from textual.widgets import Input, Static

    from nietzsche_tui.tui.screens.start_form import StartForm
    from tests.helpers import open_start_form

    app = make_app(checkpoint="run")
    async with app.run_test(size=(100, 45)) as pilot:
        form = await open_start_form(app, pilot)
        box = form.query_one("#start-box")
        assert box.max_scroll_y == 0 and box.region.bottom <= 45  # every field on screen at once
        footer_keys = {key.key for key in form.query("FooterKey")}
        assert footer_keys and footer_keys <= {"escape", "enter", "tab"}  # the form's own keys only
        epochs = form.query_one("#field-epochs", Input)
        epochs.value = "4"  # the folder holds epoch 4 already
        await pilot.press("enter")
        await pilot.pause()
        problem = str(form.query_one("#start-problem", Static).render())
        assert "Nothing to do: the folder already holds epoch 4" in problem
        form.query_one("#field-units", Input).value = "96"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        again = app.screen
        assert isinstance(again, StartForm) and again is not form
        assert again.query_one("#field-units", Input).value == "96"
        assert again.query_one("#field-epochs", Input).value == "4"


def test_a_new_run_replaces_the_last_ones_failure(run_folder, monkeypatch):
    from nietzsche_tui import runs

    class Started:
        def __init__(self, settings, folder, owned=False):
            self.folder = folder

    monkeypatch.setattr(runs, "TrainerProcess", Started)
    control = runs.TrainingControl(run_folder)
    control.poll()
    control.watch.state.status, control.watch.state.message = "failed", "the last run's reason"
    control.start(StartSettings.defaults())
    assert control.watch.state.status == "starting" and control.watch.state.message == ""


def test_stopping_twice_sends_one_sigint(tmp_path, monkeypatch):
    from nietzsche_tui import runs

    sent = []

    class Process:
        pid = 1

        def poll(self):
            return None

        def send_signal(self, sig):
            sent.append(sig)

    monkeypatch.setattr(runs.subprocess, "Popen", lambda *args, **kwargs: Process())
    trainer = runs.TrainerProcess(StartSettings.defaults(), tmp_path / "run")
    trainer.stop()
    trainer.stop()
    assert len(sent) == 1


async def test_choosing_epochs_reads_their_files_off_the_ui_thread(run_folder, monkeypatch):
    """The epochs typed in the dialog are looked up in a worker (it reads each epoch's metadata):
    the UI thread never waits for the disk."""
    import threading

    from nietzsche_tui.tui.screens import chat_keys

    readers = []
    original = chat_keys.epoch_checkpoints

    def recording(folder, spec):
        readers.append(threading.current_thread())
        return original(folder, spec)

    monkeypatch.setattr(chat_keys, "epoch_checkpoints", recording)
    app = make_app(checkpoint="run", seed=6, length=20)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        app.screen.action_choose_epochs()
        await pilot.pause()
        await pilot.press(*"1,3", "enter")
        await settle(app, pilot)
        assert readers and threading.main_thread() not in readers
        assert app.screen.compare_epochs and app.screen.epoch_spec == "1,3"
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        assert app.query_one(Exchange).labels == ("epoch 1 · 3.200", "epoch 3 · 2.200")
        app.screen.action_choose_epochs()
        await pilot.pause()
        await pilot.press("ctrl+a", "ctrl+k", *"9", "enter")  # no epoch 9: said, nothing changes
        await settle(app, pilot)
        assert app.screen.epoch_spec == "1,3"
