"""Which spans of a text appear verbatim in a model's training text: an n-gram hash index.

"Did it make this up, or copy it?" A span counts as copied when at least ``min_span`` characters
(default 20) appear, in order and unbroken, somewhere in the training text. The index holds one
64-bit key for every ``min_span``-gram of the text: the n-gram's hash in the high bits and its
position in the low bits, sorted. A query hashes its own n-grams the same way, finds their keys by
binary search, checks each candidate against the text (a hash collision costs a comparison, never a
wrong answer) and extends the match as far as it goes.

Why not a suffix array: built by prefix doubling in NumPy it needs several 8-byte arrays of the
text's length at once (over a gigabyte for 50 MB); the hash index needs one, sorted in place,
and is built in chunks (``benchmarks/verbatim.py`` measures both sizes). Its price is that an index
answers for one ``min_span``: another minimum is another index (built in a second for the book).
"""

from __future__ import annotations

import io
from bisect import bisect_right
from pathlib import Path

import numpy as np

from nietzsche_tui.contracts.folder import atomic_write_bytes
from nietzsche_tui.verbatim.spans import DEFAULT_MIN_SPAN, Copying, Span

INDEX_FORMAT = 1  # the cached file's layout; a change makes old caches rebuild
_BASE = np.uint64(0x100000001B3)  # the polynomial hash's multiplier (odd, so no bits are lost)
_CHUNK = 1 << 22  # characters hashed at a time: bounds the temporaries for a large corpus
_MAX_CANDIDATES = 64  # places checked per n-gram: a text repeating one passage 10,000 times stays fast


def _codes(text: str) -> np.ndarray:
    """The text's code points as uint64 (one per character, whatever the script)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place: spreads every character's influence over the high bits,
    which are the ones the keys keep."""
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def _hashes(codes: np.ndarray, width: int) -> np.ndarray:
    """The hash of every ``width``-gram of ``codes`` (``len(codes) - width + 1`` of them)."""
    count = len(codes) - width + 1
    h = np.zeros(max(count, 0), dtype=np.uint64)
    if count <= 0:
        return h
    with np.errstate(over="ignore"):
        for offset in range(width):
            h *= _BASE
            h += codes[offset : offset + count]
    return _mix(h)


class VerbatimIndex:
    """The ``min_span``-grams of one training text, ready for queries (``build`` or ``load``)."""

    def __init__(self, text: str, keys: np.ndarray, min_span: int, newlines: np.ndarray):
        self.text = text
        self.min_span = min_span
        self._keys = keys
        self._newlines = newlines  # offsets of the text's "\n", for line numbers
        self._position_bits = max(1, (len(text) - 1).bit_length())
        self._position_mask = np.uint64((1 << self._position_bits) - 1)

    @classmethod
    def build(cls, text: str, min_span: int = DEFAULT_MIN_SPAN) -> VerbatimIndex:
        """Index ``text`` in chunks, so that a 50 MB corpus needs one array of keys (8 bytes per
        character) and small temporaries."""
        if min_span < 1:
            raise ValueError(f"the shortest copied span must be at least 1 character, got {min_span}")
        count = max(len(text) - min_span + 1, 0)
        position_bits = max(1, (len(text) - 1).bit_length())
        keys = np.empty(count, dtype=np.uint64)
        newlines = []
        for start in range(0, max(count, len(text)), _CHUNK):
            stop = min(start + _CHUNK, count)
            codes = _codes(text[start : max(stop, start) + min_span - 1])
            newlines.append(np.flatnonzero(codes[:_CHUNK] == 10) + start)
            if stop > start:
                h = _hashes(codes, min_span)[: stop - start]
                h >>= np.uint64(position_bits)
                h <<= np.uint64(position_bits)
                h |= np.arange(start, stop, dtype=np.uint64)
                keys[start:stop] = h
        keys.sort()  # in place: no second array of the corpus's size
        lines = np.unique(np.concatenate(newlines)) if newlines else np.empty(0, dtype=np.int64)
        return cls(text, keys, min_span, lines.astype(np.int64))

    def line_of(self, offset: int) -> int:
        """The 1-based line of the training text that holds ``offset``."""
        return int(np.searchsorted(self._newlines, offset, side="left")) + 1

    def passage(self, span: Span, context: int = 60) -> str:
        """The training text around a copied span: the passage it was taken from."""
        start = max(0, span.corpus_start - context)
        return self.text[start : span.corpus_start + span.length + context]

    def copying(self, query: str) -> Copying:
        """The maximal spans of ``query`` (at least ``min_span`` long) found in the training text."""
        width = self.min_span
        spans: list[Span] = []
        if len(query) < width or len(self._keys) == 0:
            return Copying((), len(query))
        prefixes = _hashes(_codes(query), width)
        prefixes >>= np.uint64(self._position_bits)
        prefixes <<= np.uint64(self._position_bits)
        lows = np.searchsorted(self._keys, prefixes, side="left")
        highs = np.searchsorted(self._keys, prefixes | self._position_mask, side="right")
        reach = 0
        for i in np.flatnonzero(highs > lows):
            i = int(i)
            best_length, best_place = 0, -1
            gram = query[i : i + width]
            for key in self._keys[lows[i] : min(highs[i], lows[i] + _MAX_CANDIDATES)]:
                place = int(key & self._position_mask)
                if self.text[place : place + width] != gram:
                    continue  # a hash collision
                length = _common_length(query, i, self.text, place, width)
                if length > best_length:
                    best_length, best_place = length, place
            if best_length and i + best_length > reach:
                spans.append(Span(i, i + best_length, best_place, self.line_of(best_place)))
                reach = i + best_length
        return Copying(tuple(spans), len(query))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            keys=self._keys,
            newlines=self._newlines,
            header=np.array([INDEX_FORMAT, self.min_span, len(self.text)]),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, text: str, min_span: int) -> VerbatimIndex | None:
        """The index stored by ``to_bytes`` for this text, or None when it is for another (or damaged)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                header = [int(v) for v in stored["header"]]
                if header != [INDEX_FORMAT, min_span, len(text)]:
                    return None
                keys, newlines = stored["keys"], stored["newlines"]
        except (OSError, ValueError, KeyError, EOFError):
            return None
        if keys.dtype != np.uint64 or len(keys) != max(len(text) - min_span + 1, 0):
            return None
        return cls(text, keys, min_span, newlines.astype(np.int64))


def _common_length(query: str, i: int, text: str, place: int, known: int) -> int:
    """How many characters ``query[i:]`` and ``text[place:]`` share, given the first ``known``
    agree: a binary search over slice comparisons (each one C's memcmp), not a Python loop per
    character."""
    limit = min(len(query) - i, len(text) - place)
    # The largest n in [known, limit] with query[i:i+n] == text[place:place+n].
    lengths = range(known, limit + 1)
    return known + bisect_right(lengths, False, key=lambda n: query[i : i + n] != text[place : place + n]) - 1


def open_index(text: str, key: str, min_span: int = DEFAULT_MIN_SPAN, cache: Path | None = None) -> VerbatimIndex:
    """The index of ``text``, read from ``cache`` (a folder) when built before, else built and
    stored there. ``key`` names the text (its sha256 and case rule): the cache is ours alone, so a
    damaged or stale file in it is rebuilt, never trusted."""
    path = None if cache is None else cache / f"{key}-{min_span}.npz"
    if path is not None and path.is_file():
        try:
            index = VerbatimIndex.from_bytes(path.read_bytes(), text, min_span)
        except OSError:
            index = None
        if index is not None:
            return index
    index = VerbatimIndex.build(text, min_span)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, index.to_bytes())
        except OSError:
            pass  # a read-only cache costs the build next time, nothing else
    return index
