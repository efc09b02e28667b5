"""The one sampler: the book's temperature reweighting, made safe.

Listing 8-1 reweights a distribution as ``exp(log(p) / T)`` renormalised, and listing 8-6 draws
from it with ``np.random.multinomial``. That code crashes at T = 0 (division by zero gives NaN),
warns on zero probabilities (``log(0)``), and fails on float32 vectors whose float64 sum exceeds 1.
Here the same maths runs on log-probabilities in float64 with the maximum subtracted before
``exp``, T = 0 means greedy, and the draw is an inverse-CDF lookup that cannot raise. The
trainer's per-epoch samples, the engine, the app and ``generate`` all call this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nietzsche_tui.engine.request import check_temperature


def log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """Float64 log-probabilities of a (possibly unnormalised, float32) probability vector.

    Zeros become -inf without a warning; negative or NaN entries (never produced by a softmax,
    but possible in a corrupt model) are treated as zero.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    peak = p.max()
    if not peak > 0:  # nothing usable: fall back to uniform rather than fail
        return np.full(p.shape, -math.log(p.size))
    p = p / peak  # scale first so the sum cannot overflow
    with np.errstate(divide="ignore"):
        return np.log(p / p.sum())


def reweight_distribution(
    probabilities: np.ndarray,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """The book's reweighting (listing 8-1) with optional top-k and top-p truncation.

    Returns a float64 distribution that sums to 1. Temperature 0 puts all mass on the most
    probable character (the first one on ties). top-k keeps exactly the k most probable characters
    (on ties at the k-th, the ones earlier in the vocabulary);
    top-p keeps the smallest set of most probable characters whose reweighted mass reaches p.
    """
    temperature = check_temperature(temperature)
    logp = log_probabilities(probabilities)
    if temperature == 0:
        greedy = np.zeros_like(logp)
        greedy[int(np.argmax(logp))] = 1.0
        return greedy
    # Shift so the most probable entry is 0 before dividing: tiny temperatures then send the others
    # to -inf (greedy in the limit) instead of overflowing into NaN.
    with np.errstate(over="ignore"):
        scaled = (logp - logp.max()) / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if top_k < scaled.size:
            kept = np.zeros(scaled.shape, dtype=bool)
            kept[np.argsort(-scaled, kind="stable")[:top_k]] = True
            scaled = np.where(kept, scaled, -np.inf)
    weights = np.exp(scaled - scaled.max())  # max is 0 unless top-k removed it
    distribution = weights / weights.sum()
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        order = np.argsort(-distribution, kind="stable")
        cumulative = np.cumsum(distribution[order])
        keep = int(np.searchsorted(cumulative, top_p - 1e-12)) + 1
        mask = np.zeros(distribution.shape, dtype=bool)
        mask[order[:keep]] = True
        distribution = np.where(mask, distribution, 0.0)
        distribution /= distribution.sum()
    return distribution


def sample_index(
    probabilities: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """Draw one index from ``probabilities`` reweighted at ``temperature`` (listing 8-6, fixed).

    Never raises on zeros, float32 rounding or sums above 1; consumes exactly one uniform draw from
    ``rng`` per call (also at T = 0), so streams stay aligned whatever the temperature.
    """
    return sample_with_draw(probabilities, temperature, rng.random(), top_k, top_p)


def sample_with_draw(
    probabilities: np.ndarray,
    temperature: float,
    draw: float,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """``sample_index`` with its uniform draw in [0, 1) given: step mode keeps each step's draw, so
    taking a character back and coming again to that step offers the same one."""
    distribution = reweight_distribution(probabilities, temperature, top_k, top_p)
    if temperature == 0:
        return int(np.argmax(distribution))
    cumulative = np.cumsum(distribution)
    index = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
    # Rounding can put the draw past the last non-zero entry: step back to a character with mass.
    index = min(index, distribution.size - 1)
    while distribution[index] == 0 and index > 0:
        index -= 1
    return index


def sample_rows(
    probabilities: np.ndarray,
    temperatures: Sequence[float],
    streams: Sequence[np.random.Generator],
    top_k: int | None = None,
    top_p: float | None = None,
) -> np.ndarray:
    """``sample_index`` for every row of a (rows, vocabulary) array at once: row r at
    ``temperatures[r]`` from ``streams[r]``, one draw each, the same index as ``sample_index``
    (the same float64 operations row by row; a test holds them equal). Generation samples every
    column at every character: one pass of array operations instead of a Python call per column.
    Truncated sampling (top-k, top-p) goes row by row through ``sample_index``."""
    if top_k is not None or top_p is not None:
        rows = zip(probabilities, temperatures, streams, strict=True)
        return np.array([sample_index(row, t, stream, top_k, top_p) for row, t, stream in rows])
    p = np.asarray(probabilities, dtype=np.float64)
    p = np.where(np.isfinite(p) & (p > 0), p, 0.0)
    peak = p.max(axis=1, keepdims=True)
    usable = peak[:, 0] > 0
    p = p / np.where(usable[:, None], peak, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(p / p.sum(axis=1, keepdims=True))
    logp[~usable] = -math.log(p.shape[1])  # nothing usable: uniform, as ``log_probabilities``
    temperature = np.array([check_temperature(t) for t in temperatures])
    greedy = temperature == 0
    with np.errstate(over="ignore"):
        scaled = (logp - logp.max(axis=1, keepdims=True)) / np.where(greedy, 1.0, temperature)[:, None]
    weights = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    distribution = weights / weights.sum(axis=1, keepdims=True)
    draws = np.array([stream.random() for stream in streams])
    cumulative = np.cumsum(distribution, axis=1)
    # searchsorted(side="right") on a non-decreasing row: how many entries are <= the value
    chosen = np.minimum((cumulative <= (draws * cumulative[:, -1])[:, None]).sum(axis=1), p.shape[1] - 1)
    for row in np.flatnonzero(distribution[np.arange(len(chosen)), chosen] == 0):
        while distribution[row, chosen[row]] == 0 and chosen[row] > 0:
            chosen[row] -= 1
    chosen[greedy] = np.argmax(logp[greedy], axis=1)
    return chosen
