"""Reloading the model (Ctrl+L) at any moment: after prompts, while generating, while a trainer
writes new epochs, after a failure; and one truth about which model is in use."""

import shutil
import threading
import time
from dataclasses import replace

import pytest
from textual.app import App

import nietzsche_tui.cli.main as cli
from nietzsche_tui.contracts.folder import latest_checkpoint, write_metadata
from nietzsche_tui.tui.app import NietzscheApp, make_app
from nietzsche_tui.tui.screens.chat import ChatScreen
from nietzsche_tui.tui.screens.dialogs import ProblemScreen
from nietzsche_tui.tui.widgets.columns import Exchange
from tests.helpers import WIDE, messages, ready, settle


def copy_model(source, folder, epoch=3):
    """Copy the fixture checkpoint into ``folder`` as ``epoch`` (as a trainer would write it)."""
    folder.mkdir(exist_ok=True)
    checkpoint = latest_checkpoint(source)
    shutil.copy(checkpoint.weights_path, folder / f"epoch_{epoch:04d}.keras")
    write_metadata(folder, replace(checkpoint.metadata, epoch=epoch))


def status_text(app) -> str:
    return str(app.status.render())


@pytest.mark.slow  # a soak: 40 epochs land while the user chats and reloads
async def test_reload_after_prompts_while_a_trainer_writes_new_epochs(app_model, tmp_path):
    folder = tmp_path / "run"
    copy_model(app_model, folder, epoch=1)
    stop = threading.Event()

    def trainer():  # new epochs land in the folder while the user chats and reloads
        for epoch in range(2, 40):
            if stop.is_set():
                return
            copy_model(app_model, folder, epoch)
            time.sleep(0.03)

    app = make_app(checkpoint=str(folder), seed=1, length=600)
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        writer = threading.Thread(target=trainer)
        writer.start()
        try:
            for round_number in range(4):
                app.prompt_input.value = f"prompt {round_number}"
                await pilot.press("enter")
                await pilot.pause(0.05)
                await pilot.press("ctrl+l")  # during generation
                await pilot.pause(0.05)
                await pilot.press("escape")
                await settle(app, pilot)
                await pilot.press("ctrl+l")  # after the exchange ended: the welcome line is long gone
                await settle(app, pilot)
        finally:
            stop.set()
            writer.join()
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert app.engine.checkpoint.epoch == latest_checkpoint(folder).epoch > 1
        assert f"epoch {app.engine.checkpoint.epoch}" in status_text(app)
        assert len(app.query(Exchange)) == 4
        assert not isinstance(app.screen, ProblemScreen)
    assert app.return_code in (None, 0)


async def test_a_failed_reload_tells_one_story_and_ctrl_l_works_in_the_dialog(app_model, tmp_path):
    folder = tmp_path / "run"
    copy_model(app_model, folder, epoch=3)
    app = make_app(checkpoint=str(folder), seed=1, length=20)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        await pilot.press(*"truth", "enter")
        await settle(app, pilot)
        good = app.engine.checkpoint.describe()
        # A newer epoch whose weights are damaged, and the one in use damaged on disk too: nothing
        # in the folder loads, so the reload fails and the old model (in memory) stays. (A damaged
        # newest epoch alone falls back to the one before: tests/tui/test_damaged_checkpoint.py.)
        copy_model(app_model, folder, epoch=4)
        (folder / "epoch_0004.keras").write_bytes(b"PK\x03\x04 damaged")
        (folder / "epoch_0003.keras").write_bytes(b"PK\x03\x04 damaged")
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, ProblemScreen)
        assert f"Still using {good}" in app.screen.problem
        assert f"--out {folder}" in app.screen.remedy and "--corpus" in app.screen.remedy
        assert "reload failed" in status_text(app) and "epoch 3" in status_text(app)
        assert app.engine.checkpoint.epoch == 3
        # Ctrl+L inside the dialog reloads (and fails again, with a fresh dialog).
        dialog = app.screen
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert isinstance(app.screen, ProblemScreen) and app.screen is not dialog
        assert len(app.screen_stack) == 2  # one dialog, not a pile of them
        # Fixed on disk: Ctrl+L from the dialog loads it and the story is "ready" again.
        copy_model(app_model, folder, epoch=4)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert not isinstance(app.screen, ProblemScreen)
        assert app.engine.checkpoint.epoch == 4 and "reload failed" not in status_text(app)
        # The same epoch again is not announced as a reload.
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        said = messages(app)
        assert any(m.startswith("Already the latest") for m in said)
        assert sum(m.startswith("Now using") for m in said) == 1


async def test_an_empty_folder_says_how_to_train_into_it_without_a_dialog(tmp_path):
    empty = tmp_path / "my runs"
    empty.mkdir()
    app = make_app(checkpoint=str(empty))
    async with app.run_test(size=WIDE) as pilot:
        for _ in range(100):
            if "No model yet" in str(app.query_one("#welcome").render()):
                break
            await pilot.pause(0.02)
        welcome = str(app.query_one("#welcome").render())
        assert not isinstance(app.screen, ProblemScreen)  # nothing to dismiss: F5 works at once
        assert f"--out '{empty}'" in welcome and "F5" in welcome  # quoted: it has a space
        assert "no model" in status_text(app)
        await pilot.press("f5")
        assert type(app.screen).__name__ == "TrainingScreen"


async def test_paths_and_descriptions_are_never_markup(app_model, tmp_path):
    folder = tmp_path / "[reverse]ck"
    copy_model(app_model, folder, epoch=3)
    app = make_app(checkpoint=str(folder))
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await ready(app, pilot)
        assert "[reverse]ck/epoch_0003" in str(app.query_one("#welcome").render())
        copy_model(app_model, folder, epoch=4)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        await pilot.pause(0.1)
        assert "[reverse]ck/epoch_0004" in app.export_screenshot().replace("&#160;", " ")
        assert "[reverse]ck" in status_text(app)


def test_a_crash_inside_the_app_exits_non_zero(monkeypatch, app_model):
    def explode(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(ChatScreen, "refresh_status", explode)
    monkeypatch.setattr(NietzscheApp, "run", lambda self: App.run(self, headless=True))
    assert cli.main(["--checkpoint", str(app_model)]) == 1


@pytest.mark.slow
async def test_reload_while_a_real_trainer_writes_epochs(tiny_corpus, tmp_path):
    """The same with `nietzsche-train` itself writing into the folder, as a user would run it."""
    import os
    import subprocess
    import sys

    from tests.conftest import tiny_train_args

    folder = tmp_path / "run"
    command = [sys.executable, "-m", "trainer.cli", *tiny_train_args(tiny_corpus, folder, epochs=30, steps=6)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    trainer = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 120
        while latest_checkpoint(folder) is None:
            assert trainer.poll() is None and time.monotonic() < deadline, "the trainer wrote no epoch"
            time.sleep(0.1)
        app = make_app(checkpoint=str(folder), seed=2, length=400)
        async with app.run_test(size=WIDE) as pilot:
            await ready(app, pilot)
            seen = set()
            while trainer.poll() is None:
                app.prompt_input.value = "truth is"
                await pilot.press("enter")
                await pilot.pause(0.1)
                await pilot.press("ctrl+l")
                await settle(app, pilot)
                seen.add(app.engine.checkpoint.epoch)
                assert not isinstance(app.screen, ProblemScreen)
            await pilot.press("ctrl+l")
            await settle(app, pilot)
            assert app.engine.checkpoint.epoch == 30 and len(seen) >= 3
    finally:
        trainer.kill()
        trainer.wait()
    assert trainer.returncode == 0, trainer.stderr.read()
