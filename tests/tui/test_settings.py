"""The app's settings and its command line are one thing: what ``serve`` passes each tab's app
is ``Settings.argv()``, and the app reads it back with the same parser the user's flags go through."""

import pytest

from nietzsche_tui.cli.main import build_parser
from nietzsche_tui.contracts.training_form import TrainingBounds
from nietzsche_tui.settings import FLAGS, Settings


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(
            checkpoint="/srv/run",
            temperatures=(0.25, 1.0),
            length=7,
            seed=3,
            mode="stateful",
            corpus="/srv/text.txt",
            follow=False,
            history="/srv/h.db",
            resume=True,
            max_history=12,
            served=True,
            allow_training=True,
            training_bounds=TrainingBounds({"epochs": 5, "steps_per_epoch": 9}),
        ),
        Settings(served=True, allow_training=False, keep_history=False),
    ],
)
def test_settings_survive_their_own_command_line(settings):
    assert Settings.from_args(build_parser().parse_args(settings.argv())) == settings


def test_every_setting_but_the_snapshot_switch_has_an_option():
    parser_options = {option for action in build_parser()._actions for option in action.option_strings}
    assert set(FLAGS.values()) <= parser_options
    assert set(Settings.__dataclass_fields__) - set(FLAGS) == {"show_speed"}
