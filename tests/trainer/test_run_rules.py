"""What a run refuses, when it stops, what it records: resume rules, divergence, the log, seeding."""

import csv
import random

import keras
import numpy as np
import pytest

from nietzsche_tui.contracts.folder import complete_checkpoints
from tests.conftest import TINY_TEXT, tiny_config, tiny_train_args
from trainer.cli import main as train_main
from trainer.corpus import CorpusError
from trainer.train import TrainingError, TrainingStopped, train


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"learning_rate": 0.05}, "--learning-rate"),
        ({"lr_decay": 0.5}, "--lr-decay"),
        ({"clipnorm": 1.0}, "--clipnorm"),
        ({"steps_per_epoch": 3}, "--steps-per-epoch"),
        ({"dropout": 0.2}, "--dropout"),
        ({"val_step": 2}, "--val-step"),
        ({"cell": "gru"}, "--cell"),
        ({"layers": 2}, "--layers"),
        ({"seed": 7}, "--seed"),
    ],
)
def test_resume_refuses_settings_the_saved_state_fixes(trained_folder, tiny_corpus, change, flag):
    before = sorted(p.name for p in trained_folder.iterdir())
    with pytest.raises(TrainingError, match=flag) as refused:
        train(tiny_config(tiny_corpus, trained_folder, epochs=3, **change))
    assert "\n" not in str(refused.value)
    assert sorted(p.name for p in trained_folder.iterdir()) == before  # nothing written


def test_resume_refuses_another_text_with_the_same_vocabulary(trained_folder, tmp_path):
    shuffled = list(TINY_TEXT)
    random.Random(3).shuffle(shuffled)
    other = tmp_path / "same-letters.txt"
    other.write_text("".join(shuffled), encoding="utf-8")
    with pytest.raises(TrainingError, match="another text"):
        train(tiny_config(other, trained_folder, epochs=3))


class Poison(keras.callbacks.Callback):
    """Blow the softmax up after a given batch of a given (0-based) epoch: finite, enormous losses."""

    def __init__(self, epoch: int, batch: int = 1) -> None:
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            weights = self.model.get_weights()
            self.model.set_weights([*weights[:-2], weights[-2] * 1e6, weights[-1]])


def read_log(folder):
    with open(folder / "log.csv", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_an_exploding_first_epoch_is_not_saved_and_the_run_fails(tiny_corpus, tmp_path):
    with pytest.raises(TrainingStopped, match="first batch"):
        train(tiny_config(tiny_corpus, tmp_path, epochs=2, sample_length=0), extra_callbacks=(Poison(0),))
    assert complete_checkpoints(tmp_path) == []
    assert not any(p.suffix == ".keras" for p in tmp_path.iterdir())
    assert not (tmp_path / "log.csv").exists() or read_log(tmp_path) == []


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_the_log_holds_exactly_the_saved_epochs(tiny_corpus, tmp_path):
    config = tiny_config(tiny_corpus, tmp_path, epochs=3, sample_length=0, lr_decay=0.5)
    with pytest.raises(TrainingStopped):
        train(config, extra_callbacks=(Poison(2),))
    rows = read_log(tmp_path)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [float(row["learning_rate"]) for row in rows] == pytest.approx([0.01, 0.005])
    assert float(rows[1]["total_seconds"]) > float(rows[0]["total_seconds"]) > 0
    train(config)  # rerun: resumes at epoch 3, no repeated rows
    rows = read_log(tmp_path)
    assert [row["epoch"] for row in rows] == ["1", "2", "3"]
    assert float(rows[2]["learning_rate"]) == pytest.approx(0.0025)
    metrics = complete_checkpoints(tmp_path)[-1].metadata.metrics
    assert metrics.learning_rate == pytest.approx(0.0025)


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_a_diverging_cli_run_exits_non_zero(tiny_corpus, tmp_path, capsys):
    args = tiny_train_args(tiny_corpus, tmp_path, epochs=3)
    code = train_main([*args, "--learning-rate", "1e9"])
    err = capsys.readouterr().err.strip()
    assert code == 3 and "training stopped" in err and "\n" not in err
    assert "Done" not in capsys.readouterr().out


def test_one_distinct_character_is_refused_before_training(tmp_path):
    corpus = tmp_path / "a.txt"
    corpus.write_text("a" * 5000, encoding="utf-8")
    with pytest.raises(CorpusError, match="at least 2"):
        train(tiny_config(corpus, tmp_path / "out", epochs=1))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_vocabulary_too_large_for_the_app_is_refused_before_training(tmp_path, capsys):
    corpus = tmp_path / "cjk.txt"
    rng = np.random.default_rng(0)
    corpus.write_text("".join(chr(0x4E00 + int(i)) for i in rng.integers(0, 20_000, 200_000)), encoding="utf-8")
    code = train_main(["--corpus", str(corpus), "--out", str(tmp_path / "out"), "--units", "512", "--maxlen", "12"])
    err = capsys.readouterr().err
    assert code == 2 and "more than the app loads" in err
    assert not any((tmp_path / "out").glob("epoch_*"))


@pytest.mark.slow  # three training runs: the thorough run keeps --seed's promise
def test_the_same_seed_gives_the_same_losses(tiny_corpus, tmp_path):
    runs = []
    for name in ("a", "b"):
        train(tiny_config(tiny_corpus, tmp_path / name, epochs=1, sample_length=0, seed=11, dropout=0.2))
        runs.append(complete_checkpoints(tmp_path / name)[-1].metadata.metrics)
    assert runs[0].train_loss == runs[1].train_loss and runs[0].val_loss == runs[1].val_loss
    train(tiny_config(tiny_corpus, tmp_path / "c", epochs=1, sample_length=0, seed=12, dropout=0.2))
    assert complete_checkpoints(tmp_path / "c")[-1].metadata.metrics.train_loss != runs[0].train_loss


def test_dropout_is_a_cli_flag_recorded_in_the_checkpoint(tiny_corpus, tmp_path):
    assert train_main([*tiny_train_args(tiny_corpus, tmp_path, epochs=1), "--dropout", "0.25"]) == 0
    checkpoint = complete_checkpoints(tmp_path)[-1]
    assert checkpoint.metadata.training["dropout"] == 0.25
    assert "Dropout" in checkpoint.weights_path.read_bytes().decode("latin-1")


def test_control_characters_in_the_corpus_are_warned_about(tmp_path, capsys):
    corpus = tmp_path / "bell.txt"
    corpus.write_text(TINY_TEXT + "\x07 ding \x1b[0m", encoding="utf-8")
    train(tiny_config(corpus, tmp_path / "out", epochs=1, sample_length=40, temperatures=(1.0,)))
    captured = capsys.readouterr()
    assert "control characters" in captured.err and "'\\x07'" in captured.err
    assert "\x07" not in captured.out and "\x1b" not in captured.out  # samples print safely


@pytest.mark.parametrize(
    ("change", "suggested"),
    [
        ({"keep_case": True}, "resume with no --keep-case (leave it out)"),
        ({"clipnorm": 2.0}, "resume with no --clipnorm (leave it out)"),
        ({"dropout": 0.1}, "resume with --dropout 0.0"),
    ],
)
def test_a_resume_refusal_suggests_flags_that_can_be_typed(trained_folder, tiny_corpus, change, suggested):
    with pytest.raises(TrainingError) as refused:
        train(tiny_config(tiny_corpus, trained_folder, epochs=3, **change))
    assert suggested in str(refused.value) and "False" not in str(refused.value) and "None" not in str(refused.value)


@pytest.mark.slow  # real processes or a training run: the slow step
def test_the_book_recipe_ignores_a_setting_it_never_uses_on_resume(trained_folder, tiny_corpus, tmp_path):
    import shutil

    folder = tmp_path / "book"
    shutil.copytree(trained_folder, folder)
    assert tiny_config(tiny_corpus, folder).recipe == "book"
    train(tiny_config(tiny_corpus, folder, epochs=3, sequence_length=80))
    assert [c.epoch for c in complete_checkpoints(folder)][-1] == 3


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--clipnorm", "-1"], "--clipnorm must be a positive number"),
        (["--clipnorm", "0"], "--clipnorm must be a positive number"),
        (["--clipnorm", "nan"], "--clipnorm must be a positive number"),
        (["--seed", "-1"], "--seed must be from 0 to 4294967295"),
        (["--seed", str(2**33)], "--seed must be from 0 to 4294967295"),
    ],
)
def test_bad_numbers_are_refused_naming_the_flag_before_tensorflow_works(tiny_corpus, tmp_path, capsys, flags, said):
    assert train_main([*tiny_train_args(tiny_corpus, tmp_path / "run", 1), *flags]) != 0
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_bundled_model_folder_is_not_resumed(tiny_corpus, capsys):
    from nietzsche_tui.locate import BUNDLED_MODEL_DIR

    before = sorted((p.name, p.stat().st_mtime_ns) for p in BUNDLED_MODEL_DIR.iterdir())
    assert train_main([*tiny_train_args(tiny_corpus, BUNDLED_MODEL_DIR, 99)]) != 0
    err = capsys.readouterr().err
    assert "holds a bundled model" in err and "compile()" not in err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in BUNDLED_MODEL_DIR.iterdir()) == before


@pytest.mark.slow  # real processes or a training run: the slow step
def test_a_resume_from_metadata_without_a_train_loss_works(trained_folder, tiny_corpus, tmp_path):
    import json
    import shutil

    folder = tmp_path / "no-train-loss"
    shutil.copytree(trained_folder, folder)
    for metadata in folder.glob("epoch_*.json"):
        record = json.loads(metadata.read_text())
        del record["metrics"]["train_loss"]
        metadata.write_text(json.dumps(record))
    train(tiny_config(tiny_corpus, folder, epochs=3))
    assert [c.epoch for c in complete_checkpoints(folder)][-1] == 3
