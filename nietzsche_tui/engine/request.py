"""What a generation is asked and what each step gives: plain records, without NumPy.

The interface holds these (a turn's request, its columns, the steps it receives) before the model
maths is imported: the app draws its first frame without NumPy and imports the engine in the
worker that loads the model. ``generation.py`` computes with them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MODES = ("window", "stateful")
DEFAULT_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
DEFAULT_LENGTH = 400  # characters per column
EPOCHS_TEMPERATURE = 0.5  # epochs (and models) side by side compare at one temperature unless one is given


def check_temperature(temperature: float) -> float:
    """Return the temperature as a float, or raise ValueError when it is negative or not finite."""
    value = float(temperature)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"temperature must be a finite number >= 0 (0 means greedy), got {temperature!r}")
    return value


def comparison_temperature(temperatures: tuple[float, ...]) -> float:
    """The one temperature of a comparison (epochs or models side by side): the one given, when
    exactly one was, else EPOCHS_TEMPERATURE."""
    return temperatures[0] if len(temperatures) == 1 else EPOCHS_TEMPERATURE


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that determines a generation; equal requests give equal text."""

    prompt: str
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES
    length: int = DEFAULT_LENGTH
    seed: int = 0
    mode: str = "window"
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperatures", tuple(check_temperature(t) for t in self.temperatures))
        if not self.temperatures:
            raise ValueError("at least one temperature is needed")
        if self.length < 0:
            raise ValueError(f"length must be >= 0, got {self.length}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top-k must be at least 1, got {self.top_k}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top-p must be in (0, 1], got {self.top_p}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class Step:
    """One generation step: the new character of every column and the probability the model gave it.

    ``distributions`` (one untempered distribution per column) is filled only when asked for
    (``Generation.with_distributions``), so ordinary generation copies nothing.
    """

    number: int
    chars: tuple[str, ...]
    probabilities: tuple[float, ...]
    # (columns, vocabulary), or one array per column when their vocabularies differ (models side by side)
    distributions: np.ndarray | Sequence[np.ndarray] | None = None


@dataclass(frozen=True)
class Columns:
    """What a turn's columns are: one engine's temperatures, a folder's epochs side by side, or
    models side by side (with the names their labels show)."""

    kind: str = "temperatures"  # temperatures, epochs or models
    names: tuple[str, ...] = ()


TEMPERATURES = Columns()  # the ordinary turn: one engine, a column per temperature
