"""Batches for ``model.fit``, one-hot encoded on the fly from uint8 character indices.

The book vectorises every window up front: 200,278 × 60 × 57 booleans (685 MB, several GB once
Keras converts it). Here only the encoded text (one byte a character) and the window offsets are
kept; each batch is gathered and one-hot encoded when Keras asks for it. The maths is unchanged.
"""

from __future__ import annotations

import math

import keras
import numpy as np


class _OneHotBatches(keras.utils.PyDataset):
    """Shared machinery: a fixed number of batches over shuffled offsets, reshuffled each epoch."""

    def __init__(
        self, encoded: np.ndarray, vocab_size: int, batch_size: int, seed: int, shuffle: bool, max_batches: int | None
    ) -> None:
        super().__init__()
        self.encoded = encoded
        self.eye = np.eye(vocab_size, dtype=np.float32)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.max_batches = max_batches
        self.epoch = 0
        self.offsets = self._offsets_for(0)

    def _offsets_for(self, epoch: int) -> np.ndarray:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Order the data as for ``epoch`` (so a resumed run sees what an uninterrupted one would)."""
        self.epoch = epoch
        self.offsets = self._offsets_for(epoch)

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)

    def _shuffled(self, offsets: np.ndarray, epoch: int) -> np.ndarray:
        if self.shuffle:
            np.random.default_rng([self.seed, epoch]).shuffle(offsets)
        return offsets

    def __len__(self) -> int:
        batches = math.ceil(len(self.offsets) / self.batch_size)
        return min(batches, self.max_batches) if self.max_batches else batches


class WindowBatches(_OneHotBatches):
    """The book recipe: ``maxlen`` characters in, the next character out, windows ``step`` apart."""

    def __init__(
        self,
        encoded: np.ndarray,
        vocab_size: int,
        maxlen: int,
        step: int,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        max_batches: int | None = None,
    ) -> None:
        self.maxlen, self.step = maxlen, step
        super().__init__(encoded, vocab_size, batch_size, seed, shuffle, max_batches)

    @property
    def windows(self) -> int:
        return len(self.offsets)

    def _offsets_for(self, epoch: int) -> np.ndarray:
        # Listing 8-3: range(0, len(text) - maxlen, step), target text[i + maxlen].
        return self._shuffled(np.arange(0, len(self.encoded) - self.maxlen, self.step), epoch)

    def __getitem__(self, index: int):
        starts = self.offsets[index * self.batch_size : (index + 1) * self.batch_size]
        windows = self.encoded[starts[:, None] + np.arange(self.maxlen)]
        return self.eye[windows], self.encoded[starts + self.maxlen].astype(np.int32)


class SequenceBatches(_OneHotBatches):
    """The fast recipe: contiguous sequences, a target after every character.

    Sequences tile the text end to end from a random offset that changes every epoch, so each
    character is read about once per epoch and sequence boundaries move between epochs.
    """

    def __init__(
        self,
        encoded: np.ndarray,
        vocab_size: int,
        sequence_length: int,
        batch_size: int,
        seed: int = 0,
        max_batches: int | None = None,
    ) -> None:
        self.sequence_length = sequence_length
        # The same number of sequences every epoch, whatever the offset (Keras needs a fixed length).
        self.count = max(1, (len(encoded) - 2 * sequence_length) // sequence_length)
        super().__init__(encoded, vocab_size, batch_size, seed, True, max_batches)

    def _offsets_for(self, epoch: int) -> np.ndarray:
        length = self.sequence_length
        shift = int(np.random.default_rng([self.seed, epoch, 1]).integers(length))
        starts = np.arange(shift, len(self.encoded) - length, length)[: self.count]
        return self._shuffled(starts, epoch)

    def __getitem__(self, index: int):
        starts = self.offsets[index * self.batch_size : (index + 1) * self.batch_size]
        positions = starts[:, None] + np.arange(self.sequence_length)
        return self.eye[self.encoded[positions]], self.encoded[positions + 1].astype(np.int32)


def as_dataset(batches: _OneHotBatches):
    """The same batches, in the same order epoch after epoch, as a ``tf.data.Dataset``.

    ``MultiWorkerMirroredStrategy`` shards a dataset among the workers (each keeps its share of
    every global batch); Keras cannot distribute a PyDataset that way. The generator runs once per
    epoch and reshuffles at its end, as Keras does for the PyDataset.
    """
    import tensorflow as tf

    x, y = batches[0]
    # A static batch size lets TensorFlow split every global batch among the workers (an unknown
    # one makes it hand out whole batches instead); so a last, partial batch is left out.
    full = len(batches) if len(batches[len(batches) - 1][0]) == batches.batch_size else len(batches) - 1
    signature = (
        tf.TensorSpec((batches.batch_size, *x.shape[1:]), tf.float32),
        tf.TensorSpec((batches.batch_size, *y.shape[1:]), tf.int32),
    )

    def one_epoch():
        for index in range(full):
            yield batches[index]
        batches.on_epoch_end()

    dataset = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.apply(tf.data.experimental.assert_cardinality(full)).with_options(options)
