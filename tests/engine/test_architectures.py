"""Every architecture the trainer builds (LSTM or GRU, one to three layers) runs in the NumPy
engine exactly as Keras runs it, in both generation modes, read from a real saved checkpoint."""

import json

import numpy as np
import pytest

from nietzsche_tui.contracts.checkpoint import Architecture, CheckpointError, read_checkpoint
from nietzsche_tui.engine.epochs import generate_epochs
from nietzsche_tui.engine.generation import Engine, GenerationRequest
from nietzsche_tui.engine.prompts import encode_prompt
from tests.conftest import TINY_TEXT, save_fixture_checkpoint

ARCHITECTURES = [
    Architecture("lstm", 2, 24, dropout=0.2),
    Architecture("lstm", 3, 16),
    Architecture("gru", 1, 32),
    Architecture("gru", 2, 24, dropout=0.2),
]
MAXLEN = 30
PROMPT = "what then? is there not ground for suspecting"


def _label(architecture: Architecture) -> str:
    return f"{architecture.layers}x{architecture.cell}"


@pytest.fixture(scope="module", params=ARCHITECTURES, ids=_label)
def engine_and_model(request, tmp_path_factory):
    """A Keras model of the architecture with large random weights (peaked distributions), saved
    as a checkpoint by the trainer's own writer, and the engine that loads it."""
    import keras

    from trainer.model import build_model

    architecture = request.param
    vocabulary = sorted(set(TINY_TEXT.lower()))
    keras.utils.set_random_seed(11)
    model = build_model(len(vocabulary), MAXLEN, architecture)
    rng = np.random.default_rng(5)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
    weights[-2] *= 8  # a sharp softmax
    model.set_weights(weights)
    folder = tmp_path_factory.mktemp(_label(architecture))
    metrics = {"train_loss": 2.0, "val_loss": 2.1}
    save_fixture_checkpoint(model, folder, epoch=1, maxlen=MAXLEN, recipe="fast", metrics=metrics, seed_passages=[])
    return Engine.load(folder), model, architecture


def one_hot(indices, vocab_size):
    return np.eye(vocab_size, dtype=np.float32)[indices]


def test_the_checkpoint_records_the_architecture(engine_and_model):
    engine, model, architecture = engine_and_model
    checkpoint = engine.checkpoint
    assert checkpoint.architecture == architecture
    assert checkpoint.metadata.to_dict()["model"]["parameters"] == model.count_params()
    assert engine.cell == architecture.cell and len(engine.weights.layers) == architecture.layers


def test_window_mode_equals_keras(engine_and_model):
    engine, model, _ = engine_and_model
    vocab = len(engine.vocabulary)
    windows = np.random.default_rng(0).integers(0, vocab, size=(48, MAXLEN))
    theirs = np.asarray(model(one_hot(windows, vocab), training=False), dtype=np.float64)
    ours = engine.window_probabilities(windows)
    assert np.abs(ours - theirs).max() < 1e-5
    assert ours.max() > 0.4  # peaked: not a comparison of near-uniform vectors


def test_sampled_text_has_the_probabilities_keras_gives(engine_and_model):
    engine, model, _ = engine_and_model
    steps = list(engine.generate(GenerationRequest(PROMPT, (1.0,), length=120, seed=3)))
    generated = "".join(step.chars[0] for step in steps)
    text = encode_prompt(PROMPT[-MAXLEN:] + generated, engine.vocabulary).indices
    windows = np.stack([text[i : i + MAXLEN] for i in range(len(generated))])
    theirs = np.asarray(model(one_hot(windows, len(engine.vocabulary)), training=False), dtype=np.float64)
    expected = theirs[np.arange(len(generated)), text[MAXLEN:]]
    assert np.abs(np.array([s.probabilities[0] for s in steps]) - expected).max() < 1e-5


def test_stateful_mode_equals_a_keras_sequence_model(engine_and_model):
    from trainer.model import build_model

    engine, model, architecture = engine_and_model
    steps = list(engine.generate(GenerationRequest(PROMPT, (1.0,), length=60, seed=8, mode="stateful")))
    sequence = encode_prompt(PROMPT + "".join(s.chars[0] for s in steps), engine.vocabulary).indices
    # The same weights in a model that predicts at every position read the whole text from a zero
    # state, as stateful mode does.
    full = build_model(len(engine.vocabulary), None, architecture, every_position=True)
    full.set_weights(model.get_weights())
    outputs = np.asarray(full(one_hot(sequence[None, :], len(engine.vocabulary)), training=False))[0]
    positions = len(PROMPT) - 1 + np.arange(len(steps))
    expected = outputs[positions, sequence[positions + 1]]
    assert np.abs(np.array([s.probabilities[0] for s in steps]) - expected).max() < 1e-5


def test_epochs_side_by_side_equal_each_epoch_alone(engine_and_model, tmp_path):
    """The stacked (one batch for all epochs) network is the same network for every architecture."""
    engine, model, _ = engine_and_model
    rng = np.random.default_rng(1)
    model.set_weights([w + rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    folder = engine.checkpoint.metadata_path.parent
    metrics = {"train_loss": 1.9, "val_loss": 2.0}
    save_fixture_checkpoint(model, folder, epoch=2, maxlen=MAXLEN, recipe="fast", metrics=metrics, seed_passages=[])
    engines = [Engine.load(folder / "epoch_0001.json"), Engine.load(folder / "epoch_0002.json")]
    for mode in ("window", "stateful"):
        request = GenerationRequest(PROMPT, (0.8,), length=40, seed=2, mode=mode)
        together = ["".join(col) for col in zip(*(s.chars for s in generate_epochs(engines, request)), strict=True)]
        alone = ["".join(s.chars[0] for s in e.generate(request)) for e in engines]
        assert together == alone and together[0] != together[1]


def test_metadata_that_disagrees_with_the_archive_is_refused(engine_and_model, tmp_path):
    import json
    import shutil

    from nietzsche_tui.engine.weights import load_weights

    engine, _, architecture = engine_and_model
    source = engine.checkpoint
    shutil.copy(source.weights_path, tmp_path / "epoch_0001.keras")
    metadata = json.loads(source.metadata_path.read_text())
    metadata["model"]["layers"] = architecture.layers + 1
    (tmp_path / "epoch_0001.json").write_text(json.dumps(metadata))
    with pytest.raises(CheckpointError, match="do not belong together"):
        load_weights(read_checkpoint(tmp_path / "epoch_0001.json"))


def test_format_1_checkpoints_still_load():
    """The bundled model was written in format 1 (no cell or layer count): it is the book's LSTM."""
    from nietzsche_tui.locate import BUNDLED_MODEL_DIR

    engine = Engine.load(BUNDLED_MODEL_DIR)
    assert json.loads(engine.checkpoint.metadata_path.read_text())["format_version"] == 1
    assert engine.checkpoint.architecture == Architecture("lstm", 1, 128)
    assert engine.cell == "lstm" and len(engine.weights.layers) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda layers: layers[2].update(class_name="SimpleRNN"), "SimpleRNN"),
        (lambda layers: layers[2].update(class_name="LSTM"), "one kind"),
        (lambda layers: layers[1]["config"].update(reset_after=False), "reset_after=False"),
        (lambda layers: layers[1]["config"].update(activation="relu"), "activations"),
        (lambda layers: layers[2]["config"].update(go_backwards=True), "configured"),
        (lambda layers: layers.insert(2, {"class_name": "Lambda", "config": {}}), "Lambda"),
    ],
)
def test_the_weight_reader_accepts_exactly_the_architectures_the_trainer_builds(tmp_path, change, message):
    import io
    import json
    import zipfile

    from nietzsche_tui.engine.weights import load_weights
    from tests.checkpoints import keras_archive, random_weights, write_checkpoint

    vocabulary = sorted(set(TINY_TEXT.lower()))
    weights = random_weights(len(vocabulary), 8, seed=1, cell="gru", layers=2)
    write_checkpoint(tmp_path, weights, vocabulary, epoch=1, maxlen=MAXLEN)
    assert Engine.load(tmp_path).cell == "gru"  # the untouched archive loads
    with zipfile.ZipFile(io.BytesIO(keras_archive(weights, MAXLEN))) as original:
        members = {name: original.read(name) for name in original.namelist()}
    config = json.loads(members["config.json"])
    change(config["config"]["layers"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "epoch_0001.keras", "w") as damaged:
        for name, data in members.items():
            damaged.writestr(name, data)
    with pytest.raises(CheckpointError, match=message):
        load_weights(read_checkpoint(tmp_path / "epoch_0001.json"))


@pytest.mark.parametrize("prompt", ["wh", PROMPT], ids=["growing window", "full window"])
def test_window_pipeline_gives_each_window_run_alone(engine_and_model, prompt):
    """Window mode keeps a window's worth of runs in flight (``windows.WindowPipeline``); every
    step's distribution is still the one the reference path (``Network.run`` over that window
    alone, from a zero state) gives, within the 1e-5 held against Keras (larger matrix products
    sum in another order), for each of three columns reading different characters, while the
    window grows from a short prompt and once it slides."""
    engine, _, _ = engine_and_model
    request = GenerationRequest(prompt, (1.0, 3.0, 6.0), length=MAXLEN + 20, seed=6)
    steps = list(engine.generate(request).with_distributions())
    start = encode_prompt(prompt, engine.vocabulary).indices
    for column in range(3):
        text = np.concatenate([start, [engine.vocabulary.index(s.chars[column]) for s in steps]])
        for number, step in enumerate(steps):
            window = text[: len(start) + number][-MAXLEN:]
            reference = engine.window_probabilities(window[None, :])[0]
            assert np.abs(step.distributions[column] - reference).max() < 1e-5, (column, number)
    assert len({"".join(s.chars[c] for s in steps) for c in range(3)}) == 3
