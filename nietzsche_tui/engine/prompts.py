"""Prompts as the model reads them: lowercased like the training text, unknown characters dropped and named."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

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


def encode_prompt(text: str, vocabulary: Sequence[str], lowercase: bool = True) -> Prompt:
    """Map ``text`` (lowercased, for a model trained on lowercased text) to vocabulary indices,
    dropping (and reporting) unknown characters."""
    index_of = {char: i for i, char in enumerate(vocabulary)}
    kept: list[str] = []
    dropped: dict[str, None] = {}
    for char in as_read(text, lowercase):
        if char in index_of:
            kept.append(char)
        else:
            dropped[char] = None
    kept_text = "".join(kept)
    indices = np.fromiter((index_of[c] for c in kept_text), dtype=np.int64, count=len(kept_text))
    return Prompt(kept_text, indices, tuple(dropped))


def describe_characters(characters: Sequence[str], limit: int = 20) -> str:
    """Name characters for a message, escaping the invisible or unprintable ones (safe to print)."""

    def name(char: str) -> str:
        if char.isprintable() and not unicodedata.category(char).startswith(("C", "Z")):
            return repr(char)
        return ascii(char)

    shown = ", ".join(name(c) for c in characters[:limit])
    more = len(characters) - limit
    return shown + (f" and {more} more" if more > 0 else "")
