"""What a text copies from the training text: its spans, as plain records without NumPy.

``index.py`` finds them; the interface shows them (and reads ``DEFAULT_MIN_SPAN`` for its
settings) without importing the index before its first frame.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MIN_SPAN = 20


@dataclass(frozen=True)
class Span:
    """``query[start:end]`` appears verbatim at ``corpus_start`` of the training text."""

    start: int
    end: int
    corpus_start: int
    line: int  # the training text's line (1-based) where the copy starts

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Copying:
    """What a text copies: its maximal spans, the longest, and the fraction of its characters
    inside one."""

    spans: tuple[Span, ...]
    length: int  # of the text queried

    @property
    def longest(self) -> int:
        return max((span.length for span in self.spans), default=0)

    @property
    def covered(self) -> int:
        """Characters inside at least one span (spans may overlap)."""
        covered, reach = 0, 0
        for span in self.spans:  # sorted by start
            covered += max(0, span.end - max(span.start, reach))
            reach = max(reach, span.end)
        return covered

    @property
    def fraction(self) -> float:
        return self.covered / self.length if self.length else 0.0

    def at(self, position: int) -> Span | None:
        """The longest span holding ``position`` of the text, if any."""
        holding = [span for span in self.spans if span.start <= position < span.end]
        return max(holding, key=lambda span: span.length, default=None)

    def mask(self) -> list[bool]:
        """For each character of the text: inside a copied span."""
        inside = [False] * self.length
        for span in self.spans:
            inside[span.start : span.end] = [True] * span.length
        return inside

    def to_dict(self) -> dict:
        """The JSON form ``generate --json`` and ``verbatim --json`` print."""
        return {
            "longest": self.longest,
            "fraction": round(self.fraction, 6),
            "spans": [
                {"start": s.start, "end": s.end, "length": s.length, "corpus_offset": s.corpus_start, "line": s.line}
                for s in self.spans
            ],
        }
