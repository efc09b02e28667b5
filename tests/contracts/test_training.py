"""The training settings are defined once (nietzsche_tui/contracts/training.py): the trainer's
flags, the resume keys, the start form's fields and a served app's bounds all come from it."""

from dataclasses import fields

import pytest

from nietzsche_tui.contracts.training import SETTINGS, Limits, TrainConfig, flag, resume_keys
from nietzsche_tui.contracts.training_form import (
    BOUNDED,
    FORM_FIELDS,
    StartSettings,
    TrainingBounds,
    form_label,
    parse_form_value,
)


def test_every_setting_is_a_trainer_flag_with_its_own_help():
    from trainer.cli import build_parser

    actions = {action.dest: action for action in build_parser()._actions}
    for spec in fields(TrainConfig):
        action = actions[spec.name]
        assert action.option_strings == [flag(spec.name)]
        assert action.help.startswith(SETTINGS[spec.name].help)


def test_the_resume_keys_are_the_settings_marked_so_and_used_by_the_recipe():
    assert {"maxlen", "units", "seed", "learning_rate"} <= set(resume_keys("book"))
    assert "sequence_length" not in resume_keys("book") and "step" not in resume_keys("fast")
    assert not {"epochs", "out", "corpus", "temperatures"} & set(resume_keys("fast"))


@pytest.mark.parametrize(
    ("limits", "value", "violated", "described"),
    [
        (Limits(minimum=1), 0, "at least 1", "at least 1"),
        (Limits(minimum=0, above=True), 0, "more than 0", "a positive number"),
        (Limits(minimum=0, below=1), 1, "less than 1", "in [0, 1)"),
        (Limits(minimum=1, maximum=16), 17, "at most 16", "from 1 to 16"),
        (Limits(minimum=0, above=True), float("nan"), "more than 0", "a positive number"),
        (Limits(minimum=0, maximum=2**32 - 1), 2**33, "at most 4294967295", "from 0 to 4294967295"),
    ],
)
def test_limits_say_what_is_needed(limits, value, violated, described):
    assert limits.violated(value) == violated and limits.describe() == described
    assert limits.violated(limits.minimum + 0.5) is None


def test_the_trainer_and_the_form_check_a_setting_by_the_same_limits():
    with pytest.raises(ValueError, match="--dropout must be in \\[0, 1\\), got 1"):
        TrainConfig(dropout=1.0).validate()
    with pytest.raises(ValueError, match=r"^less than 1 is needed$"):
        parse_form_value("dropout", "1")
    assert parse_form_value("steps_per_epoch", "") is None  # empty means "all batches"
    assert form_label("learning_rate") == "Learning rate (empty: the recipe's)"


def test_the_forms_values_become_the_trainers_flags():
    assert set(FORM_FIELDS) >= {"corpus", "epochs", "layers", "units", "seed"}
    settings = StartSettings.defaults(corpus="t.txt", epochs=5)
    args = settings.arguments("run")
    assert args[:4] == ["--out", "run", "--corpus", "t.txt"] and "--learning-rate" not in args
    assert args[args.index("--epochs") + 1] == "5" and args[args.index("--recipe") + 1] == "fast"


def test_bounds_come_from_the_settings_and_travel_as_one_flag():
    served = TrainingBounds.served()
    assert set(served.limits) == set(BOUNDED) == {"epochs", "layers", "units", "steps_per_epoch"}
    assert TrainingBounds.parse(served.flag()) == served
    assert served.problem(StartSettings.defaults(layers=4)) == "Recurrent layers: at most 3 on this server"
    with pytest.raises(ValueError, match="cannot be bounded"):
        TrainingBounds.parse("seed=3")
