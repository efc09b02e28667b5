"""Shared fixtures: tiny corpora and tiny checkpoints made on the spot (seconds, no network)."""

from __future__ import annotations

import os
import sqlite3  # noqa: F401 - before TensorFlow: see below
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config):
    """``pytest -m slow`` is the thorough run: property-based tests draw ten times the examples
    there (``tests.helpers.examples``) and run again with them; the fast loop keeps a tenth."""
    from tests import helpers

    helpers.THOROUGH = (config.option.markexpr or "").strip() == "slow"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    from tests import helpers

    if helpers.THOROUGH:  # before -m deselects: the property-based tests belong to both runs
        for item in items:
            if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
                item.add_marker(pytest.mark.slow)


# TensorFlow's shared libraries carry their own SQLite without FTS5. In a process that loads
# TensorFlow before Python's sqlite3 module, sqlite3 binds to that copy and the history's search
# index cannot be created. The app never imports TensorFlow, but a pytest worker runs trainer
# tests and history tests in one process, so sqlite3 is loaded first, here.

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests never use a GPU, even where there is one
# Built verbatim indexes go to the user cache folder: tests keep theirs apart (one folder per
# worker process), so they neither read a user's cache nor leave files in it.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nietzsche-tui-test-cache-")

REAL_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "nietzsche.txt"

TINY_TEXT = (
    "Supposing that Truth is a woman--what then? Is there not ground for suspecting that all "
    "philosophers, in so far as they have been dogmatists, have failed to understand women--that "
    "the terrible seriousness and clumsy importunity with which they have usually paid their "
    "addresses to Truth, have been unskilled and unseemly methods for winning a woman? Certainly "
    "she has never allowed herself to be won; and at present every kind of dogma stands with sad "
    "and discouraged mien--IF, indeed, it stands at all! "
) * 6


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A few kB of the book's opening, repeated: enough for a handful of batches."""
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def real_corpus() -> Path:
    if not REAL_CORPUS.exists():
        pytest.skip("the full corpus (../shared/corpus/nietzsche.txt) is not present")
    return REAL_CORPUS


def tiny_train_args(corpus: Path, out: Path, epochs: int, steps: int = 4) -> list[str]:
    """`nietzsche-train` flags for a tiny, fast run (the CLI twin of tiny_config)."""
    return [
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--maxlen",
        "12",
        "--units",
        "16",
        "--batch-size",
        "32",
        "--steps-per-epoch",
        str(steps),
        "--val-fraction",
        "0.1",
        "--sample-length",
        "0",
    ]


def tiny_config(corpus: Path, out: Path, **overrides):
    """A small, fast training configuration (16 units, maxlen 12) on the tiny corpus."""
    from trainer.config import config_from

    values = dict(
        corpus=str(corpus),
        out=str(out),
        epochs=2,
        maxlen=12,
        step=3,
        batch_size=32,
        units=16,
        sample_length=20,
        val_fraction=0.1,
        steps_per_epoch=4,
    )
    values.update(overrides)
    return config_from(values.pop("recipe", "book"), values)


@pytest.fixture(scope="session")
def trained_folder(tiny_corpus, tmp_path_factory) -> Path:
    """A training folder holding two real epochs from the trainer (shared, treat as read-only)."""
    from trainer.train import train

    out = tmp_path_factory.mktemp("trained")
    train(tiny_config(tiny_corpus, out))
    return out


def save_fixture_checkpoint(
    model, folder: Path, *, epoch: int, maxlen: int, recipe: str, metrics: dict, seed_passages: list[str]
) -> None:
    """Write ``model`` as a contract-complete checkpoint over the tiny corpus's vocabulary."""
    from nietzsche_tui.contracts.checkpoint import Architecture, CheckpointMetadata, Metrics
    from trainer.callbacks import save_checkpoint

    recurrent = [layer for layer in model.layers if hasattr(layer, "units") and layer.name != "dense"]
    cell = "gru" if type(recurrent[0]).__name__ == "GRU" else "lstm"
    dropout = next((float(layer.rate) for layer in model.layers if hasattr(layer, "rate")), 0.0)
    metadata = CheckpointMetadata(
        epoch=epoch,
        vocabulary=sorted(set(TINY_TEXT.lower())),
        maxlen=maxlen,
        architecture=Architecture(cell, len(recurrent), recurrent[0].units, dropout),
        training={"recipe": recipe},
        metrics=Metrics.from_dict(metrics),
        seed_passages=seed_passages,
    )
    save_checkpoint(model, folder, metadata)


@pytest.fixture(scope="session")
def keras_checkpoint(tiny_corpus, tmp_path_factory):
    """A book-sized (128 units, maxlen 60) random-weight model saved as a checkpoint, and the model."""
    import keras
    import numpy as np

    from trainer.model import build_model

    keras.utils.set_random_seed(7)
    vocabulary = sorted(set(TINY_TEXT.lower()))
    model = build_model(len(vocabulary), 60)
    # Larger-than-initial weights give peaked, varied distributions, a harder test than near-uniform.
    model.set_weights(
        [w * 2.5 for w in model.get_weights()[:2]]
        + [np.random.default_rng(1).normal(0, 0.3, 512)]
        + [w * 12 for w in model.get_weights()[3:]]
    )
    folder = tmp_path_factory.mktemp("keras")
    save_fixture_checkpoint(
        model,
        folder,
        epoch=1,
        maxlen=60,
        recipe="book",
        metrics={"train_loss": 2.0, "val_loss": 2.1},
        seed_passages=[TINY_TEXT.lower()[:60]],
    )
    return folder, model


@pytest.fixture(scope="session")
def app_model(tmp_path_factory) -> Path:
    """A small checkpoint whose weights come from NumPy's portable generator (stable across machines),
    written without Keras. Lives in a folder named ``model`` so the status line reads the same in every run.
    """
    from tests.checkpoints import random_weights, write_checkpoint

    vocabulary = sorted(set(TINY_TEXT.lower()))
    folder = tmp_path_factory.mktemp("app") / "model"
    write_checkpoint(
        folder,
        random_weights(len(vocabulary), 32, seed=2024),
        vocabulary,
        epoch=3,
        maxlen=20,
        seed_passages=["what then? is there "],
    )
    return folder
