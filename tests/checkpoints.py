"""Write contract-complete checkpoints without importing Keras (milliseconds instead of seconds).

The ``.keras`` archive is built the way Keras lays it out: the bundled model's ``config.json`` as
a template with the shapes changed, and the arrays in ``model.weights.h5`` under the groups Keras
uses. Tests that need Keras's own files (parity, resume) still make them with Keras.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np

from nietzsche_tui.checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    atomic_write_bytes,
    checkpoint_names,
    write_metadata,
)
from nietzsche_tui.engine import BUNDLED_MODEL_DIR
from nietzsche_tui.weights import LSTMWeights


def _template() -> dict:
    archive = next(BUNDLED_MODEL_DIR.glob("epoch_*.keras"))
    with zipfile.ZipFile(archive) as bundled:
        return json.loads(bundled.read("config.json"))


_CONFIG = _template()


def random_weights(vocab_size: int, units: int, seed: int, scale: float = 0.6) -> LSTMWeights:
    """Weights from NumPy's portable generator: the same on every machine."""
    rng = np.random.default_rng(seed)
    shapes = [(vocab_size, 4 * units), (units, 4 * units), (4 * units,), (units, vocab_size), (vocab_size,)]
    return LSTMWeights(*(rng.normal(0, scale, shape).astype(np.float32) for shape in shapes))


def keras_archive(weights: LSTMWeights, maxlen: int) -> bytes:
    """The bytes of a ``.keras`` file holding ``weights`` in the book's architecture."""
    config = copy.deepcopy(_CONFIG)
    layers = config["config"]["layers"]
    input_shape = [None, maxlen, weights.vocab_size]
    layers[0]["config"]["batch_shape"] = input_shape
    layers[1]["config"]["units"] = weights.units
    layers[1]["build_config"] = config["build_config"] = {"input_shape": input_shape}
    layers[2]["config"]["units"] = weights.vocab_size
    layers[2]["build_config"] = {"input_shape": [None, weights.units]}
    h5_bytes = io.BytesIO()
    with h5py.File(h5_bytes, "w") as h5:
        for i, name in enumerate(("kernel", "recurrent_kernel", "bias")):
            h5[f"layers/lstm/cell/vars/{i}"] = getattr(weights, name)
        for i, name in enumerate(("dense_kernel", "dense_bias")):
            h5[f"layers/dense/vars/{i}"] = getattr(weights, name)
        h5.create_group("layers/lstm/vars")
        h5.create_group("vars")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("metadata.json", json.dumps({"keras_version": "3", "date_saved": "fixture"}))
        out.writestr("config.json", json.dumps(config))
        out.writestr("model.weights.h5", h5_bytes.getvalue())
    return archive.getvalue()


def write_checkpoint(
    folder: Path,
    weights: LSTMWeights,
    vocabulary: list[str],
    *,
    epoch: int,
    maxlen: int,
    recipe: str = "fast",
    metrics: dict | None = None,
    seed_passages: list[str] | None = None,
) -> Path:
    """Write one complete checkpoint (weights first, metadata last, as the trainer does)."""
    folder.mkdir(parents=True, exist_ok=True)
    _, weights_name = checkpoint_names(epoch)
    atomic_write_bytes(folder / weights_name, keras_archive(weights, maxlen))
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "epoch": epoch,
        "vocabulary": list(vocabulary),
        "maxlen": maxlen,
        "model": {"units": weights.units},
        "training": {"recipe": recipe},
        "metrics": metrics if metrics is not None else {"train_loss": 1.5, "val_loss": 1.4567},
        "seed_passages": seed_passages or [],
    }
    return write_metadata(folder, metadata)
