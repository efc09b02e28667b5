"""The corpus: read the text (files and folders), lowercase it, build the vocabulary, split off held-out text.

Listing 8-2 reads the book's ``nietzsche.txt`` with ``keras.utils.get_file``; we keep that path
for connected machines and also read any local UTF-8 file. Text is always decoded as UTF-8 (the
book's locale-dependent ``open()`` silently changes the vocabulary). The vocabulary is the sorted
set of characters and travels inside every checkpoint; nothing downstream rebuilds it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nietzsche_tui.contracts.corpus import SOURCES_JOINED_BY, CorpusError, corpus_sha256, read_corpus
from trainer.config import BOOK_CORPUS_URL

__all__ = ["Corpus", "CorpusError", "load_corpus"]

SEED_PASSAGES = 300  # "surprise me" passages stored in every checkpoint (about 15 kB of metadata)
_SENTENCE_START = re.compile(r"(?:(?<=[.!?:;]\s)|(?<=\n\n)|(?<=[.!?]\s\s))[^\s]")
_WORD_START = re.compile(r"(?<=\s)[^\s]")


@dataclass(frozen=True)
class Corpus:
    """The lowercased text, its vocabulary and its contiguous train / held-out split."""

    text: str
    vocabulary: list[str]
    encoded: np.ndarray  # uint8 (uint32 for vocabularies over 256) indices into the vocabulary
    split: int  # characters before this index train; the rest is held out
    sha256: str
    source: str  # the paths read, joined with " + "
    name: str  # their file or folder names, as the checkpoint records them
    paths: tuple[str, ...] = ()  # the absolute paths read, recorded so the app can find the text again

    @property
    def train(self) -> np.ndarray:
        return self.encoded[: self.split]

    @property
    def held_out(self) -> np.ndarray:
        return self.encoded[self.split :]

    def seed_passages(self, maxlen: int, seed: int, count: int = SEED_PASSAGES) -> list[str]:
        """Up to ``count`` deterministic held-out passages (the train text if none is held out).

        Each starts at the start of a sentence (or of a word, when there are too few sentences)
        and ends at the end of a word, at most ``maxlen`` and at least ``maxlen // 2`` characters:
        a prompt a person could have typed, never a fragment cut mid-word.
        """
        start, stop = (self.split, len(self.text)) if len(self.text) - self.split > maxlen else (0, self.split)
        region = self.text[start:stop]
        rng = np.random.default_rng(seed)
        passages: list[str] = []
        for pattern in (_SENTENCE_START, _WORD_START):
            offsets = [m.start() for m in pattern.finditer(region)]
            rng.shuffle(offsets)
            for offset in offsets:
                passage = _whole_words(region, offset, maxlen)
                if len(passage) >= maxlen // 2 and passage not in passages:
                    passages.append(passage)
                    if len(passages) == count:
                        return sorted(passages, key=region.index)
        return sorted(passages, key=region.index)


def _whole_words(text: str, offset: int, maxlen: int) -> str:
    """``text[offset:offset + maxlen]``, cut back to the end of its last whole word."""
    piece = text[offset : offset + maxlen]
    if offset + maxlen < len(text) and not text[offset + maxlen].isspace():
        cut = max(piece.rfind(" "), piece.rfind("\n"))
        piece = piece[:cut] if cut > 0 else ""
    return piece.rstrip()


def download_book_corpus() -> Path:
    """Fetch the book's corpus once into Keras's cache (needs the internet)."""
    import keras  # only this path needs Keras

    try:
        return Path(keras.utils.get_file("nietzsche.txt", origin=BOOK_CORPUS_URL))
    except Exception as error:  # get_file raises several types for network failures
        raise CorpusError(
            f"could not download the book's corpus from {BOOK_CORPUS_URL} ({error}); "
            "pass a local UTF-8 text file with --corpus PATH."
        ) from None


def load_corpus(
    path: str | Path | Sequence[str | Path] | None, maxlen: int, val_fraction: float = 0.05, keep_case: bool = False
) -> Corpus:
    """Load a corpus, lowercase it unless ``keep_case``, and split off held-out text.

    ``path`` is a file, a folder (its .txt files), or several of them in the order given, joined
    with a blank line; None or nothing means the book's download. The held-out text is the last
    ``val_fraction`` of the characters, contiguous, so every held-out figure in the project scores
    the same text (with several files: the end of the last one).
    """
    paths = [path] if isinstance(path, str | Path) else list(path or [])
    sources = [Path(p).expanduser() for p in paths] or [download_book_corpus()]
    source = " + ".join(str(s) for s in sources)
    raw = SOURCES_JOINED_BY.join(read_corpus(s) for s in sources)
    text = raw if keep_case else raw.lower()
    held_out = int(len(text) * val_fraction)
    split = len(text) - held_out
    if split < maxlen + 1:
        raise CorpusError(
            f"corpus {source} has {len(text)} characters; training needs more than maxlen + 1 = "
            f"{maxlen + 1} before the held-out part. Use a longer text or a smaller --maxlen."
        )
    if 0 < held_out < maxlen + 1:
        raise CorpusError(
            f"the held-out part of {source} ({held_out} characters) is shorter than maxlen + 1; "
            "use a longer text, a larger --val-fraction or --val-fraction 0."
        )
    vocabulary = sorted(set(text))
    lookup = {char: i for i, char in enumerate(vocabulary)}
    dtype = np.uint8 if len(vocabulary) <= 256 else np.uint32
    encoded = np.fromiter((lookup[c] for c in text), dtype=dtype, count=len(text))
    digest = corpus_sha256(raw)
    names = " + ".join(s.name for s in sources)
    paths = tuple(str(s.resolve()) for s in sources)
    return Corpus(text, vocabulary, encoded, split, digest, source, names, paths)
