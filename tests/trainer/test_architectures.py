"""The architectures the trainer builds: the book's stays exact, bigger ones keep the GPU fast path."""

import pytest

from nietzsche_tui.contracts.checkpoint import Architecture
from nietzsche_tui.contracts.training import TrainConfig
from trainer.config import config_from
from trainer.model import CUDNN_CONDITIONS, build_model, build_training_model


def test_the_default_is_the_books_model_with_its_exact_parameter_count():
    assert TrainConfig().architecture == Architecture("lstm", 1, 128, 0.0)
    model = build_model(57, 60)
    assert model.count_params() == 102_585 == Architecture().parameters(57)
    assert [type(layer).__name__ for layer in model.layers] == ["LSTM", "Dense"]


@pytest.mark.parametrize(
    ("cell", "layers", "dropout", "recipe"),
    [
        ("lstm", 1, 0.0, "book"),
        ("lstm", 1, 0.3, "fast"),
        ("lstm", 3, 0.3, "book"),
        ("gru", 1, 0.0, "fast"),
        ("gru", 2, 0.3, "book"),
        ("gru", 3, 0.0, "fast"),
    ],
)
def test_every_architecture_meets_the_cudnn_conditions(cell, layers, dropout, recipe):
    """Keras runs LSTM/GRU on cuDNN only under these settings; otherwise it silently falls back to
    a loop several times slower. Every model the trainer can build must qualify."""
    config = config_from(recipe, {"cell": cell, "layers": layers, "units": 8, "dropout": dropout})
    model = build_training_model(config, vocab_size=20, steps_per_epoch=10)
    recurrent = [layer for layer in model.layers if type(layer).__name__ in ("LSTM", "GRU")]
    assert len(recurrent) == layers and {type(layer).__name__.lower() for layer in recurrent} == {cell}
    for layer in recurrent:
        settings = layer.get_config()
        for key, value in CUDNN_CONDITIONS.items():
            assert settings[key] == value, (layer.name, key)
        if cell == "gru":
            assert settings["reset_after"] is True
    dropouts = [layer for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert len(dropouts) == (layers if dropout else 0)
    assert model.count_params() == config.architecture.parameters(20)


def test_bad_architecture_flags_are_one_line(capsys):
    from trainer.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--cell", "rnn"])
    assert exited.value.code == 2
    assert "--cell: invalid choice: 'rnn'" in capsys.readouterr().err
    assert main(["--layers", "0", "--corpus", "x.txt"]) == 2
    assert "--layers must be from 1 to 16" in capsys.readouterr().err
