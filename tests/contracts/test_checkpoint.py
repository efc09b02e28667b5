"""The checkpoint contract: discovery of latest/best, completeness, validation, clear refusals."""

import json
import shutil

import pytest

from nietzsche_tui.contracts.checkpoint import CheckpointError, epoch_from_name, read_checkpoint
from nietzsche_tui.contracts.folder import (
    atomic_write_bytes,
    best_checkpoint,
    complete_checkpoints,
    latest_checkpoint,
    resolve_checkpoint,
)
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.engine.weights import load_weights


def copy_epochs(source, target, epochs):
    target.mkdir(exist_ok=True)
    for epoch in epochs:
        for suffix in (".json", ".keras"):
            shutil.copy(source / f"epoch_{epoch:04d}{suffix}", target / f"epoch_{epoch:04d}{suffix}")


def set_metadata(path, **changes):
    meta = json.loads(path.read_text())
    for key, value in changes.items():
        target = meta
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    path.write_text(json.dumps(meta))


def test_epoch_is_parsed_from_names_only():
    assert epoch_from_name("epoch_0012.json") == 12
    assert epoch_from_name("epoch_12345.json") == 12345
    for name in ("epoch_0012.keras", ".epoch_0012.json.abc.tmp", "epoch_12.json", "epoch_0012.json~"):
        assert epoch_from_name(name) is None


def test_latest_ignores_temporary_and_incomplete_files(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [1, 2])
    # What interrupted writes leave behind: weights without metadata, temporaries, a torn metadata file.
    shutil.copy(tmp_path / "epoch_0002.keras", tmp_path / "epoch_0009.keras")
    (tmp_path / ".epoch_0010.json.x1.tmp").write_text("{")
    (tmp_path / ".epoch_0011.keras.partial.keras").write_bytes(b"PK")
    (tmp_path / "epoch_0012.json").write_text('{"format": "nietzsche-tui-checkpoint", "epo')
    assert [c.epoch for c in complete_checkpoints(tmp_path)] == [1, 2]
    assert latest_checkpoint(tmp_path).epoch == 2
    assert resolve_checkpoint(tmp_path).epoch == 2


def test_latest_is_by_epoch_number_not_file_time(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [2, 1])  # epoch 1 written last: newest mtime
    assert latest_checkpoint(tmp_path).epoch == 2


def test_best_is_the_lowest_held_out_loss(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [1, 2])
    set_metadata(tmp_path / "epoch_0001.json", **{"metrics.val_loss": 0.5})
    set_metadata(tmp_path / "epoch_0002.json", **{"metrics.val_loss": 0.9})
    assert best_checkpoint(tmp_path).epoch == 1
    assert latest_checkpoint(tmp_path).epoch == 2


def test_vocabulary_round_trips_through_the_checkpoint(trained_folder, tiny_corpus):
    from trainer.corpus import load_corpus

    checkpoint = read_checkpoint(trained_folder / "epoch_0002.json")
    assert checkpoint.vocabulary == load_corpus(tiny_corpus, maxlen=12).vocabulary
    engine = Engine.load(trained_folder / "epoch_0002.keras")
    assert engine.vocabulary == checkpoint.vocabulary and engine.maxlen == 12


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / "file.json"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 99}, "format version 99"),
        ({"format": "something-else"}, "format tag"),
        ({"vocabulary": ["a", "a", "b"]}, "distinct single characters"),
        ({"maxlen": 0}, "'maxlen' must be a positive integer"),
        ({"metrics.val_loss": "low"}, "metrics.val_loss"),
        ({"epoch": 7}, "file name and 'epoch' disagree"),
    ],
)
def test_invalid_metadata_is_refused_with_a_reason(trained_folder, tmp_path, change, message):
    copy_epochs(trained_folder, tmp_path, [1])
    set_metadata(tmp_path / "epoch_0001.json", **change)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(tmp_path / "epoch_0001.json")


def test_metadata_that_is_not_json(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [1])
    (tmp_path / "epoch_0001.json").write_bytes(b"\x89PNG not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        resolve_checkpoint(tmp_path / "epoch_0001.json")


def test_truncated_weights_are_refused(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [1])
    weights = tmp_path / "epoch_0001.keras"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"truncated|unreadable"):
        load_weights(read_checkpoint(tmp_path / "epoch_0001.json"))


def test_vocabulary_that_does_not_match_the_weights(trained_folder, tmp_path):
    copy_epochs(trained_folder, tmp_path, [1])
    meta = json.loads((tmp_path / "epoch_0001.json").read_text())
    set_metadata(tmp_path / "epoch_0001.json", vocabulary=meta["vocabulary"][:-1])
    with pytest.raises(CheckpointError, match="do not belong together"):
        Engine.load(tmp_path)


def test_empty_folder_and_missing_paths_say_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="nietzsche-train"):
        resolve_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no such file"):
        resolve_checkpoint(tmp_path / "missing.keras")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CheckpointError, match="expected a checkpoint"):
        resolve_checkpoint(tmp_path / "notes.txt")


def test_fixture_archives_written_without_keras_load_in_plain_keras(tmp_path):
    """tests/checkpoints.py writes the app's fixtures with h5py; they must be real Keras files."""
    import keras
    import numpy as np

    from nietzsche_tui.engine.generation import Engine
    from tests.checkpoints import random_weights, write_checkpoint
    from tests.conftest import TINY_TEXT

    vocabulary = sorted(set(TINY_TEXT.lower()))
    write_checkpoint(tmp_path, random_weights(len(vocabulary), 24, seed=3), vocabulary, epoch=2, maxlen=15)
    model = keras.models.load_model(tmp_path / "epoch_0002.keras")
    windows = np.random.default_rng(0).integers(0, len(vocabulary), (5, 15))
    theirs = np.asarray(model(np.eye(len(vocabulary), dtype=np.float32)[windows]))
    assert np.abs(theirs - Engine.load(tmp_path).window_probabilities(windows)).max() < 1e-5
