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

from nietzsche_tui.contracts.checkpoint import Architecture, CheckpointMetadata, Metrics, checkpoint_names
from nietzsche_tui.contracts.folder import atomic_write_bytes, write_metadata
from nietzsche_tui.engine.weights import ModelWeights, expected_shapes
from nietzsche_tui.locate import BUNDLED_MODEL_DIR


def _template() -> dict:
    archive = next(BUNDLED_MODEL_DIR.glob("epoch_*.keras"))
    with zipfile.ZipFile(archive) as bundled:
        return json.loads(bundled.read("config.json"))


_CONFIG = _template()


def random_weights(
    vocab_size: int, units: int, seed: int, scale: float = 0.6, cell: str = "lstm", layers: int = 1
) -> ModelWeights:
    """Weights from NumPy's portable generator: the same on every machine."""
    rng = np.random.default_rng(seed)
    shapes = expected_shapes(cell, vocab_size, [units] * layers)
    return ModelWeights.from_arrays(cell, [rng.normal(0, scale, shape).astype(np.float32) for shape in shapes])


def keras_archive(weights: ModelWeights, maxlen: int) -> bytes:
    """The bytes of a ``.keras`` file holding ``weights``: the bundled model's layout, with one
    recurrent layer config per layer (class, name, width, return_sequences) and the arrays under
    the groups Keras uses (lstm, lstm_1, ...; gru, gru_1, ...)."""
    config = copy.deepcopy(_CONFIG)
    input_layer, lstm_template, dense = config["config"]["layers"]
    input_shape = [None, maxlen, weights.vocab_size]
    input_layer["config"]["batch_shape"] = input_shape
    config["build_config"] = {"input_shape": input_shape}
    recurrent, inputs = [], input_shape
    for i, layer in enumerate(weights.layers):
        name = weights.cell + (f"_{i}" if i else "")
        entry = copy.deepcopy(lstm_template)
        entry["class_name"] = weights.cell.upper()
        entry["config"].update(name=name, units=layer.units, return_sequences=i < len(weights.layers) - 1)
        if weights.cell == "gru":
            entry["config"].pop("unit_forget_bias", None)
            entry["config"]["reset_after"] = True
        entry["build_config"] = {"input_shape": inputs}
        inputs = [None, maxlen, layer.units]
        recurrent.append(entry)
    dense["config"]["units"] = weights.vocab_size
    dense["build_config"] = {"input_shape": [None, weights.units]}
    config["config"]["layers"] = [input_layer, *recurrent, dense]
    h5_bytes = io.BytesIO()
    with h5py.File(h5_bytes, "w") as h5:
        for entry, layer in zip(recurrent, weights.layers, strict=True):
            for k, array in enumerate(layer.arrays()):
                h5[f"layers/{entry['config']['name']}/cell/vars/{k}"] = array
            h5.create_group(f"layers/{entry['config']['name']}/vars")
        h5["layers/dense/vars/0"] = weights.dense_kernel
        h5["layers/dense/vars/1"] = weights.dense_bias
        h5.create_group("vars")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("metadata.json", json.dumps({"keras_version": "3", "date_saved": "fixture"}))
        out.writestr("config.json", json.dumps(config))
        out.writestr("model.weights.h5", h5_bytes.getvalue())
    return archive.getvalue()


def write_checkpoint(
    folder: Path,
    weights: ModelWeights,
    vocabulary: list[str],
    *,
    epoch: int,
    maxlen: int,
    recipe: str = "fast",
    metrics: dict | None = None,
    seed_passages: list[str] | None = None,
    lowercased: bool = True,
    corpus: dict | None = None,
) -> Path:
    """Write one complete checkpoint (weights first, metadata last, as the trainer does)."""
    folder.mkdir(parents=True, exist_ok=True)
    _, weights_name = checkpoint_names(epoch)
    atomic_write_bytes(folder / weights_name, keras_archive(weights, maxlen))
    metadata = CheckpointMetadata(
        epoch=epoch,
        vocabulary=list(vocabulary),
        maxlen=maxlen,
        architecture=Architecture(weights.cell, len(weights.layers), weights.units),
        training={"recipe": recipe},
        metrics=Metrics.from_dict(metrics if metrics is not None else {"train_loss": 1.5, "val_loss": 1.4567}),
        seed_passages=seed_passages or [],
        corpus={**(corpus or {}), "lowercased": lowercased},
        created_utc="fixture",
    )
    return write_metadata(folder, metadata)
