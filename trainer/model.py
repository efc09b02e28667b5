"""The book's model (listing 8-4): one-hot characters → LSTM(128) → Dense(vocab, softmax).

The one-hot encoding happens in the input pipeline (``trainer/data.py``), batch by batch, so the
model is exactly the book's and a saved checkpoint contains only built-in layers. The fast recipe
uses the same layers with ``return_sequences=True``: the same weights, a prediction at every
position instead of only the last.
"""

from __future__ import annotations

import keras

from trainer.config import TrainConfig


def build_model(
    vocab_size: int, length: int | None, units: int = 128, every_position: bool = False, dropout: float = 0.0
) -> keras.Model:
    """The book's architecture; ``every_position`` predicts after every character, not just the last.

    ``dropout`` adds a Dropout layer before the softmax: it has no weights and does nothing at
    inference, so the trained weights and the generated text are those of the book's model.
    """
    layers = [
        keras.Input(shape=(length, vocab_size)),
        keras.layers.LSTM(units, return_sequences=every_position, name="lstm"),
    ]
    if dropout > 0:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    layers.append(keras.layers.Dense(vocab_size, activation="softmax", name="dense"))
    return keras.Sequential(layers, name="char_lstm")


def build_training_model(config: TrainConfig, vocab_size: int, steps_per_epoch: int) -> keras.Model:
    """The compiled model a recipe trains: RMSprop as in listing 8-5, plus the recipe's clipping and decay."""
    if config.recipe == "fast":
        model = build_model(vocab_size, config.sequence_length, config.units, True, config.dropout)
    else:
        model = build_model(vocab_size, config.maxlen, config.units, dropout=config.dropout)
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.lr_decay < 1:
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.lr_decay, staircase=True
        )
    optimizer = keras.optimizers.RMSprop(learning_rate=learning_rate, clipnorm=config.clipnorm)
    # Sparse targets: the same cross-entropy as the book's one-hot targets, without the one-hot array.
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model
