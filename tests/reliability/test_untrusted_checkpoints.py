"""Hostile and damaged checkpoints are refused with a clear message; nothing in them runs."""

import io
import json
import pickle
import shutil
import subprocess
import sys
import zipfile

import pytest

from nietzsche_tui.contracts.checkpoint import CheckpointError, read_checkpoint
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.engine.weights import MAX_MEMBER_BYTES
from tests.conftest import tiny_train_args

MARKER = "/tmp/nietzsche-tui-pwned"


def clone(source, target):
    target.mkdir(exist_ok=True)
    for suffix in (".json", ".keras"):
        shutil.copy(source / f"epoch_0002{suffix}", target / f"epoch_0002{suffix}")
    return target / "epoch_0002.keras"


def rewrite_archive(path, replace=None, extra=None):
    """Copy a .keras zip, replacing or adding members."""
    replace, extra = replace or {}, extra or {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item.filename, replace.get(item.filename, source.read(item.filename)))
        for name, data in extra.items():
            target.writestr(name, data)
    path.write_bytes(buffer.getvalue())


class Exploit:
    def __reduce__(self):
        return (open, (MARKER, "w"))


def test_a_lambda_layer_is_refused_by_the_engine_and_by_keras_safe_mode(trained_folder, tmp_path):
    import keras

    weights = clone(trained_folder, tmp_path)
    model = keras.Sequential(
        [
            keras.Input((12, 4)),
            keras.layers.Lambda(lambda x: x * 2),
            keras.layers.LSTM(16),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.save(weights)
    with pytest.raises(CheckpointError, match="Lambda"):
        Engine.load(tmp_path)
    with pytest.raises(ValueError, match=r"(?i)lambda|unsafe|safe_mode"):
        keras.models.load_model(weights, safe_mode=True)


def test_the_trainer_refuses_to_resume_from_a_lambda_checkpoint(trained_folder, tiny_corpus, tmp_path, capsys):
    import keras

    from trainer.cli import main as train_main

    weights = clone(trained_folder, tmp_path)
    model = keras.Sequential(
        [
            keras.Input((12, 30)),
            keras.layers.Lambda(lambda x: x),
            keras.layers.LSTM(16),
            keras.layers.Dense(30, activation="softmax"),
        ]
    )
    model.save(weights)
    code = train_main(tiny_train_args(tiny_corpus, tmp_path, 3))
    err = capsys.readouterr().err
    assert code != 0 and "cannot resume from" in err and "Traceback" not in err


def test_pickled_payloads_are_never_unpickled(trained_folder, tmp_path):
    weights = clone(trained_folder, tmp_path)
    payload = pickle.dumps(Exploit())
    rewrite_archive(weights, replace={"model.weights.h5": payload}, extra={"payload.pkl": payload})
    with pytest.raises(CheckpointError, match="unreadable"):
        Engine.load(tmp_path)
    (tmp_path / "epoch_0002.json").write_bytes(payload)
    with pytest.raises(CheckpointError, match="not readable JSON"):
        Engine.load(tmp_path / "epoch_0002.json")
    import os

    assert not os.path.exists(MARKER)


@pytest.mark.parametrize("name", ["../../evil.txt", "/etc/evil", "C:\\evil", "a/../../b"])
def test_path_traversal_member_names_are_refused(trained_folder, tmp_path, name):
    weights = clone(trained_folder, tmp_path)
    rewrite_archive(weights, extra={name: b"x"})
    with pytest.raises(CheckpointError, match="unsafe path"):
        Engine.load(tmp_path)


def test_a_huge_declared_size_is_refused_before_reading(trained_folder, tmp_path):
    weights = clone(trained_folder, tmp_path)
    bomb = b"\0" * (MAX_MEMBER_BYTES + 1)  # compresses to ~65 kB
    rewrite_archive(weights, replace={"config.json": bomb})
    assert weights.stat().st_size < 2_000_000
    with pytest.raises(CheckpointError, match="declares"):
        Engine.load(tmp_path)


def test_huge_metadata_is_refused(trained_folder, tmp_path):
    clone(trained_folder, tmp_path)
    meta = tmp_path / "epoch_0002.json"
    meta.write_text(json.dumps({"padding": "x" * 5_000_000}))
    with pytest.raises(CheckpointError, match="far too large"):
        read_checkpoint(meta)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda w, m: w.write_bytes(w.read_bytes()[:1000]), "truncated|unreadable|not a readable"),
        (lambda w, m: w.write_bytes(b""), "not a readable Keras archive"),
        (lambda w, m: m.write_text("[1, 2, 3]"), "not a JSON object"),
        (lambda w, m: m.write_text('{"format": "nietzsche-tui-checkpoint", "format_version": 3}'), "version 3"),
        (lambda w, m: m.write_text("nul\x00l"), "not readable JSON"),
        (lambda w, m: m.write_text("[" * 100_000), "not readable JSON"),
    ],
)
def test_damaged_checkpoints_are_one_clear_line_in_the_cli(trained_folder, tmp_path, damage, message):
    weights = clone(trained_folder, tmp_path)
    damage(weights, tmp_path / "epoch_0002.json")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nietzsche_tui",
            "generate",
            "--prompt",
            "truth",
            "--checkpoint",
            str(tmp_path / "epoch_0002.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    import re

    assert re.search(message, result.stderr)


def test_wrong_shapes_in_the_weights_are_refused(trained_folder, tmp_path):
    import keras

    weights = clone(trained_folder, tmp_path)
    meta = json.loads((tmp_path / "epoch_0002.json").read_text())
    vocab = len(meta["vocabulary"])
    model = keras.Sequential(
        [keras.Input((12, vocab)), keras.layers.LSTM(24), keras.layers.Dense(vocab, activation="softmax")]
    )
    model.save(weights)
    with pytest.raises(CheckpointError, match="needs"):
        Engine.load(tmp_path)
