"""Training end to end on a tiny corpus: checkpoints, resume, divergence, the CLI's errors."""

import json
import math

import keras
import numpy as np
import pytest

from nietzsche_tui.contracts.checkpoint import read_checkpoint
from nietzsche_tui.contracts.folder import complete_checkpoints, latest_checkpoint
from tests.conftest import tiny_config
from trainer.cli import main as train_main
from trainer.corpus import load_corpus
from trainer.model import CUDNN_CONDITIONS
from trainer.train import TrainingError, TrainingStopped, train


def test_two_epochs_write_two_complete_checkpoints(trained_folder, tiny_corpus):
    checkpoints = complete_checkpoints(trained_folder)
    assert [c.epoch for c in checkpoints] == [1, 2]
    corpus = load_corpus(tiny_corpus, maxlen=12, val_fraction=0.1)
    for checkpoint in checkpoints:
        meta = json.loads(checkpoint.metadata_path.read_text())  # the file, as the contract writes it
        assert meta["vocabulary"] == corpus.vocabulary
        assert meta["maxlen"] == 12 and meta["model"]["units"] == 16
        assert meta["corpus"]["sha256"] == corpus.sha256 and meta["corpus"]["length"] == len(corpus.text)
        assert meta["training"]["recipe"] == "book" and meta["training"]["step"] == 3
        metrics = meta["metrics"]
        assert math.isfinite(metrics["train_loss"]) and math.isfinite(metrics["val_loss"])
        assert metrics["val_bpc"] == pytest.approx(metrics["val_loss"] / math.log(2))
        assert set(meta["versions"]) >= {"tensorflow", "keras", "numpy"}
        assert meta["seed_passages"] and all(6 <= len(p) <= 12 for p in meta["seed_passages"])
        model = keras.models.load_model(checkpoint.weights_path, safe_mode=True)
        assert model.count_params() == meta["model"]["parameters"]
    log = (trained_folder / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch") and len(log) == 3


class StopMidEpoch(keras.callbacks.Callback):
    """Simulates a crash: raises in the middle of the given (0-based) epoch."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch
        self.current = -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            raise RuntimeError("simulated crash")


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_interrupted_fit_resumes_at_the_right_epoch_with_optimizer_state(tiny_corpus, tmp_path):
    config = tiny_config(tiny_corpus, tmp_path, epochs=3, sample_length=0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, extra_callbacks=(StopMidEpoch(1),))
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == [1]
    saved = keras.models.load_model(latest_checkpoint(tmp_path).weights_path)
    assert int(saved.optimizer.iterations) == 4  # one epoch of 4 steps

    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(("iterations", int(self.model.optimizer.iterations)))
            for mine, theirs in zip(self.model.optimizer.variables, saved.optimizer.variables, strict=True):
                assert np.array_equal(np.asarray(mine), np.asarray(theirs))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch", epoch))

    history = train(config, extra_callbacks=(Record(),))
    assert seen == [("iterations", 4), ("epoch", 1), ("epoch", 2)]
    assert [h["epoch"] for h in history] == [2, 3]
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == [1, 2, 3]
    final = keras.models.load_model(latest_checkpoint(tmp_path).weights_path)
    assert int(final.optimizer.iterations) == 12
    # Rerunning when everything is done trains nothing and changes nothing.
    assert train(config) == []


def test_resume_refuses_another_recipe_or_vocabulary(trained_folder, tiny_corpus, tmp_path):
    with pytest.raises(TrainingError, match="--recipe book"):
        train(tiny_config(tiny_corpus, trained_folder, recipe="fast", sequence_length=30, epochs=3))
    other = tmp_path / "other.txt"
    other.write_text("a completely different alphabet! xyz 0123456789 " * 40, encoding="utf-8")
    with pytest.raises(TrainingError, match="another vocabulary"):
        train(tiny_config(other, trained_folder, epochs=3))


def test_fast_recipe_trains_the_same_weight_shapes_unrolled_on_a_cpu_and_saved_as_built(tiny_corpus, tmp_path):
    unrolled: list[bool] = []

    class Unrolled(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            unrolled.append(self.model.layers[0].unroll)

    config = tiny_config(tiny_corpus, tmp_path, recipe="fast", sequence_length=30, batch_size=8, epochs=1)
    train(config, extra_callbacks=(Unrolled(),))
    assert unrolled and all(unrolled)  # on this CPU the time loop is written out while it trains
    checkpoint = latest_checkpoint(tmp_path)
    model = keras.models.load_model(checkpoint.weights_path)
    assert model.layers[0].return_sequences is True
    settings = model.layers[0].get_config()  # the file keeps what a GPU needs for cuDNN
    assert {key: settings[key] for key in CUDNN_CONDITIONS} == CUDNN_CONDITIONS
    assert [w.shape for w in model.get_weights()] == [
        (len(checkpoint.vocabulary), 64),
        (16, 64),
        (64,),
        (16, len(checkpoint.vocabulary)),
        (len(checkpoint.vocabulary),),
    ]
    assert checkpoint.metadata.training["clipnorm"] == 1.0


@pytest.mark.slow  # fault injection into a training run: the slow step
def test_a_diverging_run_stops_without_writing_the_bad_epoch(tiny_corpus, tmp_path, capsys):
    class PoisonWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.set_weights([w * np.nan for w in self.model.get_weights()])

    with pytest.raises(TrainingStopped, match=r"became nan.*last good checkpoint is epoch 1"):
        train(tiny_config(tiny_corpus, tmp_path, epochs=3, sample_length=0), extra_callbacks=(PoisonWeights(),))
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == [1]


def test_per_epoch_samples_start_every_temperature_from_the_same_seed(tiny_corpus, tmp_path, capsys):
    train(tiny_config(tiny_corpus, tmp_path, epochs=1, sample_length=30))
    out = capsys.readouterr().out
    seed = out.split('--- Generating with seed: "')[1].split('"\n')[0]
    sections = out.split("------ temperature: ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == ["0.2", "0.5", "1.0", "1.2"]
    for section in sections:
        body = section.split("\n", 1)[1]
        assert body.startswith(seed) and len(body.split("\n")[0]) >= len(seed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "/no/such/file.txt"], "does not exist"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--val-fraction", "0.9"], "--val-fraction"),
    ],
)
def test_cli_errors_are_one_line(args, message, capsys, tmp_path):
    assert train_main([*args, "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_cli_refuses_unwritable_output_and_keeps_checkpoints(trained_folder, tiny_corpus, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = train_main(["--corpus", str(tiny_corpus), "--out", str(blocker / "sub"), "--maxlen", "12"])
    assert code != 0 and "cannot write checkpoints" in capsys.readouterr().err
    assert read_checkpoint(trained_folder / "epoch_0002.json").epoch == 2


def test_cli_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--corpus",
        "--out",
        "--epochs",
        "--recipe",
        "--maxlen",
        "--step",
        "--batch-size",
        "--learning-rate",
        "--val-fraction",
        "--temperatures",
        "--sample-length",
        "--seed",
        "--steps-per-epoch",
    ):
        assert flag in text


def test_engine_held_out_loss_equals_the_trainers_keras_figure(trained_folder, tiny_corpus):
    from nietzsche_tui.engine.generation import Engine

    corpus = load_corpus(tiny_corpus, maxlen=12, val_fraction=0.1)
    engine = Engine.load(trained_folder)
    assert engine.held_out_loss(corpus.text[corpus.split :]) == pytest.approx(engine.checkpoint.val_loss, abs=1e-4)


def test_dropout_trains_the_same_weights_and_the_engine_reads_them(tiny_corpus, tmp_path):
    from nietzsche_tui.engine.generation import Engine, GenerationRequest

    train(tiny_config(tiny_corpus, tmp_path, recipe="fast", sequence_length=30, batch_size=8, epochs=1, dropout=0.3))
    model = keras.models.load_model(latest_checkpoint(tmp_path).weights_path)
    assert [layer.__class__.__name__ for layer in model.layers] == ["LSTM", "Dropout", "Dense"]
    engine = Engine.load(tmp_path)
    assert len(list(engine.generate(GenerationRequest("truth is", length=5)))) == 5
