"""A damaged newest checkpoint (issue 19 item 4): the app and `generate` fall back to the newest
epoch that loads and name the damaged file in one line (the trainer's side is in
tests/reliability/test_user_data.py)."""

import pytest

from nietzsche_tui.cli.main import main
from nietzsche_tui.tui.app import make_app
from tests.helpers import WIDE, damage, messages, ready


@pytest.mark.parametrize(("damaged", "how"), [("epoch_0004.keras", "truncated"), ("epoch_0004.json", "garbled")])
def test_generate_falls_back_to_the_newest_epoch_that_loads(run_folder, capsys, damaged, how):
    damage(run_folder / damaged, how)
    argv = ["generate", "--checkpoint", str(run_folder), "--prompt", "truth", "--length", "10", "--seed", "1"]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert f"nietzsche-tui: warning: run: {damaged} is damaged; using epoch 3, the newest that loads" in err


async def test_the_app_falls_back_and_says_which_file_is_damaged(run_folder):
    damage(run_folder / "epoch_0004.keras", "truncated")
    app = make_app(checkpoint="run")
    async with app.run_test(size=WIDE) as pilot:
        await ready(app, pilot)
        assert app.engine is not None and app.engine.checkpoint.epoch == 3
        said = messages(app)
        assert "run: epoch_0004.keras is damaged; using epoch 3, the newest that loads" in said
