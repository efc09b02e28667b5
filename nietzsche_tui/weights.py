"""Read the LSTM and Dense arrays out of a checkpoint's ``.keras`` archive without Keras.

A ``.keras`` file is a zip holding ``config.json`` (the architecture) and ``model.weights.h5``.
We read both with ``zipfile``, ``json`` and ``h5py`` only: no pickle, no code from the file, no
extraction to disk. The archive is refused unless it is exactly the book's architecture (an LSTM
followed by a softmax Dense layer) with shapes that match the checkpoint's vocabulary and units.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from nietzsche_tui.checkpoint import Checkpoint, CheckpointError

# The book model's weights are 0.4 MB; a member declaring far more is not ours (or is a zip bomb).
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_ALLOWED_LAYERS = {"InputLayer", "LSTM", "Dropout", "Dense"}  # Dropout: identity at inference


@dataclass(frozen=True)
class LSTMWeights:
    """The arrays of one-hot → LSTM(units) → Dense(vocab, softmax), in Keras's gate order i, f, c, o."""

    kernel: np.ndarray  # (vocab, 4 * units)
    recurrent_kernel: np.ndarray  # (units, 4 * units)
    bias: np.ndarray  # (4 * units,)
    dense_kernel: np.ndarray  # (units, vocab)
    dense_bias: np.ndarray  # (vocab,)

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    @property
    def vocab_size(self) -> int:
        return self.kernel.shape[0]


def _read_member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CheckpointError(f"{path}: the archive has no {name}; is it a Keras model file?") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise CheckpointError(
            f"{path}: {name} declares {info.file_size} bytes, more than any model of this "
            "architecture; refusing to read it."
        )
    data = archive.read(name)
    if len(data) > MAX_MEMBER_BYTES:
        raise CheckpointError(f"{path}: {name} is larger than it declares; refusing it.")
    return data


def _layer_names(config: object, path: Path) -> tuple[str, str]:
    """Check the architecture is the book's and return the LSTM and Dense layer names."""
    try:
        assert isinstance(config, dict) and config.get("class_name") == "Sequential"
        layers = config["config"]["layers"]
        classes = [layer["class_name"] for layer in layers]
    except (AssertionError, KeyError, TypeError):
        raise CheckpointError(f"{path}: not a Sequential Keras model; not a nietzsche-tui checkpoint.") from None
    unexpected = sorted(set(classes) - _ALLOWED_LAYERS)
    if unexpected:
        raise CheckpointError(
            f"{path}: contains layer types {', '.join(unexpected)}; only the book's LSTM and Dense "
            "layers are accepted (custom or Lambda layers could run code)."
        )
    core = [layer for layer in layers if layer["class_name"] not in ("InputLayer", "Dropout")]
    if [layer["class_name"] for layer in core] != ["LSTM", "Dense"]:
        raise CheckpointError(f"{path}: expected exactly an LSTM then a Dense layer, found {classes}.")
    lstm, dense = (layer["config"] for layer in core)
    if lstm.get("activation") != "tanh" or lstm.get("recurrent_activation") != "sigmoid":
        raise CheckpointError(f"{path}: the LSTM uses activations this engine does not implement.")
    if dense.get("activation") != "softmax" or lstm.get("go_backwards"):
        raise CheckpointError(f"{path}: the model is not the book's LSTM → softmax architecture.")
    return str(lstm["name"]), str(dense["name"])


def load_weights(checkpoint: Checkpoint) -> LSTMWeights:
    """Load and validate the NumPy arrays of a checkpoint (raises CheckpointError, never more)."""
    path = checkpoint.weights_path
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name:
                    raise CheckpointError(f"{path}: archive member {name!r} has an unsafe path; refusing it.")
            config = json.loads(_read_member(archive, "config.json", path))
            weights_blob = _read_member(archive, "model.weights.h5", path)
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, ValueError, RecursionError, EOFError) as error:
        raise CheckpointError(f"{path}: not a readable Keras archive ({error}); it may be truncated.") from None
    lstm_name, dense_name = _layer_names(config, path)
    try:
        with h5py.File(io.BytesIO(weights_blob), "r") as h5:
            # Keras 3 files name weight groups after the layer class ("lstm"); older ones used the
            # layer's own name. With exactly one LSTM and one Dense, either finds the right group.
            lstm = _group(h5, ("layers/lstm", f"layers/{lstm_name}"), "cell/vars")
            dense = _group(h5, ("layers/dense", f"layers/{dense_name}"), "vars")
            arrays = [np.asarray(lstm[str(i)], dtype=np.float32) for i in range(3)]
            arrays += [np.asarray(dense[str(i)], dtype=np.float32) for i in range(2)]
    except Exception as error:  # h5py raises many types for damaged files; all mean the same here
        raise CheckpointError(f"{path}: the weights inside the archive are unreadable ({error}).") from None
    weights = LSTMWeights(*arrays)
    _check_shapes(weights, checkpoint, path)
    return weights


def _group(h5: h5py.File, candidates: tuple[str, ...], inner: str) -> h5py.Group:
    for candidate in candidates:
        if f"{candidate}/{inner}" in h5:
            return h5[f"{candidate}/{inner}"]
    raise KeyError(f"no weights group {candidates[0]}/{inner}")


def _check_shapes(weights: LSTMWeights, checkpoint: Checkpoint, path: Path) -> None:
    vocab, units = len(checkpoint.vocabulary), checkpoint.units
    expected = {
        "kernel": (vocab, 4 * units),
        "recurrent_kernel": (units, 4 * units),
        "bias": (4 * units,),
        "dense_kernel": (units, vocab),
        "dense_bias": (vocab,),
    }
    for name, shape in expected.items():
        actual = getattr(weights, name).shape
        if actual != shape:
            raise CheckpointError(
                f"{path}: {name} has shape {actual} but the metadata ({vocab}-character vocabulary, "
                f"{units} units) needs {shape}; the weights and metadata do not belong together."
            )
    if not all(np.isfinite(getattr(weights, name)).all() for name in expected):
        raise CheckpointError(f"{path}: the weights contain NaN or infinity (a diverged model).")
