"""Prompts as the model reads them: lowercased like the training text, unknown characters dropped and named.

NumPy is imported where a text is encoded, not at the top: the interface checks and describes
prompts with this module before its first frame, without the model maths.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class PromptError(ValueError):
    """A prompt the model cannot start from (empty, or nothing left after dropping characters)."""


@dataclass(frozen=True)
class Prompt:
    """A prompt as the model reads it: lowercased, with unknown characters dropped."""

    text: str
    indices: np.ndarray
    dropped: tuple[str, ...]  # distinct dropped characters, in order of first appearance


def as_read(text: str, lowercase: bool) -> list[str]:
    """The characters the model reads, one per character of ``text`` (prompts and scored text alike).

    Lowercased as the trainer lowercased its corpus (``str.lower`` of the whole text) when that
    keeps every position; where lowering changes a length (U+0130 "İ" becomes "i" and a combining
    dot), each character is lowered on its own and keeps the first character of its lower case:
    the leftover mark is not a character of the text, never a "dropped" one.
    """
    if not lowercase:
        return list(text)
    lowered = text.lower()
    if len(lowered) == len(text):
        return list(lowered)
    return [char.lower()[0] if char.lower() else char for char in text]


@dataclass(frozen=True)
class Encoded:
    """A text as the model reads it: the vocabulary indices of the characters it knows, their
    positions in the text, and the distinct characters it does not know (first appearance first)."""

    indices: np.ndarray
    positions: np.ndarray
    unknown: tuple[str, ...]


def encode(text: str, vocabulary: Sequence[str], lowercase: bool = True) -> Encoded:
    """The one encoder, for prompts and scored text alike: ``as_read`` then the vocabulary."""
    import numpy as np

    index_of = {char: i for i, char in enumerate(vocabulary)}
    positions: list[int] = []
    indices: list[int] = []
    unknown: dict[str, None] = {}
    for position, char in enumerate(as_read(text, lowercase)):
        index = index_of.get(char)
        if index is None:
            unknown[char] = None
        else:
            positions.append(position)
            indices.append(index)
    return Encoded(np.array(indices, dtype=np.int64), np.array(positions, dtype=np.int64), tuple(unknown))


def encode_prompt(text: str, vocabulary: Sequence[str], lowercase: bool = True) -> Prompt:
    """Map ``text`` (lowercased, for a model trained on lowercased text) to vocabulary indices,
    dropping (and reporting) unknown characters."""
    encoded = encode(text, vocabulary, lowercase)
    kept = "".join(vocabulary[i] for i in encoded.indices)
    return Prompt(kept, encoded.indices, encoded.unknown)


def read_prompt(text: str, vocabulary: Sequence[str], lowercase: bool = True) -> Prompt:
    """``encode_prompt``, raising PromptError when nothing usable is left: one rule for the app
    and ``generate`` (a blank prompt is an empty one)."""
    prompt = encode_prompt(text, vocabulary, lowercase)
    if not prompt.text.strip():
        if prompt.dropped:
            raise PromptError(
                f"the prompt has no character the model knows (dropped "
                f"{describe_characters(prompt.dropped)}); type some English text."
            )
        raise PromptError("the prompt is empty or blank; type a few words, or ask for a surprise seed.")
    return prompt


def describe_characters(characters: Sequence[str], limit: int = 20) -> str:
    """Name characters for a message, escaping the invisible or unprintable ones (safe to print)."""

    def name(char: str) -> str:
        if char.isprintable() and not unicodedata.category(char).startswith(("C", "Z")):
            return repr(char)
        return ascii(char)

    shown = ", ".join(name(c) for c in characters[:limit])
    more = len(characters) - limit
    return shown + (f" and {more} more" if more > 0 else "")
