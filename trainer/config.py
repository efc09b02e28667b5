"""The recipes: what each sets when its flags are left out (``TrainConfig`` itself, the one
definition of the settings, is the contract in ``nietzsche_tui/contracts/training.py``).

Two recipes train the same architecture (one-hot → LSTM → Dense softmax by default; ``--layers``,
``--units`` and ``--cell`` change it) with the same weight shapes, so the engine and the app treat
their checkpoints alike:

* ``book``: the book's recipe as printed (maxlen 60, step 3, batch 128, RMSprop 0.01, one target
  per window). The default, kept for fidelity.
* ``fast``: trains on every position of longer contiguous sequences (each character is read about
  once per epoch and every position yields a training signal), with gradient clipping and a
  decaying learning rate.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from nietzsche_tui.contracts.training import TrainConfig

BOOK_CORPUS_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"


# The fast recipe's settings, chosen by the quality-against-time benchmark (benchmarks/RESULTS.md).
FAST_RECIPE = {
    "sequence_length": 100,
    "batch_size": 64,
    "learning_rate": 0.02,
    "lr_decay": 0.98,
    "clipnorm": 1.0,
    "epochs": 150,
}


def recipe_defaults(recipe: str) -> dict[str, Any]:
    """The field values a recipe sets when the user does not give them."""
    return dict(FAST_RECIPE) if recipe == "fast" else {}


def config_from(recipe: str, overrides: dict[str, Any]) -> TrainConfig:
    """Build a config: dataclass defaults, then the recipe's, then explicit overrides."""
    values = {**recipe_defaults(recipe), **{k: v for k, v in overrides.items() if v is not None}}
    names = {f.name for f in fields(TrainConfig)}
    return replace(TrainConfig(recipe=recipe), **{k: v for k, v in values.items() if k in names}).validate()
