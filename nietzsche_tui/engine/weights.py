"""Read a checkpoint's arrays out of its ``.keras`` archive without Keras.

A ``.keras`` file is a zip holding ``config.json`` (the architecture) and ``model.weights.h5``.
We read both with ``zipfile``, ``json`` and ``h5py`` only: no pickle, no code from the file, no
extraction to disk. The archive is refused unless it is one of the architectures the trainer
builds: one or more stacked LSTM or GRU layers (Dropout between them allowed: it is the identity
at inference) followed by a softmax Dense layer, with shapes that match the checkpoint's metadata.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from nietzsche_tui.contracts.checkpoint import GATES, Checkpoint, CheckpointError

# The book model's weights are 0.4 MB; a member declaring far more is not ours (or is a zip bomb).
MAX_MEMBER_BYTES = 64 * 1024 * 1024
_ALLOWED_LAYERS = {"InputLayer", "LSTM", "GRU", "Dropout", "Dense"}


@dataclass(frozen=True)
class RecurrentWeights:
    """One recurrent layer's arrays, as Keras stores them.

    LSTM: kernel (inputs, 4u), recurrent_kernel (u, 4u), bias (4u,).
    GRU (``reset_after=True``, Keras's default): the same with 3u, and bias (2, 3u): input and
    recurrent biases.
    """

    cell: str
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]

    def arrays(self) -> list[np.ndarray]:
        return [self.kernel, self.recurrent_kernel, self.bias]


@dataclass(frozen=True)
class ModelWeights:
    """one-hot → recurrent layers → Dense(vocab, softmax): the arrays of every model we run."""

    layers: tuple[RecurrentWeights, ...]
    dense_kernel: np.ndarray  # (top units, vocab)
    dense_bias: np.ndarray  # (vocab,)

    @property
    def units(self) -> int:
        """The top layer's width (the one the softmax reads)."""
        return self.layers[-1].units

    @property
    def vocab_size(self) -> int:
        return self.layers[0].kernel.shape[0]

    @property
    def cell(self) -> str:
        return self.layers[0].cell

    def arrays(self) -> list[np.ndarray]:
        """In ``model.get_weights()`` order."""
        return [a for layer in self.layers for a in layer.arrays()] + [self.dense_kernel, self.dense_bias]

    @classmethod
    def from_arrays(cls, cell: str, arrays: list[np.ndarray]) -> ModelWeights:
        """From ``model.get_weights()`` of a model with one cell type: three arrays a layer, then Dense."""
        if len(arrays) < 5 or (len(arrays) - 2) % 3:
            raise ValueError(f"expected 3 arrays per recurrent layer plus 2 for Dense, got {len(arrays)}")
        as32 = [np.asarray(a, dtype=np.float32) for a in arrays]
        layers = tuple(RecurrentWeights(cell, *as32[i : i + 3]) for i in range(0, len(as32) - 2, 3))
        return cls(layers, as32[-2], as32[-1])

    def map(self, function) -> ModelWeights:
        """The same architecture with ``function`` applied to every array (averaging, float16...)."""
        return ModelWeights(
            tuple(RecurrentWeights(r.cell, *(function(a) for a in r.arrays())) for r in self.layers),
            function(self.dense_kernel),
            function(self.dense_bias),
        )


def expected_shapes(cell: str, vocab: int, units: list[int]) -> list[tuple[int, ...]]:
    """The shapes of ``ModelWeights.arrays()`` for this architecture."""
    gates = GATES[cell]
    shapes: list[tuple[int, ...]] = []
    inputs = vocab
    for width in units:
        bias = (gates * width,) if cell == "lstm" else (2, gates * width)
        shapes += [(inputs, gates * width), (width, gates * width), bias]
        inputs = width
    return [*shapes, (inputs, vocab), (vocab,)]


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


def _recurrent_layers(config: object, path: Path) -> tuple[str, int]:
    """Check the architecture is one the trainer builds; return its cell type and layer count."""
    try:
        assert isinstance(config, dict) and config.get("class_name") == "Sequential"
        layers = config["config"]["layers"]
        classes = [layer["class_name"] for layer in layers]
    except (AssertionError, KeyError, TypeError):
        raise CheckpointError(f"{path}: not a Sequential Keras model; not a nietzsche-tui checkpoint.") from None
    unexpected = sorted(set(classes) - _ALLOWED_LAYERS)
    if unexpected:
        raise CheckpointError(
            f"{path}: contains layer types {', '.join(unexpected)}; only LSTM, GRU, Dropout and Dense "
            "layers are accepted (custom or Lambda layers could run code)."
        )
    core = [layer for layer in layers if layer["class_name"] not in ("InputLayer", "Dropout")]
    recurrent, top = core[:-1], core[-1:] if core else []
    kinds = {layer["class_name"] for layer in recurrent}
    if not recurrent or len(kinds) != 1 or [layer["class_name"] for layer in top] != ["Dense"]:
        raise CheckpointError(f"{path}: expected LSTM or GRU layers (one kind) then a Dense layer, found {classes}.")
    for layer in recurrent:
        settings = layer["config"]
        if settings.get("activation") != "tanh" or settings.get("recurrent_activation") != "sigmoid":
            raise CheckpointError(f"{path}: a recurrent layer uses activations this engine does not implement.")
        if settings.get("go_backwards") or settings.get("use_bias") is False:
            raise CheckpointError(f"{path}: a recurrent layer is configured in a way this engine does not run.")
        if layer["class_name"] == "GRU" and settings.get("reset_after") is False:
            raise CheckpointError(f"{path}: a GRU with reset_after=False; this engine runs Keras's default GRU.")
    if top[0]["config"].get("activation") != "softmax":
        raise CheckpointError(f"{path}: the model does not end in a softmax Dense layer.")
    return kinds.pop().lower(), len(recurrent)


def load_weights(checkpoint: Checkpoint) -> ModelWeights:
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
    cell, count = _recurrent_layers(config, path)
    said = checkpoint.architecture
    if (cell, count) != (said.cell, said.layers):
        raise CheckpointError(
            f"{path}: the archive holds {count} {cell.upper()} layer(s) but the metadata says "
            f"{said.layers} {said.cell.upper()}; the weights and metadata do not belong together."
        )
    try:
        with h5py.File(io.BytesIO(weights_blob), "r") as h5:
            # Keras 3 names weight groups after the layer class, numbered in order: lstm, lstm_1, ...
            arrays = []
            for i in range(count):
                group = h5[f"layers/{cell}{f'_{i}' if i else ''}/cell/vars"]
                arrays += [np.asarray(group[str(k)], dtype=np.float32) for k in range(3)]
            dense = h5["layers/dense/vars"]
            arrays += [np.asarray(dense[str(k)], dtype=np.float32) for k in range(2)]
    except Exception as error:  # h5py raises many types for damaged files; all mean the same here
        raise CheckpointError(f"{path}: the weights inside the archive are unreadable ({error}).") from None
    _check_shapes(arrays, checkpoint, path)
    return ModelWeights.from_arrays(cell, arrays)


def _check_shapes(arrays: list[np.ndarray], checkpoint: Checkpoint, path: Path) -> None:
    vocab, said = len(checkpoint.vocabulary), checkpoint.architecture
    expected = expected_shapes(said.cell, vocab, [said.units] * said.layers)
    actual = [a.shape for a in arrays]
    if actual != expected:
        raise CheckpointError(
            f"{path}: the weights have shapes {actual} but the metadata ({vocab}-character vocabulary, "
            f"{said.layers} × {said.units} {said.cell.upper()}) needs {expected}; "
            "the weights and metadata do not belong together."
        )
    if not all(np.isfinite(a).all() for a in arrays):
        raise CheckpointError(f"{path}: the weights contain NaN or infinity (a diverged model).")
