"""The model (listing 8-4, generalised): one-hot characters → LSTM or GRU layers → Dense(vocab, softmax).

The default architecture is the book's: one LSTM(128), 102,585 weights for Nietzsche's 57
characters. ``--layers``, ``--units`` and ``--cell`` stack more or wider layers, or GRUs, the way
char-rnn's ``-num_layers``, ``-rnn_size`` and ``-model`` do. The one-hot encoding happens in the
input pipeline (``trainer/data.py``), batch by batch, so a saved checkpoint contains only built-in
layers that plain Keras loads. The fast recipe uses the same layers with ``return_sequences=True``:
the same weights, a prediction at every position instead of only the last.

Every recurrent layer keeps the settings under which Keras runs the fused cuDNN kernel on a GPU
(tanh, sigmoid recurrent activation, no recurrent dropout, ``unroll=False``, ``use_bias=True``,
GRU ``reset_after=True``); dropout is a separate layer between recurrent layers, never inside
them. ``CUDNN_CONDITIONS`` states those settings and a test checks every model built here.

On a CPU the trainer writes the time loop out instead (``unroll_on_cpu``): Keras's CPU path runs
a ``while`` loop of small steps, and the loop written out as one graph trained the fast recipe
1.2× faster on a 2-core machine (``benchmarks/RESULTS.md``). Checkpoints are still saved with
``unroll=False`` (``saved_as_built``), so a run resumed on a GPU takes the fused kernel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from nietzsche_tui.contracts.checkpoint import Architecture
from nietzsche_tui.contracts.training import TrainConfig

BOOK = Architecture()  # one LSTM(128)

CUDNN_CONDITIONS = {
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
    "recurrent_dropout": 0.0,
    "dropout": 0.0,
    "unroll": False,
    "use_bias": True,
}


def build_model(
    vocab_size: int, length: int | None, architecture: Architecture = BOOK, every_position: bool = False
) -> keras.Model:
    """The architecture as a Keras model; ``every_position`` predicts after every character, not just the last.

    Dropout layers (when ``architecture.dropout`` > 0) follow every recurrent layer: they have no
    weights and do nothing at inference, so the engine runs the trained model without them.
    """
    recurrent = keras.layers.LSTM if architecture.cell == "lstm" else keras.layers.GRU
    layers: list[keras.layers.Layer] = [keras.Input(shape=(length, vocab_size))]
    for i in range(architecture.layers):
        top = i == architecture.layers - 1
        # Keras names the weight groups after the class anyway (lstm, lstm_1, ...); these names agree.
        name = architecture.cell + (f"_{i}" if i else "")
        layers.append(recurrent(architecture.units, return_sequences=every_position or not top, name=name))
        if architecture.dropout > 0:
            layers.append(keras.layers.Dropout(architecture.dropout, name="dropout" + (f"_{i}" if i else "")))
    layers.append(keras.layers.Dense(vocab_size, activation="softmax", name="dense"))
    return keras.Sequential(layers, name=f"char_{architecture.cell}")


def build_training_model(config: TrainConfig, vocab_size: int, steps_per_epoch: int) -> keras.Model:
    """The compiled model a recipe trains: RMSprop as in listing 8-5, plus the recipe's clipping and decay."""
    if config.recipe == "fast":
        model = build_model(vocab_size, config.sequence_length, config.architecture, every_position=True)
    else:
        model = build_model(vocab_size, config.maxlen, config.architecture)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_decay < 1:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.lr_decay, staircase=True
        )
    optimizer = keras.optimizers.RMSprop(learning_rate=learning_rate, clipnorm=config.clipnorm)
    # Sparse targets: the same cross-entropy as the book's one-hot targets, without the one-hot array.
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU))]


def unroll_on_cpu(model: keras.Model) -> None:
    """Write the recurrent layers' time loops out (``unroll=True``) before ``fit`` traces them.

    The same maths as the loop (the losses agree to the fourth decimal after an epoch, and a
    seeded run repeats itself); Keras reads the setting when it traces the training step, so it
    applies to a resumed model too. Only for a CPU: on a GPU it would forgo cuDNN.
    """
    for layer in _recurrent_layers(model):
        layer.unroll = True


@contextlib.contextmanager
def saved_as_built(model: keras.Model) -> Iterator[None]:
    """While saving, the recurrent layers say ``unroll=False`` again (the cuDNN conditions): the
    file describes the model, not how this machine ran it."""
    layers = _recurrent_layers(model)
    unrolled = [layer.unroll for layer in layers]
    for layer in layers:
        layer.unroll = False
    try:
        yield
    finally:
        for layer, value in zip(layers, unrolled, strict=True):
            layer.unroll = value
