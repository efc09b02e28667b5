"""Looking inside the model: how surprised it is by a text, what else it weighed, what its cells track.

Pure functions over the engine, all computed the way the model was trained (window mode: every
prediction from a zero state over the up to ``maxlen`` characters before it). Nothing here runs
during ordinary generation: the views ask for it, so generation's speed does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nietzsche_tui.contracts.checkpoint import LN2
from nietzsche_tui.engine.generation import Engine
from nietzsche_tui.engine.network import window_batches
from nietzsche_tui.engine.prompts import Encoded, as_read, encode
from nietzsche_tui.engine.sampling import reweight_distribution

MAX_SCORE_CHARS = 1_000_000  # a million windows take about a minute; longer texts are refused
MAX_CELLS_CHARS = 50_000  # cells keeps every layer's state per character: 1,000,000 took 246 s and 3.6 GB
BATCH = 2048


# ---------------------------------------------------------------------------------------------
# Encoding with positions (unknown characters are skipped, never scored)


def _known(engine: Engine, text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Indices of the characters the model knows, their positions in ``text``, and the unknown ones."""
    encoded = encode(text, engine.vocabulary, engine.lowercase)
    return encoded.indices, encoded.positions, list(encoded.unknown)


# ---------------------------------------------------------------------------------------------
# Scoring


@dataclass(frozen=True)
class ScoredText:
    """Every known character after the first, with the bits the model needed for it."""

    text: str
    positions: np.ndarray  # where each scored character stands in ``text``
    bits: np.ndarray  # -log2 p(character | the up to maxlen known characters before it)
    full_window: np.ndarray  # True where the model read a whole maxlen window (the held-out measure)
    skipped: list[str]  # characters outside the vocabulary (distinct, in order of appearance)

    @property
    def bits_per_char(self) -> float:
        return float(self.bits.mean())

    @property
    def nats_per_char(self) -> float:
        return self.bits_per_char * LN2

    @property
    def full_window_nats(self) -> float | None:
        """Mean nats over the characters predicted from a full window: what training reports."""
        return float(self.bits[self.full_window].mean() * LN2) if self.full_window.any() else None

    def per_position(self) -> list[float | None]:
        """Bits for every character of ``text`` (None: the first known one, or unknown)."""
        values: list[float | None] = [None] * len(self.text)
        for position, bits in zip(self.positions.tolist(), self.bits.tolist(), strict=True):
            values[position] = bits
        return values

    def surprising_spans(self, count: int = 5, width: int = 3) -> list[tuple[int, int, float]]:
        """The ``count`` most surprising places: (start, end, mean bits) of ``width`` characters
        around each of the most surprising characters, not overlapping."""
        chosen: list[tuple[int, int, float]] = []
        taken: set[int] = set()
        for order in np.argsort(-self.bits, kind="stable"):
            centre = int(self.positions[order])
            start, end = max(0, centre - width), min(len(self.text), centre + width + 1)
            if any(p in taken for p in range(start, end)):
                continue
            inside = (self.positions >= start) & (self.positions < end)
            chosen.append((start, end, float(self.bits[inside].mean())))
            taken.update(range(start, end))
            if len(chosen) == count:
                break
        # Chosen by their most surprising character, listed by the mean over the span they show.
        return sorted(chosen, key=lambda span: -span[2])


class ScoreError(ValueError):
    """A text that cannot be scored; the message says why."""


def check_length(text: str, limit: int, what: str) -> None:
    """The one rule of every scorer: all of the text up to ``limit`` characters, and beyond it a
    ScoreError saying the limit and what was given (never a silent cut)."""
    if not text:
        raise ScoreError(f"the input is empty: {what} needs some text")
    if len(text) > limit:
        raise ScoreError(f"the text has {len(text):,} characters; {what} takes at most {limit:,} (split it)")


def disagreements(scores: Sequence[ScoredText], count: int = 5) -> list[tuple[int, list[float]]]:
    """Where models scoring one text disagree most: the ``count`` positions every model scored
    with the largest gap between the most and the least surprised, each with every model's bits."""
    common = set(scores[0].positions.tolist())
    for scored in scores[1:]:
        common &= set(scored.positions.tolist())
    if not common:
        return []
    positions = np.array(sorted(common))
    table = np.array([s.bits[np.searchsorted(s.positions, positions)] for s in scores])  # (models, positions)
    gaps = table.max(axis=0) - table.min(axis=0)
    order = np.argsort(-gaps, kind="stable")[:count]
    return [(int(positions[i]), [float(b) for b in table[:, i]]) for i in order]


def scorable(engine: Engine, text: str, limit: int = MAX_SCORE_CHARS, what: str = "score") -> Encoded:
    """``text`` encoded for scoring, or a ScoreError saying why it cannot be scored: the quick
    checks, before the scoring itself (which can take a while, so the app runs it in a worker)."""
    check_length(text, limit, what)
    encoded = encode(text, engine.vocabulary, engine.lowercase)
    if len(encoded.indices) < 2:
        what = "no character" if not len(encoded.indices) else "only one character"
        raise ScoreError(f"nothing to score: the text has {what} the model knows (scoring needs two or more)")
    return encoded


def score_text(engine: Engine, text: str, limit: int = MAX_SCORE_CHARS, what: str = "score") -> ScoredText:
    """Score every known character after the first from the up to ``maxlen`` known characters before it."""
    return score_encoded(engine, text, scorable(engine, text, limit, what))


def score_encoded(engine: Engine, text: str, encoded: Encoded) -> ScoredText:
    """``score_text`` for a text ``scorable`` has encoded."""
    indices, positions, unknown = encoded.indices, encoded.positions, list(encoded.unknown)
    targets = np.arange(1, len(indices))
    bits = engine.surprisal_bits(indices, targets, BATCH)
    return ScoredText(text, positions[1:], bits, targets >= engine.maxlen, unknown)


# ---------------------------------------------------------------------------------------------
# The alternatives at one step


@dataclass(frozen=True)
class Alternatives:
    """What the model weighed before writing one character."""

    context: str  # the characters it read (window mode: the last maxlen)
    chosen: str
    top: list[tuple[str, float, float]]  # (char, untempered p, p after T/top-k/top-p); the chosen one last if lower
    entropy_bits: float  # of the untempered distribution
    chosen_rank: int  # 1 = the model's most likely character
    chosen_probability: float


def alternatives(
    engine: Engine,
    context: str,
    chosen: str,
    temperature: float,
    top_k: int | None = None,
    top_p: float | None = None,
    count: int = 10,
    mode: str = "window",
) -> Alternatives:
    """Recompute the distribution the model sampled ``chosen`` from, after ``context``.

    Generation is deterministic in its inputs, so nothing needs storing while streaming: the
    distribution is the engine's for the same context, in the same mode.
    """
    indices, _, _ = _known(engine, context)
    read = indices[-engine.maxlen :] if mode == "window" else indices
    if not len(read):
        raise ScoreError("no context to predict from")
    probabilities = engine.window_probabilities(read[None, :])[0]
    tempered = reweight_distribution(probabilities, temperature, top_k, top_p)
    order = np.argsort(-probabilities, kind="stable")
    vocabulary = engine.vocabulary
    top = [(vocabulary[i], float(probabilities[i]), float(tempered[i])) for i in order[:count]]
    nonzero = probabilities[probabilities > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum())
    chosen_index = vocabulary.index(chosen) if chosen in vocabulary else int(order[0])
    rank = int(np.nonzero(order == chosen_index)[0][0]) + 1
    if rank > count:  # the sampled character is always listed, last, whatever its rank
        top.append((vocabulary[chosen_index], float(probabilities[chosen_index]), float(tempered[chosen_index])))
    shown_context = "".join(vocabulary[i] for i in read)
    return Alternatives(shown_context, chosen, top, entropy, rank, float(probabilities[chosen_index]))


def top_alternatives(probabilities: np.ndarray, vocabulary: Sequence[str], count: int) -> list[list]:
    """The ``count`` most likely characters of one distribution, as [character, probability] pairs."""
    order = np.argsort(-probabilities, kind="stable")[:count]
    return [[vocabulary[i], round(float(probabilities[i]), 6)] for i in order]


# ---------------------------------------------------------------------------------------------
# Cells


def cell_activations(engine: Engine, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The top layer's cells after the window ending at each known character of ``text``: tanh of
    an LSTM's cell state c (what its output reads), a GRU's h (already in [-1, 1]).

    Returns (positions in ``text``, activations of shape (characters, units)). Window mode: each
    row comes from a zero state over the up to ``maxlen`` characters ending at that character.
    """
    indices, positions, _ = _known(engine, text)
    if not len(indices):
        raise ScoreError("the text has no character the model knows")
    ends = np.arange(1, len(indices) + 1)  # a window ending at character i holds indices[:i + 1]
    states = np.empty((len(indices), engine.units), dtype=np.float32)
    for rows, windows in window_batches(indices, ends, engine.maxlen, BATCH):
        memory = engine.memory(engine.run(windows))
        states[rows] = np.tanh(memory) if engine.cell == "lstm" else memory
    return positions, states


# The properties a cell can track. Each is a number per character of the text, defined on the
# text as the model reads it (lowercased), looking only at the character and what precedes it.
PROPERTIES = {
    "in_quotes": 'inside double quotes: 1 from an opening " up to and including the closing one, else 0',
    "in_parentheses": "inside parentheses: the nesting depth of ( … ) at this character, closing included",
    "position_in_word": "characters since the last whitespace (0 on whitespace itself)",
    "position_in_line": "characters since the last newline (0 on the newline itself)",
    "after_sentence_end": "1 when the last non-space character before this one is . ! or ?, else 0",
}


def text_properties(text: str) -> dict[str, np.ndarray]:
    """Every property of ``PROPERTIES`` for every character of ``text``."""
    values = {name: np.zeros(len(text)) for name in PROPERTIES}
    quoted, depth, word, line, last_visible = False, 0, 0, 0, ""
    for i, char in enumerate(text):
        if char == '"':
            values["in_quotes"][i] = 1
            quoted = not quoted
        else:
            values["in_quotes"][i] = 1 if quoted else 0
        if char == "(":
            depth += 1
        values["in_parentheses"][i] = depth
        if char == ")":
            depth = max(0, depth - 1)
        word = 0 if char.isspace() else word + 1
        line = 0 if char == "\n" else line + 1
        values["position_in_word"][i] = word
        values["position_in_line"][i] = line
        values["after_sentence_end"][i] = 1 if last_visible in ".!?" and last_visible else 0
        if not char.isspace():
            last_visible = char
    return values


def correlations(activations: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of every cell's activation with one property (0 where either is constant)."""
    a = activations - activations.mean(axis=0)
    f = feature - feature.mean()
    denominator = np.sqrt((a * a).sum(axis=0) * (f * f).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * f[:, None]).sum(axis=0) / denominator
    return np.where(np.isfinite(r), r, 0.0)


def rank_cells(engine: Engine, text: str, top: int = 5) -> dict[str, list[tuple[int, float]]]:
    """For each property, the ``top`` cells whose activation correlates most strongly with it."""
    check_length(text, MAX_CELLS_CHARS, "cells")
    positions, states = cell_activations(engine, text)
    return rank_activations(text, positions, states, top, engine.lowercase)


def rank_activations(
    text: str, positions: np.ndarray, states: np.ndarray, top: int = 5, lowercase: bool = True
) -> dict[str, list[tuple[int, float]]]:
    """``rank_cells`` over activations already computed by ``cell_activations``."""
    lowered = "".join(as_read(text, lowercase))
    properties = text_properties(lowered)
    ranked: dict[str, list[tuple[int, float]]] = {}
    for name, values in properties.items():
        if np.ptp(values[positions]) == 0:
            ranked[name] = []  # constant in this text (no quotes in it, say): nothing to correlate with
            continue
        r = correlations(states.astype(np.float64), values[positions])
        order = np.argsort(-np.abs(r), kind="stable")[:top]
        ranked[name] = [(int(cell), float(r[cell])) for cell in order]
    return ranked
